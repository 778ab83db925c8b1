"""The supplier_products asset end to end: Dagster run → simulators on loopback → PostgreSQL."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import dagster as dg
import httpx
import pytest
from sqlalchemy import text

from retail_pipeline.defs.catalog.supplier_products import (
    Written,
    load_supplier,
    supplier_products,
    write_scrape,
)
from retail_pipeline.defs.catalog.suppliers import suppliers
from retail_pipeline.defs.resources import DatabaseResource
from retail_pipeline.domain.suppliers import DEFAULT_SUPPLIERS
from retail_pipeline.integrations.suppliers import Discovered, NotModified, ScrapeResult
from retail_pipeline.partitions import supplier_partitions
from retail_pipeline.simulators import FaultConfig
from retail_pipeline_tests.integrations.suppliers.scraping import scrape


@pytest.fixture
def instance() -> Iterator[dg.DagsterInstance]:
    with dg.instance_for_test() as instance:
        instance.add_dynamic_partitions(supplier_partitions.name, [s.code for s in DEFAULT_SUPPLIERS])
        yield instance


@pytest.fixture
def db(db_url, simulator_url) -> DatabaseResource:
    """The test database with the supplier registry in it; the simulators serve on loopback."""
    db = DatabaseResource(url=db_url)
    suppliers(db=db)
    return db


def materialize(instance, db, partition: str) -> dict[str, object]:
    result = dg.materialize(
        [suppliers, supplier_products],
        selection=[supplier_products],
        partition_key=partition,
        instance=instance,
        resources={"db": db},
    )
    assert result.success
    (materialization,) = result.asset_materializations_for_node("supplier_products")
    return {name: getattr(value, "value", value) for name, value in materialization.metadata.items()}


def rows(db, code: str) -> dict[str, tuple]:
    with db.engine.connect() as conn:
        found = conn.execute(
            text(
                "SELECT sp.sku, sp.price, sp.removed_at, sp.updated_at FROM retail.supplier_products sp"
                " JOIN retail.suppliers s ON s.id = sp.supplier_id WHERE s.code = :code"
            ),
            {"code": code},
        )
        return {row.sku: tuple(row)[1:] for row in found}


def test_first_run_stores_what_the_site_serves_and_a_second_writes_nothing(instance, db, sim):
    skus = {v.variant.sku for s in sim.backend("onecheq").snapshot() for v in s.variants}
    first = materialize(instance, db, "onecheq")
    assert first["complete"] is True and first["failed_pages"] == 0
    assert first["discovered"] == len(sim.backend("onecheq").snapshot())
    assert first["scraped"] == first["inserted"] == first["active_products"] == len(skus)
    stored = rows(db, "onecheq")
    assert set(stored) == skus
    # Only the partition's supplier was asked for anything.
    assert {e.system for e in sim.journal.entries()} == {"onecheq"}

    second = materialize(instance, db, "onecheq")
    assert (second["inserted"], second["updated"], second["removed"]) == (0, 0, 0)
    assert second["unchanged"] == len(skus)
    assert rows(db, "onecheq") == stored  # not even updated_at moved


def test_unchanged_product_pages_answer_304_and_are_not_reparsed(instance, db, sim):
    first = materialize(instance, db, "cash_converters")
    served = len(sim.backend("cashconverters").snapshot())
    assert first["scraped"] == first["inserted"] == served
    second = materialize(instance, db, "cash_converters")
    assert second["not_modified"] == second["scraped"] == served and second["parsed"] == 0
    assert (second["inserted"], second["updated"], second["removed"]) == (0, 0, 0)
    assert second["active_products"] == served


def test_after_the_clock_moves_changes_removals_and_arrivals_are_written(instance, db, sim, simulator_url):
    before = {s.product.ref: s.price_cents for s in sim.backend("cashconverters").snapshot()}
    materialize(instance, db, "cash_converters")
    httpx.post(f"{simulator_url}/_control/clock/advance", json={"hours": 72}).raise_for_status()
    after = {s.product.ref: s.price_cents for s in sim.backend("cashconverters").snapshot()}
    gone, new = before.keys() - after.keys(), after.keys() - before.keys()
    repriced = {sku for sku in before.keys() & after.keys() if before[sku] != after[sku]}
    assert gone and new and repriced  # the simulated week did all three

    result = materialize(instance, db, "cash_converters")
    assert result["removed"] == len(gone) and result["inserted"] == len(new)
    assert result["updated"] == len(repriced)
    stored = rows(db, "cash_converters")
    assert {sku for sku, (_, removed_at, _) in stored.items() if removed_at} == gone  # kept, marked
    assert all(stored[sku][0] * 100 == after[sku] for sku in after)


def store(engine, supplier_id: int, result: ScrapeResult) -> Written:
    """A scrape gathered by the test helper, written as the asset writes one streaming in."""

    async def items():
        for record in result.records:
            yield record
        for url in result.not_modified:
            yield NotModified(url)
        for failure in result.failures:
            yield failure
        yield Discovered(result.discovered, complete=result.complete)

    return asyncio.run(write_scrape(engine, supplier_id, items()))


def test_an_incomplete_scrape_marks_nothing_removed(db, sim, simulator_app):
    with db.engine.connect() as conn:
        supplier = load_supplier(conn, "noel_leeming")
    first, _ = scrape(simulator_app, "jsonld", "noelleeming")
    assert store(db.engine, supplier.id, first).inserted == len(first.records)
    sim.clock.advance(24 * 30)  # a month: products leave the range

    class CategoryDown(httpx.ASGITransport):
        async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
            if "/c/mobile-phones" in request.url.path:
                return httpx.Response(503, headers={"retry-after": "3600"})
            return await super().handle_async_request(request)

    incomplete, _ = scrape(simulator_app, "jsonld", "noelleeming", transport=CategoryDown(app=simulator_app))
    assert not incomplete.complete
    assert store(db.engine, supplier.id, incomplete).removed == 0

    complete, _ = scrape(simulator_app, "jsonld", "noelleeming")
    assert complete.complete
    assert store(db.engine, supplier.id, complete).removed > 0


def test_with_injected_5xx_429_and_latency_every_product_arrives(instance, db, sim):
    faults = FaultConfig(
        error_rate=0.1, rate_limit_rate=0.1, retry_after_seconds=1, latency_ms=20, latency_jitter_ms=10
    )
    for code, system in (("noel_leeming", "noelleeming"), ("cash_converters", "cashconverters")):
        sim.faults.set(system, faults)
        result = materialize(instance, db, code)
        served = len(sim.backend(system).snapshot())
        assert result["complete"] is True and result["failed_pages"] == 0
        assert result["scraped"] == result["active_products"] == served
        assert any(e.fault == "rate_limit" for e in sim.journal.entries(system))


def test_a_push_only_supplier_is_skipped(instance, db, sim):
    result = materialize(instance, db, "allegro")
    assert result["skipped"] is True and "webhook" in result["reason"]
    assert sim.journal.entries() == []


def test_a_scrape_is_written_a_chunk_at_a_time_and_keeps_only_a_few_failures(db, monkeypatch):
    from retail_pipeline.catalog_writes.upsert import ProductRecord
    from retail_pipeline.defs.catalog import supplier_products as module
    from retail_pipeline.integrations.suppliers import PageFailure

    monkeypatch.setattr(module, "CHUNK_ROWS", 100)
    with db.engine.connect() as conn:
        supplier = load_supplier(conn, "onecheq")
    stored_midway = []

    def stored() -> int:
        with db.engine.connect() as conn:
            query = text("SELECT count(*) FROM retail.supplier_products WHERE supplier_id = :id")
            return conn.scalar(query, {"id": supplier.id})

    async def items():
        for n in range(250):
            if n == 150:
                stored_midway.append(stored())
            yield ProductRecord(sku=f"S{n}", url=f"u/{n}")
        for n in range(20):
            yield PageFailure(f"u/bad{n}", "HTTP 500")
        yield ProductRecord(sku="S3", url="u/again")  # its first copy went out in an earlier chunk
        yield Discovered(271, complete=True)

    written = asyncio.run(write_scrape(db.engine, supplier.id, items()))
    assert stored_midway == [100]  # the first chunk was stored before the scrape went on
    assert (written.inserted, written.parsed, written.discovered) == (250, 250, 271)
    assert written.failed_pages == 21 and len(written.failure_examples) == module.FAILURES_SHOWN
    assert stored() == 250

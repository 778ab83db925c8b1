"""supplier_products [supplier]: scrape one supplier's site into retail.supplier_products.

One partition per supplier row. The run loads the row, resolves where its site is (override, simulator
or the real site), runs the adapter its `adapter` column names under the fetch policy in
`config["fetch"]`, writes through the shared upsert (the webhook import's path too) and, when the
scrape saw the whole catalogue, marks what disappeared as removed. Page-level problems are counted in
the metadata; only a site that cannot be reached at all fails the run (and the retry policy repeats it).
"""

# No `from __future__ import annotations`: Dagster checks the `context` annotation at definition time.
import asyncio
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, NamedTuple

import dagster as dg
from sqlalchemy import Connection, Engine, text

from retail_pipeline.catalog_writes.reconcile import mark_removed
from retail_pipeline.catalog_writes.upsert import CHUNK_ROWS, upsert_supplier_products
from retail_pipeline.defs.catalog.suppliers import suppliers
from retail_pipeline.defs.resources import DatabaseResource
from retail_pipeline.domain.suppliers import effective_base_url
from retail_pipeline.integrations.http import FetchPolicy, PoliteClient
from retail_pipeline.integrations.suppliers import (
    PUSH_ONLY,
    KnownPage,
    ScrapeResult,
    UnsupportedAdapter,
    adapter_for,
)
from retail_pipeline.memory import long_lived_objects_frozen
from retail_pipeline.partitions import supplier_partitions
from retail_pipeline.settings import get_settings

FAILURES_SHOWN = 5


@dataclass(frozen=True)
class SupplierRow:
    id: int
    code: str
    adapter: str
    base_url: str | None
    config: Mapping[str, Any]


@dataclass(frozen=True)
class ScrapeSummary:
    discovered: int
    parsed: int  # records read from pages that came back with content
    not_modified: int  # product pages that answered 304: confirmed unchanged without a re-read
    failures: list[dict[str, str]]
    complete: bool
    inserted: int
    updated: int
    unchanged: int
    removed: int
    http_requests: int
    duration_seconds: float

    @property
    def scraped(self) -> int:
        """Products confirmed on the site this run, read afresh or unchanged."""
        return self.parsed + self.not_modified

    @property
    def rows_written(self) -> int:
        return self.inserted + self.updated + self.removed


def load_supplier(conn: Connection, code: str) -> SupplierRow | None:
    row = conn.execute(
        text("SELECT id, code, adapter, base_url, config FROM retail.suppliers WHERE code = :code"),
        {"code": code},
    ).first()
    return None if row is None else SupplierRow(row.id, row.code, row.adapter, row.base_url, row.config)


def known_pages(conn: Connection, supplier_id: int) -> dict[str, KnownPage]:
    """Validators stored per product page, for conditional GETs (removed products are read afresh)."""
    rows = conn.execute(
        text(
            """
            SELECT DISTINCT ON (url) url, http_etag, http_last_modified FROM retail.supplier_products
            WHERE supplier_id = :supplier_id AND removed_at IS NULL AND url IS NOT NULL
              AND (http_etag IS NOT NULL OR http_last_modified IS NOT NULL)
            ORDER BY url, updated_at DESC
            """
        ),
        {"supplier_id": supplier_id},
    )
    return {row.url: KnownPage(row.http_etag, row.http_last_modified) for row in rows}


class StoreCounts(NamedTuple):
    inserted: int
    updated: int
    unchanged: int
    removed: int


def store(engine: Engine, supplier_id: int, result: ScrapeResult) -> StoreCounts:
    """Upsert in one transaction per chunk (a failure loses at most a chunk's work), then removals."""
    inserted = updated = unchanged = 0
    for start in range(0, len(result.records), CHUNK_ROWS):
        with engine.begin() as conn:
            counts = upsert_supplier_products(conn, supplier_id, result.records[start : start + CHUNK_ROWS])
        inserted += counts.inserted
        updated += counts.updated
        unchanged += counts.unchanged
    with engine.begin() as conn:
        removed = mark_removed(
            conn,
            supplier_id,
            seen_skus={r.sku for r in result.records},
            unread_urls=result.unread_urls,
            complete=result.complete,
        )
    return StoreCounts(inserted, updated, unchanged, removed)


def scrape_supplier(engine: Engine, supplier: SupplierRow, base_url: str) -> ScrapeSummary:
    """Scrape one supplier and store the result: the whole of the asset's work, callable on its own
    (the benchmark runs exactly this)."""
    adapter = adapter_for(supplier.adapter, supplier.config)
    policy = FetchPolicy.model_validate(supplier.config.get("fetch", {}))
    with engine.connect() as conn:
        known = known_pages(conn, supplier.id)
    started = time.perf_counter()

    async def scrape() -> tuple[ScrapeResult, int]:
        async with PoliteClient(policy, site_root=base_url) as client:
            return await adapter.scrape(client, base_url, known), client.requests_made

    with long_lived_objects_frozen():
        result, requests = asyncio.run(scrape())
        counts = store(engine, supplier.id, result)
    return ScrapeSummary(
        discovered=result.discovered,
        parsed=len(result.records),
        not_modified=len(result.not_modified),
        failures=[{"url": f.url, "reason": f.reason} for f in result.failures],
        complete=result.complete,
        inserted=counts.inserted,
        updated=counts.updated,
        unchanged=counts.unchanged,
        removed=counts.removed,
        http_requests=requests,
        duration_seconds=round(time.perf_counter() - started, 3),
    )


@dg.asset(
    partitions_def=supplier_partitions,
    deps=[suppliers],
    pool="supplier_web",
    # Page-level trouble never raises; what does (site down past the client's own retries) gets
    # another go later, when an outage may have passed.
    retry_policy=dg.RetryPolicy(
        max_retries=2, delay=60, backoff=dg.Backoff.EXPONENTIAL, jitter=dg.Jitter.PLUS_MINUS
    ),
    # One supplier per run: a backfill of one partition touches one site, and a slow site delays no other.
    backfill_policy=dg.BackfillPolicy.multi_run(max_partitions_per_run=1),
    group_name="catalog",
    kinds={"python", "postgres"},
    tags={"retail/external": "supplier_sites"},
)
def supplier_products(context: dg.AssetExecutionContext, db: DatabaseResource) -> dg.MaterializeResult:
    """Each supplier's products as its site shows them: one row per SKU, unchanged rows untouched,
    products gone from a complete scrape marked removed."""
    code = context.partition_key
    with db.engine.connect() as conn:
        supplier = load_supplier(conn, code)
    if supplier is None:
        raise dg.Failure(f"no supplier {code!r} in retail.suppliers", allow_retries=False)
    if supplier.adapter in PUSH_ONLY:
        return dg.MaterializeResult(
            metadata={
                "skipped": True,
                "reason": f"adapter {supplier.adapter!r}: products arrive through the webhook import",
                "scraped": 0,
            }
        )
    settings = get_settings()
    base_url = effective_base_url(
        code,
        supplier.base_url,
        use_simulators=settings.use_simulators,
        simulator_url=settings.simulator_url,
        overrides=settings.supplier_base_urls,
    )
    if base_url is None:
        raise dg.Failure(f"supplier {code!r} has no base_url to scrape", allow_retries=False)
    try:
        summary = scrape_supplier(db.engine, supplier, base_url)
    except UnsupportedAdapter as error:
        raise dg.Failure(str(error), allow_retries=False) from error
    if summary.failures:
        context.log.warning(
            f"{len(summary.failures)} page(s) failed for {code}, e.g. {summary.failures[:FAILURES_SHOWN]}"
        )
    with db.engine.connect() as conn:
        active = conn.scalar(
            text(
                "SELECT count(*) FROM retail.supplier_products WHERE supplier_id = :id AND removed_at IS NULL"
            ),
            {"id": supplier.id},
        )
    return dg.MaterializeResult(
        metadata={
            "complete": summary.complete,
            "discovered": summary.discovered,
            "scraped": summary.scraped,
            "parsed": summary.parsed,
            "not_modified": summary.not_modified,
            "failed_pages": len(summary.failures),
            "failure_examples": dg.MetadataValue.json(summary.failures[:FAILURES_SHOWN]),
            "inserted": summary.inserted,
            "updated": summary.updated,
            "unchanged": summary.unchanged,
            "removed": summary.removed,
            "active_products": active,
            "http_requests": summary.http_requests,
            "duration_seconds": summary.duration_seconds,
        }
    )

"""Each supplier adapter against its in-process simulator: what the site serves is what comes back."""

from __future__ import annotations

import httpx
import pytest

from retail_pipeline.integrations.suppliers import (
    ADAPTERS,
    PUSH_ONLY,
    KnownPage,
    UnsupportedAdapter,
    adapter_for,
)
from retail_pipeline.integrations.suppliers.base import Discovered, collect, html_to_text
from retail_pipeline.integrations.suppliers.cashconverters import condition_grade, normalise_store
from retail_pipeline.integrations.suppliers.onecheq import product_handle
from retail_pipeline.simulators import FaultConfig
from retail_pipeline_tests.integrations.suppliers.scraping import scrape


def _skus(snapshot) -> set[str]:
    return {v.variant.sku for state in snapshot for v in state.variants}


def test_onecheq_gives_one_record_per_variant(simulator_app, sim):
    snapshot = sim.backend("onecheq").snapshot()
    result, requests = scrape(simulator_app, "shopify_storefront", "onecheq")
    assert result.complete and not result.failures
    assert result.discovered == len(snapshot)
    assert {r.sku for r in result.records} == _skus(snapshot)
    assert requests == 2  # robots.txt and one short page of /products.json

    by_sku = {r.sku: r for r in result.records}
    state = next(s for s in snapshot if len(s.variants) > 1)
    variant = state.variants[1]
    record = by_sku[variant.variant.sku]
    assert record.title == f"{state.product.title} - {variant.variant.option}"
    assert record.price * 100 == variant.price_cents and record.currency == "NZD"
    assert record.availability == ("in_stock" if variant.available else "out_of_stock")
    assert record.gtin == variant.variant.gtin and record.mpn == variant.variant.mpn
    assert record.condition == state.product.condition.lower()
    assert len(record.images) == state.product.image_count
    assert record.url.endswith(f"/products/{state.product.handle}")
    # Variant grams are the supplier's weight; a storefront variant over 70 kg is refused, with the reason.
    for state in snapshot:
        for v in state.variants:
            weighed = by_sku[v.variant.sku]
            if v.variant.grams <= 70_000:
                assert weighed.weight_grams == v.variant.grams
            else:
                assert weighed.weight_grams is None and "over 70 kg" in weighed.raw["parcel_refused"][0]


def test_onecheq_falls_back_to_the_sitemap_when_products_json_is_off(simulator_app, sim):
    class NoProductsJson(httpx.ASGITransport):
        async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
            if request.url.path.endswith("/products.json"):
                return httpx.Response(404, json={"errors": "Not Found"})
            return await super().handle_async_request(request)

    listed, _ = scrape(simulator_app, "shopify_storefront", "onecheq")
    result, _ = scrape(
        simulator_app, "shopify_storefront", "onecheq", transport=NoProductsJson(app=simulator_app)
    )
    assert result.complete
    assert {r.sku for r in result.records} == _skus(sim.backend("onecheq").snapshot())
    # The single-product JSON lacks `available`; everything else reads the same as the listing.
    by_sku = {r.sku: r.model_dump(exclude={"availability"}) for r in listed.records}
    assert {r.sku: r.model_dump(exclude={"availability"}) for r in result.records} == by_sku


def test_noel_leeming_reads_every_category_page_and_product(simulator_app, sim):
    snapshot = sim.backend("noelleeming").snapshot()
    result, _ = scrape(simulator_app, "jsonld", "noelleeming")
    assert result.complete and not result.failures
    assert result.discovered == len(snapshot)
    assert {r.sku for r in result.records} == _skus(snapshot)
    state = snapshot.products[0]
    record = next(r for r in result.records if r.sku == state.product.ref)
    assert record.title == state.product.title and record.brand == state.product.brand
    assert record.price * 100 == state.price_cents and record.condition == "new"
    assert record.http_etag and record.http_last_modified  # remembered for the next conditional GET
    grams = {v.variant.sku: v.variant.grams for s in snapshot for v in s.variants}
    assert all(
        r.weight_grams == grams[r.sku] for r in result.records if grams[r.sku] <= 70_000
    )  # JSON-LD weight


def test_cash_converters_normalises_condition_and_store(simulator_app, sim):
    snapshot = sim.backend("cashconverters").snapshot()
    result, _ = scrape(simulator_app, "html", "cashconverters")
    assert result.complete and not result.failures
    assert {r.sku for r in result.records} == {s.product.ref for s in snapshot}
    for state in snapshot:
        record = next(r for r in result.records if r.sku == state.product.ref)
        product = state.product
        assert record.condition == ("refurbished" if product.condition == "Refurbished" else "used")
        assert record.raw["store"] == product.store.removeprefix("Cash Converters ")
        assert record.raw["condition_label"] == product.condition
        assert record.price * 100 == state.price_cents and record.title == product.title
        assert record.gtin == product.variants[0].gtin
        assert len(record.images) == product.image_count


def test_conditional_gets_turn_unchanged_pages_into_304s(simulator_app, sim):
    first, _ = scrape(simulator_app, "html", "cashconverters")
    known = {r.url: KnownPage(r.http_etag, r.http_last_modified) for r in first.records}
    again, _ = scrape(simulator_app, "html", "cashconverters", known)
    assert again.records == [] and again.complete
    assert set(again.not_modified) == set(known)
    statuses = [e.status for e in sim.journal.entries("cashconverters") if e.path.startswith("/shop/item/")]
    assert statuses.count(304) == len(known)


def test_a_failing_product_page_is_recorded_and_the_scrape_stays_complete(simulator_app, sim):
    snapshot = sim.backend("noelleeming").snapshot()
    broken = snapshot.products[3].product.ref

    class Gone(httpx.ASGITransport):
        async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
            if request.url.path.endswith(f"/{broken}.html"):
                return httpx.Response(403)
            return await super().handle_async_request(request)

    result, _ = scrape(simulator_app, "jsonld", "noelleeming", transport=Gone(app=simulator_app))
    assert result.complete  # discovery saw everything; one product page would not load
    assert [f.reason for f in result.failures] == ["HTTP 403"]
    assert result.failures[0].url in result.unread_urls  # its stored row is kept, not removed
    assert len(result.records) == len(snapshot) - 1


def test_a_failing_category_page_makes_the_scrape_incomplete(simulator_app):
    class CategoryDown(httpx.ASGITransport):
        async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
            if request.url.path.endswith("/c/laptops"):
                return httpx.Response(404)
            return await super().handle_async_request(request)

    result, _ = scrape(simulator_app, "jsonld", "noelleeming", transport=CategoryDown(app=simulator_app))
    assert not result.complete
    assert any(f.url.endswith("/c/laptops") for f in result.failures)


def test_faults_lose_nothing(simulator_app, sim):
    """20% 5xx/429, latency and truncated bodies: retries, re-reads and the final sweep recover all."""
    faults = FaultConfig(
        error_rate=0.12, rate_limit_rate=0.08, retry_after_seconds=0, malformed_rate=0.05, latency_ms=5
    )
    for kind, prefix in (
        ("shopify_storefront", "onecheq"),
        ("jsonld", "noelleeming"),
        ("html", "cashconverters"),
    ):
        sim.faults.set(prefix, faults)
        result, _ = scrape(simulator_app, kind, prefix)
        assert result.complete and not result.failures, prefix
        assert {r.sku for r in result.records} == _skus(sim.backend(prefix).snapshot())
    faulted = [e.fault for e in sim.journal.entries() if e.fault in ("error", "rate_limit", "malformed")]
    assert len(set(faulted)) == 3  # every kind of fault did happen


def test_duplicate_skus_keep_the_first_and_report_the_rest():
    import asyncio

    from retail_pipeline.catalog_writes.upsert import ProductRecord

    async def items():
        for record in (
            ProductRecord(sku="A", url="u1"),
            ProductRecord(sku="A", url="u2"),
            ProductRecord(sku="B"),
        ):
            yield record
        yield Discovered(3, complete=True)

    result = asyncio.run(collect(items()))
    assert result.complete and result.discovered == 3
    assert [r.url for r in result.records] == ["u1", None]
    assert [(f.url, f.reason) for f in result.failures] == [("u2", "sku A also at u1")]


def test_registry_and_pure_helpers():
    assert set(ADAPTERS) == {"shopify_storefront", "jsonld", "html", "generic"} and "webhook" in PUSH_ONLY
    with pytest.raises(UnsupportedAdapter):
        adapter_for("browser_automation")
    assert adapter_for("html", {"currency": "AUD"}).currency == "AUD"
    assert normalise_store("  Cash Converters   New Lynn ") == "New Lynn"
    assert condition_grade("Used - Excellent") == "Excellent" and condition_grade("Refurbished") is None
    assert product_handle("https://s/products/a-b") == "a-b" and product_handle("https://s/") is None
    assert html_to_text("<p>One</p><ul><li>Two</li></ul><table><tr><td>A</td><td>1</td></tr></table>") == (
        "One\nTwo\nA 1"
    )


def test_generic_adapter_reads_any_shop_through_its_sitemap_and_the_extractor(simulator_app, sim):
    snapshot = sim.backend("onecheq").snapshot()
    result, _ = scrape(simulator_app, "generic", "onecheq")
    assert result.complete and not result.failures
    assert result.discovered == len(snapshot)  # the sitemap index was followed; the home page skipped
    by_url = {r.url.rsplit("/", 1)[-1]: r for r in result.records}
    assert set(by_url) == {s.product.handle for s in snapshot}
    for state in snapshot:
        record = by_url[state.product.handle]
        assert record.title == state.product.title
        assert record.sku in {v.variant.sku for v in state.variants}
        assert record.price is not None and record.currency == "NZD" and record.images


def test_generic_adapter_keeps_only_urls_matching_the_configured_pattern(simulator_app, sim):
    import asyncio

    from retail_pipeline.integrations.http import PoliteClient
    from retail_pipeline.integrations.suppliers.generic import GenericSitemapAdapter
    from retail_pipeline_tests.integrations.suppliers.scraping import FAST

    handles = sorted(s.product.handle for s in sim.backend("onecheq").snapshot())
    adapter = GenericSitemapAdapter.from_config({"product_url_pattern": rf"/products/{handles[0]}$"})

    async def discover():
        base = "http://sim/onecheq"
        async with PoliteClient(
            FAST, site_root=base, transport=httpx.ASGITransport(app=simulator_app)
        ) as client:
            return await adapter.discover(client, base)

    urls, failures = asyncio.run(discover())
    assert failures == [] and urls == [f"http://sim/onecheq/products/{handles[0]}"]

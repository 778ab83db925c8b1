"""ShopifyClient against the simulator: the listing lifecycle, crash recovery, pacing and faults."""

from __future__ import annotations

import asyncio
import time
from dataclasses import replace
from decimal import Decimal

import pytest

from retail_pipeline.channels.shopify import ShopifyClient, ShopifySettings
from retail_pipeline.integrations.marketplaces.base import ChannelError, RemoteListing
from retail_pipeline.simulators import FaultConfig
from retail_pipeline.simulators.buyers import NotBuyable
from retail_pipeline_tests.channels.rest_support import QUICK_RETRIES, LoseAnswers, draft

pytestmark = pytest.mark.anyio


async def test_validate_checks_shopifys_rules_locally(client):
    assert await client.validate(draft()) == []
    problems = await client.validate(
        draft(title="x" * 256, sku="--", currency="USD", price=Decimal(0), fields={"tags": ["t" * 300]})
    )
    assert len(problems) == 5 and any("NZD" in p for p in problems)
    assert client.calls == 0


async def test_create_reads_back_and_shows_in_the_selling_list(client, backend):
    listing = await client.create(draft(fields={"product_type": "Electric Guitars", "tags": ["Fender"]}))
    assert (listing.state, listing.sku, listing.price, listing.quantity) == (
        "live",
        "OC-100123",
        Decimal("1299.00"),
        3,
    )
    assert client.calls == 2  # the location (once per client), then productSet: product, photos, stock

    product = backend.product(int(listing.external_id))
    assert product.handle == "oc-100123" and product.status == "active"
    assert (product.product_type, product.tags, product.vendor) == (
        "Electric Guitars",
        ["Fender", "New"],
        "Fender",
    )
    assert [i.src for i in product.images] == [
        "https://media.example/m/front.jpg",
        "https://media.example/m/back.jpg",
    ]
    assert product.body_html == "<p>Solid alder body.</p><p>Ships in a padded gig bag.</p>"
    assert (
        backend.inventory_quantity(product.variants[0]) == 3 and product.variants[0].barcode == "885978911234"
    )

    # read back, the listing shows the item as Shopify holds it (the selling list's fields)
    assert await client.find_by_sku("OC-100123") == replace(
        listing,
        gtin="885978911234",
        brand="Fender",
        description="Solid alder body. Ships in a padded gig bag.",
        currency="NZD",
        photos=("https://media.example/m/front.jpg", "https://media.example/m/back.jpg"),
    )
    assert [item.external_id for item in [x async for x in client.selling()]] == [listing.external_id]
    assert await client.upload_photo(draft().photos[0]) == "https://media.example/m/front.jpg"


async def test_selling_follows_link_pages_past_250_products(client, backend):
    for n in range(260):
        backend.create_product({"title": f"Cable {n}", "variants": [{"sku": f"CBL-{n}", "price": "9.00"}]})
    listed = [item async for item in client.selling()]
    assert len(listed) == 260 == len({item.sku for item in listed})
    assert client.calls == 2  # 250 + 10


async def test_find_by_sku_recovers_a_create_whose_answer_was_lost(settings, transport, backend):
    lossy = LoseAnswers(transport, "POST", "/graphql.json")
    async with ShopifyClient(settings, transport=lossy, policy=QUICK_RETRIES) as client:
        listing = await client.create(draft())  # the retry looks up the SKU instead of creating again
    assert len(backend.products) == 1 and listing.external_id == str(next(iter(backend.products)))
    assert listing.quantity == 3

    async with ShopifyClient(settings, transport=transport) as after_a_crash:
        found = await after_a_crash.find_by_sku("OC-100123")
        assert found == listing
        assert await after_a_crash.find_by_sku("OC-100124") is None
        assert len(backend.products) == 1


async def test_price_quantity_and_withdraw(client, backend):
    listing = await client.create(draft())
    cheaper = await client.update_price(listing, Decimal("1199.5"))
    assert cheaper.price == Decimal("1199.50")
    # A listing known only by its id (as stored locally) still finds its variant and inventory item.
    bare = RemoteListing(listing.external_id, "OC-100123", None, None, "live")
    assert (await client.update_quantity(bare, 7)).quantity == 7
    variant = backend.product(int(listing.external_id)).variants[0]
    assert (variant.price, backend.inventory_quantity(variant)) == (Decimal("1199.50"), 7)

    withdrawn = await client.withdraw(listing, "supplier removed it")
    assert withdrawn.state == "withdrawn" and backend.product(int(listing.external_id)).status == "archived"
    assert (await client.find_by_sku("OC-100123")).state == "withdrawn"  # archived products are still found
    with pytest.raises(NotBuyable):
        backend.buy("OC-100123")


async def test_rejections_are_not_retryable_channel_errors(client, backend):
    listing = await client.create(draft())
    with pytest.raises(ChannelError) as refused:
        await client.update_price(listing, Decimal("-1"))
    assert (refused.value.status, refused.value.retryable) == (422, False)
    assert "must be greater than or equal to 0" in refused.value.message
    with pytest.raises(ChannelError) as missing:
        await client.withdraw(RemoteListing("999", None, None, None, "live"), "gone")
    assert (missing.value.status, missing.value.retryable) == (404, False)


async def test_a_burst_of_100_is_paced_without_a_single_429(settings, transport, backend, sim):
    backend.set_rate_limit(bucket_size=40, leak_rate=40.0)  # a fast leak, so pacing takes ~1.5 s, not 30
    paced = settings.model_copy(update={"leak_rate": 40.0})
    sim.journal.clear()
    async with ShopifyClient(paced, transport=transport) as client:
        started = time.perf_counter()
        found = await asyncio.gather(*(client.find_by_sku(f"NONE-{n}") for n in range(100)))
        elapsed = time.perf_counter() - started
        budget = client.budget()
    statuses = [e.status for e in sim.journal.entries(system="shopify")]
    assert found == [None] * 100 and len(statuses) == 100
    assert 429 not in statuses
    assert elapsed >= (100 - 38) / 40 * 0.9  # it did wait: 38 at once, then at the leak rate
    assert budget.limit == 40 and 0 < budget.used <= 40


async def test_injected_5xx_and_429_are_retried_to_completion(client, backend, sim):
    sim.faults.set("shopify", FaultConfig(error_rate=0.2, rate_limit_rate=0.2, retry_after_seconds=0))
    for n in range(5):
        await client.create(draft(sku=f"OC-{n}"))
    listed = [item async for item in client.selling()]
    faults = [e.fault for e in sim.journal.entries(system="shopify") if e.fault]
    assert len(backend.products) == 5 and len(listed) == 5 and faults


async def test_settings_default_to_the_simulator(monkeypatch):
    from retail_pipeline.settings import get_settings
    from retail_pipeline.simulators.shopify import DEFAULT_API_SECRET

    monkeypatch.setenv("SIMULATOR_URL", "http://127.0.0.1:9999")
    monkeypatch.setenv("USE_SIMULATORS", "true")
    for name in ("SHOPIFY_SHOP", "SHOPIFY_BASE_URL", "SHOPIFY_ACCESS_TOKEN", "SHOPIFY_WEBHOOK_SECRET"):
        monkeypatch.delenv(name, raising=False)
    get_settings.cache_clear()
    try:
        settings = ShopifySettings(_env_file=None)
        assert settings.base() == "http://127.0.0.1:9999/shopify"
        assert settings.secret() == DEFAULT_API_SECRET and settings.token()
        live = ShopifySettings(_env_file=None, shop="my-store")
        assert live.base() == "https://my-store.myshopify.com"
        with pytest.raises(ChannelError, match="SHOPIFY_ACCESS_TOKEN"):
            live.token()
    finally:
        get_settings.cache_clear()

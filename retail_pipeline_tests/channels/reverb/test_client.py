"""ReverbClient against the simulator: listing lifecycle, crash recovery, orders and shipping, faults."""

from __future__ import annotations

from decimal import Decimal

import pytest

from retail_pipeline.channels.reverb import ReverbClient, ReverbSettings
from retail_pipeline.integrations.marketplaces.base import ChannelError, RemoteListing
from retail_pipeline.simulators import FaultConfig
from retail_pipeline.simulators.buyers import NotBuyable
from retail_pipeline_tests.channels.rest_support import QUICK_RETRIES, LoseAnswers

from .conftest import draft

pytestmark = pytest.mark.anyio


async def test_validate_checks_reverbs_rules_locally(client):
    assert await client.validate(draft()) == []
    problems = await client.validate(
        draft(condition="used", currency="USD", photos=(), fields={"category_uuids": []}, brand=None)
    )
    assert problems == [
        "make is required (fields.make or the brand)",
        "more than 1 unit needs Brand New, B-Stock or Mint (with inventory)",
        "fields.category_uuids needs 1 to 3 Reverb category uuids",
        "price is in USD; the shop lists in NZD",
        "Reverb needs at least one photo",
    ]
    assert client.budget().used == 0 and client.budget().limit is None


async def test_create_reads_back_and_shows_in_the_selling_list(client, backend):
    listing = await client.create(
        draft(fields=draft().fields | {"year": "2021", "finish": "3-Color Sunburst"})
    )
    assert (listing.state, listing.sku, listing.price, listing.quantity) == (
        "live",
        "OC-100123",
        Decimal("1299.00"),
        3,
    )
    assert listing.url.startswith("http://sim/reverb/item/") and client.budget().used == 1

    stored = backend.listing(listing.external_id)
    assert (stored.make, stored.model, stored.year, stored.finish) == (
        "Fender",
        "Player Stratocaster",
        "2021",
        "3-Color Sunburst",
    )
    assert stored.condition_uuid == "7c3f45de-2ae0-4c81-8400-fdb6b1d74890"  # Brand New
    assert stored.shipping_rates == [("XX", Decimal("0.00"))] and stored.upc == "885978911234"
    assert stored.photos == ["https://media.example/m/front.jpg", "https://media.example/m/back.jpg"]

    assert await client.find_by_sku("OC-100123") == listing
    assert await client.find_by_sku("OC-1001") is None  # the sku filter is exact
    assert [item.external_id async for item in client.selling()] == [listing.external_id]


async def test_a_shipping_profile_replaces_the_flat_rate(client, backend):
    listing = await client.create(draft(fields=draft().fields | {"shipping_profile_id": 5021}))
    stored = backend.listing(listing.external_id)
    assert stored.shipping_profile_id == "5021" and stored.shipping_rates == []


async def test_selling_follows_hal_next_links(client, backend):
    for n in range(60):
        backend.create_foreign_listing(f"Patch cable {n}", sku=f"CBL-{n}", quantity=1)
    assert len({item.sku async for item in client.selling()}) == 60
    assert client.budget().used == 2  # 50 + 10


async def test_find_by_sku_recovers_a_create_whose_answer_was_lost(settings, transport, backend):
    lossy = LoseAnswers(transport, "POST", "/api/listings")
    async with ReverbClient(settings, transport=lossy, policy=QUICK_RETRIES) as client:
        listing = await client.create(draft())
    assert len(backend.listings) == 1 and listing.external_id == str(next(iter(backend.listings)))
    async with ReverbClient(settings, transport=transport) as after_a_crash:
        assert await after_a_crash.find_by_sku("OC-100123") == listing


async def test_price_quantity_and_withdraw(client, backend):
    listing = await client.create(draft())
    assert (await client.update_price(listing, Decimal("1199.5"))).price == Decimal("1199.50")
    assert (await client.update_quantity(listing, 0)).state == "ended"  # Reverb ends it at zero
    back = await client.update_quantity(listing, 5)
    assert (back.state, back.quantity) == ("live", 5)

    ended = await client.withdraw(listing, "supplier removed it")
    assert ended.state == "ended" and backend.listing(listing.external_id).state == "ended"
    assert (await client.withdraw(listing, "again, after a crash")).state == "ended"
    with pytest.raises(NotBuyable):
        backend.buy("OC-100123")
    with pytest.raises(ChannelError) as missing:
        await client.withdraw(RemoteListing("404", None, None, None, "live"), "gone")
    assert (missing.value.status, missing.value.retryable) == (404, False)


async def test_rejections_are_not_retryable_channel_errors(client):
    with pytest.raises(ChannelError) as refused:
        await client.create(draft(condition="used"))  # three units of a one-of-a-kind condition
    assert (refused.value.status, refused.value.retryable) == (412, False)
    assert "inventory" in refused.value.details["errors"]


async def test_a_purchase_is_listed_and_shipped_once(client, backend):
    listing = await client.create(draft(quantity=1))
    order = backend.buy("OC-100123")
    assert (await client.find_by_sku(listing.sku)).state == "sold"

    waiting = [o async for o in client.orders("awaiting_shipment")]
    assert [o["order_number"] for o in waiting] == [str(order.order_number)]
    assert waiting[0]["shipping_address"]["country_code"] == "CA"

    shipped = await client.ship(
        waiting[0]["order_number"], provider="Canada Post", tracking_number="7023210039414604"
    )
    assert shipped["status"] == "shipped" and order.notified_buyer
    again = await client.ship(order.order_number, provider="Canada Post", tracking_number="7023210039414604")
    assert again["shipping_code"] == "7023210039414604"
    with pytest.raises(ChannelError) as other:
        await client.ship(order.order_number, provider="Canada Post", tracking_number="SOMETHING-ELSE")
    assert other.value.status == 406
    assert [o async for o in client.orders("awaiting_shipment")] == []
    assert len([o async for o in client.orders(updated_start_date=order.created_at)]) == 1


async def test_injected_5xx_and_429_are_retried_to_completion(client, backend, sim):
    sim.faults.set("reverb", FaultConfig(error_rate=0.2, rate_limit_rate=0.2, retry_after_seconds=0))
    for n in range(5):
        await client.create(draft(sku=f"OC-{n}"))
    listed = [item async for item in client.selling()]
    assert len(backend.listings) == 5 and len(listed) == 5
    assert any(e.fault for e in sim.journal.entries(system="reverb"))


async def test_settings_default_to_the_simulator(monkeypatch):
    from retail_pipeline.settings import get_settings

    monkeypatch.setenv("SIMULATOR_URL", "http://127.0.0.1:9999")
    monkeypatch.setenv("USE_SIMULATORS", "true")
    monkeypatch.delenv("REVERB_BASE_URL", raising=False)
    monkeypatch.delenv("REVERB_TOKEN", raising=False)
    get_settings.cache_clear()
    try:
        settings = ReverbSettings(_env_file=None)
        assert settings.base() == "http://127.0.0.1:9999/reverb/api" and settings.bearer()
        live = ReverbSettings(_env_file=None, base_url="https://sandbox.reverb.com/api")
        with pytest.raises(ChannelError, match="REVERB_TOKEN"):
            live.bearer()
    finally:
        get_settings.cache_clear()

"""The Amazon client against the simulator in-process: every exchange checked against Amazon's models."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest

from retail_pipeline.channels.amazon import (
    CHANNEL,
    amazon_orders,
    find_tracking,
    order_from_amazon,
    push_tracking,
)
from retail_pipeline.domain.order_sources import Window
from retail_pipeline.integrations.marketplaces.base import BulkChange, ChannelError
from retail_pipeline.integrations.marketplaces.rest import RetryPolicy
from retail_pipeline.simulators.amazon.conformance import report_schema_errors

from .conftest import LoseAnswer, body, make_draft, sent

pytestmark = pytest.mark.anyio


async def test_a_listing_from_validation_to_withdrawal_speaks_the_models(client, recorder, backend):
    draft = make_draft()
    assert await client.validate(draft) == []
    assert backend.listings == {}  # VALIDATION_PREVIEW saved nothing
    created = await client.create(draft)
    assert created.remote_ids["status"] == "ACCEPTED" and created.remote_ids["productType"] == "HEADPHONES"
    found = await client.find_by_sku(draft.sku)
    assert (found.state, found.price, found.quantity) == ("live", Decimal("449.99"), 3)
    put = recorder.calls("PUT", "/items/")[-1]
    attributes = sent(put)["attributes"]
    assert attributes["item_name"][0] == {
        "value": draft.title,
        "language_tag": "en_CA",
        "marketplace_id": "A2EUQ1WTGCTBG2",
    }
    assert attributes["externally_assigned_product_identifier"][0]["type"] == "ean"
    assert attributes["other_product_image_locator_1"][0]["media_location"].endswith("back.jpg")
    assert put.request.headers["x-amz-access-token"].startswith("Atza|")
    repriced = await client.update_price(found, Decimal("399.99"))
    await client.update_quantity(repriced, 1)
    [listed] = [x async for x in client.selling()]
    assert (listed.sku, listed.price, listed.quantity) == (draft.sku, Decimal("399.99"), 1)
    withdrawn = await client.withdraw(listed, "discontinued")
    assert withdrawn.state == "withdrawn" and await client.find_by_sku(draft.sku) is None
    await client.withdraw(listed, "again")  # already gone: still withdrawn
    # one LWA token for all of it; the product type's schema fetched once
    assert len(recorder.calls("POST", "/auth/o2/token")) == 1
    assert len(recorder.calls("GET", "/_schemas/")) == 1
    problems, operations = recorder.spec_violations()
    assert problems == []
    assert {"putListingsItem", "patchListingsItem", "deleteListingsItem", "getListingsItem",
            "searchListingsItems", "getDefinitionsProductType"} <= operations  # fmt: skip


async def test_the_token_is_cached_until_it_expires_and_an_expired_one_is_replaced_once(
    client, recorder, sim, backend
):
    await client.find_by_sku("RP-0")
    await client.find_by_sku("RP-0")
    assert len(recorder.calls("POST", "/auth/o2/token")) == 1
    sim.clock.advance(1)  # an hour: past expiry (less the margin)
    await client.find_by_sku("RP-0")
    assert len(recorder.calls("POST", "/auth/o2/token")) == 2
    backend.expire_tokens()  # Amazon refuses a token our clock still trusts
    assert await client.find_by_sku("RP-0") is None
    refused = [e for e in recorder.calls("GET", "/items/") if e.status == 403]
    assert len(refused) == 1 and "expired" in body(refused[0])["errors"][0]["details"]
    assert len(recorder.calls("POST", "/auth/o2/token")) == 3


async def test_bad_credentials_are_named(make_client):
    async with make_client(client_secret="") as c:
        c.settings.client_secret = None
        c.settings.base_url = "https://sellingpartnerapi-na.amazon.com"
        with pytest.raises(ChannelError, match="AMAZON_CLIENT_ID"):
            await c.access_token()


async def test_429_is_retried_and_an_error_keeps_the_request_id(make_client, recorder, backend):
    async with make_client() as c:
        await c.find_by_sku("RP-0")
        backend.bucket("getListingsItem").drain()  # the seller's bucket is empty
        policy = RetryPolicy(max_attempts=8, backoff_initial=0.05, backoff_max=0.2)
        async with make_client(policy=policy) as patient:
            assert await patient.find_by_sku("RP-0") is None
        throttled = [e for e in recorder.calls("GET", "/items/") if e.status == 429]
        assert throttled and throttled[0].headers["x-amzn-RateLimit-Limit"] == "5.0"
        assert body(throttled[0])["errors"][0]["code"] == "QuotaExceeded"
    async with make_client() as c:
        with pytest.raises(ChannelError) as refused:
            await c._call(
                "getDefinitionsProductType", "GET", "/definitions/2020-09-01/productTypes/HEADPHONES"
            )
        assert refused.value.status == 400 and refused.value.request_id  # no marketplaceIds
        assert refused.value.request_id in refused.value.message
    problems, _ = recorder.spec_violations()  # only the request we broke on purpose; every answer is Amazon's
    assert len(problems) == 1 and "Missing required query parameter: marketplaceIds" in problems[0]


async def test_a_listing_breaking_the_product_type_is_refused_with_amazons_issues(client, recorder):
    broken = make_draft(fields={"product_type": "HEADPHONES", "attributes": {"form_factor": "Sideways"}})
    with pytest.raises(ChannelError, match="form_factor") as local:
        await client.create(broken)
    assert not local.value.retryable and recorder.calls("PUT") == []  # refused before any PUT
    client._schemas["HEADPHONES"] = {"type": "object"}  # a stale local schema lets it through
    with pytest.raises(ChannelError, match="90220") as refused:
        await client.create(broken)
    issues = refused.value.details["issues"]
    assert {i["code"] for i in issues} >= {"90220", "99022"}
    assert all(i["severity"] == "ERROR" and i["attributeNames"] for i in issues)
    assert await client.find_by_sku(broken.sku) is None
    assert recorder.spec_violations()[0] == []


async def test_issues_appear_after_the_listing_was_accepted(client, sim):
    draft = make_draft(gtin="4548736132581")  # a wrong check digit: Amazon finds it later
    created = await client.create(draft)
    assert created.remote_ids["issues"] == []
    assert (await client.find_by_sku(draft.sku)).state == "live"
    sim.clock.advance(0.1)
    later = await client.find_by_sku(draft.sku)
    assert later.state == "ended" and later.remote_ids["issues"][0]["code"] == "8572"


async def test_a_crash_after_the_put_does_not_list_twice(make_client, recorder, backend):
    async with make_client(transport=LoseAnswer(recorder, "PUT", "/RP-2001")) as c:
        created = await c.create(make_draft())
    assert created.state == "live" and len(backend.listings) == 1
    assert len(recorder.calls("PUT", "/RP-2001")) == 1  # the lost PUT; then a look, not a second PUT
    assert recorder.calls("GET", "/RP-2001")


async def test_bulk_changes_go_as_one_listings_feed_read_back_per_sku(make_client, recorder):
    async with make_client(feed_threshold=3) as c:
        listings = [await c.create(make_draft(f"RP-30{n}")) for n in range(3)]
        assert (
            await c.apply_bulk([BulkChange(listings[0], price=Decimal("1"))]) is None
        )  # below the threshold
        results = await c.apply_bulk(
            [
                BulkChange(listings[0], price=Decimal("399.99")),
                BulkChange(listings[1], quantity=7),
                BulkChange(listings[2], quantity=-1),  # Amazon refuses this one
            ]
        )
        assert results["RP-300"].ok and results["RP-301"].ok
        assert not results["RP-302"].ok and "99022" in results["RP-302"].message
        assert (await c.find_by_sku("RP-300")).price == Decimal("399.99")
        assert (await c.find_by_sku("RP-301")).quantity == 7
    assert len(recorder.calls("POST", "/feeds/2021-06-30/feeds")) == 1 and len(recorder.calls("PATCH")) == 0
    report = body(recorder.calls("GET", "/_documents/")[-1])
    assert report_schema_errors(report) == [] and report["summary"]["messagesInvalid"] == 1
    problems, operations = recorder.spec_violations()
    assert problems == []
    assert {"createFeedDocument", "createFeed", "getFeed", "getFeedDocument"} <= operations


async def test_orders_are_read_through_the_2026_api_and_shipped_with_tracking(client, recorder, sim):
    await client.create(make_draft())
    sim.clock.advance(0.5)
    from retail_pipeline.simulators.market import Market

    purchase = Market(sim, deliver_webhooks=False).buy_now("amazon", "RP-2001")
    window = Window.recent(sim.clock.now())
    [order] = [o async for o in amazon_orders(client, window)]
    assert order.external_order_id == purchase.order_id and order.placed_at == purchase.at.replace(
        microsecond=0
    )
    assert (order.currency, order.total, order.initial_status) == ("CAD", Decimal("449.99"), "accepted")
    assert order.lines[0].sku == "RP-2001" and order.lines[0].quantity == 1
    assert order.shipping_address.country_iso_code == "CA" and order.shipping_address.zip_code
    assert order.customer.email.endswith("@marketplace.amazon.ca") and order.shipping_deadline
    assert (await client.find_by_sku("RP-2001")).quantity == 2

    class Shipment:
        tracking_pin = "7023210039414604"

    carrier = CHANNEL.carrier("canada_post", Shipment.tracking_pin)
    assert await find_tracking(client, order, list(order.lines), Shipment) is None
    await push_tracking(client, order, list(order.lines), Shipment, carrier)
    assert await find_tracking(client, order, list(order.lines), Shipment)
    with pytest.raises(ChannelError, match="already confirmed"):  # a repeat is refused: find_tracking first
        await push_tracking(client, order, list(order.lines), Shipment, carrier)
    shipped = order_from_amazon(await client.order(order.external_order_id))
    assert shipped.remote_state == "SHIPPED"
    confirm = sent(recorder.calls("POST", "/shipmentConfirmation")[0])
    assert confirm["packageDetail"]["carrierCode"] == "Canada Post"
    assert not recorder.calls("GET", "/orders/v0/")  # no deprecated v0 reads
    problems, operations = recorder.spec_violations()
    assert problems == []
    assert {"searchOrders", "getOrder", "confirmShipment"} <= operations


async def test_searching_orders_pages_by_token(client, backend, sim):
    await client.create(make_draft(quantity=5))
    for _ in range(3):
        backend.buy("RP-2001")
    start = sim.clock.now() - timedelta(hours=1)
    pages = [o["orderId"] async for o in _paged(client, start)]
    assert len(pages) == 3 and len(set(pages)) == 3


async def _paged(client, start):
    params = {"createdAfter": start.isoformat(), "maxResultsPerPage": 2, "marketplaceIds": "A2EUQ1WTGCTBG2"}
    data = (await client._call("searchOrders", "GET", "/orders/2026-01-01/orders", params=params)).data
    for order in data["orders"]:
        yield order
    assert data["pagination"]["nextToken"]
    params = {"paginationToken": data["pagination"]["nextToken"]}
    data = (await client._call("searchOrders", "GET", "/orders/2026-01-01/orders", params=params)).data
    assert "pagination" not in data
    for order in data["orders"]:
        yield order


def test_the_clients_rate_table_is_the_models_usage_plans():
    """The client paces by its own table (it does not read the models at run time); the simulator enforces
    the plans read from the models' descriptions: they must agree, operation by operation."""
    from retail_pipeline.channels.amazon import RATES
    from retail_pipeline.simulators.amazon.conformance import usage_plans

    plans = usage_plans()
    assert {operation: plans.get(operation) for operation in RATES} == RATES
    assert plans["confirmShipment"] == (2, 10) and plans["createFeed"] == (0.0083, 15)

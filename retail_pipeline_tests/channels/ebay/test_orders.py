"""Orders: a simulated purchase shows in getOrders (filtered, paged), stock goes down, and shipping
fulfillments are recorded once."""

from __future__ import annotations

from datetime import timedelta

import pytest

from retail_pipeline.simulators.buyers import NotBuyable

from .conftest import LoseAnswer, make_draft

pytestmark = pytest.mark.anyio


async def test_a_purchase_is_an_order_in_get_orders_and_takes_the_stock(client, backend, sim):
    listing = await client.create(make_draft(quantity=3))
    order = backend.buy("OC-100007", 2)

    offer = backend.offers[listing.remote_ids["offer_id"]]
    assert backend.items["OC-100007"].quantity == 1 and offer.details["availableQuantity"] == 1
    assert offer.listing.sold_quantity == 2

    (found,) = [o async for o in client.orders(sim.clock.now() - timedelta(hours=1))]
    assert found["orderId"] == order.order_id and found["orderFulfillmentStatus"] == "NOT_STARTED"
    (line,) = found["lineItems"]
    assert (line["sku"], line["quantity"], line["legacyItemId"]) == ("OC-100007", 2, listing.external_id)
    assert line["lineItemCost"] == {"value": "698.00", "currency": "USD"}
    ship_to = found["fulfillmentStartInstructions"][0]["shippingStep"]["shipTo"]
    assert ship_to["contactAddress"]["countryCode"] == "CA" and ship_to["fullName"]

    with pytest.raises(NotBuyable, match="1 available"):
        backend.buy("OC-100007", 2)
    backend.buy("OC-100007", 1)
    assert offer.listing.status == "OUT_OF_STOCK" and backend.live_skus() == {}
    (remote,) = [r async for r in client.selling()]
    assert remote.state == "sold"
    with pytest.raises(NotBuyable, match="no live eBay listing"):
        backend.buy("OC-100007")


async def test_orders_are_filtered_by_creation_date_and_paged(make_client, backend, sim, recorder):
    async with make_client(page_size=2) as client:
        for n in range(3):
            await client.create(make_draft(sku=f"OC-{n}"))
        start = sim.clock.now()
        bought = []
        for n in range(5):
            bought.append(backend.buy(f"OC-{n % 3}").order_id)
            sim.clock.advance(1)
        recorder.exchanges.clear()
        everything = [o["orderId"] async for o in client.orders(start)]
        window = [
            o["orderId"] async for o in client.orders(start + timedelta(hours=1), start + timedelta(hours=3))
        ]
    assert everything == bought
    assert window == bought[1:4]  # both ends inclusive
    first_page = recorder.calls("GET", "/order")[0].request.url.params
    assert first_page["filter"] == "creationdate:[2025-06-02T09:00:00.000Z..]" and first_page["limit"] == "2"
    assert [e.request.url.params.get("offset") for e in recorder.calls("GET", "/order")][:3] == [
        None,
        "2",
        "4",
    ]


async def test_shipping_fulfillment_is_recorded_once_with_its_location(client, backend, wire):
    await client.create(make_draft(quantity=5))
    order = backend.buy("OC-100007", 2)
    line_id = order.line_items[0].line_item_id

    fulfillment_id = await client.create_shipping_fulfillment(
        order.order_id, {line_id: 2}, "CanadaPost", "7023 4256 1234 5678"
    )
    assert fulfillment_id == "7023425612345678"  # eBay takes letters and digits only
    again = await client.create_shipping_fulfillment(
        order.order_id, {line_id: 2}, "CanadaPost", "7023425612345678"
    )
    assert again == fulfillment_id and len(order.fulfillments) == 1

    body = (await wire("GET", f"/sell/fulfillment/v1/order/{order.order_id}")).json()
    assert body["orderFulfillmentStatus"] == "FULFILLED"
    assert body["lineItems"][0]["lineItemFulfillmentStatus"] == "FULFILLED"
    (href,) = body["fulfillmentHrefs"]
    package = (await wire("GET", href.removeprefix("http://sim/ebay"))).json()
    assert (
        package["shipmentTrackingNumber"] == fulfillment_id and package["shippingCarrierCode"] == "CanadaPost"
    )


async def test_shipping_fulfillment_answers_201_with_a_location(wire, backend, client):
    await client.create(make_draft())
    order = backend.buy("OC-100007")
    line_id = order.line_items[0].line_item_id
    path = f"/sell/fulfillment/v1/order/{order.order_id}/shipping_fulfillment"

    response = await wire(
        "POST",
        path,
        json={
            "lineItems": [{"lineItemId": line_id, "quantity": 1}],
            "shippingCarrierCode": "USPS",
            "trackingNumber": "9400111899223",
        },
    )
    assert response.status_code == 201 and response.json() == {}
    assert response.headers["location"] == f"http://sim/ebay{path}/9400111899223"

    bad = [
        ({"lineItems": [{"lineItemId": line_id}], "trackingNumber": "9400111899224"}, 32300),  # no carrier
        (
            {
                "lineItems": [{"lineItemId": line_id}],
                "shippingCarrierCode": "USPS",
                "trackingNumber": "9400-111",
            },
            32300,
        ),
        ({"lineItems": [{"lineItemId": "999"}], "shippingCarrierCode": "USPS", "trackingNumber": "1"}, 32200),
        ({"lineItems": [{"lineItemId": line_id}, {"lineItemId": line_id}]}, 32210),
    ]
    for body, error_id in bad:
        refused = await wire("POST", path, json=body)
        assert (refused.status_code, refused.json()["errors"][0]["errorId"]) == (400, error_id), body


async def test_a_lost_fulfillment_answer_does_not_make_a_second_package(make_client, recorder, backend):
    async with make_client() as client:
        await client.create(make_draft())
    order = backend.buy("OC-100007")
    async with make_client(transport=LoseAnswer(recorder, "/shipping_fulfillment")) as client:
        await client.create_shipping_fulfillment(
            order.order_id, {order.line_items[0].line_item_id: 1}, "USPS", "94001"
        )
    assert [f.fulfillment_id for f in order.fulfillments] == ["94001"]


@pytest.mark.parametrize(
    ("query", "status", "error_id"),
    [
        ({"filter": "creationdate:[2025-06-02..]"}, 400, 30810),
        ({"filter": "creationdate:[..2025-06-02T00:00:00.000Z]"}, 400, 30820),
        ({"filter": "creationdate:[2025-06-03T00:00:00.000Z..2025-06-02T00:00:00.000Z]"}, 400, 30840),
        ({"filter": "shipped:[2025-06-02T00:00:00.000Z..]"}, 400, 30700),
        ({"filter": "orderfulfillmentstatus:{FULFILLED}"}, 400, 30800),
        ({"limit": "201"}, 400, 31100),
        ({"offset": "-1"}, 400, 31000),
        ({"fieldGroups": "EVERYTHING"}, 400, 32800),
    ],
)
async def test_get_orders_refuses_bad_queries_with_ebays_errors(wire, query, status, error_id):
    response = await wire("GET", "/sell/fulfillment/v1/order", params=query)
    assert response.status_code == status
    assert (
        response.json()["errors"][0]["errorId"] == error_id
        and response.json()["errors"][0]["domain"] == "API_FULFILLMENT"
    )


async def test_get_orders_by_id_and_fulfillment_status(wire, backend, client):
    await client.create(make_draft(quantity=5))
    first, second = backend.buy("OC-100007"), backend.buy("OC-100007")
    await client.create_shipping_fulfillment(
        first.order_id, {first.line_items[0].line_item_id: 1}, "USPS", "1Z999"
    )
    pending = await wire(
        "GET",
        "/sell/fulfillment/v1/order",
        params={"filter": "orderfulfillmentstatus:{NOT_STARTED|IN_PROGRESS}"},
    )
    assert [o["orderId"] for o in pending.json()["orders"]] == [second.order_id]
    by_id = await wire("GET", "/sell/fulfillment/v1/order", params={"orderIds": f"{first.order_id},nope"})
    assert by_id.json()["total"] == 1 and by_id.json()["orders"][0]["orderFulfillmentStatus"] == "FULFILLED"


async def test_market_hooks_over_http(wire, client):
    await client.create(make_draft(quantity=1))
    assert (await wire.http.get("http://sim/ebay/_control/live_skus")).json() == {"OC-100007": 1}
    bought = await wire.http.post("http://sim/ebay/_control/buy", json={"sku": "OC-100007"})
    assert bought.status_code == 201 and bought.json()["lineItems"][0]["sku"] == "OC-100007"
    sold_out = await wire.http.post("http://sim/ebay/_control/buy", json={"sku": "OC-100007"})
    assert sold_out.status_code == 409
    made = await wire.http.post("http://sim/ebay/_control/foreign_listings", json={"title": "By hand"})
    assert made.status_code == 201
    assert made.json()["listingId"] in {r.external_id async for r in client.selling()}

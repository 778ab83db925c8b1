"""Checked against eBay's official OpenAPI specs with openapi-core: what the client sends, what the
simulator answers, and the simulator refusing what the spec does not allow (stripe-mock style)."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest

from retail_pipeline.simulators.ebay import responses
from retail_pipeline.simulators.ebay.gateway import ConformanceError

from .conftest import make_draft

pytestmark = pytest.mark.anyio


async def test_every_request_and_response_of_a_full_flow_conforms(client, backend, sim, wire, recorder):
    listing = await client.create(make_draft(quantity=4))
    await client.find_by_sku("NOPE-1")  # a 404
    await client.update_price(listing, Decimal("330.00"))
    await client.update_quantity(listing, 3)
    order = backend.buy(listing.sku, 1)
    [o async for o in client.orders(sim.clock.now() - timedelta(days=1))]
    await client.create_shipping_fulfillment(
        order.order_id, {order.line_items[0].line_item_id: 1}, "USPS", "9400100"
    )
    await wire("GET", f"/sell/inventory/v1/inventory_item/{listing.sku}")
    await wire("GET", f"/sell/inventory/v1/offer/{listing.remote_ids['offer_id']}")
    await wire("GET", f"/sell/fulfillment/v1/order/{order.order_id}")
    await wire("GET", f"/sell/fulfillment/v1/order/{order.order_id}/shipping_fulfillment")
    await wire("GET", f"/sell/fulfillment/v1/order/{order.order_id}/shipping_fulfillment/9400100")
    await client.withdraw(listing, "gone")
    await client.withdraw(listing, "again")  # a 400
    [r async for r in client.selling()]

    problems, operations = recorder.spec_violations()
    assert problems == []
    assert operations == {
        "createOrReplaceInventoryItem",
        "getInventoryItem",
        "getInventoryItems",  # selling() reads each listing's product
        "createOffer",
        "getOffers",
        "getOffer",
        "publishOffer",
        "bulkUpdatePriceQuantity",
        "withdrawOffer",
        "getOrders",
        "getOrder",
        "createShippingFulfillment",
        "getShippingFulfillments",
        "getShippingFulfillment",
    }
    assert {e.status for e in recorder.exchanges} >= {200, 201, 204, 400, 404}


async def test_offer_recovery_path_conforms(client, wire, recorder):
    await wire("PUT", "/sell/inventory/v1/inventory_item/OC-100007", json={"product": {"title": "x"}})
    await wire(
        "POST",
        "/sell/inventory/v1/offer",
        json={"sku": "OC-100007", "marketplaceId": "EBAY_US", "format": "FIXED_PRICE"},
    )
    await client.create(make_draft())  # 400 "offer exists", then updateOffer
    problems, operations = recorder.spec_violations()
    assert problems == [] and "updateOffer" in operations


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        ({"product": {"aspects": "Brand: Sony"}}, "Could not serialize field [product.aspects]"),
        (
            {"availability": {"shipToLocationAvailability": {"quantity": "3"}}},
            "Could not serialize field [availability.shipToLocationAvailability.quantity]",
        ),
        (
            {"product": {"imageUrl": ["https://x/1.jpg"]}},
            "Could not serialize field [product.imageUrl]: unknown field",
        ),
        ({"condition": "USED"}, "Could not serialize field [condition]"),
    ],
)
async def test_the_gateway_refuses_bodies_the_spec_does_not_allow(wire, body, reason):
    response = await wire("PUT", "/sell/inventory/v1/inventory_item/OC-1", json=body)
    assert response.status_code == 400
    (error,) = response.json()["errors"]
    assert (error["errorId"], error["domain"], error["message"]) == (2004, "ACCESS", "Invalid request")
    assert error["parameters"][0]["name"] == "reason" and error["parameters"][0]["value"].startswith(reason)


async def test_the_gateway_wants_the_headers_the_spec_requires(wire):
    response = await wire(
        "POST", "/sell/inventory/v1/offer", json={"sku": "A"}, headers={"Content-Language": ""}
    )
    assert response.status_code == 400 and response.json()["errors"][0]["errorId"] == 25709
    raw = await wire("PUT", "/sell/inventory/v1/inventory_item/OC-1", content=b"{}")  # no Content-Type
    assert raw.status_code == 400
    assert [(e["errorId"], e["message"]) for e in raw.json()["errors"]] == [
        (25709, "Invalid value for Content-Type."),
        (2004, "Invalid request"),  # and so the body cannot be read as JSON
    ]


async def test_unknown_urls_404_and_unsimulated_operations_say_so(wire):
    unknown = await wire("GET", "/sell/inventory/v1/listing_fees")
    assert unknown.status_code == 404 and unknown.json()["errors"][0]["errorId"] == 2002
    assert (await wire("GET", "/nothing/here")).status_code == 404
    not_built = await wire("DELETE", "/sell/inventory/v1/offer/5000000001")
    assert not_built.status_code == 501
    assert not_built.json()["errors"][0]["longMessage"] == "The simulator does not implement deleteOffer."


async def test_a_simulator_answer_the_spec_does_not_allow_fails_loudly(client, monkeypatch):
    original = responses.offer
    monkeypatch.setattr(responses, "offer", lambda offer: {**original(offer), "title": "not an offer field"})
    await client.create(make_draft())
    with pytest.raises(ConformanceError, match=r"offers\[0\]: Additional properties are not allowed"):
        await client.find_by_sku("OC-100007")

"""Shopify orders: the market buys, orders are listed and fulfilled, `orders/create` arrives signed."""

from __future__ import annotations

import json

import httpx
import pytest

from retail_pipeline.channels.shopify import verify_webhook
from retail_pipeline.integrations.marketplaces.base import ChannelError
from retail_pipeline.simulators.buyers import Buyer, NotBuyable
from retail_pipeline.simulators.shopify import DEFAULT_API_SECRET
from retail_pipeline_tests.channels.rest_support import draft

pytestmark = pytest.mark.anyio
HOOK = "https://pipeline.example/webhooks/shopify"
BUYER = Buyer(
    "Maya",
    "Singh",
    "maya@example.ca",
    "+1 416 555 0100",
    "88 Queen St W",
    "Toronto",
    "ON",
    "Ontario",
    "M5H 2N2",
)


async def test_a_purchase_becomes_an_order_and_takes_stock(client, backend):
    listing = await client.create(draft(quantity=2))
    order = backend.buy("OC-100123", 2, BUYER)
    with pytest.raises(NotBuyable, match="0 in stock"):
        backend.buy("OC-100123")
    with pytest.raises(NotBuyable):
        backend.buy("NO-SUCH-SKU")

    listed = [o async for o in client.orders()]
    assert [o["id"] for o in listed] == [order.id]
    sold = listed[0]
    assert (sold["name"], sold["financial_status"], sold["fulfillment_status"]) == ("#1001", "paid", None)
    assert sold["line_items"][0]["sku"] == "OC-100123" and sold["line_items"][0]["quantity"] == 2
    assert sold["total_price"] == "2598.00" and sold["currency"] == "NZD"
    assert sold["shipping_address"]["zip"] == "M5H 2N2" and sold["shipping_address"]["country_code"] == "CA"
    assert (await client.find_by_sku(listing.sku)).quantity == 0


async def test_orders_filter_by_time_and_page(client, backend, sim, admin):
    await client.create(draft(quantity=9))
    first = backend.buy("OC-100123")
    sim.clock.advance(2)
    later = [backend.buy("OC-100123") for _ in range(4)]
    recent = [o["id"] async for o in client.orders(created_at_min=later[0].created_at)]
    assert recent == [o.id for o in reversed(later)]  # newest first
    page = await admin.get("/orders.json", params={"limit": 2})
    assert len(page.json()["orders"]) == 2 and 'rel="next"' in page.headers["link"]
    assert first.id in [o["id"] async for o in client.orders()]


async def test_fulfilment_ships_the_order_and_is_idempotent(client, backend):
    await client.create(draft())
    order = backend.buy("OC-100123")
    fulfillment = await client.fulfil(
        order.id, tracking_number="7023210039414604", tracking_company="Canada Post", notify_customer=True
    )
    assert fulfillment["tracking_number"] == "7023210039414604" and fulfillment["status"] == "success"
    assert fulfillment["name"] == "#1001.1" and fulfillment["line_items"][0]["sku"] == "OC-100123"
    assert order.fulfillment_status == "fulfilled" and order.status == "closed"  # archived once fulfilled

    again = await client.fulfil(order.id, tracking_number="7023210039414604", tracking_company="Canada Post")
    assert again["id"] == fulfillment["id"] and len(order.fulfillments) == 1
    with pytest.raises(ChannelError, match="nothing left to fulfil"):
        await client.fulfil(order.id, tracking_number="OTHER", tracking_company="Canada Post")
    assert [o["fulfillment_status"] async for o in client.orders()] == ["fulfilled"]  # status=any by default


async def test_orders_create_webhook_is_signed_and_delivered(client, backend, simulator_app):
    received: list[httpx.Request] = []

    def receiver(request: httpx.Request) -> httpx.Response:
        received.append(request)
        return httpx.Response(200)

    backend.webhook_transport = httpx.MockTransport(receiver)
    subscription = await client.subscribe_webhook("orders/create", HOOK)
    assert (await client.subscribe_webhook("orders/create", HOOK))["id"] == subscription["id"]
    await client.create(draft())

    # The market buys over HTTP; Shopify sends the webhook after answering.
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=simulator_app), base_url="http://sim"
    ) as sim:
        bought = await sim.post("/shopify/_control/buy", json={"sku": "OC-100123"})
        deliveries = (await sim.get("/shopify/_control/webhook_deliveries")).json()
    assert bought.status_code == 201
    assert len(received) == 1 and deliveries[0]["delivered"] and deliveries[0]["attempts"] == 1

    hook = received[0]
    assert str(hook.url) == HOOK
    assert hook.headers["x-shopify-topic"] == "orders/create"
    assert hook.headers["x-shopify-shop-domain"] == "retail-pipeline-sim.myshopify.com"
    assert hook.headers["x-shopify-webhook-id"] and hook.headers["x-shopify-api-version"] == "2025-07"
    order = json.loads(hook.content)
    assert order["id"] == bought.json()["order"]["id"] and order["line_items"][0]["sku"] == "OC-100123"

    signature = hook.headers["x-shopify-hmac-sha256"]
    assert verify_webhook(hook.content, signature, DEFAULT_API_SECRET)
    assert not verify_webhook(hook.content + b" ", signature, DEFAULT_API_SECRET)  # body changed
    assert not verify_webhook(hook.content, signature, "another-app-secret")
    assert not verify_webhook(hook.content, None, DEFAULT_API_SECRET)
    assert not verify_webhook(hook.content, "not base64 at all", DEFAULT_API_SECRET)


async def test_failed_deliveries_stay_queued_until_the_receiver_answers(client, backend):
    answers = iter([httpx.Response(503), httpx.Response(200)])
    backend.webhook_transport = httpx.MockTransport(lambda request: next(answers))
    await client.subscribe_webhook("orders/create", HOOK)
    await client.create(draft())
    backend.buy("OC-100123")

    first = await backend.deliver_webhooks()
    assert [(d.response_status, d.delivered) for d in first] == [(503, False)]
    second = await backend.deliver_webhooks()
    assert [(d.response_status, d.delivered, d.attempts) for d in second] == [(200, True, 2)]
    assert await backend.deliver_webhooks() == []


async def test_a_webhook_url_can_be_configured_with_the_app(monkeypatch):
    from retail_pipeline.simulators import SimulatorConfig, build_simulator_app, get_simulator

    monkeypatch.setenv("SIMULATOR_SHOPIFY_WEBHOOK_URL", HOOK)
    backend = get_simulator(build_simulator_app(SimulatorConfig(products_per_supplier=1))).backend("shopify")
    assert [(s.topic, s.address) for s in backend.subscriptions.values()] == [("orders/create", HOOK)]

"""Kaufland's order units as our orders, shipping with tracking, tickets through the inbox adapter, the
taxonomy (decide + category attributes), and a Kaufland draft's fields and refusals."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from types import SimpleNamespace

import pytest

from retail_pipeline.channels.kaufland import (
    CHANNEL,
    KauflandClient,
    KauflandInbox,
    order_from_kaufland,
)
from retail_pipeline.channels.plugin import CategoryQuery
from retail_pipeline.domain.listings import ProductForListing, build_draft
from retail_pipeline.domain.order_sources import Window
from retail_pipeline.integrations.marketplaces.base import ChannelError
from retail_pipeline.simulators.buyers import Buyer
from retail_pipeline_tests.channels import rest_support
from retail_pipeline_tests.channels.kaufland.conftest import category_id, draft

pytestmark = pytest.mark.anyio

BUYER = Buyer(
    first_name="Maya",
    last_name="Singh",
    email="maya.singh@example.ca",
    phone="+1 416 555 0123",
    address1="88 Queen St W",
    address2="Unit 4",
    city="Toronto",
    province_code="ON",
    province="Ontario",
    zip="M5H 2N2",
)


async def _orders(client, sim) -> list:
    now = sim.clock.now()
    window = Window(now - timedelta(hours=1), now + timedelta(seconds=1), now)
    return [order async for order in CHANNEL.orders(client, window)]


async def test_order_units_become_one_order_with_a_line_per_item(client, backend, sim):
    await client.create(draft())
    await client.create(draft("OC-200002", gtin="0885978911234", fields=draft().fields | {"ean": None}))
    two = backend.buy("OC-200001", 2, BUYER)
    sim.clock.advance(0.1)
    backend.buy("OC-200002", 1)

    orders = {o.external_order_id: o for o in await _orders(client, sim)}

    order = orders[two.order_id]
    assert (order.channel, order.currency, order.total, order.subtotal) == (
        "kaufland",
        "EUR",
        Decimal("699.98"),
        Decimal("699.98"),
    )
    assert [(line.sku, line.quantity, line.unit_price, line.remote_state) for line in order.lines] == [
        ("OC-200001", 1, Decimal("349.99"), "need_to_be_sent")
    ] * 2
    assert {line.external_line_id for line in order.lines} == {str(u.id_order_unit) for u in two.units}
    assert order.initial_status == "accepted" and order.placed_at == two.units[0].created_at
    assert (order.customer.email, order.customer.name) == ("maya.singh@example.ca", "Maya Singh")
    address = order.shipping_address
    assert (address.street_1, address.street_2, address.city, address.zip_code, address.country_iso_code) == (
        "88 Queen St W", "Unit 4", "Toronto", "M5H 2N2", "CA",
    )  # fmt: skip
    assert (
        len(orders) == 2
        and backend.units[int((await client.find_by_sku("OC-200001")).external_id)].amount == 1
    )


def test_order_unit_states_map_to_our_statuses():
    def unit(n: int, status: str) -> dict:
        return {"id_order_unit": n, "id_order": "MABC123", "ts_created_iso": "2026-12-07T10:00:00Z", "status": status,
                "price": 1999, "shipping_rate": 490, "currency": "EUR", "id_offer": "S"}  # fmt: skip

    assert order_from_kaufland([unit(1, "open")]).initial_status == "pending_payment"
    assert order_from_kaufland([unit(1, "cancelled"), unit(2, "cancelled")]).initial_status == "cancelled"
    assert (
        order_from_kaufland([unit(1, "cancelled"), unit(2, "need_to_be_sent")]).initial_status == "accepted"
    )
    assert order_from_kaufland([unit(1, "returned_paid")]).initial_status == "refunded"
    mixed = order_from_kaufland([unit(2, "sent"), unit(1, "received")])
    assert (mixed.initial_status, mixed.remote_state, mixed.total, mixed.shipping_total) == (
        "accepted", "received,sent", Decimal("49.78"), Decimal("9.80"),
    )  # fmt: skip


async def test_tracking_is_sent_per_order_unit_with_kauflands_other_carrier(client, backend, sim, recorder):
    await client.create(draft())
    bought = backend.buy("OC-200001", 2, BUYER)
    order = next(o for o in await _orders(client, sim) if o.external_order_id == bought.order_id)
    shipment = SimpleNamespace(tracking_pin="7023210039414604")
    carrier = CHANNEL.carrier("canada_post", shipment.tracking_pin)

    assert await CHANNEL.find_tracking(client, order, list(order.lines), shipment) is None
    pushed = await CHANNEL.push_tracking(client, order, list(order.lines), shipment, carrier)

    assert pushed["order_units"] == [line.external_line_id for line in order.lines]
    for unit in bought.units:
        assert (unit.status, unit.carrier_code, unit.tracking_numbers) == (
            "sent",
            "Other",
            ["7023210039414604"],
        )
    sends = recorder.calls("PATCH", "/send")
    assert [e.status for e in sends] == [204, 204]
    assert await CHANNEL.find_tracking(client, order, list(order.lines), shipment) == pushed
    with pytest.raises(ChannelError, match="only need_to_be_sent can be sent"):
        await client.send_order_unit(order.lines[0].external_line_id, ["X"], "Other")
    with pytest.raises(ChannelError, match="unknown carrier code 'Canada Post'"):
        await client.send_order_unit(order.lines[0].external_line_id, ["X"], "Canada Post")


async def test_tickets_sync_and_are_answered_through_the_inbox(client, backend, sim, settings, recorder):
    await client.create(draft())
    bought = backend.buy("OC-200001", 1, BUYER)
    since = sim.clock.now()
    sim.clock.advance(0.5)
    ticket = backend.customer_message(bought.order_id, "Hallo, when will my headphones arrive?")
    inbox = CHANNEL.new_inbox(settings=settings, transport=recorder, policy=rest_support.QUICK_RETRIES)
    assert isinstance(inbox, KauflandInbox)

    [thread] = [t async for t in inbox.threads(since)]
    assert (thread.external_thread_id, thread.order_ref, thread.customer_name) == (
        ticket.id,
        bought.order_id,
        "Maya Singh",
    )
    assert thread.customer_id == str(
        bought.units[0].id_buyer
    )  # the order's customer, as the order sync keys it
    [message] = thread.messages
    assert (message.author_type, message.direction, message.body) == (
        "customer",
        "inbound",
        "Hallo, when will my headphones arrive?",
    )

    sim.clock.advance(0.1)
    reply_id = await inbox.reply(ticket.id, "It ships today with tracking.")
    answered = await inbox.thread(ticket.id)
    assert [(m.author_type, m.body) for m in answered.messages][-1] == (
        "shop",
        "It ships today with tracking.",
    )
    assert answered.messages[-1].external_message_id == reply_id
    assert [t async for t in inbox.threads(sim.clock.now() + timedelta(minutes=1))] == []
    await inbox.aclose()

    # an answer lost on the way is not posted twice
    lossy = rest_support.LoseAnswers(recorder, "POST", "/messages")
    async with KauflandClient(settings, transport=lossy, policy=rest_support.QUICK_RETRIES) as again:
        await KauflandInbox(again).reply(ticket.id, "Tracking: 7023210039414604")
    assert [m.text for m in ticket.messages].count("Tracking: 7023210039414604") == 1


async def test_taxonomy_suggests_kauflands_categories_and_their_attributes(client):
    query = CategoryQuery(title="Sony WH-1000XM5 Wireless Noise Cancelling Headphones", brand="Sony")
    suggestions = await CHANNEL.taxonomy.suggest(client, query)

    best = suggestions[0]
    assert best.category_id == category_id() and best.path == "Electronics > Audio > Headphones > Headphones"
    assert best.confidence >= 0.8 > suggestions[1].confidence
    schema = (await CHANNEL.taxonomy.attributes(client, best.category_id)).schema
    assert schema["required"] == ["brand", "model", "form_factor", "connectivity"]
    assert schema["properties"]["form_factor"]["enum"] == ["Over-Ear", "On-Ear", "In-Ear", "Earbuds"]
    assert schema["properties"]["connectivity"]["type"] == "array"  # several values allowed
    assert "manufacturer" not in schema["properties"] and schema["additionalProperties"] is False


def _product(**changes) -> ProductForListing:
    values = dict(
        product_id=1, sku="OC-200001", title="Sony WH-1000XM5", description="Quiet.", category="headphones",
        condition="new", cost=Decimal("180.00"), cost_currency="EUR", quantity=4, brand="Sony",
        gtin="4548736132580", photos=({"sha256": "a" * 64, "rel_path": "a.jpg", "content_type": "image/jpeg"},),
        channel_category=category_id(), channel_attributes={"brand": "Sony", "model": "WH-1000XM5"},
    )  # fmt: skip
    return ProductForListing(**(values | changes))


def test_a_draft_takes_the_chosen_category_and_refuses_without_one():
    ready = build_draft(CHANNEL.listing, _product())
    assert ready.errors == [] and ready.currency == "EUR"
    assert ready.payload["fields"] == {
        "ean": "4548736132580",
        "category": category_id(),
        "attributes": {"brand": "Sony", "model": "WH-1000XM5"},
        "manufacturer": "Sony",
        "condition": "NEW",
    }
    blocked = build_draft(CHANNEL.listing, _product(channel_category=None, gtin=None))
    assert "Kaufland lists by EAN: the product needs a GTIN of 12 to 14 digits" in blocked.errors

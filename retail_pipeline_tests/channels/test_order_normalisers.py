"""The pure normalisers on real wire samples: orders bought on each simulator, read back through each
channel's client exactly as the order sync reads them."""

from __future__ import annotations

import asyncio
import copy
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from retail_pipeline.channels.bestbuy import order_from_mirakl
from retail_pipeline.channels.ebay import order_from_ebay
from retail_pipeline.channels.registry import channel_names
from retail_pipeline.channels.reverb import order_from_reverb
from retail_pipeline.channels.shopify import order_from_shopify
from retail_pipeline.channels.trademe import order_from_trademe, trademe_period
from retail_pipeline.defs.orders.assets import fetch_orders
from retail_pipeline.domain.order_sources import Window, channel_transition
from retail_pipeline_tests.simulated_channels import SELLING_CHANNELS

SKU = "RP-2001"
MARKET_NAME = {"bestbuy": "mirakl"}  # the simulator a channel's buyers shop on


def bought(sim, channels, market, channel: str):
    """One purchase of our SKU on the channel, then (raw wire object, ChannelOrder) as the sync sees it."""
    sim.clock.advance(0.5)
    purchase = market.buy_now(MARKET_NAME.get(channel, channel), SKU)
    assert purchase is not None
    window = Window.recent(sim.clock.now())
    client = channels.client(channel)

    async def read():
        try:
            if channel == "trademe":
                return [item async for item in client.sold_items("LastHour")]
            if channel == "ebay":
                return [o async for o in client.orders(window.start)]
            if channel == "shopify":
                return [o async for o in client.orders(created_at_min=window.start)]
            if channel == "bestbuy":
                return [o async for o in client.orders(start=window.start)]
            return [o async for o in client.orders("all", updated_start_date=window.start)]
        finally:
            await client.aclose()

    raws = asyncio.run(read())
    assert len(raws) == 1
    return purchase, raws[0]


def test_trademe_sold_item(sim, channels, market, listed):
    purchase, item = bought(sim, channels, market, "trademe")
    order = order_from_trademe(item)
    assert order.channel == "trademe" and order.external_order_id == purchase.order_id
    assert order.placed_at == purchase.at and order.placed_at.tzinfo is UTC
    assert order.currency == "NZD" and order.lines[0].sku == SKU and order.lines[0].quantity == 1
    assert order.total == order.subtotal + order.shipping_total > 0
    assert order.initial_status == ("accepted" if item.raw["IsPayNowPurchase"] else "pending_payment")
    assert order.customer.external_customer_id == str(item.buyer_id)
    assert order.shipping_address.country_iso_code == "NZ" and order.shipping_address.zip_code
    unpaid = copy.copy(item)
    object.__setattr__(unpaid, "raw", {**item.raw, "IsPayNowPurchase": False})
    assert order_from_trademe(unpaid).initial_status == "pending_payment"
    object.__setattr__(unpaid, "status", 20)  # the seller marked PaymentReceived
    assert order_from_trademe(unpaid).initial_status == "accepted"


def test_ebay_order(sim, channels, market, listed):
    purchase, raw = bought(sim, channels, market, "ebay")
    order = order_from_ebay(raw)
    assert order.external_order_id == purchase.order_id == raw["orderId"]
    assert order.placed_at == purchase.at.replace(microsecond=purchase.at.microsecond // 1000 * 1000)
    assert order.initial_status == "accepted" and order.remote_state == "PAID/NOT_STARTED"
    line = order.lines[0]
    assert line.sku == SKU and line.quantity == 1 and line.unit_price == order.subtotal == order.total
    assert order.customer.external_customer_id == raw["buyer"]["username"]
    assert order.shipping_address.country_iso_code == "CA" and order.shipping_address.state
    assert order.shipping_deadline > order.placed_at
    cancelled = {**raw, "cancelStatus": {"cancelState": "CANCELED"}}
    assert order_from_ebay(cancelled).initial_status == "cancelled"
    assert order_from_ebay({**raw, "orderPaymentStatus": "PENDING"}).initial_status == "pending_payment"


def test_shopify_order(sim, channels, market, listed):
    purchase, raw = bought(sim, channels, market, "shopify")
    order = order_from_shopify(raw)
    assert order.external_order_id == purchase.order_id == str(raw["id"])
    assert order.placed_at == purchase.at.replace(microsecond=0) and order.placed_at.tzinfo is UTC
    assert order.initial_status == "accepted" and order.currency == "NZD"
    assert order.total == Decimal(raw["total_price"]) and order.tax_total == Decimal(raw["total_tax"])
    assert order.lines[0].sku == SKU and order.lines[0].external_line_id == str(raw["line_items"][0]["id"])
    assert order.customer.email == raw["customer"]["email"]
    assert order.shipping_address.street_1 == raw["shipping_address"]["address1"]
    assert order_from_shopify({**raw, "cancelled_at": raw["created_at"]}).initial_status == "cancelled"
    assert order_from_shopify({**raw, "financial_status": "pending"}).initial_status == "pending_payment"


def test_reverb_order(sim, channels, market, listed):
    purchase, raw = bought(sim, channels, market, "reverb")
    order = order_from_reverb(raw)
    assert order.external_order_id == purchase.order_id == raw["order_number"]
    assert order.placed_at == purchase.at.replace(microsecond=0).astimezone(UTC)
    assert order.placed_at.utcoffset() == timedelta(0)
    assert order.initial_status == "accepted"
    assert order.lines[0].unit_price == Decimal(raw["amount_product"]["amount"]) and order.lines[0].sku == SKU
    assert order.customer.external_customer_id == str(raw["buyer_id"])
    assert order.shipping_address.zip_code == raw["shipping_address"]["postal_code"]
    assert order_from_reverb({**raw, "status": "unpaid"}).initial_status == "pending_payment"
    assert order_from_reverb({**raw, "status": "cancelled"}).initial_status == "cancelled"


def test_bestbuy_order(sim, channels, market, listed):
    purchase, raw = bought(sim, channels, market, "bestbuy")
    order = order_from_mirakl(raw)
    assert order.channel == "bestbuy" and order.external_order_id == purchase.order_id == raw["order_id"]
    assert order.placed_at == purchase.at.replace(microsecond=0) and order.placed_at.tzinfo is UTC
    assert order.initial_status == "pending_acceptance" and order.remote_state == "WAITING_ACCEPTANCE"
    assert order.currency == "CAD" and order.total == order.subtotal + order.shipping_total > 0
    line = order.lines[0]
    assert (line.sku, line.quantity, line.external_line_id) == (
        SKU,
        1,
        raw["order_lines"][0]["order_line_id"],
    )
    assert order.shipping_address.country_iso_code == "CA"  # Mirakl sends alpha-3 "CAN"
    assert order.shipping_address.zip_code == raw["customer"]["shipping_address"]["zip_code"]
    assert order.customer.external_customer_id == raw["customer"]["customer_id"]
    assert order.shipping_deadline > order.placed_at
    for state, status in (("SHIPPING", "accepted"), ("REFUSED", "refused"), ("CANCELED", "cancelled"),
                          ("SHIPPED", "shipped"), ("STAGING", "pending_payment")):  # fmt: skip
        assert order_from_mirakl({**raw, "order_state": state}).initial_status == status


@pytest.mark.parametrize("channel", SELLING_CHANNELS)  # Kaufland's: channels/kaufland
def test_each_order_source_keeps_to_its_day(channel, sim, channels, market, listed):
    """Through the registry: an order is in the window of the day it was placed, and not the next."""
    purchase = market.buy_now(MARKET_NAME.get(channel, channel), SKU)
    today = Window.day(purchase.at.date(), sim.clock.now())
    tomorrow = Window.day(purchase.at.date() + timedelta(days=1), sim.clock.now())
    assert channel in channel_names("orders")
    found = asyncio.run(fetch_orders(channels.client(channel), channel, today))
    assert [o.external_order_id for o in found] == [purchase.order_id]
    assert asyncio.run(fetch_orders(channels.client(channel), channel, tomorrow)) == []


def test_channel_transitions_follow_the_state_machine():
    assert channel_transition(None, "accepted") == "accepted"
    assert channel_transition("pending_payment", "accepted") == "accepted"
    assert channel_transition("accepted", "accepted") is None
    assert channel_transition("label_created", "accepted") is None  # never undo our own work
    assert channel_transition("pending_acceptance", "accepted") is None  # acceptance is ours (OR21)
    assert channel_transition("accepted", "cancelled") == "cancelled"
    assert channel_transition("shipped", "cancelled") is None  # too late: not an edge
    assert channel_transition("cancelled", "refunded") == "refunded"
    assert channel_transition("accepted", "pending_payment") is None


def test_trademe_period_is_the_shortest_window_that_reaches_back():
    now = datetime(2025, 6, 2, 9, 0, tzinfo=UTC)
    assert trademe_period(now - timedelta(minutes=30), now) == "LastHour"
    assert trademe_period(now - timedelta(hours=9), now) == "Last24Hours"
    assert trademe_period(now - timedelta(days=6), now) == "Last7Days"
    assert trademe_period(now - timedelta(days=46), now) is None

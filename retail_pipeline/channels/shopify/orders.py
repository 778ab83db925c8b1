"""Shopify orders (Admin REST orders.json and the orders/* webhooks) as our orders."""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from decimal import Decimal
from typing import Any

from retail_pipeline.domain.order_sources import (
    Window,
    clean,
    money,
    parse_time,
)
from retail_pipeline.domain.orders import Address, ChannelOrder, Customer, OrderLine, OrderStatus


def _shopify_status(raw: Mapping[str, Any]) -> OrderStatus:
    if raw.get("cancelled_at"):
        return "cancelled"
    financial = raw.get("financial_status")
    if financial == "refunded":
        return "refunded"
    return "accepted" if financial in ("paid", "partially_refunded") else "pending_payment"


def order_from_shopify(raw: Mapping[str, Any]) -> ChannelOrder:
    """An Admin REST order (orders.json, or the orders/create webhook body: the same object)."""
    shipping = raw.get("shipping_address") or {}
    person = raw.get("customer") or {}
    customer = None
    if person.get("id") is not None:
        name = " ".join(p for p in (person.get("first_name"), person.get("last_name")) if p)
        customer = Customer(
            external_customer_id=str(person["id"]),
            name=name or clean(shipping.get("name")),
            email=clean(person.get("email")) or clean(raw.get("email")),
            phone=clean(person.get("phone")) or clean(shipping.get("phone")),
            locale=clean(raw.get("customer_locale")),
        )
    address = None
    if shipping:
        address = Address(
            name=clean(shipping.get("name")),
            company=clean(shipping.get("company")),
            street_1=clean(shipping.get("address1")),
            street_2=clean(shipping.get("address2")),
            city=clean(shipping.get("city")),
            state=clean(shipping.get("province_code")),
            zip_code=clean(shipping.get("zip")),
            country_iso_code=clean(shipping.get("country_code")),
            phone=clean(shipping.get("phone")),
        )
    lines = tuple(
        OrderLine(
            external_line_id=str(line["id"]),
            sku=clean(line.get("sku")),
            title=line.get("title"),
            quantity=int(line.get("quantity") or 1),
            unit_price=money(line.get("price")),
            remote_state=line.get("fulfillment_status"),
        )
        for line in raw.get("line_items") or []
    )
    return ChannelOrder(
        channel="shopify",
        external_order_id=str(raw["id"]),
        placed_at=parse_time(raw["created_at"]),
        currency=raw.get("currency") or "NZD",
        total=money(raw.get("total_price")),
        subtotal=money(raw.get("subtotal_price")),
        shipping_total=sum((money(s.get("price")) for s in raw.get("shipping_lines") or []), Decimal(0)),
        tax_total=money(raw.get("total_tax")),
        lines=lines,
        initial_status=_shopify_status(raw),
        remote_state=raw.get("financial_status"),
        customer=customer,
        shipping_address=address,
        raw=dict(raw),
    )


async def shopify_orders(client: Any, window: Window) -> AsyncIterator[ChannelOrder]:
    async for raw in client.orders(created_at_min=window.start, status="any"):
        order = order_from_shopify(raw)
        if order.placed_at in window:
            yield order

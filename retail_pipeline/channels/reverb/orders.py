"""Reverb orders (/my/orders/selling) as our orders."""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from typing import Any

from retail_pipeline.domain.order_sources import (
    Window,
    clean,
    money,
    parse_time,
)
from retail_pipeline.domain.orders import Address, ChannelOrder, Customer, OrderLine, OrderStatus

REVERB_PAID = frozenset({"paid", "shipped", "picked_up", "received", "partially_refunded"})


def _reverb_status(status: str | None) -> OrderStatus:
    if status == "cancelled":
        return "cancelled"
    if status == "refunded":
        return "refunded"
    return "accepted" if status in REVERB_PAID else "pending_payment"


def order_from_reverb(raw: Mapping[str, Any]) -> ChannelOrder:
    """A Reverb order is one listing bought (one line); money fields are {amount, currency} objects."""
    shipping = raw.get("shipping_address") or {}
    total = raw.get("total") or {}
    customer = None
    if raw.get("buyer_id") is not None:
        customer = Customer(
            external_customer_id=str(raw["buyer_id"]),  # as the Reverb conversations sync keys buyers
            name=clean(raw.get("buyer_name")),
            email=clean(raw.get("buyer_email")),
            phone=clean(shipping.get("phone")),
        )
    address = None
    if shipping:
        address = Address(
            name=clean(shipping.get("name")),
            street_1=clean(shipping.get("street_address")),
            street_2=clean(shipping.get("extended_address")),
            city=clean(shipping.get("locality")),
            state=clean(shipping.get("region")),
            zip_code=clean(shipping.get("postal_code")),
            country_iso_code=clean(shipping.get("country_code")),
            phone=clean(shipping.get("phone")),
        )
    number = str(raw["order_number"])
    return ChannelOrder(
        channel="reverb",
        external_order_id=number,
        placed_at=parse_time(raw["created_at"]),
        currency=total.get("currency") or "USD",
        total=money(total),
        subtotal=money(raw.get("amount_product_subtotal")),
        shipping_total=money(raw.get("shipping")),
        tax_total=money(raw.get("amount_tax")),
        lines=(
            OrderLine(
                external_line_id=number,
                sku=clean(raw.get("sku")),
                title=raw.get("title"),
                quantity=int(raw.get("quantity") or 1),
                unit_price=money(raw.get("amount_product")),
                remote_state=raw.get("status"),
            ),
        ),
        initial_status=_reverb_status(raw.get("status")),
        remote_state=raw.get("status"),
        customer=customer,
        shipping_address=address,
        raw=dict(raw),
    )


async def reverb_orders(client: Any, window: Window) -> AsyncIterator[ChannelOrder]:
    # Reverb filters by update time only; an order placed in the window was updated at or after its start.
    async for raw in client.orders("all", updated_start_date=window.start):
        order = order_from_reverb(raw)
        if order.placed_at in window:
            yield order

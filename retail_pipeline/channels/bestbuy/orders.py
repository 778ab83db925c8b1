"""Best Buy's orders (Mirakl OR11) as our orders."""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from typing import Any

from retail_pipeline.domain.order_sources import (
    Window,
    clean,
    country,
    money,
    parse_time,
)
from retail_pipeline.domain.orders import Address, ChannelOrder, Customer, OrderLine, OrderStatus

MIRAKL_STATUS: dict[str, OrderStatus] = {
    "STAGING": "pending_payment",  # fraud check; the shop cannot act yet
    "WAITING_ACCEPTANCE": "pending_acceptance",
    "WAITING_DEBIT": "accepted",
    "WAITING_DEBIT_PAYMENT": "accepted",
    "SHIPPING": "accepted",  # accepted in the back office by hand
    "SHIPPED": "shipped",
    "TO_COLLECT": "shipped",
    "RECEIVED": "delivered",
    "CLOSED": "delivered",
    "REFUSED": "refused",
    "CANCELED": "cancelled",
}


def order_from_mirakl(raw: Mapping[str, Any]) -> ChannelOrder:
    """A Mirakl order (OR11): lines are offers (`offer_sku` is our SKU); countries come as alpha-3."""
    customer_raw = raw.get("customer") or {}
    shipping = customer_raw.get("shipping_address") or {}
    name = " ".join(p for p in (clean(shipping.get("firstname")), clean(shipping.get("lastname"))) if p)
    address = None
    if shipping:
        address = Address(
            name=name or None,
            street_1=clean(shipping.get("street_1")),
            street_2=clean(shipping.get("street_2")),
            city=clean(shipping.get("city")),
            state=clean(shipping.get("state")),
            zip_code=clean(shipping.get("zip_code")),
            country_iso_code=country(
                clean(shipping.get("country_iso_code")) or clean(shipping.get("country"))
            ),
            phone=clean(shipping.get("phone")),
            company=clean(shipping.get("company")),
        )
    customer = None
    if customer_raw.get("customer_id"):
        full = " ".join(
            p for p in (clean(customer_raw.get("firstname")), clean(customer_raw.get("lastname"))) if p
        )
        customer = Customer(
            external_customer_id=str(customer_raw["customer_id"]),
            name=full or None,
            phone=clean(shipping.get("phone")),
            locale=clean(customer_raw.get("locale")),
        )
    state = str(raw["order_state"])
    return ChannelOrder(
        channel="bestbuy",
        external_order_id=str(raw["order_id"]),
        placed_at=parse_time(raw["created_date"]),
        currency=raw.get("currency_iso_code") or "CAD",
        total=money(raw.get("total_price")),
        subtotal=money(raw.get("price")),
        shipping_total=money(raw.get("shipping_price")),
        lines=tuple(
            OrderLine(
                external_line_id=str(line["order_line_id"]),
                sku=clean(line.get("offer_sku")),
                title=line.get("product_title"),
                quantity=int(line.get("quantity") or 1),
                unit_price=money(line.get("price_unit")),
                remote_state=line.get("order_line_state"),
            )
            for line in raw.get("order_lines") or ()
        ),
        initial_status=MIRAKL_STATUS.get(state, "pending_payment"),
        remote_state=state,
        customer=customer,
        shipping_address=address,
        shipping_deadline=parse_time(raw["shipping_deadline"]) if raw.get("shipping_deadline") else None,
        raw=dict(raw),
    )


async def bestbuy_orders(client: Any, window: Window) -> AsyncIterator[ChannelOrder]:
    # Mirakl's date range includes both ends; the window's own test drops the end instant.
    async for raw in client.orders(start=window.start, end=window.end):
        order = order_from_mirakl(raw)
        if order.placed_at in window:
            yield order

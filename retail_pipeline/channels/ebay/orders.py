"""eBay orders (Fulfillment API getOrders) as our orders."""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from datetime import timedelta
from decimal import Decimal
from typing import Any

from retail_pipeline.domain.order_sources import (
    Window,
    clean,
    money,
    parse_time,
)
from retail_pipeline.domain.orders import Address, ChannelOrder, Customer, OrderLine, OrderStatus


def _ebay_status(raw: Mapping[str, Any]) -> OrderStatus:
    if (raw.get("cancelStatus") or {}).get("cancelState") == "CANCELED":
        return "cancelled"
    payment = raw.get("orderPaymentStatus")
    if payment == "FULLY_REFUNDED":
        return "refunded"
    return "accepted" if payment in ("PAID", "PARTIALLY_REFUNDED") else "pending_payment"


def order_from_ebay(raw: Mapping[str, Any]) -> ChannelOrder:
    """A Fulfillment API Order. `lineItemCost` is the line's price times its quantity."""
    pricing = raw.get("pricingSummary") or {}
    total = pricing.get("total") or {}
    steps = [i.get("shippingStep") or {} for i in raw.get("fulfillmentStartInstructions") or []]
    ship_to = next((s["shipTo"] for s in steps if s.get("shipTo")), {})
    contact = ship_to.get("contactAddress") or {}
    buyer = raw.get("buyer") or {}
    registration = buyer.get("buyerRegistrationAddress") or {}
    phone = (ship_to.get("primaryPhone") or {}).get("phoneNumber")
    lines, deadlines = [], []
    for line in raw.get("lineItems") or []:
        quantity = int(line.get("quantity") or 1)
        lines.append(
            OrderLine(
                external_line_id=str(line["lineItemId"]),
                sku=clean(line.get("sku")),
                title=line.get("title"),
                quantity=quantity,
                unit_price=(money(line.get("lineItemCost")) / quantity).quantize(Decimal("0.01")),
                remote_state=line.get("lineItemFulfillmentStatus"),
            )
        )
        if ship_by := (line.get("lineItemFulfillmentInstructions") or {}).get("shipByDate"):
            deadlines.append(parse_time(ship_by))
    customer = None
    if buyer.get("username"):
        customer = Customer(
            external_customer_id=buyer["username"],
            name=clean(ship_to.get("fullName")) or clean(registration.get("fullName")),
            email=clean(registration.get("email")) or clean(ship_to.get("email")),
            phone=clean(phone),
        )
    address = None
    if ship_to:
        address = Address(
            name=clean(ship_to.get("fullName")),
            company=clean(ship_to.get("companyName")),
            street_1=clean(contact.get("addressLine1")),
            street_2=clean(contact.get("addressLine2")),
            city=clean(contact.get("city")),
            state=clean(contact.get("stateOrProvince")),
            zip_code=clean(contact.get("postalCode")),
            country_iso_code=clean(contact.get("countryCode")),
            phone=clean(phone),
        )
    return ChannelOrder(
        channel="ebay",
        external_order_id=str(raw["orderId"]),
        placed_at=parse_time(raw["creationDate"]),
        currency=total.get("currency") or (pricing.get("priceSubtotal") or {}).get("currency") or "USD",
        total=money(total),
        subtotal=money(pricing.get("priceSubtotal")),
        shipping_total=money(pricing.get("deliveryCost")),
        tax_total=money(pricing.get("tax")),
        lines=tuple(lines),
        initial_status=_ebay_status(raw),
        remote_state=f"{raw.get('orderPaymentStatus')}/{raw.get('orderFulfillmentStatus')}",
        customer=customer,
        shipping_address=address,
        shipping_deadline=min(deadlines) if deadlines else None,
        raw=dict(raw),
    )


async def ebay_orders(client: Any, window: Window) -> AsyncIterator[ChannelOrder]:
    last = window.end - timedelta(milliseconds=1)  # eBay's creationdate range includes both ends
    async for raw in client.orders(window.start, last):
        order = order_from_ebay(raw)
        if order.placed_at in window:
            yield order

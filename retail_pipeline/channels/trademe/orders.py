"""Trade Me's sold items as our orders (MyTradeMe/SoldItems), and the look-back window that reaches a day."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import datetime
from typing import TYPE_CHECKING, Any

from retail_pipeline.domain.order_sources import (
    OutOfReach,
    Window,
    clean,
    country,
    utc,
)
from retail_pipeline.domain.orders import Address, ChannelOrder, Customer, OrderLine

if TYPE_CHECKING:
    from .client import SoldItem


TRADEME_STATUS = {0: "None", 10: "EmailSent", 20: "PaymentReceived", 30: "GoodsShipped", 40: "SaleCompleted"}
TRADEME_PAYMENT_RECEIVED = 20


def order_from_trademe(item: SoldItem) -> ChannelOrder:
    """One purchase (PurchaseId) is one order with one line. Paid = a Pay Now purchase whose payment is
    not pending, or a sale the seller marked PaymentReceived (bank deposits)."""
    raw = item.raw
    paid = (bool(raw.get("IsPayNowPurchase")) and not raw.get("IsPaymentPending")) or (
        item.status >= TRADEME_PAYMENT_RECEIVED
    )
    address = item.delivery_address or {}
    customer = None
    if item.buyer_id is not None:
        customer = Customer(
            external_customer_id=str(item.buyer_id),
            name=clean(address.get("Name")) or item.buyer_nickname,
            email=item.buyer_email,
            phone=clean(address.get("PhoneNumber")),
        )
    shipping_address = None
    if address:
        shipping_address = Address(
            name=clean(address.get("Name")),
            street_1=clean(address.get("Address1")),
            street_2=clean(address.get("Address2")) or clean(address.get("Suburb")),
            city=clean(address.get("City")),
            zip_code=clean(address.get("Postcode")),
            country_iso_code=country(clean(address.get("Country"))) or "NZ",
            phone=clean(address.get("PhoneNumber")),
        )
    return ChannelOrder(
        channel="trademe",
        external_order_id=str(item.purchase_id),
        placed_at=utc(item.sold_at),
        currency="NZD",  # Trade Me sells in NZD only
        total=item.total or item.subtotal + item.shipping_total,
        subtotal=item.subtotal,
        shipping_total=item.shipping_total,
        lines=(
            OrderLine(
                external_line_id=str(item.purchase_id),
                sku=item.sku,
                title=item.title,
                quantity=item.quantity,
                unit_price=item.unit_price,
                remote_state=TRADEME_STATUS.get(item.status, str(item.status)),
            ),
        ),
        initial_status="accepted" if paid else "pending_payment",
        remote_state="paid" if paid else "payment_pending",
        customer=customer,
        shipping_address=shipping_address,
        raw=raw,
    )


TRADEME_PERIODS: tuple[tuple[str, float], ...] = (
    ("LastHour", 1), ("Last24Hours", 24), ("Last3Days", 72), ("Last7Days", 168),
    ("Last30Days", 720), ("Last45Days", 1080),
)  # fmt: skip


def trademe_period(since: datetime, now: datetime) -> str | None:
    """The shortest SoldItems window reaching back to `since` from Trade Me's `now` (None: older than
    45 days, beyond what Trade Me lists)."""
    hours = (now - since).total_seconds() / 3600
    return next((name for name, span in TRADEME_PERIODS if hours <= span), None)


async def trademe_orders(client: Any, window: Window) -> AsyncIterator[ChannelOrder]:
    period = trademe_period(window.start, window.now)
    if period is None:
        raise OutOfReach(f"Trade Me lists sold items of the last 45 days only, not {window.start.date()}")
    async for item in client.sold_items(period):  # one call per 500 sales
        if item.sold_at in window:
            yield order_from_trademe(item)

"""Each channel's order, as its API sends it, turned into one `ChannelOrder` (pure: no I/O).

One normaliser per channel: Trade Me `SoldItem` (MyTradeMe/SoldItems), eBay `Order` (Fulfillment
getOrders), Shopify `order` (Admin REST orders.json and the orders/create webhook), Reverb order
(/my/orders/selling), Mirakl order (OR11, Best Buy).

Where our history starts (`initial_status`) follows one rule for channels without an acceptance step:
a cancelled order is `cancelled`, a refunded one `refunded`, a paid one `accepted` (it is ours to ship),
anything else `pending_payment`. Mirakl's orders wait for our acceptance first (`pending_acceptance`). Later the channel may move an order on by itself; `channel_transition`
says which of those moves our history takes (payment arriving, cancellation, refund), never one that
would undo our own work (a label, a shipment).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from retail_pipeline.domain.orders import Address, ChannelOrder, Customer, OrderLine, OrderStatus, can_move

if TYPE_CHECKING:
    from retail_pipeline.integrations.marketplaces.trademe import SoldItem

# Statuses the channel itself may move an order to after we hold it (the rest are our own steps).
CHANNEL_DRIVEN: frozenset[str] = frozenset({"accepted", "cancelled", "refunded"})

COUNTRY_CODES = {"new zealand": "NZ", "canada": "CA", "australia": "AU", "united states": "US"}
TRADEME_STATUS = {0: "None", 10: "EmailSent", 20: "PaymentReceived", 30: "GoodsShipped", 40: "SaleCompleted"}
TRADEME_PAYMENT_RECEIVED = 20


def channel_transition(current: str | None, remote: str) -> str | None:
    """The status to append when the channel now reports `remote` for an order whose latest status is
    `current`; None = nothing to append. Payment arriving only moves an order that waits for it."""
    if current is None:
        return remote
    if remote == current or remote not in CHANNEL_DRIVEN:
        return None
    if remote == "accepted" and current != "pending_payment":
        return None  # e.g. Mirakl's SHIPPING after our own acceptance, or a paid order we already ship
    return remote if can_move(current, remote) else None


def _utc(moment: datetime) -> datetime:
    if moment.tzinfo is None:
        raise ValueError(f"timestamp without a timezone: {moment.isoformat()}")
    return moment.astimezone(UTC)


def parse_time(value: str) -> datetime:
    """ISO 8601 with an offset or Z (eBay, Shopify, Reverb), as an aware UTC datetime."""
    return _utc(datetime.fromisoformat(value.replace("Z", "+00:00")))


def _money(value: Any) -> Decimal:
    """A number, a numeric string, or a money object ({value}/{amount}), as a Decimal (0 if absent)."""
    if value is None:
        return Decimal(0)
    if isinstance(value, Mapping):
        value = value.get("value", value.get("amount"))
        if value is None:
            return Decimal(0)
    return Decimal(str(value))


def _clean(value: Any) -> str | None:
    text = str(value).strip() if value is not None else ""
    return text or None


# ISO 3166-1 alpha-3 (Mirakl's country_iso_code) for the countries we ship to.
ALPHA3 = {"CAN": "CA", "USA": "US", "NZL": "NZ", "AUS": "AU", "GBR": "GB", "MEX": "MX"}


def _country(name: str | None) -> str | None:
    if not name:
        return None
    name = name.strip()
    if len(name) == 2:
        return name.upper()
    return ALPHA3.get(name.upper()) or COUNTRY_CODES.get(name.lower())


# --- Trade Me


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
            name=_clean(address.get("Name")) or item.buyer_nickname,
            email=item.buyer_email,
            phone=_clean(address.get("PhoneNumber")),
        )
    shipping_address = None
    if address:
        shipping_address = Address(
            name=_clean(address.get("Name")),
            street_1=_clean(address.get("Address1")),
            street_2=_clean(address.get("Address2")) or _clean(address.get("Suburb")),
            city=_clean(address.get("City")),
            zip_code=_clean(address.get("Postcode")),
            country_iso_code=_country(_clean(address.get("Country"))) or "NZ",
            phone=_clean(address.get("PhoneNumber")),
        )
    return ChannelOrder(
        channel="trademe",
        external_order_id=str(item.purchase_id),
        placed_at=_utc(item.sold_at),
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


# --- eBay


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
                sku=_clean(line.get("sku")),
                title=line.get("title"),
                quantity=quantity,
                unit_price=(_money(line.get("lineItemCost")) / quantity).quantize(Decimal("0.01")),
                remote_state=line.get("lineItemFulfillmentStatus"),
            )
        )
        if ship_by := (line.get("lineItemFulfillmentInstructions") or {}).get("shipByDate"):
            deadlines.append(parse_time(ship_by))
    customer = None
    if buyer.get("username"):
        customer = Customer(
            external_customer_id=buyer["username"],
            name=_clean(ship_to.get("fullName")) or _clean(registration.get("fullName")),
            email=_clean(registration.get("email")) or _clean(ship_to.get("email")),
            phone=_clean(phone),
        )
    address = None
    if ship_to:
        address = Address(
            name=_clean(ship_to.get("fullName")),
            company=_clean(ship_to.get("companyName")),
            street_1=_clean(contact.get("addressLine1")),
            street_2=_clean(contact.get("addressLine2")),
            city=_clean(contact.get("city")),
            state=_clean(contact.get("stateOrProvince")),
            zip_code=_clean(contact.get("postalCode")),
            country_iso_code=_clean(contact.get("countryCode")),
            phone=_clean(phone),
        )
    return ChannelOrder(
        channel="ebay",
        external_order_id=str(raw["orderId"]),
        placed_at=parse_time(raw["creationDate"]),
        currency=total.get("currency") or (pricing.get("priceSubtotal") or {}).get("currency") or "USD",
        total=_money(total),
        subtotal=_money(pricing.get("priceSubtotal")),
        shipping_total=_money(pricing.get("deliveryCost")),
        tax_total=_money(pricing.get("tax")),
        lines=tuple(lines),
        initial_status=_ebay_status(raw),
        remote_state=f"{raw.get('orderPaymentStatus')}/{raw.get('orderFulfillmentStatus')}",
        customer=customer,
        shipping_address=address,
        shipping_deadline=min(deadlines) if deadlines else None,
        raw=dict(raw),
    )


# --- Shopify


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
            name=name or _clean(shipping.get("name")),
            email=_clean(person.get("email")) or _clean(raw.get("email")),
            phone=_clean(person.get("phone")) or _clean(shipping.get("phone")),
            locale=_clean(raw.get("customer_locale")),
        )
    address = None
    if shipping:
        address = Address(
            name=_clean(shipping.get("name")),
            company=_clean(shipping.get("company")),
            street_1=_clean(shipping.get("address1")),
            street_2=_clean(shipping.get("address2")),
            city=_clean(shipping.get("city")),
            state=_clean(shipping.get("province_code")),
            zip_code=_clean(shipping.get("zip")),
            country_iso_code=_clean(shipping.get("country_code")),
            phone=_clean(shipping.get("phone")),
        )
    lines = tuple(
        OrderLine(
            external_line_id=str(line["id"]),
            sku=_clean(line.get("sku")),
            title=line.get("title"),
            quantity=int(line.get("quantity") or 1),
            unit_price=_money(line.get("price")),
            remote_state=line.get("fulfillment_status"),
        )
        for line in raw.get("line_items") or []
    )
    return ChannelOrder(
        channel="shopify",
        external_order_id=str(raw["id"]),
        placed_at=parse_time(raw["created_at"]),
        currency=raw.get("currency") or "NZD",
        total=_money(raw.get("total_price")),
        subtotal=_money(raw.get("subtotal_price")),
        shipping_total=sum((_money(s.get("price")) for s in raw.get("shipping_lines") or []), Decimal(0)),
        tax_total=_money(raw.get("total_tax")),
        lines=lines,
        initial_status=_shopify_status(raw),
        remote_state=raw.get("financial_status"),
        customer=customer,
        shipping_address=address,
        raw=dict(raw),
    )


# --- Reverb

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
            name=_clean(raw.get("buyer_name")),
            email=_clean(raw.get("buyer_email")),
            phone=_clean(shipping.get("phone")),
        )
    address = None
    if shipping:
        address = Address(
            name=_clean(shipping.get("name")),
            street_1=_clean(shipping.get("street_address")),
            street_2=_clean(shipping.get("extended_address")),
            city=_clean(shipping.get("locality")),
            state=_clean(shipping.get("region")),
            zip_code=_clean(shipping.get("postal_code")),
            country_iso_code=_clean(shipping.get("country_code")),
            phone=_clean(shipping.get("phone")),
        )
    number = str(raw["order_number"])
    return ChannelOrder(
        channel="reverb",
        external_order_id=number,
        placed_at=parse_time(raw["created_at"]),
        currency=total.get("currency") or "USD",
        total=_money(total),
        subtotal=_money(raw.get("amount_product_subtotal")),
        shipping_total=_money(raw.get("shipping")),
        tax_total=_money(raw.get("amount_tax")),
        lines=(
            OrderLine(
                external_line_id=number,
                sku=_clean(raw.get("sku")),
                title=raw.get("title"),
                quantity=int(raw.get("quantity") or 1),
                unit_price=_money(raw.get("amount_product")),
                remote_state=raw.get("status"),
            ),
        ),
        initial_status=_reverb_status(raw.get("status")),
        remote_state=raw.get("status"),
        customer=customer,
        shipping_address=address,
        raw=dict(raw),
    )


# --- Mirakl (Best Buy)

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
    name = " ".join(p for p in (_clean(shipping.get("firstname")), _clean(shipping.get("lastname"))) if p)
    address = None
    if shipping:
        address = Address(
            name=name or None,
            street_1=_clean(shipping.get("street_1")),
            street_2=_clean(shipping.get("street_2")),
            city=_clean(shipping.get("city")),
            state=_clean(shipping.get("state")),
            zip_code=_clean(shipping.get("zip_code")),
            country_iso_code=_country(
                _clean(shipping.get("country_iso_code")) or _clean(shipping.get("country"))
            ),
            phone=_clean(shipping.get("phone")),
            company=_clean(shipping.get("company")),
        )
    customer = None
    if customer_raw.get("customer_id"):
        full = " ".join(
            p for p in (_clean(customer_raw.get("firstname")), _clean(customer_raw.get("lastname"))) if p
        )
        customer = Customer(
            external_customer_id=str(customer_raw["customer_id"]),
            name=full or None,
            phone=_clean(shipping.get("phone")),
            locale=_clean(customer_raw.get("locale")),
        )
    state = str(raw["order_state"])
    return ChannelOrder(
        channel="bestbuy",
        external_order_id=str(raw["order_id"]),
        placed_at=parse_time(raw["created_date"]),
        currency=raw.get("currency_iso_code") or "CAD",
        total=_money(raw.get("total_price")),
        subtotal=_money(raw.get("price")),
        shipping_total=_money(raw.get("shipping_price")),
        lines=tuple(
            OrderLine(
                external_line_id=str(line["order_line_id"]),
                sku=_clean(line.get("offer_sku")),
                title=line.get("product_title"),
                quantity=int(line.get("quantity") or 1),
                unit_price=_money(line.get("price_unit")),
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


# --- Trade Me's look-back windows


TRADEME_PERIODS: tuple[tuple[str, float], ...] = (
    ("LastHour", 1), ("Last24Hours", 24), ("Last3Days", 72), ("Last7Days", 168),
    ("Last30Days", 720), ("Last45Days", 1080),
)  # fmt: skip


def trademe_period(since: datetime, now: datetime) -> str | None:
    """The shortest SoldItems window reaching back to `since` from Trade Me's `now` (None: older than
    45 days, beyond what Trade Me lists)."""
    hours = (now - since).total_seconds() / 3600
    return next((name for name, span in TRADEME_PERIODS if hours <= span), None)

"""Mirakl's JSON for orders (OR11) and inbox threads (M10/M11), in the seller spec's field names
(the conformance tests validate these against `mirakl-mmp-seller-openapi.json`)."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from .models import ALPHA3, SHOP_ID, SHOP_NAME, Order, Thread


def mirakl_time(moment: datetime | None) -> str | None:
    if moment is None:
        return None
    return moment.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


COMMISSION_RATE = Decimal("0.12")  # Best Buy's commission on the line price (for the shape of the data)


def _present(body: dict[str, Any]) -> dict[str, Any]:
    """Mirakl leaves out a field that has no value rather than sending null."""
    return {k: (_present(v) if isinstance(v, dict) else v) for k, v in body.items() if v is not None}


def _money(value: Decimal) -> float:
    return float(value.quantize(Decimal("0.01")))


def _address(order: Order) -> dict[str, Any]:
    buyer = order.buyer
    return {
        "firstname": buyer.first_name,
        "lastname": buyer.last_name,
        "street_1": buyer.address1,
        "street_2": buyer.address2 or None,
        "city": buyer.city,
        "state": buyer.province_code,
        "zip_code": buyer.zip,
        "country": buyer.country,
        "country_iso_code": ALPHA3.get(buyer.country_code, buyer.country_code),
        "phone": buyer.phone,
    }


def order_json(order: Order) -> dict[str, Any]:
    buyer = order.buyer
    lines = []
    for line in order.lines:
        commission = line.unit_price * line.quantity * COMMISSION_RATE
        lines.append(
            {
                "can_refund": order.state in ("SHIPPING", "SHIPPED", "RECEIVED"),
                "cancelations": [],
                "refunds": [],
                "category_code": "BBY-CA-ELECTRONICS",
                "category_label": "Electronics",
                "commission_fee": _money(commission),
                "commission_rate_vat": 0.0,
                "commission_vat": 0.0,
                "total_commission": _money(commission),
                "description": line.title,
                "offer_id": line.offer_id,
                "offer_state_code": "11",  # new
                "order_line_additional_fields": [],
                "product_medias": [],
                "product_sku": f"MKP{line.offer_id:015d}",
                "order_line_id": line.line_id,
                "order_line_index": line.index,
                "order_line_state": line.state,
                "order_line_state_reason_code": line.reason,
                "offer_sku": line.offer_sku,
                "product_title": line.title,
                "quantity": line.quantity,
                "price_unit": _money(line.unit_price),
                "price": _money(line.unit_price * line.quantity),
                "shipping_price": _money(line.shipping_price),
                "total_price": _money(line.unit_price * line.quantity + line.shipping_price),
                "created_date": mirakl_time(order.created),
                "last_updated_date": mirakl_time(order.updated),
                "shipped_date": mirakl_time(order.shipped_date),
            }
        )
    price = sum((line.unit_price * line.quantity for line in order.lines), Decimal(0))
    shipping = sum((line.shipping_price for line in order.lines), Decimal(0))
    commission = price * COMMISSION_RATE
    return _present(
        {
            "order_id": order.order_id,
            "commercial_id": order.commercial_id,
            "order_state": order.state,
            "created_date": mirakl_time(order.created),
            "last_updated_date": mirakl_time(order.updated),
            "acceptance_decision_date": mirakl_time(order.acceptance_decision_date),
            "customer_debited_date": mirakl_time(order.customer_debited_date),
            "shipped_date": mirakl_time(order.shipped_date),
            "shipping_deadline": mirakl_time(order.shipping_deadline),
            "currency_iso_code": order.currency,
            "price": _money(price),
            "shipping_price": _money(shipping),
            "total_price": _money(price + shipping),
            "can_cancel": order.state == "WAITING_ACCEPTANCE",
            "can_shop_ship": order.state == "SHIPPING",
            "has_customer_message": False,
            "has_incident": False,
            "has_invoice": False,
            "fully_refunded": False,
            "fulfillment": {"center": {"code": "DEFAULT"}},
            "leadtime_to_ship": 2,
            "order_tax_mode": "TAX_INCLUDED",
            "paymentType": "PAY_ON_ACCEPTANCE",
            "shipping_type_code": "STD",
            "shipping_type_label": "Standard",
            "shipping_zone_code": "CA",
            "shipping_zone_label": "Canada",
            "total_commission": _money(commission),
            "shop_id": SHOP_ID,
            "shop_name": SHOP_NAME,
            "customer": {
                "customer_id": order.customer_id,
                "firstname": buyer.first_name,
                "lastname": buyer.last_name,
                "locale": "en_CA",
                "shipping_address": _address(order),
                "billing_address": _address(order),
            },
            "customer_notification_email": f"notification+{order.commercial_id.lower()}@notification.mirakl.net",
            "shipping_carrier_code": order.carrier_code,
            "shipping_company": order.carrier_name,
            "shipping_tracking": order.tracking_number,
            "shipping_tracking_url": order.carrier_url,
            "order_lines": [_present(line) for line in lines],
        }
    )


def _participants(thread: Thread) -> list[dict[str, Any]]:
    return [
        {"display_name": SHOP_NAME, "id": str(SHOP_ID), "type": "SHOP"},
        {"display_name": thread.customer_name, "id": thread.customer_id, "type": "CUSTOMER"},
    ]


def thread_json(thread: Thread, *, with_messages: bool) -> dict[str, Any]:
    last = thread.messages[-1] if thread.messages else None
    waiting = next(
        (m.created for m in reversed(thread.messages) if m.sender_type == "CUSTOMER_USER"), None
    ) if last is not None and last.sender_type == "CUSTOMER_USER" else None  # fmt: skip
    body: dict[str, Any] = {
        "id": thread.thread_id,
        "authorized_participants": _participants(thread),
        "current_participants": _participants(thread),
        "date_created": mirakl_time(thread.created),
        "date_updated": mirakl_time(thread.updated),
        "entities": [{"id": thread.order_id, "label": thread.order_id, "type": "MMP_ORDER"}],
        "topic": {"type": "FREE_TEXT", "value": thread.topic},
        "metadata": {
            "last_message_date": mirakl_time(last.created if last else thread.updated),
            "last_sender": {"display_name": last.sender_name, "type": last.sender_type} if last else None,
            "shop_reply_needed_since": mirakl_time(waiting),
            "total_count": len(thread.messages),
        },
    }
    if with_messages:
        body["messages"] = [
            {
                "id": m.message_id,
                "body": m.body,
                "date_created": mirakl_time(m.created),
                "from": {"display_name": m.sender_name, "type": m.sender_type}
                | ({"organization_details": {"display_name": SHOP_NAME, "id": str(SHOP_ID), "type": "SHOP"}}
                   if m.sender_type == "SHOP_USER" else {}),
                "to": m.to,
            }
            for m in thread.messages
        ]  # fmt: skip
    return body

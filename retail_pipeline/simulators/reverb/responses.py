"""Reverb's HAL JSON: money as {amount, amount_cents, currency, symbol, display}, states as
{slug, description}, times in Reverb's (Chicago) zone, and `_links` to follow instead of building URLs."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from .models import CONDITIONS

if TYPE_CHECKING:
    from .models import Conversation, ConversationMessage, Listing, Order

REVERB_TIMEZONE = ZoneInfo("America/Chicago")
_SYMBOLS = {"USD": "$", "CAD": "$", "AUD": "$", "NZD": "$", "MXN": "$", "EUR": "€", "GBP": "£", "JPY": "¥"}
_ZERO_DECIMAL = {"JPY"}
_STATE_NAMES = {
    "draft": "Draft",
    "live": "Live",
    "ended": "Ended",
    "sold_out": "Sold Out",
    "ordered": "Ordered",
    "suspended": "Suspended",
    "seller_unavailable": "Seller Unavailable",
}


def reverb_time(moment: datetime | None) -> str | None:
    return moment.astimezone(REVERB_TIMEZONE).isoformat(timespec="seconds") if moment else None


def money(amount: Decimal, currency: str) -> dict[str, Any]:
    places = 0 if currency in _ZERO_DECIMAL else 2
    quantized = amount.quantize(Decimal(1).scaleb(-places))
    symbol = _SYMBOLS[currency]
    return {
        "amount": f"{quantized}",
        "amount_cents": int(quantized.scaleb(places)),
        "currency": currency,
        "symbol": symbol,
        "display": f"{symbol}{quantized:,}",
    }


def listing_json(listing: Listing, api: str, site: str, shop_name: str) -> dict[str, Any]:
    """`api` is the API root ({host}/api), `site` the web root listings link to."""
    condition = CONDITIONS.get(listing.condition_uuid or "")
    price = money(listing.price, listing.currency) if listing.price is not None else None
    return {
        "id": listing.id,
        "make": listing.make,
        "model": listing.model,
        "finish": listing.finish,
        "year": listing.year,
        "title": listing.title,
        "created_at": reverb_time(listing.created_at),
        "updated_at": reverb_time(listing.updated_at),
        "published_at": reverb_time(listing.published_at),
        "shop_name": shop_name,
        "description": listing.description,
        "condition": (
            {"uuid": listing.condition_uuid, "display_name": condition.display_name, "slug": condition.slug}
            if condition
            else None
        ),
        "price": price,
        "buyer_price": price,
        "listing_currency": listing.currency,
        "inventory": listing.inventory,
        "has_inventory": listing.has_inventory,
        "offers_enabled": listing.offers_enabled,
        "auction": False,
        "categories": [{"uuid": uuid} for uuid in listing.category_uuids],
        "category_uuids": listing.category_uuids,
        "state": {"slug": listing.state, "description": _STATE_NAMES[listing.state]},
        "sku": listing.sku,
        "upc": listing.upc,
        "shipping_profile_id": listing.shipping_profile_id,
        "shipping": {
            "local": listing.local_pickup,
            "rates": [
                {"region_code": region, "rate": money(rate, listing.currency)}
                for region, rate in listing.shipping_rates
            ],
        },
        "slug": listing.slug,
        "photos": [
            {"_links": {size: {"href": url} for size in ("full", "large_crop", "small_crop", "thumbnail")}}
            for url in listing.photos
        ],
        "_links": {
            "self": {"href": f"{api}/listings/{listing.id}"},
            "update": {"method": "PUT", "href": f"{api}/listings/{listing.slug}"},
            "end": {"method": "PUT", "href": f"{api}/my/listings/{listing.slug}/state/end"},
            "web": {"href": f"{site}/item/{listing.slug}"},
            **({"photo": {"href": listing.photos[0]}} if listing.photos else {}),
        },
    }


def order_json(order: Order, api: str) -> dict[str, Any]:
    buyer = order.buyer
    subtotal = order.price * order.quantity
    zero = Decimal(0)
    links = {
        "self": {"href": f"{api}/my/orders/selling/{order.order_number}"},
        "listing": {"href": f"{api}/listings/{order.listing_id}"},
    }
    if order.status == "paid":
        links["ship"] = {"method": "POST", "href": f"{api}/my/orders/selling/{order.order_number}/ship"}
    return {
        "order_number": str(order.order_number),
        "uuid": order.uuid,
        "order_bundle_id": str(order.bundle_id),
        "order_type": "instant",
        "product_id": str(order.listing_id),
        "sku": order.sku,
        "title": order.title,
        "quantity": order.quantity,
        "status": order.status,
        "created_at": reverb_time(order.created_at),
        "updated_at": reverb_time(order.updated_at),
        "paid_at": reverb_time(order.created_at),
        "shipped_at": reverb_time(order.shipped_at),
        "amount_product": money(order.price, order.currency),
        "amount_product_subtotal": money(subtotal, order.currency),
        "shipping": money(zero, order.currency),
        "amount_tax": money(zero, order.currency),
        "total": money(subtotal, order.currency),
        "buyer_id": order.buyer_id,
        "buyer_name": buyer.name,
        "buyer_first_name": buyer.first_name,
        "buyer_last_name": buyer.last_name,
        "shipping_method": "shipped",
        "local_pickup": False,
        "shipping_provider": order.shipping_provider,
        "shipping_code": order.tracking_number,
        "shipping_address": {
            "name": buyer.name,
            "street_address": buyer.address1,
            "extended_address": buyer.address2,
            "locality": buyer.city,
            "region": buyer.province_code,
            "postal_code": buyer.zip,
            "country_code": buyer.country_code,
            "phone": buyer.phone,
        },
        "needs_feedback_for_buyer": order.status == "shipped",
        "needs_feedback_for_seller": False,
        "_links": links,
    }


# Conversations: the fields below are our reading of Reverb's conversation objects (not verified
# against a live response); the paths and the reply body {"body": …} are from Reverb's guide.


def message_json(message: ConversationMessage) -> dict[str, Any]:
    return {
        "id": message.id,
        "body": message.body,
        "created_at": reverb_time(message.created_at),
        "sender": {"id": message.sender_id, "name": message.sender_name, "role": message.sender_role},
    }


def conversation_json(conv: Conversation, api: str, site: str, *, with_messages: bool) -> dict[str, Any]:
    """The inbox item; GET /my/conversations/{id} adds every message, oldest first."""
    links = {
        "self": {"href": f"{api}/my/conversations/{conv.id}"},
        "messages": {"method": "POST", "href": f"{api}/my/conversations/{conv.id}/messages"},
        "web": {"href": f"{site}/my/messages/{conv.id}"},
    }
    if conv.listing_id is not None:
        links["listing"] = {"href": f"{api}/listings/{conv.listing_id}"}
    if conv.order_number is not None:
        links["order"] = {"href": f"{api}/my/orders/selling/{conv.order_number}"}
    body: dict[str, Any] = {
        "id": conv.id,
        "subject": conv.subject,
        "unread": not conv.read,
        "created_at": reverb_time(conv.created_at),
        "updated_at": reverb_time(conv.updated_at),
        "listing_id": conv.listing_id,
        "order_number": str(conv.order_number) if conv.order_number is not None else None,
        "other_participant": {"id": conv.buyer_id, "name": conv.buyer_name, "role": "buyer"},
        "last_message": message_json(conv.messages[-1]) if conv.messages else None,
        "_links": links,
    }
    if with_messages:
        body["messages"] = [message_json(m) for m in conv.messages]
    return body

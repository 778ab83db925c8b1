"""The Admin REST API's JSON, as Shopify writes it: ids as integers, money as strings ("12.00"),
times in the shop's zone, `admin_graphql_api_id` beside every id, tags as one comma-separated string."""

from __future__ import annotations

from decimal import Decimal
from typing import TYPE_CHECKING, Any

from ..onecheq.responses import shop_time

if TYPE_CHECKING:
    from .models import (
        Fulfillment,
        FulfillmentOrder,
        Image,
        InventoryLevel,
        LineItem,
        Location,
        Order,
        Product,
        ShopifyBackend,
        Subscription,
        Variant,
    )

CENT = Decimal("0.01")


def money(amount: Decimal) -> str:
    return f"{amount.quantize(CENT)}"


def gid(kind: str, record_id: int) -> str:
    return f"gid://shopify/{kind}/{record_id}"


def variant_json(variant: Variant, backend: ShopifyBackend) -> dict[str, Any]:
    quantity = backend.inventory_quantity(variant)
    return {
        "id": variant.id,
        "product_id": variant.product_id,
        "title": variant.title,
        "price": money(variant.price),
        "position": variant.position,
        "inventory_policy": variant.inventory_policy,
        "compare_at_price": money(variant.compare_at_price) if variant.compare_at_price is not None else None,
        "option1": variant.title,
        "option2": None,
        "option3": None,
        "created_at": shop_time(variant.created_at),
        "updated_at": shop_time(variant.updated_at),
        "taxable": variant.taxable,
        "barcode": variant.barcode,
        "fulfillment_service": "manual",
        "grams": variant.grams,
        "inventory_management": variant.inventory_management,
        "requires_shipping": variant.requires_shipping,
        "sku": variant.sku,
        "weight": variant.grams / 1000,
        "weight_unit": "kg",
        "inventory_item_id": variant.inventory_item_id,
        "inventory_quantity": quantity,
        "old_inventory_quantity": quantity,
        "image_id": None,
        "admin_graphql_api_id": gid("ProductVariant", variant.id),
    }


def image_json(image: Image, cdn_base: str) -> dict[str, Any]:
    src = image.src or f"{cdn_base}/cdn/shop/files/{image.filename}?v={int(image.created_at.timestamp())}"
    return {
        "id": image.id,
        "alt": image.alt,
        "position": image.position,
        "product_id": image.product_id,
        "created_at": shop_time(image.created_at),
        "updated_at": shop_time(image.created_at),
        "admin_graphql_api_id": gid("ProductImage", image.id),
        "width": image.width,
        "height": image.height,
        "src": src,
        "variant_ids": [],
    }


def product_json(product: Product, backend: ShopifyBackend, cdn_base: str) -> dict[str, Any]:
    images = [image_json(i, cdn_base) for i in product.images]
    return {
        "id": product.id,
        "title": product.title,
        "body_html": product.body_html,
        "vendor": product.vendor,
        "product_type": product.product_type,
        "created_at": shop_time(product.created_at),
        "handle": product.handle,
        "updated_at": shop_time(product.updated_at),
        "published_at": shop_time(product.published_at) if product.published_at else None,
        "template_suffix": None,
        "published_scope": "global",
        "tags": ", ".join(product.tags),
        "status": product.status,
        "admin_graphql_api_id": gid("Product", product.id),
        "variants": [variant_json(v, backend) for v in product.variants],
        "options": [
            {
                "id": product.id + 1,
                "product_id": product.id,
                "name": "Title",
                "position": 1,
                "values": [v.title for v in product.variants],
            }
        ],
        "images": images,
        "image": images[0] if images else None,
    }


def location_json(location: Location) -> dict[str, Any]:
    return {
        "id": location.id,
        "name": location.name,
        "address1": location.address1,
        "address2": None,
        "city": location.city,
        "zip": location.zip,
        "province": location.province,
        "country": location.country_code,
        "phone": None,
        "created_at": shop_time(location.created_at),
        "updated_at": shop_time(location.created_at),
        "country_code": location.country_code,
        "country_name": location.country_name,
        "province_code": location.province_code,
        "legacy": False,
        "active": True,
        "admin_graphql_api_id": gid("Location", location.id),
    }


def inventory_level_json(level: InventoryLevel) -> dict[str, Any]:
    return {
        "inventory_item_id": level.inventory_item_id,
        "location_id": level.location_id,
        "available": level.available,
        "updated_at": shop_time(level.updated_at),
        "admin_graphql_api_id": f"gid://shopify/InventoryLevel/{level.location_id}?inventory_item_id={level.inventory_item_id}",
    }


def _line_item_json(item: LineItem, quantity: int | None = None) -> dict[str, Any]:
    state = None if item.fulfilled == 0 else "fulfilled" if item.fulfilled == item.quantity else "partial"
    return {
        "id": item.id,
        "admin_graphql_api_id": gid("LineItem", item.id),
        "variant_id": item.variant_id,
        "product_id": item.product_id,
        "sku": item.sku,
        "title": item.title,
        "name": item.title,
        "variant_title": None,
        "quantity": item.quantity if quantity is None else quantity,
        "price": money(item.price),
        "fulfillable_quantity": item.quantity - item.fulfilled,
        "fulfillment_status": state,
        "fulfillment_service": "manual",
        "requires_shipping": True,
        "taxable": True,
        "gift_card": False,
    }


def fulfillment_json(fulfillment: Fulfillment, order: Order) -> dict[str, Any]:
    items = {item.id: item for item in order.line_items}
    number = fulfillment.tracking_number
    return {
        "id": fulfillment.id,
        "admin_graphql_api_id": gid("Fulfillment", fulfillment.id),
        "order_id": fulfillment.order_id,
        "name": fulfillment.name,
        "status": "success",
        "service": "manual",
        "shipment_status": None,
        "location_id": fulfillment.location_id,
        "created_at": shop_time(fulfillment.created_at),
        "updated_at": shop_time(fulfillment.created_at),
        "tracking_company": fulfillment.tracking_company,
        "tracking_number": number,
        "tracking_numbers": [number] if number else [],
        "tracking_url": fulfillment.tracking_url,
        "tracking_urls": [fulfillment.tracking_url] if fulfillment.tracking_url else [],
        "line_items": [_line_item_json(items[i], qty) for i, qty in fulfillment.quantities.items()],
    }


def fulfillment_order_json(fo: FulfillmentOrder, order: Order) -> dict[str, Any]:
    items = {item.id: item for item in order.line_items}
    return {
        "id": fo.id,
        "shop_id": 1,
        "order_id": fo.order_id,
        "assigned_location_id": fo.location_id,
        "request_status": "unsubmitted",
        "status": fo.status,
        "supported_actions": ["create_fulfillment", "hold"] if fo.status == "open" else [],
        "destination": _address(order),
        "line_items": [
            {
                "id": fo.line_item_ids[line_item_id],
                "shop_id": 1,
                "fulfillment_order_id": fo.id,
                "line_item_id": line_item_id,
                "inventory_item_id": items[line_item_id].inventory_item_id,
                "quantity": items[line_item_id].quantity,
                "fulfillable_quantity": remaining,
                "variant_id": items[line_item_id].variant_id,
            }
            for line_item_id, remaining in fo.remaining.items()
        ],
        "fulfillment_holds": [],
        "delivery_method": {"method_type": "shipping"},
        "created_at": shop_time(fo.created_at),
        "updated_at": shop_time(fo.updated_at),
    }


def _address(order: Order) -> dict[str, Any]:
    buyer = order.buyer
    return {
        "first_name": buyer.first_name,
        "last_name": buyer.last_name,
        "name": buyer.name,
        "company": None,
        "address1": buyer.address1,
        "address2": buyer.address2 or None,
        "city": buyer.city,
        "province": buyer.province,
        "province_code": buyer.province_code,
        "country": buyer.country,
        "country_code": buyer.country_code,
        "zip": buyer.zip,
        "phone": buyer.phone,
    }


def order_json(order: Order, shop_domain: str) -> dict[str, Any]:
    """An order as GET /orders.json lists it and the orders/create webhook carries it."""
    subtotal = sum((item.price * item.quantity for item in order.line_items), Decimal(0))
    tax = subtotal * 3 / 23  # New Zealand GST (15 %), included in the prices
    buyer = order.buyer
    return {
        "id": order.id,
        "admin_graphql_api_id": gid("Order", order.id),
        "name": f"#{order.number}",
        "number": order.number - 1000,
        "order_number": order.number,
        "email": buyer.email,
        "contact_email": buyer.email,
        "phone": None,
        "created_at": shop_time(order.created_at),
        "updated_at": shop_time(order.updated_at),
        "processed_at": shop_time(order.created_at),
        "closed_at": shop_time(order.closed_at) if order.closed_at else None,
        "cancelled_at": shop_time(order.cancelled_at) if order.cancelled_at else None,
        "cancel_reason": None,
        "confirmed": True,
        "test": False,
        "currency": order.currency,
        "presentment_currency": order.currency,
        "total_line_items_price": money(subtotal),
        "subtotal_price": money(subtotal),
        "total_discounts": "0.00",
        "total_tax": money(tax),
        "taxes_included": True,
        "total_price": money(subtotal),
        "financial_status": order.financial_status,
        "fulfillment_status": order.fulfillment_status,
        "source_name": "web",
        "tags": "",
        "note": None,
        "order_status_url": f"https://{shop_domain}/orders/{order.id}/authenticate",
        "customer": {
            "id": order.customer_id,
            "email": buyer.email,
            "first_name": buyer.first_name,
            "last_name": buyer.last_name,
            "phone": buyer.phone,
            "admin_graphql_api_id": gid("Customer", order.customer_id),
        },
        "billing_address": _address(order),
        "shipping_address": _address(order),
        "shipping_lines": [{"title": "Standard", "code": "Standard", "price": "0.00", "source": "shopify"}],
        "line_items": [_line_item_json(item) for item in order.line_items],
        "fulfillments": [fulfillment_json(f, order) for f in order.fulfillments],
    }


def webhook_json(subscription: Subscription) -> dict[str, Any]:
    return {
        "id": subscription.id,
        "address": subscription.address,
        "topic": subscription.topic,
        "created_at": shop_time(subscription.created_at),
        "updated_at": shop_time(subscription.created_at),
        "format": "json",
        "fields": [],
        "metafield_namespaces": [],
        "api_version": subscription.api_version,
        "admin_graphql_api_id": gid("WebhookSubscription", subscription.id),
    }

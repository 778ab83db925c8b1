"""eBay: listings and stock (Inventory API), orders (Fulfillment API), tracking (shipping fulfillments).

Client and settings (EBAY_*): `client.py`; its orders: `orders.py`.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from retail_pipeline.channels.plugin import Channel, ChannelCarrier
from retail_pipeline.domain.listings import ListingPolicy, ProductForListing, category_key
from retail_pipeline.domain.pricing import PricingPolicy

from .orders import ebay_orders

CATEGORIES = {"headphones": "112529", "laptops": "177", "guitars": "33034"}
DEFAULT_CATEGORY = "9355"


def listing_fields(product: ProductForListing) -> dict[str, Any]:
    aspects: dict[str, Any] = {}
    if product.brand:
        aspects["Brand"] = product.brand
    if product.mpn:
        aspects["MPN"] = product.mpn
    for name, value in sorted(product.attributes.items()):
        if isinstance(value, str | int | float) and name not in aspects and len(name) <= 40:
            aspects[name[:1].upper() + name[1:]] = str(value)[:65]
    return {
        "categoryId": CATEGORIES.get(category_key(product.category), DEFAULT_CATEGORY),
        "aspects": aspects,
    }


def listing_checks(values: Mapping[str, Any]) -> list[str]:
    errors = []
    if not values["fields"]["aspects"].get("Brand"):
        errors.append("item specific Brand is required")
    if len(values["sku"]) > 50:
        errors.append("SKU must be 1 to 50 characters")
    return errors


LISTING = ListingPolicy(
    "ebay",
    "USD",
    PricingPolicy(
        fee_rate=Decimal("0.1325"), fixed_fee=Decimal("0.30"), shipping_cost=Decimal("0"), rounding="charm_99"
    ),
    listing_fields,
    max_title=80,
    max_photos=24,
    fx_from={"NZD": Decimal("0.59")},
    checks=listing_checks,
)


async def push_tracking(client: Any, order, lines: list, shipment, carrier: ChannelCarrier) -> dict[str, Any]:
    """createShippingFulfillment for the order's lines."""
    items = {line.external_line_id: line.quantity for line in lines}
    fulfillment_id = await client.create_shipping_fulfillment(
        order.external_order_id, items, carrier.name, shipment.tracking_pin
    )
    return {"order_id": order.external_order_id, "fulfillment_id": fulfillment_id}


async def find_tracking(client: Any, order, lines: list, shipment) -> dict[str, Any] | None:
    pin = re.sub(r"[^A-Za-z0-9]", "", shipment.tracking_pin)
    for package in await client.shipping_fulfillments(order.external_order_id):
        if package.get("shipmentTrackingNumber") == pin:
            return {"order_id": order.external_order_id, "fulfillment_id": package.get("fulfillmentId")}
    return None


CHANNEL = Channel(
    name="ebay",
    title="eBay",
    client=f"{__name__}.client:EbayClient",
    listing=LISTING,
    orders=ebay_orders,
    push_tracking=push_tracking,
    find_tracking=find_tracking,
    carrier_names={"canada_post": "CanadaPost"},  # shippingCarrierCode (GeteBayDetails ShippingCarrier)
)

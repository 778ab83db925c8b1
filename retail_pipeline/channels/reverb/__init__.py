"""Reverb: listings and stock, orders, tracking (ship), buyers' conversations.

Client and settings (REVERB_*): `client.py`; its orders: `orders.py`; its inbox: `inbox.py`.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from retail_pipeline.channels.plugin import Channel, ChannelCarrier
from retail_pipeline.domain.listings import ListingPolicy, ProductForListing, category_key, listing_condition
from retail_pipeline.domain.pricing import PricingPolicy

from .inbox import ReverbInbox
from .orders import reverb_orders

CATEGORIES = {"guitars": "dfd39027-d134-4353-b9e4-57dc6be791b9"}
DEFAULT_CATEGORY = "dfd39027-d134-4353-b9e4-57dc6be791b9"
CONDITIONS = {
    "new": "7c3f45de-2ae0-4c81-8400-fdb6b1d74890",  # Brand New
    "refurbished": "df268ad1-c462-4ba6-b6db-e007e23922ea",  # Excellent
    "used": "f7a3f48c-972a-44c6-b01a-0cd27488d3f6",  # Good
}


def listing_fields(product: ProductForListing) -> dict[str, Any]:
    return {
        "make": product.brand,
        "model": product.mpn or (product.attributes.get("model") if product.attributes else None),
        "condition_uuid": CONDITIONS[listing_condition(product)],
        "category_uuids": [CATEGORIES.get(category_key(product.category), DEFAULT_CATEGORY)],
    }


def listing_checks(values: Mapping[str, Any]) -> list[str]:
    errors = []
    if not values["fields"].get("make"):
        errors.append("make is required (the brand)")
    if not values["fields"].get("model"):
        errors.append("model is required (the MPN or a model attribute)")
    return errors


LISTING = ListingPolicy(
    "reverb",
    "NZD",
    PricingPolicy(
        fee_rate=Decimal("0.0819"), fixed_fee=Decimal("0.49"), shipping_cost=Decimal("0"), rounding="charm_99"
    ),
    listing_fields,
    max_title=255,
    max_photos=25,
    single_unit_unless_new=True,  # several units only for Brand New / B-Stock / Mint
    checks=listing_checks,
)


async def push_tracking(client: Any, order, lines: list, shipment, carrier: ChannelCarrier) -> dict[str, Any]:
    """my/orders/selling/{n}/ship with the provider and tracking number."""
    shipped = await client.ship(
        order.external_order_id, provider=carrier.name, tracking_number=shipment.tracking_pin
    )
    return {"order_number": order.external_order_id, "status": shipped.get("status")}


async def find_tracking(client: Any, order, lines: list, shipment) -> dict[str, Any] | None:
    remote = await client.order(order.external_order_id)
    if remote.get("shipping_code") == shipment.tracking_pin:
        return {"order_number": order.external_order_id, "status": remote.get("status")}
    return None


CHANNEL = Channel(
    name="reverb",
    title="Reverb",
    client=f"{__name__}.client:ReverbClient",
    listing=LISTING,
    orders=reverb_orders,
    push_tracking=push_tracking,
    find_tracking=find_tracking,
    inbox=ReverbInbox,
    carrier_names={"canada_post": "Canada Post"},  # provider (its shipping providers list)
)

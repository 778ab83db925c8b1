"""Trade Me (New Zealand): listings and stock, sold items as orders, tracking (CourierParcels).

Client and settings (TRADEME_*): `client.py`; its orders: `orders.py`.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from retail_pipeline.channels.plugin import Channel, ChannelCarrier
from retail_pipeline.domain.listings import ListingPolicy, ProductForListing, category_key
from retail_pipeline.domain.pricing import PricingPolicy

from .orders import trademe_orders

CATEGORIES = {"headphones": "0002-0356-", "laptops": "0002-0358-", "guitars": "0005-0384-"}
DEFAULT_CATEGORY = "0002-"


def listing_fields(product: ProductForListing) -> dict[str, Any]:
    return {
        "Category": CATEGORIES.get(category_key(product.category), DEFAULT_CATEGORY),
        "Duration": 7,
        "Pickup": 1,  # pick-up allowed
        "PaymentMethods": [1, 2],  # bank deposit, credit card
        "ShippingOptions": [{"Type": 3}],  # free shipping (the price includes it)
    }


LISTING = ListingPolicy(
    "trademe",
    "NZD",
    PricingPolicy(
        fee_rate=Decimal("0.079"), fixed_fee=Decimal("0"), shipping_cost=Decimal("0"), rounding="charm_99"
    ),
    listing_fields,
    max_title=80,
    max_photos=20,
    max_description=2048 * 10,
)


async def push_tracking(client: Any, order, lines: list, shipment, carrier: ChannelCarrier) -> dict[str, Any]:
    """CourierParcels, then Status/GoodsShipped (a plain setter: repeating it is harmless)."""
    purchase_id = int(order.external_order_id)
    parcel_id = await client.add_courier_parcel([purchase_id], carrier.name, shipment.tracking_pin)
    await client.set_status(purchase_id, "GoodsShipped")
    return {"purchase_id": purchase_id, "courier_parcel_id": parcel_id, "already": parcel_id is None}


CHANNEL = Channel(
    name="trademe",
    title="Trade Me",
    client=f"{__name__}.client:TradeMeClient",
    listing=LISTING,
    orders=trademe_orders,
    push_tracking=push_tracking,  # CourierCompany is free text; a repeated parcel is recognised
    carrier_names={"canada_post": "Canada Post"},
)

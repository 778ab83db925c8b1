"""Shopify (our own shop): listings and stock, orders (polled and pushed by orders/* webhooks), tracking
(fulfillments).

Client and settings (SHOPIFY_*): `client.py`; its orders: `orders.py`.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from retail_pipeline.channels.plugin import Channel, ChannelCarrier, OrderWebhook
from retail_pipeline.domain.listings import ListingPolicy, ProductForListing
from retail_pipeline.domain.pricing import PricingPolicy

from .orders import order_from_shopify, shopify_orders


def listing_fields(product: ProductForListing) -> dict[str, Any]:
    tags = sorted({t for t in (*product.keywords, product.brand or "", product.category or "") if t})[:200]
    return {"product_type": product.category or "General", "tags": tags, "vendor": product.brand}


LISTING = ListingPolicy(
    "shopify",
    "NZD",
    PricingPolicy(
        fee_rate=Decimal("0.029"), fixed_fee=Decimal("0.30"), shipping_cost=Decimal("0"), rounding="whole"
    ),
    listing_fields,
    max_title=255,
    max_photos=250,
    min_photos=0,
)


async def push_tracking(client: Any, order, lines: list, shipment, carrier: ChannelCarrier) -> dict[str, Any]:
    """A fulfillment (fulfillment orders API) with the tracking number, company and link."""
    fulfillment = await client.fulfil(
        int(order.external_order_id),
        tracking_number=shipment.tracking_pin,
        tracking_company=carrier.name,
        tracking_url=carrier.url,
        notify_customer=True,
    )
    return {"order_id": order.external_order_id, "fulfillment_id": fulfillment.get("id")}


async def find_tracking(client: Any, order, lines: list, shipment) -> dict[str, Any] | None:
    found = await client.fulfillment(int(order.external_order_id), shipment.tracking_pin)
    return {"order_id": order.external_order_id, "fulfillment_id": found.get("id")} if found else None


def webhook_secret() -> str:
    """The app's client secret (SHOPIFY_WEBHOOK_SECRET; the simulator's own when simulating)."""
    from .client import ShopifySettings

    return ShopifySettings().secret()


def verify_webhook(raw_body: bytes, signature: str | None, secret: str) -> bool:
    from .client import verify_webhook

    return verify_webhook(raw_body, signature, secret)


CHANNEL = Channel(
    name="shopify",
    title="Shopify",
    client=f"{__name__}.client:ShopifyClient",
    listing=LISTING,
    orders=shopify_orders,
    push_tracking=push_tracking,
    find_tracking=find_tracking,
    order_webhook=OrderWebhook(
        secret=webhook_secret,
        verify=verify_webhook,  # X-Shopify-Hmac-Sha256: base64 HMAC-SHA256 of the raw body
        signature_header="X-Shopify-Hmac-Sha256",
        signature_scheme="the base64 HMAC-SHA256 of the raw body under the app's client secret",
        topic_header="X-Shopify-Topic",
        id_header="X-Shopify-Webhook-Id",
        topic_prefix="orders/",
        to_order=order_from_shopify,
    ),
    carrier_names={"canada_post": "Canada Post"},  # tracking_company (its known carriers list)
)

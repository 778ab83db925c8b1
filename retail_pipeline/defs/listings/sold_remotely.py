"""A sale seen only in a channel's selling list: a channel without an orders API (a dealer website)
shows a sale as its listing turning `sold`, and nothing else. The state sync hands each such status
change here; it is sold through the order path's own `sell_units` (stock decremented, the other
channels' listings cut or marked withdrawn for `push_stock`), exactly once per listing.

Channels with orders are left alone: their orders already took the units off our stock.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, text

from retail_pipeline.channels.registry import channel as channel_plugin
from retail_pipeline.defs.orders.upsert import UpsertResult, sell_units

LISTING = text(
    """
    SELECT product_id, sku, actual_state, coalesce(actual_quantity, desired_quantity, 1) AS quantity
      FROM retail.channel_listings WHERE id = :id FOR UPDATE
    """
)
ALREADY_SOLD = text(
    "SELECT 1 FROM retail.activity_log WHERE action = 'stock.sale' AND idempotency_key = :key"
)


def sale_key(channel: str, external_listing_id: str) -> str:
    return f"sale:{channel}:listing:{external_listing_id}"


def record_remote_sale(conn: Connection, channel: str, event: Any, run_id: str | None) -> UpsertResult | None:
    """For a `status` sync event turning one of our live listings `sold` on a channel without
    orders: the sale, in the caller's transaction; None when there is nothing to sell."""
    remote = event.remote_value or {}
    if "orders" in channel_plugin(channel).capabilities or remote.get("state") != "sold":
        return None
    listing = conn.execute(LISTING, {"id": event.channel_listing_id}).first()
    if listing is None or listing.actual_state != "live" or listing.product_id is None:
        return None  # already closed by us (we marked it sold), or not a product of ours
    key = sale_key(channel, event.external_listing_id)
    if conn.execute(ALREADY_SOLD, {"key": key}).first():
        return None  # a sale is taken off the stock once, however often it is seen
    result = UpsertResult()
    sell_units(
        conn, channel=channel, product_id=listing.product_id, quantity=max(int(listing.quantity), 1),
        sku=listing.sku, sale=f"sold on {channel_plugin(channel).title} (listing {event.external_listing_id})",
        key=key, result=result, run_id=run_id,
    )  # fmt: skip
    return result

"""`marketplace_orders` and `channel_stock`, partitioned by channel × UTC day.

`marketplace_orders[channel|day]` fetches the orders the channel placed that day (by its own clock) and
upserts them (upsert.py); re-syncing last week is a backfill of seven days (one run per partition,
Dagster's default without a backfill policy). `channel_stock` follows it
in the same run and pushes the withdrawals / quantity cuts its sales marked (stock.py) to every other
channel. Both are idempotent: a second materialisation writes nothing and calls no channel.
"""

# No `from __future__ import annotations`: Dagster inspects the context annotations at runtime.

import asyncio
from typing import Any

import dagster as dg

from retail_pipeline.channels.registry import channel as channel_plugin
from retail_pipeline.defs.orders.stock import push_stock, summarise
from retail_pipeline.defs.orders.upsert import upsert_orders
from retail_pipeline.defs.resources import ChannelsResource, DatabaseResource
from retail_pipeline.domain.order_sources import OutOfReach, Window
from retail_pipeline.domain.orders import ChannelOrder
from retail_pipeline.partitions import order_partitions, split_order_key


async def fetch_orders(client: Any, channel: str, window: Window) -> list[ChannelOrder]:
    """Every order of the channel placed in the window (its plug-in's fetch: paging handled, normalised),
    the client closed after."""
    try:
        return [
            order
            async for order in channel_plugin(channel).orders(client, window)
            if order.placed_at in window
        ]
    finally:
        await client.aclose()


def sync_orders(engine: Any, sources: ChannelsResource, channel: str, window: Window, *, run_id=None):
    """Fetch the channel's orders in the window and upsert them: (orders fetched, UpsertResult)."""
    orders = asyncio.run(fetch_orders(sources.client(channel), channel, window))
    return orders, upsert_orders(engine, orders, source="marketplace_orders", run_id=run_id)


@dg.asset(
    partitions_def=order_partitions,
    group_name="orders",
    kinds={"postgres"},
    retry_policy=dg.RetryPolicy(max_retries=2, delay=10, backoff=dg.Backoff.EXPONENTIAL),
    pool="channel_order_apis",
)
def marketplace_orders(
    context: dg.AssetExecutionContext, db: DatabaseResource, channels: ChannelsResource
) -> dg.MaterializeResult:
    """The channel's orders placed on the partition's UTC day, upserted with their customers and lines
    (linked to our listings by SKU); the first status row only for a new order, a later channel move
    (paid, cancelled, refunded) only where the state machine allows; a new sold line lowers our stock
    and marks the product's listings. Idempotent: a second run writes 0 rows."""
    channel, day = split_order_key(context.partition_key)
    window = Window.day(day, channels.now())
    try:
        orders, result = sync_orders(db.engine, channels, channel, window, run_id=context.run_id)
    except OutOfReach as error:
        context.log.warning(str(error))
        return dg.MaterializeResult(metadata={"fetched": 0, "rows_written": 0, "out_of_reach": True})
    if result.failed:
        context.log.warning(f"{len(result.failed)} order(s) not stored: {result.failed[:5]}")
    metadata: dict[str, Any] = {"fetched": len(orders), **result.metadata()}
    metadata["new_orders_preview"] = dg.MetadataValue.json(result.new_orders[:5])
    metadata["failed_preview"] = dg.MetadataValue.json(result.failed[:5])
    return dg.MaterializeResult(metadata=metadata)


@dg.asset(
    partitions_def=order_partitions,
    deps=[marketplace_orders],
    group_name="orders",
    kinds={"postgres"},
    pool="channel_order_apis",
)
def channel_stock(
    context: dg.AssetExecutionContext, db: DatabaseResource, channels: ChannelsResource
) -> dg.MaterializeResult:
    """After the partition's orders: every listing a sale marked (any channel's) is withdrawn at zero
    stock, or cut to the stock left, through the listing publisher. Nothing marked = no calls."""
    pushed = push_stock(db.engine, channels, run_id=context.run_id, context=context)
    metadata: dict[str, Any] = summarise(pushed)
    metadata["by_channel"] = dg.MetadataValue.json(pushed)
    return dg.MaterializeResult(metadata=metadata)

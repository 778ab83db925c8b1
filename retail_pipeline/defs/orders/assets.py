"""`marketplace_orders` and `channel_stock`, partitioned by channel × UTC day.

`marketplace_orders[channel|day]` fetches the orders the channel placed that day (by its own clock) and
upserts them (upsert.py); re-syncing last week is a backfill of seven days (one run per partition,
Dagster's default without a backfill policy). `channel_stock` follows it
in the same run and pushes the withdrawals / quantity cuts its sales marked (stock.py) to every other
channel. Both are idempotent: a second materialisation writes nothing and calls no channel.
"""

# No `from __future__ import annotations`: Dagster inspects the context annotations at runtime.

import asyncio
from datetime import date
from typing import Any

import dagster as dg

from retail_pipeline.defs.orders.sources import (
    ORDER_CHANNELS,
    OrderSourcesResource,
    OutOfReach,
    Window,
    fetch_orders,
)
from retail_pipeline.defs.orders.stock import push_stock, summarise
from retail_pipeline.defs.orders.upsert import upsert_orders
from retail_pipeline.integrations.marketplaces import ChannelsResource
from retail_pipeline.resources import DatabaseResource

# The simulators' world starts on 2025-06-02; real order history before this is out of scope.
FIRST_DAY = "2025-06-01"
order_channels = dg.StaticPartitionsDefinition(list(ORDER_CHANNELS))
# end_offset=1: today's (still open) day is a partition too, which the 10-minute schedule syncs.
order_days = dg.DailyPartitionsDefinition(start_date=FIRST_DAY, end_offset=1)
order_partitions = dg.MultiPartitionsDefinition({"channel": order_channels, "day": order_days})


def split_key(key: str) -> tuple[str, date]:
    """(channel, day) of a `channel|day` partition key."""
    dims = order_partitions.get_partition_key_from_str(str(key)).keys_by_dimension
    return dims["channel"], date.fromisoformat(dims["day"])


def partition_key(channel: str, day: date) -> dg.MultiPartitionKey:
    return dg.MultiPartitionKey({"channel": channel, "day": day.isoformat()})


def sync_orders(engine: Any, sources: OrderSourcesResource, channel: str, window: Window, *, run_id=None):
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
    context: dg.AssetExecutionContext, db: DatabaseResource, order_sources: OrderSourcesResource
) -> dg.MaterializeResult:
    """The channel's orders placed on the partition's UTC day, upserted with their customers and lines
    (linked to our listings by SKU); the first status row only for a new order, a later channel move
    (paid, cancelled, refunded) only where the state machine allows; a new sold line lowers our stock
    and marks the product's listings. Idempotent: a second run writes 0 rows."""
    channel, day = split_key(context.partition_key)
    window = Window.day(day, order_sources.now())
    try:
        orders, result = sync_orders(db.engine, order_sources, channel, window, run_id=context.run_id)
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
    pushed = push_stock(db.engine, channels, run_id=context.run_id)
    metadata: dict[str, Any] = summarise(pushed)
    metadata["by_channel"] = dg.MetadataValue.json(pushed)
    return dg.MaterializeResult(metadata=metadata)

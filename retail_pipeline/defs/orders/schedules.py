"""Order sync automation: today's partitions every 10 minutes, and a light sensor for new sales.

`order_sync` runs `marketplace_orders` then `channel_stock` for one channel × day. The schedule syncs
today (by the channels' clock) for every channel. Between its ticks, `sold_items_sensor` asks each
channel once a minute for its last hour of sales, one call each (one page of recent orders: 60 calls
an hour of a channel's budget) and, when it sees an order
we do not hold, requests that partition's run at once, so a sale is withdrawn elsewhere within about
a minute plus the run. Its run key is the set of new orders: a slow run is not requested twice, and a
failed one is retried by the next schedule tick.
"""

import asyncio
import hashlib
from collections import defaultdict
from datetime import date

import dagster as dg
from sqlalchemy import text

from retail_pipeline.defs.orders.assets import fetch_orders
from retail_pipeline.defs.resources import ChannelsResource, DatabaseResource
from retail_pipeline.domain.order_sources import Window
from retail_pipeline.partitions import order_channels, order_days, order_partition_key, order_partitions

SOLD_ITEMS_INTERVAL_SECONDS = 60

order_sync_job = dg.define_asset_job(
    "order_sync",
    selection=dg.AssetSelection.assets("marketplace_orders", "channel_stock"),
    partitions_def=order_partitions,
    description="One channel × day: upsert its orders, then push the stock changes its sales call for.",
)


def day_exists(day: date) -> bool:
    return day.isoformat() in order_days.get_partition_keys()


def todays_keys(sources: ChannelsResource) -> list[dg.MultiPartitionKey]:
    """Today's partition of every channel, by the channels' clock ([] before the first day)."""
    today = sources.now().date()
    return (
        [order_partition_key(channel, today) for channel in order_channels.get_partition_keys()]
        if day_exists(today)
        else []
    )


@dg.schedule(
    job=order_sync_job, cron_schedule="*/10 * * * *", default_status=dg.DefaultScheduleStatus.RUNNING
)
def orders_every_10_minutes(
    context: dg.ScheduleEvaluationContext, channels: ChannelsResource
) -> list[dg.RunRequest]:
    tick = context.scheduled_execution_time.isoformat() if context.scheduled_execution_time else "manual"
    return [
        dg.RunRequest(
            partition_key=key,
            run_key=f"orders:{key}:{tick}",
            tags={"retail/channel": key.keys_by_dimension["channel"]},
        )
        for key in todays_keys(channels)
    ]


KNOWN = text(
    "SELECT external_order_id FROM retail.orders WHERE channel = :channel AND external_order_id = ANY(:ids)"
)


def new_sales(db: DatabaseResource, sources: ChannelsResource, channel: str, window: Window):
    """The channel's orders in the window that we do not hold yet."""
    recent = asyncio.run(fetch_orders(sources.client(channel), channel, window))
    ids = [o.external_order_id for o in recent]
    with db.engine.connect() as conn:
        known = set(conn.execute(KNOWN, {"channel": channel, "ids": ids}).scalars()) if ids else set()
    return [o for o in recent if o.external_order_id not in known]


@dg.sensor(
    job=order_sync_job,
    minimum_interval_seconds=SOLD_ITEMS_INTERVAL_SECONDS,
    default_status=dg.DefaultSensorStatus.RUNNING,
)
def sold_items_sensor(
    context: dg.SensorEvaluationContext, db: DatabaseResource, channels: ChannelsResource
) -> dg.SensorResult:
    """New sales on any channel → that channel × day's order_sync run (orders, then stock elsewhere)."""
    window = Window.recent(channels.now())
    requests: list[dg.RunRequest] = []
    problems: list[str] = []
    for channel in order_channels.get_partition_keys():
        try:
            new = new_sales(db, channels, channel, window)
        except Exception as error:  # noqa: BLE001 - one channel down must not blind the others
            problems.append(f"{channel}: {type(error).__name__}: {error}")
            continue
        by_day: dict[date, list[str]] = defaultdict(list)
        for order in new:
            by_day[order.placed_at.date()].append(order.external_order_id)
        for day, ids in sorted(by_day.items()):
            if not day_exists(day):
                continue
            digest = hashlib.sha256(",".join(sorted(ids)).encode()).hexdigest()[:16]
            requests.append(
                dg.RunRequest(
                    partition_key=order_partition_key(channel, day),
                    run_key=f"sold:{channel}:{day}:{digest}",
                    tags={
                        "retail/channel": channel,
                        "retail/trigger": "sold_items",
                        "retail/new_orders": str(len(ids)),
                    },
                )
            )
    for problem in problems:
        context.log.warning(f"sold_items_sensor: {problem}")
    if not requests:
        return dg.SensorResult(
            skip_reason="no new sales" + (f" ({len(problems)} channel(s) failed)" if problems else "")
        )
    return dg.SensorResult(run_requests=requests)

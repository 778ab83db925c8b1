"""Stock across channels, no overselling: carry out the withdrawals and quantity cuts a sale marked.

A sale (upsert.py) lowers our stock and marks, in the same transaction, every listing of the product:
`desired_quantity` at most the stock left, or `desired_state = 'withdrawn'` at zero. This pass pushes
exactly those marks to the channels through the listing publisher itself (`Publisher` narrowed to the
marked listings, kinds withdraw + price/quantity): the same intent-first, crash-safe calls as the hourly
pass (`update_quantity`, `withdraw`), without its draft-driven preparation, which could hand back
units a stale draft still shows.

One pass per channel at a time (a PostgreSQL advisory lock per channel, waited for): the order-sync
runs of several channels, the webhook runs and the sensor's runs may all push at once, and two pushes
of one listing would call the channel twice.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from contextlib import nullcontext
from typing import Any

from sqlalchemy import Engine, text

from retail_pipeline.channels.registry import channel_names
from retail_pipeline.db.locks import one_at_a_time
from retail_pipeline.defs.channel_pools import holding_channel_pool
from retail_pipeline.defs.listings.publish import Publisher, Scope
from retail_pipeline.defs.resources import ChannelsResource

STOCK_KINDS = frozenset({"withdraw", "price"})  # "price" work carries quantity changes too

# Live listings a sale has marked: to withdraw, or selling more units than we hold.
MARKED = text(
    """
    SELECT id FROM retail.channel_listings
     WHERE channel = :channel AND actual_state = 'live'
       AND (desired_state = 'withdrawn' OR desired_quantity < coalesce(actual_quantity, desired_quantity + 1))
     ORDER BY id
    """
)
CHANNELS_WITH_WORK = text(
    """
    SELECT DISTINCT channel FROM retail.channel_listings
     WHERE actual_state = 'live'
       AND (desired_state = 'withdrawn' OR desired_quantity < coalesce(actual_quantity, desired_quantity + 1))
    """
)


def _no_media(rel_path: str) -> str:  # stock work never creates a listing, so never signs a photo
    raise RuntimeError(f"stock push does not publish photos ({rel_path})")


def _push_channel(
    engine: Engine, channels: ChannelsResource, channel: str, run_id: str | None, context: Any = None
) -> dict[str, Any]:
    with (
        holding_channel_pool(context, channel) if context is not None else nullcontext(),
        one_at_a_time(engine, f"stock_push:{channel}") as conn,
    ):
        ids = tuple(conn.execute(MARKED, {"channel": channel}).scalars())
        conn.commit()  # no snapshot held open while the channel is called
        if not ids:
            return {"marked": 0}
        publisher = Publisher(
            engine,
            channels.client(channel),
            media_url=_no_media,
            run_id=run_id,
            scope=Scope(listing_ids=ids, kinds=STOCK_KINDS),
        )

        async def run() -> Any:
            async with publisher.client:
                return await publisher.run()

        result = asyncio.run(run())
        counts = {k: v for k, v in result.counts.items() if v}
        return {"marked": len(ids), **counts, "errors": result.errors}


def push_stock(
    engine: Engine,
    channels: ChannelsResource,
    *,
    run_id: str | None = None,
    only: Iterable[str] | None = None,
    context: Any = None,
) -> dict[str, dict[str, Any]]:
    """Push every marked listing on every channel with a listing client (or those in `only`); per
    channel, what was done. `context` (the Dagster step's): a channel with a pool of its own is
    worked holding a slot of it (`holding_channel_pool`). Channels are worked one after another: each has its own budget, and the
    marks are few (the listings of the products just sold)."""
    with engine.connect() as conn:
        with_work = set(conn.execute(CHANNELS_WITH_WORK).scalars())
    wanted = set(only) if only is not None else set(channel_names("stock"))
    targets = sorted(with_work & wanted & set(channel_names("stock")))
    if not targets:
        return {}
    with ThreadPoolExecutor(len(targets), thread_name_prefix="stock-push") as pool:
        done = pool.map(lambda channel: _push_channel(engine, channels, channel, run_id, context), targets)
        return dict(zip(targets, done, strict=True))


def summarise(pushed: dict[str, dict[str, Any]]) -> dict[str, int]:
    """Totals over channels, for asset metadata."""
    totals = {"channels_pushed": len(pushed)}
    for counts in pushed.values():
        for name, value in counts.items():
            if isinstance(value, int):
                totals[name] = totals.get(name, 0) + value
    return totals

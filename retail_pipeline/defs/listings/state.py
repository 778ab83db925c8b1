"""`listing_state` [channel] (seed 001): detect, then reconcile in one place.

Detection only compares the channel's selling list with `retail.channel_listings` and upserts
`retail.sync_events` (one pending event per channel + remote listing + kind). Reconciliation then
applies the pending events to `channel_listings` (actual_* columns: what the channel says) and marks
them processed; the next `channel_listings` run pushes desired values again where they differ.
Unknown remote listings are never adopted: they open an ops task (kind unknown_remote_listing).
"""

# No `from __future__ import annotations`: Dagster inspects the context annotations at runtime.

import asyncio
import dataclasses
import json
from decimal import Decimal
from typing import Any

import dagster as dg
from sqlalchemy import Connection, Engine, text

from retail_pipeline.channels.registry import channel as channel_plugin
from retail_pipeline.db.activity import log_activity
from retail_pipeline.db.ops_tasks import open_task
from retail_pipeline.defs.channel_pools import holding_channel_pool
from retail_pipeline.defs.listings.adoption import apply_unknown_listing
from retail_pipeline.defs.listings.blocked import open_blocked_task
from retail_pipeline.defs.listings.sold_remotely import record_remote_sale
from retail_pipeline.defs.orders.stock import push_stock, summarise
from retail_pipeline.defs.resources import ChannelsResource, DatabaseResource
from retail_pipeline.integrations.marketplaces.base import ChannelBlocked, ChannelClient, RemoteListing
from retail_pipeline.partitions import listing_channels

UPSERT_EVENT = text(
    """
    INSERT INTO retail.sync_events
           (channel, channel_listing_id, external_listing_id, event_type, local_value, remote_value, run_id)
    VALUES (:channel, :listing_id, :ext, :kind, CAST(:local AS jsonb), CAST(:remote AS jsonb), :run_id)
    ON CONFLICT (channel, external_listing_id, event_type) WHERE status = 'pending'
    DO UPDATE SET local_value = EXCLUDED.local_value, remote_value = EXCLUDED.remote_value,
                  run_id = EXCLUDED.run_id, detected_at = now()
    """
)


def _json(value: Any) -> str:
    return json.dumps(value, default=str)


def diff(row: dict[str, Any] | None, remote: RemoteListing | None) -> list[tuple[str, Any, Any]]:
    """(event_type, local, remote) for one listing; pure."""
    if row is None and remote is not None:  # all the channel shows of it: adoption matches on it
        return [("unknown_listing", None, dataclasses.asdict(remote))]
    if row is not None and remote is None:
        return [("removed", {"state": row["actual_state"]}, None)] if row["actual_state"] == "live" else []
    assert row is not None and remote is not None
    events = []
    if remote.state != row["actual_state"]:
        change = {"state": remote.state} | ({"problems": list(remote.problems)} if remote.problems else {})
        events.append(("status", {"state": row["actual_state"]}, change))
    elif remote.state == "live":
        if (
            remote.price is not None
            and row["actual_price"] is not None
            and Decimal(remote.price) != Decimal(row["actual_price"])
        ):
            events.append(("price", {"price": row["actual_price"]}, {"price": remote.price}))
        if (
            remote.quantity is not None
            and row["actual_quantity"] is not None
            and remote.quantity != row["actual_quantity"]
        ):
            events.append(("quantity", {"quantity": row["actual_quantity"]}, {"quantity": remote.quantity}))
    return events


async def _selling(client: ChannelClient) -> list[RemoteListing]:
    async with client:
        return [listing async for listing in client.selling()]


def detect(
    engine: Engine, channel: str, remote: list[RemoteListing], run_id: str | None = None
) -> dict[str, int]:
    with engine.begin() as conn:
        rows = [dict(r._mapping) for r in conn.execute(
            text("SELECT * FROM retail.channel_listings WHERE channel = :c AND external_listing_id IS NOT NULL"),
            {"c": channel},
        )]  # fmt: skip
        by_ext = {r["external_listing_id"]: r for r in rows}
        by_sku = {r["sku"]: r for r in rows}
        counts: dict[str, int] = {"remote_listings": len(remote)}
        seen: set[str] = set()
        for listing in remote:
            row = by_ext.get(listing.external_id) or (by_sku.get(listing.sku) if listing.sku else None)
            if row is not None and row["external_listing_id"] != listing.external_id:
                row = None  # same SKU, different listing: not ours to adopt
            if row is not None:
                seen.add(row["external_listing_id"])
            for kind, local, remote_value in diff(row, listing):
                conn.execute(UPSERT_EVENT, {"channel": channel, "listing_id": row["id"] if row else None,
                                            "ext": listing.external_id, "kind": kind, "local": _json(local),
                                            "remote": _json(remote_value), "run_id": run_id})  # fmt: skip
                counts[kind] = counts.get(kind, 0) + 1
        for ext, row in by_ext.items():
            if ext not in seen:
                for kind, local, remote_value in diff(row, None):
                    conn.execute(UPSERT_EVENT, {"channel": channel, "listing_id": row["id"], "ext": ext, "kind": kind,
                                                "local": _json(local), "remote": _json(remote_value), "run_id": run_id})  # fmt: skip
                    counts[kind] = counts.get(kind, 0) + 1
    return counts


def reconcile(engine: Engine, channel: str, run_id: str | None = None) -> dict[str, int]:
    """Apply every pending event of the channel; the one place sync changes our tables."""
    counts: dict[str, int] = {"processed": 0}
    with engine.begin() as conn:
        events = conn.execute(
            text(
                "SELECT * FROM retail.sync_events WHERE channel = :c AND status = 'pending' ORDER BY id FOR UPDATE"
            ),
            {"c": channel},
        ).all()
        for event in events:
            _apply(conn, channel, event, run_id)
            conn.execute(
                text(
                    "UPDATE retail.sync_events SET status = 'processed', processed_at = now() WHERE id = :id"
                ),
                {"id": event.id},
            )
            counts["processed"] += 1
    return counts


def _apply(conn: Connection, channel: str, event, run_id: str | None) -> None:
    remote = event.remote_value or {}
    lid = event.channel_listing_id
    if event.event_type == "price" and lid:
        conn.execute(text("UPDATE retail.channel_listings SET actual_price = :p, last_synced_at = now() WHERE id = :id"),
                     {"p": remote["price"], "id": lid})  # fmt: skip
    elif event.event_type == "quantity" and lid:
        conn.execute(text("UPDATE retail.channel_listings SET actual_quantity = :q, last_synced_at = now() WHERE id = :id"),
                     {"q": remote["quantity"], "id": lid})  # fmt: skip
    elif event.event_type == "status" and lid:
        record_remote_sale(conn, channel, event, run_id)  # a channel without orders: the only sign of a sale
        conn.execute(text("UPDATE retail.channel_listings SET actual_state = :s, last_synced_at = now() WHERE id = :id"),
                     {"s": remote["state"], "id": lid})  # fmt: skip
        if remote.get("problems"):  # the channel's own words on the listing and in the ops inbox
            message = "; ".join(remote["problems"])
            conn.execute(text("UPDATE retail.channel_listings SET last_error = :e WHERE id = :id"),
                         {"e": message[:2000], "id": lid})  # fmt: skip
            open_task(
                conn, kind="publish_failed", key=f"publish_failed:{channel}:{event.external_listing_id}:problems",
                title=f"{channel} took listing {event.external_listing_id} off sale: {message[:200]}",
                details=remote, channel=channel, entity_type="channel_listing", entity_id=lid, run_id=run_id,
            )  # fmt: skip
    elif event.event_type == "removed" and lid:
        conn.execute(text("UPDATE retail.channel_listings SET actual_state = 'ended', last_synced_at = now() WHERE id = :id"),
                     {"id": lid})  # fmt: skip
    elif event.event_type == "unknown_listing":
        apply_unknown_listing(conn, channel, event, run_id)
    if lid:
        log_activity(
            conn, action="listing.sync", run_id=run_id, channel=channel, entity_type="channel_listing",
            entity_id=lid, details={"event": event.event_type, "remote": remote},
        )  # fmt: skip


@dg.asset(
    partitions_def=listing_channels,
    deps=[dg.AssetKey("channel_listings")],
    group_name="listings",
    kinds={"postgres"},
    pool="channel_listing_apis",
)
def listing_state(
    context: dg.AssetExecutionContext, db: DatabaseResource, channels: ChannelsResource
) -> dg.MaterializeResult:
    """Detection (the channel's selling list vs channel_listings → sync_events), then one
    reconciliation step applying the pending events. Unknown remote listings → ops inbox."""
    channel = context.partition_key
    try:
        with holding_channel_pool(context, channel):
            remote = asyncio.run(_selling(channels.client(channel)))
    except ChannelBlocked as blocked:  # a person must act first: nothing detected, one ops task
        with db.engine.begin() as conn:
            open_blocked_task(conn, blocked, context.run_id)
        return dg.MaterializeResult(metadata={"blocked": blocked.message})
    detected = detect(db.engine, channel, remote, context.run_id)
    applied = reconcile(db.engine, channel, context.run_id)
    if "orders" not in channel_plugin(channel).capabilities:  # sales seen here: the others withdraw now
        applied["stock_pushed"] = summarise(
            push_stock(db.engine, channels, run_id=context.run_id, context=context)
        )
    return dg.MaterializeResult(metadata={**{f"detected_{k}": v for k, v in detected.items()}, **applied})

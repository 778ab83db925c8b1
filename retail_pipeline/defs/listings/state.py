"""Listing state sync (seed 001): detection, then reconciliation, as two separable steps.

`detect` only compares the channel's selling list with `retail.channel_listings` and upserts
`retail.sync_events` (one pending event per channel + remote listing + kind; a pending event belongs to
the detection run that last saw it); it changes nothing else. `reconcile` applies pending events to
`channel_listings` (actual_* columns: what the channel says) one by one, each marked processed (or
failed, with its error) in the transaction of its effect; the next `channel_listings` run pushes desired
values again where they differ. An `unknown_listing` event goes to `adoption.apply_unknown_listing`:
matched to our products, adopted when exact, proposed to the operator otherwise (task kind listing_adoption).

Who calls them: the `listing_state` asset (detect + apply in one run, every 30 minutes), the
`listing_sync_detect` / `listing_sync_apply` jobs (sync_jobs.py) and the sidecar (api/sync.py).
"""

# No `from __future__ import annotations`: Dagster inspects the context annotations at runtime.

import asyncio
import dataclasses
import json
from collections.abc import Sequence
from decimal import Decimal
from typing import Any

import dagster as dg
from sqlalchemy import Connection, Engine, text

from retail_pipeline.channels.registry import channel as channel_plugin
from retail_pipeline.db.activity import log_activity
from retail_pipeline.db.ops_tasks import open_task
from retail_pipeline.defs.channel_pools import holding_channel_pool
from retail_pipeline.defs.listings.adoption import apply_unknown_listing, known
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


def detect_channel(engine: Engine, client: ChannelClient, channel: str, run_id: str | None) -> dict[str, int]:
    """Read the channel's selling list and record its differences as pending events (`detect`)."""
    return detect(engine, channel, asyncio.run(_selling(client)), run_id)


def detect_in_step(
    context: dg.AssetExecutionContext | dg.OpExecutionContext,
    engine: Engine,
    channels: ChannelsResource,
    channel: str,
) -> dict[str, int] | None:
    """`detect_channel` in a Dagster step, holding the channel's own pool; a channel that wants a
    person first (`ChannelBlocked`) opens its one ops task and detects nothing (None)."""
    try:
        with holding_channel_pool(context, channel):
            return detect_channel(engine, channels.client(channel), channel, context.run_id)
    except ChannelBlocked as blocked:
        with engine.begin() as conn:
            open_blocked_task(conn, blocked, context.run_id)
        return None


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
        events: list[dict[str, Any]] = []  # upserted in one executemany: a shop has thousands of listings

        def record(row: dict[str, Any] | None, ext: str, differences: list[tuple[str, Any, Any]]) -> None:
            for kind, local, remote_value in differences:
                events.append({"channel": channel, "listing_id": row["id"] if row else None, "ext": ext,
                               "kind": kind, "local": _json(local), "remote": _json(remote_value), "run_id": run_id})  # fmt: skip
                counts[kind] = counts.get(kind, 0) + 1

        seen: set[str] = set()
        for listing in remote:
            row = by_ext.get(listing.external_id) or (by_sku.get(listing.sku) if listing.sku else None)
            if row is not None and row["external_listing_id"] != listing.external_id:
                row = None  # same SKU, different listing: not ours to adopt
            if row is not None:
                seen.add(row["external_listing_id"])
            record(row, listing.external_id, diff(row, listing))
        for ext, row in by_ext.items():
            if ext not in seen:
                record(row, ext, diff(row, None))
        if events:
            conn.execute(UPSERT_EVENT, events)
    return counts


PENDING_IDS = """SELECT id FROM retail.sync_events
                  WHERE channel = :c AND status = 'pending'
                    AND (CAST(:detect_run_id AS text) IS NULL OR run_id = :detect_run_id)
                    AND (CAST(:event_ids AS bigint[]) IS NULL OR id = ANY(CAST(:event_ids AS bigint[])))
                  ORDER BY id"""
# Re-read under the row lock: a concurrent apply that got there first leaves nothing to do.
LOCK_PENDING = text("SELECT * FROM retail.sync_events WHERE id = :id AND status = 'pending' FOR UPDATE")
MARK_DONE = text(
    """UPDATE retail.sync_events SET status = :status, error = :error, applied_run_id = :run_id, processed_at = now()
        WHERE id = :id AND status = 'pending'"""
)


def reconcile(
    engine: Engine,
    channel: str,
    run_id: str | None = None,
    *,
    detect_run_id: str | None = None,
    event_ids: Sequence[int] | None = None,
) -> dict[str, int]:
    """Apply the channel's pending events, the one place sync changes our tables: all of them, or only
    those of one detection run (`detect_run_id`) and/or the given `event_ids` (both narrow). Each event
    is applied and marked processed in one transaction; one that fails is marked failed with its error
    and the others go on. Only pending events are read, so applying twice changes nothing."""
    with engine.connect() as conn:
        ids = list(conn.scalars(text(PENDING_IDS), {
            "c": channel, "detect_run_id": detect_run_id,
            "event_ids": None if event_ids is None else list(event_ids),
        }))  # fmt: skip
    counts: dict[str, int] = {"processed": 0, "failed": 0}
    adoption = None  # the catalogue's index (and the channel's adoption tasks), read once, not per listing
    for event_id in ids:
        try:
            with engine.begin() as conn:
                event = conn.execute(LOCK_PENDING, {"id": event_id}).one_or_none()
                if event is None:
                    continue
                if event.event_type == "unknown_listing" and adoption is None:
                    adoption = known(conn, channel)
                outcome = _apply(conn, channel, event, run_id, adoption)
                if outcome:
                    counts[outcome] = counts.get(outcome, 0) + 1
                conn.execute(
                    MARK_DONE, {"id": event_id, "status": "processed", "error": None, "run_id": run_id}
                )
            counts["processed"] += 1
        except Exception as failure:  # this event only: its effect is rolled back, the reason kept on it
            with engine.begin() as conn:
                conn.execute(MARK_DONE, {"id": event_id, "status": "failed", "error": _reason(failure),
                                         "run_id": run_id})  # fmt: skip
            counts["failed"] += 1
    return counts


def _reason(failure: Exception) -> str:
    # A database error's own first line, not SQLAlchemy's wrapper with its statement and docs link.
    cause = getattr(failure, "orig", None) or failure
    lines = str(cause).strip().splitlines()
    return f"{type(cause).__name__}: {lines[0] if lines else ''}"[:2000]


def _apply(conn: Connection, channel: str, event, run_id: str | None, adoption=None) -> str | None:
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
        return apply_unknown_listing(conn, channel, event, run_id, adoption)
    if lid:
        log_activity(
            conn, action="listing.sync", run_id=run_id, channel=channel, entity_type="channel_listing",
            entity_id=lid, details={"event": event.event_type, "remote": remote},
        )  # fmt: skip
    return None


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
    """Detection (the channel's selling list vs channel_listings → sync_events), then reconciliation
    of every pending event of the channel (the same two functions the separate sync jobs run). Unknown
    remote listings are adopted when they are exactly one of our products, else proposed in the ops inbox."""
    channel = context.partition_key
    detected = detect_in_step(context, db.engine, channels, channel)
    if detected is None:  # blocked: nothing detected, nothing to apply
        return dg.MaterializeResult(metadata={"blocked": True})
    applied = reconcile(db.engine, channel, context.run_id)
    if "orders" not in channel_plugin(channel).capabilities:  # sales seen here: the others withdraw now
        applied["stock_pushed"] = summarise(
            push_stock(db.engine, channels, run_id=context.run_id, context=context)
        )
    return dg.MaterializeResult(metadata={**{f"detected_{k}": v for k, v in detected.items()}, **applied})

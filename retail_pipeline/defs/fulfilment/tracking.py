"""`tracking_updates`: every packed order's tracking pushed to its channel once, then `shipped`.

Per order whose latest status is `packed` (pick & pack in the console; with PACKING_REQUIRED=false, a shop
without a warehouse step, also `label_created`), or `tracking_failed` (retried), and whose shipment row is
'label_created' with a PIN:
1. The carrier is named the way the channel wants it (the channel plug-in's carrier names, our
   carrier's tracking page as the link).
2. Before any channel call an 'intent' activity row (action 'tracking.push', key
   `tracking:order:<id>`) is committed. When a previous run left such an intent and no shipped row
   (killed between the remote call and our commit), the channel is asked first (its plug-in's
   `find_tracking`) and what it already has is adopted, never pushed twice. A channel without a finder
   answers a repeated push itself (a duplicate is recognised, a status is a plain setter): there the
   push is the lookup.
3. The plug-in's `push_tracking` sends the tracking; the shipment moves to 'shipped' with
   tracking_sent_at / shipped_at and one `shipped` row joins the order's history (carrier, PIN, the
   channel's ids) in one transaction, which also resolves the order's ops task.

Per-order isolation: a channel refusal (non-retryable ChannelError) makes the order `tracking_failed`
(once: `can_move` guards the history) and opens or bumps one ops task (kind 'tracking_failed'); a
retryable error (outage, 429, call budget used up) leaves it for the next run; 401/403 fail the run.
A channel that takes no tracking is skipped, its orders left as they are.
"""

# No `from __future__ import annotations`: Dagster inspects the context annotations at runtime.

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import dagster as dg
from sqlalchemy import Connection, Engine, text

from retail_pipeline.channels.plugin import UnknownCarrier
from retail_pipeline.channels.registry import channel as channel_plugin
from retail_pipeline.channels.registry import channel_names
from retail_pipeline.db.activity import log_activity
from retail_pipeline.db.locks import one_at_a_time
from retail_pipeline.db.order_workflow import (
    append_status,
    each_order,
    open_order_task,
    resolve_order_task,
)
from retail_pipeline.defs.resources import ChannelsResource, DatabaseResource
from retail_pipeline.integrations.marketplaces.base import ChannelError
from retail_pipeline.settings import get_settings

SOURCE = "tracking_updates"
ACTION = "tracking.push"
PREVIEW = 5

# --- SQL

WORK = text(
    """
    SELECT o.id, o.channel::text AS channel, o.external_order_id, o.current_status,
           s.id AS shipment_id, s.carrier, s.tracking_pin, s.remote_shipment_id
      FROM retail.orders o
      JOIN retail.shipments s ON s.order_id = o.id
     WHERE o.current_status = ANY(:ready)
       AND s.status = 'label_created' AND s.tracking_pin IS NOT NULL
     ORDER BY o.id
    """
)

LINES = text(
    """
    SELECT order_id, external_line_id, sku, quantity
      FROM retail.order_lines
     WHERE order_id = :id AND status NOT IN ('refused', 'cancelled')
     ORDER BY id
    """
)


INTENT_LOGGED = text(
    """
    SELECT EXISTS (SELECT 1 FROM retail.activity_log
                    WHERE action = 'tracking.push' AND outcome = 'intent' AND idempotency_key = :key)
    """
)

SHIPPED = text(
    """
    UPDATE retail.shipments
       SET status = 'shipped', tracking_sent_at = now(), shipped_at = coalesce(shipped_at, now()), error = NULL
     WHERE id = :id AND status = 'label_created'
    """
)


def ready_statuses(packing_required: bool) -> list[str]:
    """The statuses whose orders are ready for their tracking: packed ones, or, without a warehouse step,
    every labelled one (an order packed anyway ships too)."""
    ready = ["packed", "tracking_failed"]
    return ready if packing_required else [*ready, "label_created"]


def idempotency_key(order_id: int) -> str:
    return f"tracking:order:{order_id}"


@dataclass
class TrackingResult:
    counts: dict[str, int] = field(
        default_factory=lambda: {
            "orders_found": 0, "pushed": 0, "adopted": 0, "shipped": 0, "tracking_failed": 0,
            "retry_later": 0, "no_client": 0,
        }
    )  # fmt: skip
    shipped: list[dict[str, Any]] = field(default_factory=list)
    failed: list[dict[str, Any]] = field(default_factory=list)


class NoClient(Exception):
    """The channel's client (or pusher) is not available in this deployment."""


class TrackingPusher:
    """One pass over the labelled orders. `after_push` is a test hook called between the remote push and
    the local commit (raise there to simulate a crash). `packing_required` defaults to the setting
    PACKING_REQUIRED."""

    def __init__(
        self,
        engine: Engine,
        sources: ChannelsResource,
        *,
        run_id: str | None = None,
        concurrency: int = 4,
        after_push: Callable[[int], None] | None = None,
        packing_required: bool | None = None,
    ):
        self.engine, self.sources = engine, sources
        if packing_required is None:
            packing_required = get_settings().packing_required
        self.ready = ready_statuses(packing_required)
        self.run_id, self.after_push = run_id, after_push
        self.actor = f"run:{run_id}" if run_id else "system"
        self.concurrency = max(1, concurrency)
        self.result = TrackingResult()
        self._clients: dict[str, Any] = {}

    # --- local writes (each its own short transaction)

    def _log(self, conn: Connection, outcome: str, row, details: dict[str, Any]) -> None:
        log_activity(conn, actor=self.actor, action=ACTION, outcome=outcome, channel=row.channel,
                     entity_type="order", entity_id=row.id, key=idempotency_key(row.id), details=details,
                     run_id=self.run_id)  # fmt: skip

    def _shipped(self, row, remote: dict[str, Any], action: str) -> None:
        remote = {k: v for k, v in remote.items() if k != "already"}
        details = {"carrier": row.carrier, "tracking_pin": row.tracking_pin, "channel": row.channel,
                   "remote": remote, "adopted": action == "adopted"}  # fmt: skip
        with self.engine.begin() as conn:
            conn.execute(SHIPPED, {"id": row.shipment_id})
            self._log(conn, "succeeded", row, details)
            append_status(conn, row.id, "shipped", source=SOURCE, run_id=self.run_id, details=details)
            resolve_order_task(conn, "tracking_failed", row.id, SOURCE)
        self.result.counts[action] += 1
        self.result.counts["shipped"] += 1
        self.result.shipped.append({"order_id": row.id, "channel": row.channel, "tracking_pin": row.tracking_pin,
                                    "remote": remote, "adopted": action == "adopted"})  # fmt: skip

    def _fail(self, row, message: str, *, stage: str) -> None:
        with self.engine.begin() as conn:
            conn.execute(
                text("UPDATE retail.shipments SET error = :e WHERE id = :id"),
                {"e": message[:2000], "id": row.shipment_id},
            )
            self._log(conn, "failed", row, {"error": message, "stage": stage, "retryable": False})
            append_status(conn, row.id, "tracking_failed", source=SOURCE, run_id=self.run_id,
                          reason=f"{stage}: {message}",
                          details={"stage": stage, "error": message, "tracking_pin": row.tracking_pin})  # fmt: skip
            open_order_task(conn, "tracking_failed", row.id, row.channel,
                            f"Tracking for order {row.id} ({row.channel}) not accepted ({stage}): {message[:200]}",
                            {"error": message, "stage": stage, "shipment_id": row.shipment_id,
                             "tracking_pin": row.tracking_pin}, self.run_id)  # fmt: skip
        self.result.counts["tracking_failed"] += 1
        self.result.failed.append(
            {"order_id": row.id, "channel": row.channel, "stage": stage, "error": message}
        )

    def _retry_later(self, row, error: ChannelError) -> None:
        with self.engine.begin() as conn:
            conn.execute(
                text("UPDATE retail.shipments SET error = :e WHERE id = :id"),
                {"e": error.message[:2000], "id": row.shipment_id},
            )
            self._log(conn, "failed", row, {"error": error.message, "retryable": True})
        self.result.counts["retry_later"] += 1

    # --- one order

    def client(self, channel: str) -> Any:
        if channel not in channel_names("tracking"):
            raise NoClient(f"{channel}: takes no tracking")
        if channel not in self._clients:
            self._clients[channel] = self.sources.client(channel)
        return self._clients[channel]

    async def _one(self, row) -> None:
        try:
            plugin = channel_plugin(row.channel)
            carrier = plugin.carrier(row.carrier, row.tracking_pin)
        except UnknownCarrier as error:
            self._fail(row, str(error), stage="carrier name")
            return
        try:
            client = self.client(row.channel)
        except NoClient:
            self.result.counts["no_client"] += 1
            return
        with self.engine.connect() as conn:
            lines = list(conn.execute(LINES, {"id": row.id}))
            attempted = conn.scalar(INTENT_LOGGED, {"key": idempotency_key(row.id)})
        finder = plugin.find_tracking if attempted else None
        # An earlier run may have pushed and died before its commit: ask before pushing again.
        if finder is not None and (remote := await finder(client, row, lines, row)) is not None:
            self._shipped(row, remote, "adopted")
            return
        with self.engine.begin() as conn:
            self._log(conn, "intent", row, {"carrier": row.carrier, "tracking_pin": row.tracking_pin})
        remote = await plugin.push_tracking(client, row, lines, row, carrier)
        if self.after_push is not None:
            self.after_push(row.id)
        self._shipped(row, remote, "adopted" if remote.get("already") else "pushed")

    async def run(self) -> TrackingResult:
        with self.engine.connect() as conn:
            rows = list(conn.execute(WORK, {"ready": self.ready}))
        self.result.counts["orders_found"] = len(rows)

        async def one(row) -> None:
            try:
                await self._one(row)
            except ChannelError as error:
                if error.status in (401, 403):
                    raise  # systemic: every order of the channel would fail the same way
                if error.retryable:
                    self._retry_later(row, error)
                else:
                    self._fail(row, error.message, stage="channel")
            except (TypeError, ValueError) as error:  # e.g. an external id the channel's API cannot take
                self._fail(row, f"{type(error).__name__}: {error}", stage="request")

        await each_order(rows, one, concurrency=self.concurrency, clients=self._clients.values())
        return self.result


async def push_tracking(engine: Engine, sources: ChannelsResource, **kwargs: Any) -> TrackingResult:
    return await TrackingPusher(engine, sources, **kwargs).run()


def run_tracking(engine: Engine, sources: ChannelsResource, **kwargs: Any) -> TrackingResult:
    with one_at_a_time(engine, "fulfilment:tracking_updates"):  # overlapping runs wait, then find it done
        return asyncio.run(push_tracking(engine, sources, **kwargs))


class TrackingUpdatesConfig(dg.Config):
    concurrency: int = 4  # orders in flight at once across the channels


@dg.asset(
    group_name="fulfilment",
    kinds={"postgres"},
    deps=[dg.AssetKey("shipping_labels")],
    pool="channel_order_apis",
)
def tracking_updates(
    context: dg.AssetExecutionContext,
    config: TrackingUpdatesConfig,
    db: DatabaseResource,
    channels: ChannelsResource,
) -> dg.MaterializeResult:
    """Pushes each packed order's tracking (each labelled one with PACKING_REQUIRED=false) to its channel
    once (intent committed first, a crash reconciled by asking the channel) and marks it shipped; a
    refusal becomes tracking_failed with an ops task, an outage waits for the next run, an
    authentication failure fails the run."""
    result = run_tracking(db.engine, channels, run_id=context.run_id, concurrency=config.concurrency)
    if result.counts["no_client"]:
        context.log.warning(
            f"{result.counts['no_client']} order(s) on channels without a client left as they are"
        )
    metadata: dict[str, Any] = dict(result.counts)
    metadata["shipped_preview"] = dg.MetadataValue.json(result.shipped[:PREVIEW])
    metadata["failed_preview"] = dg.MetadataValue.json(result.failed[:PREVIEW])
    return dg.MaterializeResult(metadata=metadata)

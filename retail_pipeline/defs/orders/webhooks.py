"""Channels' order webhooks as runs: each stored event becomes exactly one `order_webhook` run.

`POST /webhooks/<channel>` (retail_pipeline/api/webhooks.py) verifies and stores the delivery for a
channel that pushes orders; `order_webhook_sensor` requests one run per pending event (run_key
`webhook:<id>`); the run upserts that one order through the same code as the order sync
(`upsert_orders`, the channel's own normaliser), closes the event, then pushes the stock changes the
sale calls for, so a sale is withdrawn elsewhere within seconds rather than at the next poll.
"""

# No `from __future__ import annotations`: Dagster reads the op's config annotation when decorating.
from typing import Any

import dagster as dg
from sqlalchemy import text

from retail_pipeline.channels.registry import channel, channel_names
from retail_pipeline.db.ops_tasks import open_task
from retail_pipeline.defs.catalog.webhook_import import WebhookEventConfig
from retail_pipeline.defs.orders.stock import push_stock, summarise
from retail_pipeline.defs.orders.upsert import upsert_orders
from retail_pipeline.defs.queue_sensor import queued_rows_sensor
from retail_pipeline.defs.resources import ChannelsResource, DatabaseResource

WEBHOOK_INTERVAL_SECONDS = 10  # well within the 30 s a sale may take to be withdrawn elsewhere

LOCK_EVENT = text(
    "SELECT status, payload, topic, source FROM retail.webhook_events"
    " WHERE id = :id AND source = ANY(:sources) FOR UPDATE"
)
CLOSE_EVENT = text(
    "UPDATE retail.webhook_events SET status = :status, error = :error, run_id = :run_id, processed_at = now()"
    " WHERE id = :id"
)


def process_event(engine: Any, event_id: int, run_id: str | None = None) -> dict[str, Any]:
    """Upsert the event's order and close the event; a second call for the same event does nothing.
    The event row stays locked meanwhile, so two runs for one event queue rather than race."""
    with engine.begin() as conn:
        event = conn.execute(
            LOCK_EVENT, {"id": event_id, "sources": list(channel_names("order_webhooks"))}
        ).one_or_none()
        if event is None or not event.topic.startswith(channel(event.source).order_webhook.topic_prefix):
            raise dg.Failure(f"webhook event {event_id} is not a channel's order event", allow_retries=False)
        plugin = channel(event.source)
        if event.status != "pending":
            return {"already_done": True, "status": event.status, "rows_written": 0}
        try:
            order = plugin.order_webhook.to_order(event.payload)
        except (KeyError, TypeError, ValueError, AttributeError) as error:
            reason = f"not a {plugin.title} order: {type(error).__name__}: {error}"
            conn.execute(CLOSE_EVENT, {"id": event_id, "status": "failed", "error": reason, "run_id": run_id})
            open_task(
                conn, kind="webhook_error", key=f"webhook_event:{event_id}",
                title=f"{plugin.title} webhook {event_id}: {reason[:200]}",
                details={"webhook_event_id": event_id, "error": reason}, channel=plugin.name,
                entity_type="webhook_event", entity_id=event_id, run_id=run_id,
            )  # fmt: skip
            return {"failed": True, "error": reason, "rows_written": 0}
        result = upsert_orders(engine, [order], source=f"{plugin.name}_webhook", run_id=run_id)
        status, error = ("failed", result.failed[0]["error"]) if result.failed else ("processed", None)
        conn.execute(CLOSE_EVENT, {"id": event_id, "status": status, "error": error, "run_id": run_id})
    return {"order": order.external_order_id, **result.metadata()}


@dg.op(
    out=dg.Out(dg.Nothing),
    retry_policy=dg.RetryPolicy(max_retries=3, delay=2, backoff=dg.Backoff.EXPONENTIAL),
)
def order_webhook_event(context: dg.OpExecutionContext, config: WebhookEventConfig, db: DatabaseResource):
    """One order webhook event: its order upserted (the sync's own code), the event closed."""
    outcome = process_event(db.engine, config.webhook_event_id, context.run_id)
    context.log.info(f"webhook event {config.webhook_event_id}: {outcome}")
    yield dg.Output(None, metadata={k: v for k, v in outcome.items() if isinstance(v, int | str | bool)})


@dg.op(ins={"after": dg.In(dg.Nothing)}, pool="channel_order_apis")
def push_stock_after_sale(context: dg.OpExecutionContext, db: DatabaseResource, channels: ChannelsResource):
    """The stock changes the sale marked, pushed to the other channels (the `channel_stock` code)."""
    pushed = push_stock(db.engine, channels, run_id=context.run_id, context=context)
    context.log.info(f"stock pushed: {pushed}")
    return summarise(pushed)


@dg.job(
    description="One channel's order webhook event: upsert its order, then push stock to the other channels."
)
def order_webhook():
    push_stock_after_sale(after=order_webhook_event())


def webhook_run_config(event_id: int) -> dict[str, Any]:
    return {"ops": {"order_webhook_event": {"config": {"webhook_event_id": event_id}}}}


order_webhook_sensor = queued_rows_sensor(
    name="order_webhook_sensor",
    job=order_webhook,
    queued="SELECT id FROM retail.webhook_events WHERE source = ANY(:sources) AND status = 'pending'",
    params={"sources": list(channel_names("order_webhooks"))},
    run_key_prefix="webhook",
    run_config_for=lambda row: webhook_run_config(row.id),
    tags_for=lambda row: {"webhook_event_id": str(row.id)},
    skip_reason="no new order events",
    minimum_interval_seconds=WEBHOOK_INTERVAL_SECONDS,
    description="One run per pending channel order event (run_key `webhook:<id>`), oldest first.",
)

"""Shopify orders webhooks as runs: each stored event becomes exactly one `shopify_order_webhook` run.

`POST /webhooks/shopify` (retail_pipeline/api/webhooks.py) verifies and stores the delivery;
`shopify_order_webhook_sensor` requests one run per pending event (run_key `webhook:<id>`); the run
upserts that one order through the same code as the order sync (`upsert_orders`), closes the event,
then pushes the stock changes the sale calls for, so a Shopify sale is withdrawn elsewhere within
seconds rather than at the next poll.
"""

# No `from __future__ import annotations`: Dagster reads the op's config annotation when decorating.
import json
from typing import Any

import dagster as dg
from sqlalchemy import text

from retail_pipeline.defs.catalog.webhook_import import REREAD_WINDOW, WebhookEventConfig, _parse_cursor
from retail_pipeline.defs.orders.stock import push_stock, summarise
from retail_pipeline.defs.orders.upsert import upsert_orders
from retail_pipeline.domain.order_sources import order_from_shopify
from retail_pipeline.integrations.marketplaces import ChannelsResource
from retail_pipeline.resources import DatabaseResource

SOURCE = "shopify"
TOPIC_PREFIX = "orders/"
WEBHOOK_INTERVAL_SECONDS = 10  # within Shopify's 30 s target for a sale to be withdrawn elsewhere
MAX_RUNS_PER_TICK = 100

LOCK_EVENT = text(
    "SELECT status, payload, topic FROM retail.webhook_events"
    " WHERE id = :id AND source = :source AND topic LIKE 'orders/%' FOR UPDATE"
)
CLOSE_EVENT = text(
    "UPDATE retail.webhook_events SET status = :status, error = :error, run_id = :run_id, processed_at = now()"
    " WHERE id = :id"
)
OPS_TASK = text(
    "INSERT INTO retail.ops_tasks (kind, dedupe_key, title, details, channel, entity_type, entity_id, run_id)"
    " VALUES ('webhook_error', :key, :title, CAST(:details AS jsonb), 'shopify', 'webhook_event', :id, :run_id)"
    " ON CONFLICT (kind, dedupe_key) WHERE status IN ('open', 'acknowledged') DO NOTHING"
)


def process_event(engine: Any, event_id: int, run_id: str | None = None) -> dict[str, Any]:
    """Upsert the event's order and close the event; a second call for the same event does nothing.
    The event row stays locked meanwhile, so two runs for one event queue rather than race."""
    with engine.begin() as conn:
        event = conn.execute(LOCK_EVENT, {"id": event_id, "source": SOURCE}).one_or_none()
        if event is None:
            raise dg.Failure(f"webhook event {event_id} is not a Shopify orders event", allow_retries=False)
        if event.status != "pending":
            return {"already_done": True, "status": event.status, "rows_written": 0}
        try:
            order = order_from_shopify(event.payload)
        except (KeyError, TypeError, ValueError, AttributeError) as error:
            reason = f"not a Shopify order: {type(error).__name__}: {error}"
            conn.execute(CLOSE_EVENT, {"id": event_id, "status": "failed", "error": reason, "run_id": run_id})
            conn.execute(
                OPS_TASK,
                {"key": f"webhook_event:{event_id}", "title": f"Shopify webhook {event_id}: {reason[:200]}",
                 "details": json.dumps({"webhook_event_id": event_id, "error": reason}), "id": str(event_id),
                 "run_id": run_id},
            )  # fmt: skip
            return {"failed": True, "error": reason, "rows_written": 0}
        result = upsert_orders(engine, [order], source="shopify_webhook", run_id=run_id)
        status, error = ("failed", result.failed[0]["error"]) if result.failed else ("processed", None)
        conn.execute(CLOSE_EVENT, {"id": event_id, "status": status, "error": error, "run_id": run_id})
    return {"order": order.external_order_id, **result.metadata()}


@dg.op(
    out=dg.Out(dg.Nothing),
    retry_policy=dg.RetryPolicy(max_retries=3, delay=2, backoff=dg.Backoff.EXPONENTIAL),
)
def shopify_order_event(context: dg.OpExecutionContext, config: WebhookEventConfig, db: DatabaseResource):
    """One Shopify orders webhook event: its order upserted (the sync's own code), the event closed."""
    outcome = process_event(db.engine, config.webhook_event_id, context.run_id)
    context.log.info(f"webhook event {config.webhook_event_id}: {outcome}")
    yield dg.Output(None, metadata={k: v for k, v in outcome.items() if isinstance(v, int | str | bool)})


@dg.op(ins={"after": dg.In(dg.Nothing)}, pool="channel_order_apis")
def push_stock_after_sale(context: dg.OpExecutionContext, db: DatabaseResource, channels: ChannelsResource):
    """The stock changes the sale marked, pushed to the other channels (the `channel_stock` code)."""
    pushed = push_stock(db.engine, channels, run_id=context.run_id)
    context.log.info(f"stock pushed: {pushed}")
    return summarise(pushed)


@dg.job(
    description="One Shopify orders webhook event: upsert its order, then push stock to the other channels."
)
def shopify_order_webhook():
    push_stock_after_sale(after=shopify_order_event())


def webhook_run_config(event_id: int) -> dict[str, Any]:
    return {"ops": {"shopify_order_event": {"config": {"webhook_event_id": event_id}}}}


PENDING = text(
    "SELECT id FROM retail.webhook_events"
    " WHERE source = :source AND topic LIKE 'orders/%' AND status = 'pending'"
    " AND id > :floor AND id <> ALL(:requested) ORDER BY id LIMIT :limit"
)


@dg.sensor(
    job=shopify_order_webhook,
    minimum_interval_seconds=WEBHOOK_INTERVAL_SECONDS,
    default_status=dg.DefaultSensorStatus.RUNNING,
)
def shopify_order_webhook_sensor(
    context: dg.SensorEvaluationContext, db: DatabaseResource
) -> dg.SensorResult:
    """One run per pending Shopify orders event (run_key `webhook:<id>`), oldest first."""
    last_id, requested = _parse_cursor(context.cursor)
    with db.engine.connect() as conn:
        ids = list(
            conn.execute(
                PENDING,
                {"source": SOURCE, "floor": last_id - REREAD_WINDOW, "requested": sorted(requested),
                 "limit": MAX_RUNS_PER_TICK},
            ).scalars()
        )  # fmt: skip
    requests = [
        dg.RunRequest(
            run_key=f"webhook:{i}", run_config=webhook_run_config(i), tags={"webhook_event_id": str(i)}
        )
        for i in ids
    ]
    last_id = max([last_id, *ids])
    requested = {i for i in requested | set(ids) if i > last_id - REREAD_WINDOW}
    cursor = json.dumps({"last_id": last_id, "requested": sorted(requested)})
    if not requests:
        return dg.SensorResult(skip_reason="no new Shopify order events", cursor=cursor)
    return dg.SensorResult(run_requests=requests, cursor=cursor)

"""Webhook imports as runs: each stored Allegro import event becomes exactly one ``webhook_import_job`` run.

``POST /api/import/webhook`` stores the event and its import job; ``webhook_import_sensor`` requests one
run per pending event (run_key ``webhook:<event id>``), and the run validates every product, upserts
the valid ones as supplier ``allegro`` and records the invalid ones with their field errors.
"""

# No `from __future__ import annotations` here: Dagster reads the op's config annotation when decorating.
import json
from typing import Any

import dagster as dg
from sqlalchemy import Connection, text

from retail_pipeline.catalog_writes.upsert import upsert_supplier_products
from retail_pipeline.db.ops_tasks import open_task
from retail_pipeline.defs.queue_sensor import queued_rows_sensor
from retail_pipeline.defs.resources import DatabaseResource
from retail_pipeline.domain.imports import SOURCE, EnvelopeError, batch_items, validate_batch
from retail_pipeline.domain.suppliers import DEFAULT_SUPPLIERS

TOPIC = "import"  # webhook_events.topic written by the sidecar's import route


class WebhookEventConfig(dg.Config):
    webhook_event_id: int


def _ensure_supplier(conn: Connection, code: str) -> int:
    """The supplier's id, creating its configured row if the `suppliers` asset has not run yet.

    DO NOTHING, not DO UPDATE: the `suppliers` asset owns the row's configuration.
    """
    supplier = next(s for s in DEFAULT_SUPPLIERS if s.code == code)
    conn.execute(
        text(
            "INSERT INTO retail.suppliers (code, name, adapter, base_url, config)"
            " VALUES (:code, :name, :adapter, :base_url, CAST(:config AS jsonb)) ON CONFLICT (code) DO NOTHING"
        ),
        {
            "code": code,
            "name": supplier.name,
            "adapter": supplier.adapter,
            "base_url": supplier.base_url,
            "config": json.dumps(supplier.config),
        },
    )
    # A separate statement: in READ COMMITTED it sees a row a concurrent writer just committed.
    return conn.execute(
        text("SELECT id FROM retail.suppliers WHERE code = :code"), {"code": code}
    ).scalar_one()


def _open_ops_task(conn: Connection, job_id: int, run_id: str, job: dict[str, Any]) -> None:
    """Put an import with rejected items (or a failed one) in the ops inbox, once per job."""
    title = job["error"] or f"import job {job_id}: {job['failed']} of {job['processed']} items invalid"
    open_task(
        conn,
        kind="import_error",
        key=f"import_job:{job_id}",
        severity="error" if job["status"] == "failed" else "warning",
        title=title,
        # The first errors give the gist; GET /api/import/job/{id} has them all.
        details={"import_job_id": job_id, "errors": job["errors"][:20]},
        entity_type="import_job",
        entity_id=job_id,
        run_id=run_id,
    )


def _finish(
    conn: Connection, event_id: int, job_id: int, run_id: str, job: dict[str, Any], event_status: str
) -> None:
    """Record the job's outcome and close the event, in the transaction that wrote the products."""
    conn.execute(
        text(
            "UPDATE retail.import_jobs SET supplier_id = :supplier_id, status = :status,"
            " processed_items = :processed, failed_items = :failed, errors = CAST(:errors AS jsonb),"
            " error = :error, run_id = :run_id, started_at = coalesce(started_at, now()), finished_at = now()"
            " WHERE id = :job_id"
        ),
        {**job, "errors": json.dumps(job["errors"]), "job_id": job_id, "run_id": run_id},
    )
    conn.execute(
        text(
            "UPDATE retail.webhook_events SET status = :status, error = :error, run_id = :run_id,"
            " processed_at = now() WHERE id = :event_id"
        ),
        {
            "status": event_status,
            "error": job["error"] if event_status == "failed" else None,
            "event_id": event_id,
            "run_id": run_id,
        },
    )
    if job["failed"] or job["status"] == "failed":
        _open_ops_task(conn, job_id, run_id, job)


@dg.op(
    out=dg.Out(dg.Nothing),
    # Safe to retry: a finished event is never processed twice (see the status check under the row lock).
    retry_policy=dg.RetryPolicy(max_retries=3, delay=5, backoff=dg.Backoff.EXPONENTIAL),
)
def import_webhook_event(context: dg.OpExecutionContext, config: WebhookEventConfig, db: DatabaseResource):
    """Validate and import one webhook event's products; a second execution for the same event changes nothing."""
    event_id = config.webhook_event_id
    # Visible progress for GET /api/import/job/{id} while the batch is processed.
    with db.engine.begin() as conn:
        conn.execute(
            text(
                "UPDATE retail.import_jobs SET status = 'running', run_id = :run_id,"
                " started_at = coalesce(started_at, now())"
                " WHERE webhook_event_id = :event_id AND status IN ('pending', 'running')"
            ),
            {"event_id": event_id, "run_id": context.run_id},
        )

    with db.engine.begin() as conn:
        # The lock serialises concurrent runs for one event; the status read under it makes them idempotent.
        event = conn.execute(
            text(
                "SELECT e.status, e.payload, j.id AS job_id, j.processed_items, j.failed_items"
                " FROM retail.webhook_events e JOIN retail.import_jobs j ON j.webhook_event_id = e.id"
                " WHERE e.id = :event_id AND e.source = :source AND e.topic = :topic FOR UPDATE OF e, j"
            ),
            {"event_id": event_id, "source": SOURCE, "topic": TOPIC},
        ).one_or_none()
        if event is None:
            raise dg.Failure(
                f"webhook event {event_id} is not an {SOURCE} import event with an import job",
                allow_retries=False,
            )
        if event.status != "pending":
            context.log.info(f"webhook event {event_id} is already {event.status}: nothing to do")
            yield dg.Output(
                None,
                metadata={
                    "import_job_id": event.job_id,
                    "already_done": True,
                    "processed": event.processed_items,
                    "failed": event.failed_items,
                },
            )
            return

        try:
            items = batch_items(event.payload)
        except EnvelopeError as exc:  # the route refuses these; only a hand-made event gets here
            envelope_error = f"payload is not a product batch: {exc}"
            job = {
                "supplier_id": None,
                "status": "failed",
                "processed": 0,
                "failed": 0,
                "errors": [],
                "error": envelope_error,
            }
            _finish(conn, event_id, event.job_id, context.run_id, job, event_status="failed")
        else:
            envelope_error = None
            rows, errors = validate_batch(items)
            supplier_id = _ensure_supplier(conn, SOURCE)
            counts = upsert_supplier_products(conn, supplier_id, rows)
            all_invalid = bool(items) and not rows
            job = {
                "supplier_id": supplier_id,
                "status": "failed" if all_invalid else "completed",
                "processed": len(items),
                "failed": len(errors),
                "errors": errors,
                "error": f"all {len(items)} items were invalid" if all_invalid else None,
            }
            _finish(conn, event_id, event.job_id, context.run_id, job, event_status="processed")
    if envelope_error:  # raised after the commit, so the reason is kept
        raise dg.Failure(f"webhook event {event_id}: {envelope_error}", allow_retries=False)

    context.log.info(
        f"import job {event.job_id}: {len(rows)} valid ({counts.inserted} new, {counts.updated} changed),"
        f" {len(errors)} invalid"
    )
    yield dg.Output(
        None,
        metadata={
            "import_job_id": event.job_id,
            "items": len(items),
            "invalid": len(errors),
            "inserted": counts.inserted,
            "updated": counts.updated,
            "unchanged": counts.unchanged,
        },
    )


@dg.job(description="Import one webhook event's products (run_config names the event).")
def webhook_import_job():
    import_webhook_event()


def webhook_run_config(event_id: int) -> dict[str, Any]:
    return {"ops": {"import_webhook_event": {"config": {"webhook_event_id": event_id}}}}


webhook_import_sensor = queued_rows_sensor(
    name="webhook_import_sensor",
    job=webhook_import_job,
    queued=(
        "SELECT e.id, j.id AS job_id FROM retail.webhook_events e"
        " JOIN retail.import_jobs j ON j.webhook_event_id = e.id"
        " WHERE e.source = :source AND e.topic = :topic AND e.status = 'pending'"
    ),
    params={"source": SOURCE, "topic": TOPIC},
    run_key_prefix="webhook",
    run_config_for=lambda row: webhook_run_config(row.id),
    tags_for=lambda row: {"webhook_event_id": str(row.id), "import_job_id": str(row.job_id)},
    skip_reason="no new import events",
    minimum_interval_seconds=15,
    description="One run per pending import event (run_key ``webhook:<id>``), oldest first.",
)

"""``GET /ops/inbox`` (operator): what needs a person, one group per kind of trouble, each with its exact
count and its newest items (``?limit=``): commands that need a human, failed Dagster runs, orders
stopped on a failed acceptance or label, invalid drafts, remote listings waiting for adoption, every unresolved ops
task by kind, and customer messages waiting longer than ``INBOX_MESSAGE_WAIT_MINUTES`` (longest wait
first).

Every query is an index lookup bounded by what it reports (sql/003_ops_indexes.sql): partial indexes
over the rows needing attention and LIMITed item lists, so the answer stays fast with millions of
products and orders.
"""

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Annotated, Any, Generic, TypeVar

from fastapi import APIRouter, BackgroundTasks, Depends, Query, Request, Response
from pydantic import BaseModel, Field
from sqlalchemy import Connection, Engine, text

from retail_pipeline.api.auth import Operator
from retail_pipeline.api.coalesce import SingleFlight
from retail_pipeline.api.database import db_engine
from retail_pipeline.api.kpis import _compact_later
from retail_pipeline.settings import Settings

router = APIRouter(prefix="/ops", tags=["ops"])

DEFAULT_LIMIT = 20
MAX_LIMIT = 100
FAILED_RUN_WINDOW_HOURS = 7 * 24
UNRESOLVED = ("open", "acknowledged")
SNIPPET_CHARS = 280


# ------------------------------------------------------------------------------------------------
# Response shapes
# ------------------------------------------------------------------------------------------------

ItemT = TypeVar("ItemT")


class Group(BaseModel, Generic[ItemT]):
    count: int = Field(description="Exact number of rows in the group; items holds at most `limit` of them.")
    items: list[ItemT]


class CommandItem(BaseModel):
    id: int
    command_type: str
    channel: str | None
    error: str | None
    dry_run: bool
    requested_by: str | None
    run_id: str | None
    attempts: int
    created_at: datetime
    updated_at: datetime


class FailedRunItem(BaseModel):
    run_id: str
    job_name: str | None
    partition: str | None
    started_at: datetime | None
    failed_at: datetime | None
    error: str | None = Field(description="From the run_failure task the sensor recorded, when it has.")
    failed_steps: list[dict[str, Any]] | None
    task_id: int | None
    task_status: str | None


class FailedRuns(Group[FailedRunItem]):
    window_hours: int
    dagster_storage: bool = Field(description="False when the dagster schema has no runs table (yet).")


class OrderItem(BaseModel):
    id: int
    channel: str
    external_order_id: str
    status: str
    status_at: datetime
    reason: str | None = Field(description="The reason on the order's latest status row.")
    shipment_error: str | None
    currency: str
    total: Decimal
    placed_at: datetime
    shipping_deadline: datetime | None


class FailedOrders(Group[OrderItem]):
    by_status: dict[str, int]


class DraftItem(BaseModel):
    id: int
    product_id: int
    channel: str
    sku: str
    title: str
    validation_errors: list[Any]
    validated_at: datetime | None
    updated_at: datetime


class InvalidDrafts(Group[DraftItem]):
    by_channel: dict[str, int]


class TaskItem(BaseModel):
    id: int
    kind: str
    status: str
    severity: str
    title: str
    details: dict[str, Any]
    channel: str | None
    entity_type: str | None
    entity_id: str | None
    run_id: str | None
    occurrences: int
    created_at: datetime
    last_seen_at: datetime


class OpenTasks(Group[TaskItem]):
    by_kind: dict[str, int]


class ConversationItem(BaseModel):
    id: int
    channel: str
    external_thread_id: str
    subject: str | None
    order_id: int | None
    last_inbound_at: datetime
    last_outbound_at: datetime | None
    waiting_minutes: int
    last_message: str | None = Field(description=f"The customer's last message, first {SNIPPET_CHARS} chars.")


class WaitingMessages(Group[ConversationItem]):
    threshold_minutes: int


class Inbox(BaseModel):
    generated_at: datetime
    limit: int
    commands_human_required: Group[CommandItem]
    failed_runs: FailedRuns
    failed_orders: FailedOrders
    invalid_drafts: InvalidDrafts
    listing_adoptions: Group[TaskItem] = Field(
        description="Remote listings we did not make, waiting for adopt / create product / ignore."
    )
    open_tasks: OpenTasks = Field(description="Every unresolved (open or acknowledged) task, any kind.")
    messages_waiting: WaitingMessages


# ------------------------------------------------------------------------------------------------
# GET /ops/inbox
# ------------------------------------------------------------------------------------------------
# The whole inbox is ONE statement that PostgreSQL answers as JSON text: one round trip, one snapshot
# (the counts agree with each other), and no per-row work in Python, which on a busy two-core host is
# what the latency budget goes on. Each group below is one scalar subquery; items are chosen by the
# group's index (newest first, LIMIT) and then aggregated in that same order. Counts that a trigger
# can keep come from kpi_counts (the statement's `kpi` CTE), so they cost the same at any size.


def _items(select: str, order: str) -> str:
    """A JSON array of the rows of `select` (which carries its own ORDER BY ... LIMIT), in `order`."""
    return f"(SELECT coalesce(json_agg(i ORDER BY {order}), '[]') FROM ({select}) i)"


_HUMAN_COMMANDS_ITEMS = _items(
    """SELECT id, command_type, channel, error, dry_run, requested_by, run_id, attempts, created_at,
                  updated_at
             FROM retail.operator_commands WHERE status = 'human_required'
            ORDER BY created_at DESC, id DESC LIMIT :limit""",
    "i.created_at DESC, i.id DESC",
)
_HUMAN_COMMANDS = f"""
    SELECT json_build_object(
        'count', (SELECT coalesce(sum(n), 0) FROM kpi
                   WHERE metric = 'operator_commands' AND dim1 = 'human_required'),
        'items', {_HUMAN_COMMANDS_ITEMS})"""

# Dagster's own table and index: idx_run_range (status, update_timestamp) makes "failed since" a range
# scan whatever the run history's size. update_timestamp is naive UTC, as Dagster's own
# RunsFilter(updated_after=...) reads it; for a failed run it is when it failed. A run whose task an
# operator resolved or dismissed has been dealt with.
_FAILED_RUNS_WHERE = """
     WHERE r.status = 'FAILURE' AND r.update_timestamp >= :since
       AND NOT EXISTS (SELECT 1 FROM retail.ops_tasks d
                        WHERE d.kind = 'run_failure' AND d.dedupe_key = r.run_id
                          AND d.status IN ('resolved', 'dismissed'))"""
_FAILED_RUNS_ITEMS = _items(
    f"""SELECT r.run_id, r.pipeline_name AS job_name, r.partition, to_timestamp(r.start_time) AS started_at,
               coalesce(to_timestamp(r.end_time), r.update_timestamp AT TIME ZONE 'UTC') AS failed_at,
               t.details ->> 'error' AS error, t.details -> 'failed_steps' AS failed_steps,
               t.id AS task_id, t.status AS task_status
          FROM dagster.runs r
          LEFT JOIN LATERAL (SELECT id, status, details FROM retail.ops_tasks
                              WHERE kind = 'run_failure' AND dedupe_key = r.run_id
                              ORDER BY id DESC LIMIT 1) t ON true
          {_FAILED_RUNS_WHERE}
         ORDER BY r.update_timestamp DESC, r.run_id LIMIT :limit""",
    "i.failed_at DESC, i.run_id",
)
_FAILED_RUNS = f"""
    SELECT json_build_object(
        'count', (SELECT count(*) FROM dagster.runs r {_FAILED_RUNS_WHERE}),
        'window_hours', CAST(:failed_run_hours AS integer),
        'dagster_storage', true,
        'items', {_FAILED_RUNS_ITEMS})"""
_NO_DAGSTER_RUNS = """
    SELECT json_build_object('count', 0, 'window_hours', CAST(:failed_run_hours AS integer),
                             'dagster_storage', false, 'items', '[]'::json)"""

# orders_attention_idx: the partial index holds exactly these rows.
_FAILED_ORDERS_ITEMS = _items(
    """SELECT o.id, o.channel, o.external_order_id, o.current_status AS status,
                  o.current_status_at AS status_at, h.reason, s.error AS shipment_error, o.currency,
                  CAST(o.total AS text) AS total, o.placed_at, o.shipping_deadline
             FROM retail.orders o
             LEFT JOIN LATERAL (SELECT reason FROM retail.order_status_history
                                 WHERE order_id = o.id ORDER BY created_at DESC, id DESC LIMIT 1) h ON true
             LEFT JOIN retail.shipments s ON s.order_id = o.id
            WHERE o.current_status IN ('acceptance_failed', 'label_failed')
            ORDER BY o.current_status_at DESC, o.id DESC LIMIT :limit""",
    "i.status_at DESC, i.id DESC",
)
_FAILED_ORDERS = f"""
    SELECT json_build_object(
        'count', coalesce(sum(n), 0),
        'by_status', json_build_object(
            'acceptance_failed', coalesce(sum(n) FILTER (WHERE dim2 = 'acceptance_failed'), 0),
            'label_failed', coalesce(sum(n) FILTER (WHERE dim2 = 'label_failed'), 0)),
        'items', {_FAILED_ORDERS_ITEMS})
      FROM kpi WHERE metric = 'orders' AND dim2 IN ('acceptance_failed', 'label_failed')"""

_INVALID_DRAFTS_ITEMS = _items(
    """SELECT id, product_id, channel, sku, title, validation_errors, validated_at, updated_at
             FROM retail.listing_drafts WHERE status = 'invalid'
            ORDER BY updated_at DESC, id DESC LIMIT :limit""",
    "i.updated_at DESC, i.id DESC",
)
_INVALID_DRAFTS = f"""
    SELECT json_build_object(
        'count', coalesce(sum(n), 0),
        'by_channel', coalesce(json_object_agg(dim1, n ORDER BY dim1), '{{}}'),
        'items', {_INVALID_DRAFTS_ITEMS})
      FROM kpi WHERE metric = 'listing_drafts' AND dim2 = 'invalid'"""

_TASK_COLUMNS = """id, kind, status, severity, title, details, channel, entity_type, entity_id, run_id,
                  occurrences, created_at, last_seen_at"""
_LISTING_ADOPTIONS_ITEMS = _items(
    f"""SELECT {_TASK_COLUMNS} FROM retail.ops_tasks
            WHERE kind = 'listing_adoption' AND status IN ('open', 'acknowledged')
            ORDER BY created_at DESC, id DESC LIMIT :limit""",
    "i.created_at DESC, i.id DESC",
)
_LISTING_ADOPTIONS = f"""
    SELECT json_build_object(
        'count', (SELECT coalesce(sum(n), 0) FROM kpi
                   WHERE metric = 'ops_tasks' AND dim1 = 'listing_adoption'
                     AND dim2 IN ('open', 'acknowledged')),
        'items', {_LISTING_ADOPTIONS_ITEMS})"""

# The newest items per kind from ops_tasks_unresolved_idx, merged: one short index scan per kind that
# has any unresolved task.
_OPEN_TASKS_ITEMS = _items(
    f"""SELECT t.* FROM kinds k CROSS JOIN LATERAL (
                   SELECT {_TASK_COLUMNS} FROM retail.ops_tasks
                    WHERE kind = k.kind AND status IN ('open', 'acknowledged')
                    ORDER BY created_at DESC, id DESC LIMIT :limit) t
            ORDER BY t.created_at DESC, t.id DESC LIMIT :limit""",
    "i.created_at DESC, i.id DESC",
)
_OPEN_TASKS = f"""
    WITH kinds AS (SELECT dim1 AS kind, sum(n) AS n FROM kpi
                    WHERE metric = 'ops_tasks' AND dim2 IN ('open', 'acknowledged') GROUP BY dim1)
    SELECT json_build_object(
        'count', coalesce(sum(n), 0),
        'by_kind', coalesce(json_object_agg(kind, n ORDER BY kind), '{{}}'),
        'items', {_OPEN_TASKS_ITEMS})
      FROM kinds"""

# Written as conversations_awaiting_reply_idx's predicate, so the planner uses it. Longest wait first.
_AWAITING_REPLY = """c.status = 'open' AND c.last_inbound_at IS NOT NULL
                AND (c.last_outbound_at IS NULL OR c.last_outbound_at < c.last_inbound_at)
                AND c.last_inbound_at < :cutoff"""
_WAITING_ITEMS = _items(
    f"""SELECT c.id, c.channel, c.external_thread_id, c.subject, c.order_id, c.last_inbound_at,
                   c.last_outbound_at,
                   CAST(floor(extract(epoch FROM CAST(:now AS timestamptz) - c.last_inbound_at) / 60) AS integer)
                       AS waiting_minutes,
                   m.body AS last_message
              FROM retail.conversations c
              LEFT JOIN LATERAL (SELECT left(body, {SNIPPET_CHARS}) AS body FROM retail.messages
                                  WHERE conversation_id = c.id AND direction = 'inbound'
                                  ORDER BY created_at DESC LIMIT 1) m ON true
             WHERE {_AWAITING_REPLY}
             ORDER BY c.last_inbound_at, c.id LIMIT :limit""",
    "i.last_inbound_at, i.id",
)
_WAITING = f"""
    SELECT json_build_object(
        'count', (SELECT count(*) FROM retail.conversations c WHERE {_AWAITING_REPLY}),
        'threshold_minutes', CAST(:wait_minutes AS integer),
        'items', {_WAITING_ITEMS})"""


def _inbox_statement(failed_runs: str):
    return text(
        f"""
        WITH kpi AS MATERIALIZED (
            SELECT metric, dim1, dim2, sum(n) AS n FROM retail.kpi_counts
             WHERE metric IN ('operator_commands', 'orders', 'listing_drafts', 'ops_tasks')
             GROUP BY metric, dim1, dim2 HAVING sum(n) <> 0)
        SELECT CAST(json_build_object(
            'generated_at', CAST(:now AS timestamptz),
            'limit', CAST(:limit AS integer),
            'commands_human_required', ({_HUMAN_COMMANDS}),
            'failed_runs', ({failed_runs}),
            'failed_orders', ({_FAILED_ORDERS}),
            'invalid_drafts', ({_INVALID_DRAFTS}),
            'listing_adoptions', ({_LISTING_ADOPTIONS}),
            'open_tasks', ({_OPEN_TASKS}),
            'messages_waiting', ({_WAITING})) AS text) AS body,
            (SELECT count(*) FROM retail.kpi_counts) AS kpi_rows
        """
    )


INBOX = _inbox_statement(_FAILED_RUNS)
INBOX_WITHOUT_DAGSTER = _inbox_statement(_NO_DAGSTER_RUNS)  # before Dagster first created its tables
DAGSTER_RUNS_EXIST = text("SELECT to_regclass('dagster.runs') IS NOT NULL")
_dagster_seen: set[str] = set()  # databases whose dagster.runs exists (tables are never dropped)
# Concurrent identical requests share one statement (api/coalesce.py): the inbox is what every
# operator's screen polls at once.
_inbox_flights: SingleFlight[tuple[str, int]] = SingleFlight()


def build_inbox(
    conn: Connection,
    *,
    limit: int = DEFAULT_LIMIT,
    wait_minutes: int = 60,
    failed_run_hours: int = FAILED_RUN_WINDOW_HOURS,
    now: datetime | None = None,
) -> tuple[str, int]:
    """The inbox as JSON text in the ``Inbox`` shape (``Inbox.model_validate_json`` reads it), and how
    many delta rows kpi_counts holds (past ``KPI_COMPACT_AFTER_ROWS`` the caller compacts them)."""
    now = now or datetime.now(UTC)
    database = conn.engine.url.render_as_string()
    if database not in _dagster_seen and conn.scalar(DAGSTER_RUNS_EXIST):
        _dagster_seen.add(database)
    params = {
        "now": now,
        "limit": limit,
        "since": (now - timedelta(hours=failed_run_hours)).replace(tzinfo=None),  # naive UTC, as Dagster
        "failed_run_hours": failed_run_hours,
        "cutoff": now - timedelta(minutes=wait_minutes),
        "wait_minutes": wait_minutes,
    }
    row = conn.execute(INBOX if database in _dagster_seen else INBOX_WITHOUT_DAGSTER, params).one()
    return row.body, row.kpi_rows


def shared_inbox(
    engine: Engine,
    settings: Settings,
    *,
    limit: int = DEFAULT_LIMIT,
    failed_run_hours: int = FAILED_RUN_WINDOW_HOURS,
) -> tuple[str, int]:
    """`build_inbox` on its own connection; identical requests in flight at once (the JSON route and the
    console page alike) share one execution."""

    def answer() -> tuple[str, int]:
        with engine.connect() as conn:
            return build_inbox(
                conn, limit=limit, wait_minutes=settings.inbox_message_wait_minutes,
                failed_run_hours=failed_run_hours,
            )  # fmt: skip

    key = (str(engine.url), limit, failed_run_hours, settings.inbox_message_wait_minutes)
    return _inbox_flights.run(key, answer)


@router.get("/inbox", response_model=Inbox)
def inbox(
    request: Request,
    engine: Annotated[Engine, Depends(db_engine)],
    background: BackgroundTasks,
    _: Operator,
    limit: Annotated[
        int, Query(ge=1, le=MAX_LIMIT, description="Items per group, newest first.")
    ] = DEFAULT_LIMIT,
    failed_run_hours: Annotated[
        int, Query(ge=1, le=90 * 24, description="How far back failed runs are listed.")
    ] = FAILED_RUN_WINDOW_HOURS,
) -> Response:
    """What needs a person now, group by group: exact counts and the newest items of each."""
    settings: Settings = request.app.state.settings
    body, kpi_rows = shared_inbox(engine, settings, limit=limit, failed_run_hours=failed_run_hours)
    _compact_later(background, engine, kpi_rows)
    return Response(content=body, media_type="application/json")

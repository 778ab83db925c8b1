"""The ops inbox, the KPIs and the LLM's health: what needs a person, how the business stands.

- ``GET /ops/inbox`` (operator): one group per kind of trouble, each with its exact count and its
  newest items (``?limit=``): commands that need a human, failed Dagster runs, orders stopped on a
  failed acceptance or label, invalid drafts, unknown remote listings, every unresolved ops task by
  kind, and customer messages waiting longer than ``INBOX_MESSAGE_WAIT_MINUTES`` (longest wait first).
- ``POST /ops/tasks/{id}/resolve`` (operator): acknowledge, resolve or dismiss a task; audited.
- ``GET /ops/summary`` (viewer): commands, product vault, listings, orders, today's sales.
- ``GET /llm/health`` (operator): the configured LLM (never the key), a probe of its ``/models``,
  and what enrichment recently spent.

Every query is an index lookup bounded by what it reports (sql/003_ops_indexes.sql): partial indexes
over the rows needing attention, LIMITed item lists, and exact totals from ``retail.kpi_counts``
(trigger-kept deltas), so the answers stay fast with millions of products and orders.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Annotated, Any, Generic, Literal, TypeVar, get_args
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import httpx
from fastapi import APIRouter, BackgroundTasks, Body, Depends, HTTPException, Query, Request, Response, status
from pydantic import BaseModel, Field
from sqlalchemy import Connection, Engine, text

from retail_pipeline.api.auth import Principal, require_role
from retail_pipeline.api.coalesce import SingleFlight
from retail_pipeline.api.database import db_engine
from retail_pipeline.db import ops_tasks
from retail_pipeline.db.activity import log_activity
from retail_pipeline.domain.orders import OrderStatus
from retail_pipeline.integrations.llm import LLMSettings, resolve_endpoint
from retail_pipeline.settings import Settings

router = APIRouter(prefix="/ops", tags=["ops"])
llm_router = APIRouter(prefix="/llm", tags=["ops"])

Operator = Annotated[Principal, Depends(require_role("operator"))]
Viewer = Annotated[Principal, Depends(require_role("viewer"))]

DEFAULT_LIMIT = 20
MAX_LIMIT = 100
FAILED_RUN_WINDOW_HOURS = 7 * 24
ORDER_ATTENTION = ("acceptance_failed", "label_failed")  # spelled out again in orders_attention_idx
UNRESOLVED = ("open", "acknowledged")
SNIPPET_CHARS = 280
# More delta rows than this in retail.kpi_counts: fold them after answering.
KPI_COMPACT_AFTER_ROWS = 500
KPI_COMPACT_LOCK = 0x6B70_695F_636D  # "kpi_cm": one compaction at a time
LLM_PROBE_TIMEOUT_SECONDS = 3.0
OPENAI_API = "https://api.openai.com/v1"
UTC_ZONE = ZoneInfo("UTC")


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
    unknown_remote_listings: Group[TaskItem]
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
_UNKNOWN_LISTINGS_ITEMS = _items(
    f"""SELECT {_TASK_COLUMNS} FROM retail.ops_tasks
            WHERE kind = 'unknown_remote_listing' AND status IN ('open', 'acknowledged')
            ORDER BY created_at DESC, id DESC LIMIT :limit""",
    "i.created_at DESC, i.id DESC",
)
_UNKNOWN_LISTINGS = f"""
    SELECT json_build_object(
        'count', (SELECT coalesce(sum(n), 0) FROM kpi
                   WHERE metric = 'ops_tasks' AND dim1 = 'unknown_remote_listing'
                     AND dim2 IN ('open', 'acknowledged')),
        'items', {_UNKNOWN_LISTINGS_ITEMS})"""

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
            'unknown_remote_listings', ({_UNKNOWN_LISTINGS}),
            'open_tasks', ({_OPEN_TASKS}),
            'messages_waiting', ({_WAITING})) AS text) AS body,
            (SELECT count(*) FROM retail.kpi_counts) AS kpi_rows
        """
    )


INBOX = _inbox_statement(_FAILED_RUNS)
INBOX_WITHOUT_DAGSTER = _inbox_statement(_NO_DAGSTER_RUNS)  # before Dagster first created its tables
DAGSTER_RUNS_EXIST = text("SELECT to_regclass('dagster.runs') IS NOT NULL")
_dagster_seen: set[str] = set()  # databases whose dagster.runs exists (tables are never dropped)
# Concurrent identical requests share one statement (api/coalesce.py): the inbox and the KPIs are
# what every operator's screen polls at once.
_inbox_flights: SingleFlight[tuple[str, int]] = SingleFlight()
_summary_flights: SingleFlight[tuple[bytes, int]] = SingleFlight()


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

    def answer() -> tuple[str, int]:
        with engine.connect() as conn:
            return build_inbox(
                conn, limit=limit, wait_minutes=settings.inbox_message_wait_minutes,
                failed_run_hours=failed_run_hours,
            )  # fmt: skip

    key = (str(engine.url), limit, failed_run_hours, settings.inbox_message_wait_minutes)
    body, kpi_rows = _inbox_flights.run(key, answer)
    _compact_later(background, engine, kpi_rows)
    return Response(content=body, media_type="application/json")


# ------------------------------------------------------------------------------------------------
# POST /ops/tasks/{id}/resolve
# ------------------------------------------------------------------------------------------------

TaskAction = Literal["acknowledged", "resolved", "dismissed"]
CLOSED = ops_tasks.CLOSED


class TaskResolution(BaseModel):
    status: TaskAction = Field(
        default="resolved", description="acknowledged keeps it in the inbox as being looked at."
    )
    note: str | None = Field(default=None, max_length=2000)


class TaskResolved(BaseModel):
    task: TaskItem
    previous_status: str
    changed: bool = Field(description="False when the task already had this status: nothing was written.")
    resolved_at: datetime | None
    resolved_by: str | None


TASK_FOR_UPDATE = text(
    f"SELECT {_TASK_COLUMNS}, resolved_at, resolved_by FROM retail.ops_tasks WHERE id = :id FOR UPDATE"
)


def _task_resolved(row: dict[str, Any], previous: str, changed: bool) -> TaskResolved:
    resolved_at, resolved_by = row.pop("resolved_at"), row.pop("resolved_by")
    return TaskResolved(
        task=TaskItem(**row),
        previous_status=previous,
        changed=changed,
        resolved_at=resolved_at,
        resolved_by=resolved_by,
    )


@router.post("/tasks/{task_id}/resolve")
def resolve_task(
    task_id: int,
    engine: Annotated[Engine, Depends(db_engine)],
    principal: Operator,
    resolution: Annotated[TaskResolution | None, Body()] = None,
) -> TaskResolved:
    """Acknowledge, resolve or dismiss one ops task, recorded in activity_log. Asking for the status it
    already has changes nothing; a resolved or dismissed task cannot move again (409)."""
    resolution = resolution or TaskResolution()
    actor = f"api_key:{principal.key_prefix}"
    with engine.begin() as conn:
        row = conn.execute(TASK_FOR_UPDATE, {"id": task_id}).mappings().one_or_none()
        if row is None:
            raise HTTPException(status.HTTP_404_NOT_FOUND, detail=f"no ops task with id {task_id}")
        current = dict(row)
        if current["status"] == resolution.status:
            return _task_resolved(current, current["status"], changed=False)
        if current["status"] in CLOSED:
            raise HTTPException(
                status.HTTP_409_CONFLICT,
                detail=f"ops task {task_id} is already {current['status']}; it cannot become {resolution.status}",
            )
        updated = dict(ops_tasks.set_task_status(conn, task_id, resolution.status, by=actor))
        action = {"acknowledged": "acknowledge", "resolved": "resolve", "dismissed": "dismiss"}[
            resolution.status
        ]
        details = {
            "kind": current["kind"],
            "from": current["status"],
            "to": resolution.status,
            "note": resolution.note,
        }
        log_activity(
            conn,
            actor=actor,
            action=f"ops_task.{action}",
            outcome="succeeded",
            channel=current["channel"],
            entity_type="ops_task",
            entity_id=task_id,
            details=details,
        )
    return _task_resolved(updated, current["status"], changed=True)


# ------------------------------------------------------------------------------------------------
# GET /ops/summary
# ------------------------------------------------------------------------------------------------

COMMAND_STATUSES = ("queued", "running", "succeeded", "failed", "human_required")
PRODUCT_STATUSES = ("enriched", "failed", "blocked")
LISTING_STATES = ("pending", "live", "withdrawn", "sold", "ended", "failed")
ORDER_STATUSES = get_args(OrderStatus)
NO_STATUS = "none"  # an order with no status row yet (kpi_counts' spelling of NULL)


class Tally(BaseModel):
    total: int
    by_status: dict[str, int]


class CrossTally(Tally):
    by_channel: dict[str, dict[str, int]] = Field(description="channel -> status -> count, non-zero only.")


class ProductVault(BaseModel):
    supplier_products: int
    supplier_products_active: int = Field(description="Still listed by their supplier (not removed).")
    products: Tally = Field(description="Enriched products by enrichment status.")
    validation: dict[str, int] = Field(description="LaunchLock verdicts: passed / failed.")


class CurrencySales(BaseModel):
    orders: int
    total: Decimal


class SalesToday(BaseModel):
    date: str
    timezone: str
    orders: int
    by_currency: dict[str, CurrencySales]


class Summary(BaseModel):
    generated_at: datetime
    commands: Tally
    product_vault: ProductVault
    listings: CrossTally = Field(description="Channel listings by actual_state.")
    orders: CrossTally = Field(description="Orders by current_status.")
    sales_today: SalesToday = Field(description="Orders placed today (any status), per currency.")


# One statement, so the counters and today's sales come from one snapshot; sales from orders_placed_idx.
SUMMARY = text(
    """
    SELECT (SELECT coalesce(json_agg(k), '[]') FROM (
                SELECT metric, dim1, dim2, CAST(sum(n) AS bigint) AS n, count(*) AS deltas
                  FROM retail.kpi_counts GROUP BY metric, dim1, dim2) k) AS counts,
           (SELECT coalesce(json_agg(s ORDER BY s.currency), '[]') FROM (
                SELECT CAST(currency AS text) AS currency, count(*) AS orders, CAST(sum(total) AS text) AS total
                  FROM retail.orders WHERE placed_at >= :start AND placed_at < :end
                 GROUP BY currency) s) AS sales
    """
)
COMPACT_KPI_COUNTS = text(
    "SELECT CASE WHEN pg_try_advisory_xact_lock(:lock) THEN retail.compact_kpi_counts() END"
)


def _tally(counts: dict[str, int], known: tuple[str, ...]) -> Tally:
    return Tally(total=sum(counts.values()), by_status={**dict.fromkeys(known, 0), **counts})


def _cross(cells: dict[tuple[str, str], int], known: tuple[str, ...]) -> CrossTally:
    by_status: dict[str, int] = {}
    by_channel: dict[str, dict[str, int]] = {}
    for (channel, state), n in sorted(cells.items()):
        if n:
            by_status[state] = by_status.get(state, 0) + n
            by_channel.setdefault(channel, {})[state] = n
    tally = _tally(by_status, known)
    return CrossTally(total=tally.total, by_status=tally.by_status, by_channel=by_channel)


def _today(tz: ZoneInfo, now: datetime) -> tuple[datetime, datetime]:
    start = now.astimezone(tz).replace(hour=0, minute=0, second=0, microsecond=0)
    return start, start + timedelta(days=1)  # wall-clock arithmetic: a 23 or 25 h day is still one day


def build_summary(
    conn: Connection, *, tz: ZoneInfo = UTC_ZONE, now: datetime | None = None
) -> tuple[Summary, int]:
    """The summary and how many delta rows kpi_counts held (the caller compacts past a threshold)."""
    now = now or datetime.now(UTC)
    start, end = _today(tz, now)
    row = conn.execute(SUMMARY, {"start": start, "end": end}).one()
    counts: dict[str, dict[tuple[str, str], int]] = {}
    deltas = 0
    for cell in row.counts:
        counts.setdefault(cell["metric"], {})[(cell["dim1"], cell["dim2"])] = cell["n"]
        deltas += cell["deltas"]
    sales = row.sales

    def flat(metric: str) -> dict[str, int]:
        return {dim1: n for (dim1, _), n in counts.get(metric, {}).items() if n}

    supplier_products = flat("supplier_products")
    summary = Summary(
        generated_at=now,
        commands=_tally(flat("operator_commands"), COMMAND_STATUSES),
        product_vault=ProductVault(
            supplier_products=sum(supplier_products.values()),
            supplier_products_active=supplier_products.get("active", 0),
            products=_tally(flat("products"), PRODUCT_STATUSES),
            validation={"passed": 0, "failed": 0, **flat("validation_results")},
        ),
        listings=_cross(counts.get("channel_listings", {}), LISTING_STATES),
        orders=_cross(counts.get("orders", {}), ORDER_STATUSES),
        sales_today=SalesToday(
            date=start.date().isoformat(),
            timezone=tz.key,
            orders=sum(r["orders"] for r in sales),
            by_currency={
                r["currency"]: CurrencySales(orders=r["orders"], total=Decimal(r["total"])) for r in sales
            },
        ),
    )
    return summary, deltas


def _compact_later(background: BackgroundTasks, engine: Engine, kpi_rows: int) -> None:
    # Whoever reads the counters folds them: after the response is sent, so no caller waits for it.
    if kpi_rows > KPI_COMPACT_AFTER_ROWS:
        background.add_task(compact_kpi_counts, engine)


def compact_kpi_counts(engine: Engine) -> int | None:
    """Fold kpi_counts' deltas (None when another compaction holds the lock)."""
    with engine.begin() as conn:
        return conn.scalar(COMPACT_KPI_COUNTS, {"lock": KPI_COMPACT_LOCK})


@router.get("/summary", response_model=Summary)
def summary(
    engine: Annotated[Engine, Depends(db_engine)],
    background: BackgroundTasks,
    _: Viewer,
    tz: Annotated[str, Query(description="IANA time zone that decides when 'today' starts.")] = "UTC",
) -> Response:
    """Exact KPIs: commands, product vault, listings and orders by status and channel, today's sales."""
    try:
        zone = ZoneInfo(tz)
    except (ZoneInfoNotFoundError, ValueError):
        raise HTTPException(
            status.HTTP_422_UNPROCESSABLE_CONTENT,
            detail=f"unknown time zone {tz!r}; use an IANA name such as Pacific/Auckland",
        ) from None

    def answer() -> tuple[bytes, int]:
        with engine.connect() as conn:
            result, deltas = build_summary(conn, tz=zone)
        return result.model_dump_json().encode(), deltas

    body, deltas = _summary_flights.run((str(engine.url), tz), answer)
    _compact_later(background, engine, deltas)
    return Response(content=body, media_type="application/json")


# ------------------------------------------------------------------------------------------------
# GET /llm/health
# ------------------------------------------------------------------------------------------------


class LLMConfig(BaseModel):
    mode: str
    enricher: Literal["llm", "offline"]
    base_url: str | None
    model: str | None
    api_key_configured: bool
    timeout_seconds: float


class LLMProbe(BaseModel):
    ok: bool
    url: str | None
    status_code: int | None = None
    latency_ms: float | None = None
    model_listed: bool | None = Field(default=None, description="Whether /models lists the configured model.")
    error: str | None = None


class EnrichmentStats(BaseModel):
    window_hours: int
    products: int
    enriched: int
    failed: int
    blocked: int
    llm_products: int
    llm_calls: int = Field(description="Requests spent on those products (llm_attempts).")
    prompt_tokens: int
    completion_tokens: int
    by_model: dict[str, int]


class LLMHealth(BaseModel):
    status: Literal["ok", "degraded", "offline"]
    config: LLMConfig
    probe: LLMProbe
    enrichment: EnrichmentStats


ENRICHMENT_STATS = text(
    """
    SELECT coalesce(model, '(offline)') AS model, count(*) AS products,
           count(*) FILTER (WHERE status = 'enriched') AS enriched,
           count(*) FILTER (WHERE status = 'failed') AS failed,
           count(*) FILTER (WHERE status = 'blocked') AS blocked,
           count(*) FILTER (WHERE enricher = 'llm') AS llm_products,
           coalesce(sum(llm_attempts), 0) AS llm_calls,
           coalesce(sum(prompt_tokens), 0) AS prompt_tokens,
           coalesce(sum(completion_tokens), 0) AS completion_tokens
      FROM retail.products
     WHERE enriched_at >= :since
     GROUP BY coalesce(model, '(offline)')
    """
)


def _redact(message: str, secret: str | None) -> str:
    return message.replace(secret, "***") if secret else message


def probe_llm(
    base_url: str, api_key: str | None, model: str, timeout: float = LLM_PROBE_TIMEOUT_SECONDS
) -> LLMProbe:
    """GET {base_url}/models: reachable, authorised, and does it know our model? Never raises."""
    url = f"{base_url.rstrip('/')}/models"
    headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
    started = time.perf_counter()
    try:
        response = httpx.get(url, headers=headers, timeout=timeout)
    except httpx.HTTPError as exc:
        latency = round((time.perf_counter() - started) * 1000, 1)
        return LLMProbe(
            ok=False, url=url, latency_ms=latency, error=_redact(f"{type(exc).__name__}: {exc}", api_key)
        )
    latency = round((time.perf_counter() - started) * 1000, 1)
    if response.status_code != 200:
        try:
            detail = response.json()["error"]["message"]  # OpenAI's error body
        except (ValueError, KeyError, TypeError):
            detail = response.text[:200]
        return LLMProbe(
            ok=False,
            url=url,
            status_code=response.status_code,
            latency_ms=latency,
            error=_redact(f"HTTP {response.status_code}: {detail}", api_key),
        )
    try:
        listed = any(m.get("id") == model for m in response.json().get("data", []))
    except (ValueError, AttributeError):
        return LLMProbe(
            ok=False,
            url=url,
            status_code=200,
            latency_ms=latency,
            error="the /models answer is not OpenAI's list shape",
        )
    return LLMProbe(ok=True, url=url, status_code=200, latency_ms=latency, model_listed=listed)


@llm_router.get("/health")
def llm_health(
    request: Request,
    engine: Annotated[Engine, Depends(db_engine)],
    _: Operator,
    hours: Annotated[int, Query(ge=1, le=30 * 24, description="Enrichment stats window.")] = 24,
) -> LLMHealth:
    """The LLM as configured (LLM_*; never the key), a short probe of its /models, and what
    enrichment spent in the last ``hours``."""
    settings: Settings = request.app.state.settings
    env = LLMSettings()
    api_key = env.api_key.get_secret_value() if env.api_key else None
    try:
        endpoint = resolve_endpoint(
            env.mode,
            env.base_url,
            api_key,
            use_simulators=settings.use_simulators,
            simulator_url=settings.simulator_url,
        )
        config_error = None
    except ValueError as exc:  # LLM_MODE=llm with nothing to call
        endpoint, config_error = None, str(exc)
    base_url = (endpoint.base_url or OPENAI_API) if endpoint else None
    config = LLMConfig(
        mode=env.mode.value,
        enricher="llm" if endpoint else "offline",
        base_url=base_url,
        model=env.model if endpoint else None,
        api_key_configured=api_key is not None,
        timeout_seconds=env.timeout_seconds,
    )
    if config_error:
        probe = LLMProbe(ok=False, url=None, error=config_error)
    elif endpoint is None:
        probe = LLMProbe(ok=True, url=None, error=None)
    else:
        probe = probe_llm(base_url, endpoint.api_key, env.model)

    with engine.connect() as conn:
        rows = conn.execute(ENRICHMENT_STATS, {"since": datetime.now(UTC) - timedelta(hours=hours)}).all()
    fields = (
        "products",
        "enriched",
        "failed",
        "blocked",
        "llm_products",
        "llm_calls",
        "prompt_tokens",
        "completion_tokens",
    )
    stats = EnrichmentStats(
        window_hours=hours,
        **{f: sum(getattr(r, f) for r in rows) for f in fields},
        by_model={r.model: r.products for r in rows},
    )
    state = "offline" if endpoint is None and not config_error else ("ok" if probe.ok else "degraded")
    return LLMHealth(status=state, config=config, probe=probe, enrichment=stats)

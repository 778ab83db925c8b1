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

import json
import time
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Annotated, Any, Generic, Literal, TypeVar, get_args
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import httpx
from fastapi import APIRouter, BackgroundTasks, Body, Depends, HTTPException, Query, Request, status
from pydantic import BaseModel, Field
from sqlalchemy import Connection, Engine, text

from retail_pipeline.api.auth import Principal, require_role
from retail_pipeline.api.database import db_engine
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

HUMAN_COMMANDS_COUNT = text("SELECT count(*) FROM retail.operator_commands WHERE status = 'human_required'")
HUMAN_COMMANDS = text(
    """
    SELECT id, command_type, channel, error, dry_run, requested_by, run_id, attempts, created_at, updated_at
      FROM retail.operator_commands
     WHERE status = 'human_required'
     ORDER BY created_at DESC, id DESC
     LIMIT :limit
    """
)

DAGSTER_RUNS_EXIST = text("SELECT to_regclass('dagster.runs') IS NOT NULL")
# Dagster's own table (idx_run_status); end_time is a unix timestamp, the one time it stores unambiguously.
# A run whose task an operator resolved or dismissed has been dealt with.
_FAILED_RUNS_WHERE = """
     WHERE r.status = 'FAILURE' AND r.end_time >= :since
       AND NOT EXISTS (SELECT 1 FROM retail.ops_tasks d
                        WHERE d.kind = 'run_failure' AND d.dedupe_key = r.run_id
                          AND d.status IN ('resolved', 'dismissed'))"""
FAILED_RUNS_COUNT = text(f"SELECT count(*) FROM dagster.runs r {_FAILED_RUNS_WHERE}")
FAILED_RUNS = text(
    f"""
    SELECT r.run_id, r.pipeline_name AS job_name, r.partition,
           to_timestamp(r.start_time) AS started_at, to_timestamp(r.end_time) AS failed_at,
           t.details ->> 'error' AS error, t.details -> 'failed_steps' AS failed_steps,
           t.id AS task_id, t.status AS task_status
      FROM dagster.runs r
      LEFT JOIN LATERAL (SELECT id, status, details FROM retail.ops_tasks
                          WHERE kind = 'run_failure' AND dedupe_key = r.run_id
                          ORDER BY id DESC LIMIT 1) t ON true
      {_FAILED_RUNS_WHERE}
     ORDER BY r.end_time DESC, r.id DESC
     LIMIT :limit
    """
)

FAILED_ORDER_COUNTS = text(
    """
    SELECT current_status AS key, count(*) AS n FROM retail.orders
     WHERE current_status IN ('acceptance_failed', 'label_failed')
     GROUP BY current_status
    """
)
FAILED_ORDERS = text(
    """
    SELECT o.id, o.channel, o.external_order_id, o.current_status AS status, o.current_status_at AS status_at,
           h.reason, s.error AS shipment_error, o.currency, o.total, o.placed_at, o.shipping_deadline
      FROM retail.orders o
      LEFT JOIN LATERAL (SELECT reason FROM retail.order_status_history
                          WHERE order_id = o.id ORDER BY created_at DESC, id DESC LIMIT 1) h ON true
      LEFT JOIN retail.shipments s ON s.order_id = o.id
     WHERE o.current_status IN ('acceptance_failed', 'label_failed')
     ORDER BY o.current_status_at DESC, o.id DESC
     LIMIT :limit
    """
)

INVALID_DRAFT_COUNTS = text(
    "SELECT channel AS key, count(*) AS n FROM retail.listing_drafts WHERE status = 'invalid' GROUP BY channel"
)
INVALID_DRAFTS = text(
    """
    SELECT id, product_id, channel, sku, title, validation_errors, validated_at, updated_at
      FROM retail.listing_drafts
     WHERE status = 'invalid'
     ORDER BY updated_at DESC, id DESC
     LIMIT :limit
    """
)

_TASK_COLUMNS = """id, kind, status, severity, title, details, channel, entity_type, entity_id, run_id,
           occurrences, created_at, last_seen_at"""
# From ops_tasks_open_key (001): index-only over unresolved tasks.
OPEN_TASK_COUNTS = text(
    "SELECT kind AS key, count(*) AS n FROM retail.ops_tasks"
    " WHERE status IN ('open', 'acknowledged') GROUP BY kind"
)
# The newest per kind (ops_tasks_unresolved_idx), merged: a few short index scans, whatever the kinds.
OPEN_TASKS = text(
    f"""
    SELECT t.* FROM unnest(CAST(:kinds AS text[])) AS k(kind)
     CROSS JOIN LATERAL (
           SELECT {_TASK_COLUMNS}
             FROM retail.ops_tasks
            WHERE kind = k.kind AND status IN ('open', 'acknowledged')
            ORDER BY created_at DESC, id DESC
            LIMIT :limit) t
     ORDER BY t.created_at DESC, t.id DESC
     LIMIT :limit
    """
)

# Written as conversations_awaiting_reply_idx's predicate, so the planner uses it.
_AWAITING_REPLY = """c.status = 'open' AND c.last_inbound_at IS NOT NULL
       AND (c.last_outbound_at IS NULL OR c.last_outbound_at < c.last_inbound_at)
       AND c.last_inbound_at < :cutoff"""
WAITING_COUNT = text(f"SELECT count(*) FROM retail.conversations c WHERE {_AWAITING_REPLY}")
WAITING = text(
    f"""
    SELECT c.id, c.channel, c.external_thread_id, c.subject, c.order_id, c.last_inbound_at,
           c.last_outbound_at, m.body AS last_message
      FROM retail.conversations c
      LEFT JOIN LATERAL (SELECT left(body, {SNIPPET_CHARS}) AS body FROM retail.messages
                          WHERE conversation_id = c.id AND direction = 'inbound'
                          ORDER BY created_at DESC LIMIT 1) m ON true
     WHERE {_AWAITING_REPLY}
     ORDER BY c.last_inbound_at, c.id
     LIMIT :limit
    """
)


def _rows(conn: Connection, statement, **params: Any) -> list[dict[str, Any]]:
    return [dict(row._mapping) for row in conn.execute(statement, params)]


def _counts(conn: Connection, statement) -> dict[str, int]:
    return {row.key: row.n for row in conn.execute(statement)}


def _failed_runs(conn: Connection, now: datetime, hours: int, limit: int) -> FailedRuns:
    if not conn.scalar(DAGSTER_RUNS_EXIST):
        return FailedRuns(count=0, items=[], window_hours=hours, dagster_storage=False)
    params = {"since": (now - timedelta(hours=hours)).timestamp(), "limit": limit}
    return FailedRuns(
        count=conn.scalar(FAILED_RUNS_COUNT, params),
        items=_rows(conn, FAILED_RUNS, **params),
        window_hours=hours,
        dagster_storage=True,
    )


def _open_tasks(conn: Connection, kind: str | None, limit: int) -> OpenTasks:
    by_kind = _counts(conn, OPEN_TASK_COUNTS)
    kinds = [kind] if kind else sorted(by_kind)
    items = _rows(conn, OPEN_TASKS, kinds=kinds, limit=limit) if any(by_kind.get(k) for k in kinds) else []
    return OpenTasks(count=sum(by_kind.get(k, 0) for k in kinds), items=items, by_kind=by_kind)


def _waiting(conn: Connection, now: datetime, minutes: int, limit: int) -> WaitingMessages:
    params = {"cutoff": now - timedelta(minutes=minutes), "limit": limit}
    items = [
        ConversationItem(**row, waiting_minutes=int((now - row["last_inbound_at"]).total_seconds() // 60))
        for row in _rows(conn, WAITING, **params)
    ]
    return WaitingMessages(count=conn.scalar(WAITING_COUNT, params), items=items, threshold_minutes=minutes)


def build_inbox(
    conn: Connection,
    *,
    limit: int = DEFAULT_LIMIT,
    wait_minutes: int = 60,
    failed_run_hours: int = FAILED_RUN_WINDOW_HOURS,
    now: datetime | None = None,
) -> Inbox:
    """Every inbox group, read in one REPEATABLE READ transaction so the counts agree with each other."""
    now = now or datetime.now(UTC)
    failed_by_status = _counts(conn, FAILED_ORDER_COUNTS)
    drafts_by_channel = _counts(conn, INVALID_DRAFT_COUNTS)
    unknown = _open_tasks(conn, "unknown_remote_listing", limit)
    return Inbox(
        generated_at=now,
        limit=limit,
        commands_human_required=Group[CommandItem](
            count=conn.scalar(HUMAN_COMMANDS_COUNT), items=_rows(conn, HUMAN_COMMANDS, limit=limit)
        ),
        failed_runs=_failed_runs(conn, now, failed_run_hours, limit),
        failed_orders=FailedOrders(
            count=sum(failed_by_status.values()),
            items=_rows(conn, FAILED_ORDERS, limit=limit) if failed_by_status else [],
            by_status={s: failed_by_status.get(s, 0) for s in ORDER_ATTENTION},
        ),
        invalid_drafts=InvalidDrafts(
            count=sum(drafts_by_channel.values()),
            items=_rows(conn, INVALID_DRAFTS, limit=limit) if drafts_by_channel else [],
            by_channel=drafts_by_channel,
        ),
        unknown_remote_listings=Group[TaskItem](count=unknown.count, items=unknown.items),
        open_tasks=_open_tasks(conn, None, limit),
        messages_waiting=_waiting(conn, now, wait_minutes, limit),
    )


@router.get("/inbox")
def inbox(
    request: Request,
    engine: Annotated[Engine, Depends(db_engine)],
    _: Operator,
    limit: Annotated[
        int, Query(ge=1, le=MAX_LIMIT, description="Items per group, newest first.")
    ] = DEFAULT_LIMIT,
    failed_run_hours: Annotated[
        int, Query(ge=1, le=90 * 24, description="How far back failed runs are listed.")
    ] = FAILED_RUN_WINDOW_HOURS,
) -> Inbox:
    """What needs a person now, group by group: exact counts and the newest items of each."""
    settings: Settings = request.app.state.settings
    with engine.connect().execution_options(isolation_level="REPEATABLE READ") as conn:
        return build_inbox(
            conn,
            limit=limit,
            wait_minutes=settings.inbox_message_wait_minutes,
            failed_run_hours=failed_run_hours,
        )


# ------------------------------------------------------------------------------------------------
# POST /ops/tasks/{id}/resolve
# ------------------------------------------------------------------------------------------------

TaskAction = Literal["acknowledged", "resolved", "dismissed"]
CLOSED = ("resolved", "dismissed")


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
SET_TASK_STATUS = text(
    f"""
    UPDATE retail.ops_tasks
       SET status = :status,
           resolved_at = CASE WHEN :status IN ('resolved', 'dismissed') THEN now() END,
           resolved_by = CASE WHEN :status IN ('resolved', 'dismissed') THEN :actor END
     WHERE id = :id
    RETURNING {_TASK_COLUMNS}, resolved_at, resolved_by
    """
)
LOG_ACTIVITY = text(
    """
    INSERT INTO retail.activity_log (actor, action, outcome, channel, entity_type, entity_id, details)
    VALUES (:actor, :action, 'succeeded', :channel, 'ops_task', :entity_id, CAST(:details AS jsonb))
    """
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
        updated = dict(
            conn.execute(SET_TASK_STATUS, {"id": task_id, "status": resolution.status, "actor": actor})
            .mappings()
            .one()
        )
        action = {"acknowledged": "acknowledge", "resolved": "resolve", "dismissed": "dismiss"}[
            resolution.status
        ]
        details = {
            "kind": current["kind"],
            "from": current["status"],
            "to": resolution.status,
            "note": resolution.note,
        }
        conn.execute(
            LOG_ACTIVITY,
            {
                "actor": actor,
                "action": f"ops_task.{action}",
                "channel": current["channel"],
                "entity_id": str(task_id),
                "details": json.dumps(details),
            },
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


KPI_COUNTS = text(
    "SELECT metric, dim1, dim2, sum(n)::bigint AS n, count(*) AS deltas"
    " FROM retail.kpi_counts GROUP BY metric, dim1, dim2"
)
SALES = text(
    """
    SELECT currency, count(*) AS orders, sum(total) AS total FROM retail.orders
     WHERE placed_at >= :start AND placed_at < :end
     GROUP BY currency ORDER BY currency
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
    counts: dict[str, dict[tuple[str, str], int]] = {}
    deltas = 0
    for row in conn.execute(KPI_COUNTS):
        counts.setdefault(row.metric, {})[(row.dim1, row.dim2)] = row.n
        deltas += row.deltas

    def flat(metric: str) -> dict[str, int]:
        return {dim1: n for (dim1, _), n in counts.get(metric, {}).items() if n}

    supplier_products = flat("supplier_products")
    start, end = _today(tz, now)
    sales = conn.execute(SALES, {"start": start, "end": end}).all()
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
            orders=sum(r.orders for r in sales),
            by_currency={r.currency: CurrencySales(orders=r.orders, total=r.total) for r in sales},
        ),
    )
    return summary, deltas


def compact_kpi_counts(engine: Engine) -> int | None:
    """Fold kpi_counts' deltas (None when another compaction holds the lock)."""
    with engine.begin() as conn:
        return conn.scalar(COMPACT_KPI_COUNTS, {"lock": KPI_COMPACT_LOCK})


@router.get("/summary")
def summary(
    engine: Annotated[Engine, Depends(db_engine)],
    background: BackgroundTasks,
    _: Viewer,
    tz: Annotated[str, Query(description="IANA time zone that decides when 'today' starts.")] = "UTC",
) -> Summary:
    """Exact KPIs: commands, product vault, listings and orders by status and channel, today's sales."""
    try:
        zone = ZoneInfo(tz)
    except (ZoneInfoNotFoundError, ValueError):
        raise HTTPException(
            status.HTTP_422_UNPROCESSABLE_CONTENT,
            detail=f"unknown time zone {tz!r}; use an IANA name such as Pacific/Auckland",
        ) from None
    with engine.connect().execution_options(isolation_level="REPEATABLE READ") as conn:
        result, deltas = build_summary(conn, tz=zone)
    if deltas > KPI_COMPACT_AFTER_ROWS:  # after the response is sent: no caller waits for it
        background.add_task(compact_kpi_counts, engine)
    return result


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

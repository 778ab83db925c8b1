"""``GET /api/kpis/home`` (viewer): what the console's Home page shows, as numbers.

Orders and revenue per day per channel, order-to-shipped time (p50/p95), live listings per channel, open
tasks by kind, LLM tokens and estimated spend, over the last ``days`` days (UTC). The Home page renders
``build_home_kpis``'s answer as charts; this route returns it as JSON (one implementation).

One statement, one snapshot, whose cost does not grow with the tables (sql/009_console_events.sql):
orders, revenue and LLM usage per day are trigger-kept sums in ``retail.kpi_daily``; placed-to-shipped
times are one index-only scan of the window's shipments (``shipments_shipped_idx`` carries each
order's placed_at); listings and tasks are ``retail.kpi_counts`` counters.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Annotated

from fastapi import APIRouter, BackgroundTasks, Depends, Query, Request, Response
from pydantic import BaseModel, Field
from sqlalchemy import Connection, Engine, text

from retail_pipeline.api.auth import Viewer
from retail_pipeline.api.coalesce import SingleFlight
from retail_pipeline.api.database import db_engine
from retail_pipeline.settings import Settings

router = APIRouter(prefix="/api/kpis", tags=["ops"])

DEFAULT_DAYS = 14
MAX_DAYS = 90
# Orders waiting for the warehouse or the carrier: bought, not yet handed over.
AWAITING_SHIPMENT = ("accepted", "label_created", "packed")


class DayOrders(BaseModel):
    day: date
    by_channel: dict[str, int]
    revenue: dict[str, Decimal] = Field(description="currency -> sum of order totals placed that day")


class FulfilmentDay(BaseModel):
    day: date
    shipped: int
    p50_hours: float | None
    p95_hours: float | None


class Fulfilment(BaseModel):
    shipped: int
    p50_hours: float | None = Field(description="Median hours from order placed to shipped, in the window.")
    p95_hours: float | None
    by_day: list[FulfilmentDay]


class LlmDay(BaseModel):
    day: date
    products: int
    calls: int
    prompt_tokens: int
    completion_tokens: int
    spend_usd: Decimal


class LlmUsage(BaseModel):
    products: int
    calls: int
    prompt_tokens: int
    completion_tokens: int
    spend_usd: Decimal = Field(description="Estimate: tokens x LLM_USD_PER_MILLION_*_TOKENS.")
    by_day: list[LlmDay]


class HomeKpis(BaseModel):
    generated_at: datetime
    days: list[date]
    channels: list[str] = Field(description="Channels with orders or listings, in a stable order.")
    orders_total: int
    orders_today: int
    revenue: dict[str, Decimal] = Field(description="currency -> total in the window")
    orders_by_day: list[DayOrders]
    awaiting_shipment: int
    fulfilment: Fulfilment
    live_listings: dict[str, int]
    open_tasks: dict[str, int] = Field(description="kind -> unresolved (open or acknowledged) tasks")
    llm: LlmUsage


HOME = text(
    """
    WITH kpi AS MATERIALIZED (
        SELECT metric, dim1, dim2, sum(n) AS n FROM retail.kpi_counts
         WHERE metric IN ('channel_listings', 'ops_tasks', 'orders')
         GROUP BY metric, dim1, dim2 HAVING sum(n) <> 0),
    daily AS MATERIALIZED (
        SELECT metric, day, dim, sum(n) AS n, count(*) AS deltas FROM retail.kpi_daily
         WHERE metric IN ('orders', 'revenue', 'llm_products', 'llm_calls', 'llm_prompt_tokens',
                          'llm_completion_tokens')
           AND day >= :since_day
         GROUP BY metric, day, dim)
    SELECT
      (SELECT coalesce(json_agg(d), '[]') FROM (
          SELECT metric, day, dim, CAST(n AS text) AS n FROM daily WHERE n <> 0) d) AS daily,
      (SELECT coalesce(sum(deltas), 0) FROM daily) AS daily_rows,
      (SELECT coalesce(json_agg(f), '[]') FROM (
          SELECT CAST(date_trunc('day', shipped_at AT TIME ZONE 'UTC') AS date) AS day, count(*) AS shipped,
                 percentile_cont(0.5) WITHIN GROUP (ORDER BY extract(epoch FROM shipped_at - order_placed_at))
                     / 3600 AS p50_hours,
                 percentile_cont(0.95) WITHIN GROUP (ORDER BY extract(epoch FROM shipped_at - order_placed_at))
                     / 3600 AS p95_hours
            FROM retail.shipments
           WHERE shipped_at >= :since AND shipped_at IS NOT NULL
           GROUP BY GROUPING SETS ((1), ())) f) AS fulfilment,
      (SELECT coalesce(json_object_agg(dim1, n), '{}') FROM kpi
        WHERE metric = 'channel_listings' AND dim2 = 'live') AS live_listings,
      (SELECT coalesce(json_object_agg(kind, n ORDER BY kind), '{}') FROM (
          SELECT dim1 AS kind, sum(n) AS n FROM kpi
           WHERE metric = 'ops_tasks' AND dim2 IN ('open', 'acknowledged') GROUP BY dim1) t) AS open_tasks,
      (SELECT coalesce(sum(n), 0) FROM kpi
        WHERE metric = 'orders' AND dim2 = ANY(:awaiting)) AS awaiting_shipment
    """
)
COMPACT_KPI_DAILY = text(
    "SELECT CASE WHEN pg_try_advisory_xact_lock(:lock) THEN retail.compact_kpi_daily() END"
)
KPI_DAILY_COMPACT_LOCK = 0x6B70_695F_6461  # "kpi_da": one compaction at a time
# More delta rows than this in the window: fold retail.kpi_daily after answering.
KPI_DAILY_COMPACT_AFTER_ROWS = 2000


def compact_kpi_daily(engine: Engine) -> int | None:
    """Fold kpi_daily's deltas (None when another compaction holds the lock)."""
    with engine.begin() as conn:
        return conn.scalar(COMPACT_KPI_DAILY, {"lock": KPI_DAILY_COMPACT_LOCK})


def _usd(prompt: int, completion: int, settings: Settings) -> Decimal:
    cost = (
        prompt * settings.llm_usd_per_million_prompt_tokens
        + completion * settings.llm_usd_per_million_completion_tokens
    ) / 1_000_000
    return Decimal(str(round(cost, 4)))


def _hours(value: float | None) -> float | None:
    return None if value is None else round(value, 1)


def build_home_kpis(
    conn: Connection, settings: Settings, *, days: int = DEFAULT_DAYS, now: datetime | None = None
) -> tuple[HomeKpis, int]:
    """The Home numbers, and how many kpi_daily delta rows the window held (the caller compacts
    past KPI_DAILY_COMPACT_AFTER_ROWS)."""
    now = now or datetime.now(UTC)
    today = now.astimezone(UTC).date()
    window = [today - timedelta(days=n) for n in range(days - 1, -1, -1)]
    since = datetime.combine(window[0], datetime.min.time(), UTC)
    row = conn.execute(
        HOME, {"since": since, "since_day": window[0], "awaiting": list(AWAITING_SHIPMENT)}
    ).one()

    per_day = {day: DayOrders(day=day, by_channel={}, revenue={}) for day in window}
    llm_days: dict[date, dict[str, int]] = {day: {} for day in window}
    revenue: dict[str, Decimal] = {}
    channels: set[str] = set(row.live_listings)
    for cell in row.daily:
        day = date.fromisoformat(cell["day"])
        if day not in per_day:  # dated "in the future" by a clock ahead of ours
            continue
        metric, value = cell["metric"], Decimal(cell["n"])
        if metric in ("orders", "revenue"):
            channel, _, currency = cell["dim"].partition(" ")
            if metric == "orders":
                channels.add(channel)
                per_day[day].by_channel[channel] = per_day[day].by_channel.get(channel, 0) + int(value)
            else:
                per_day[day].revenue[currency] = per_day[day].revenue.get(currency, Decimal(0)) + value
                revenue[currency] = revenue.get(currency, Decimal(0)) + value
        else:
            llm_days[day][metric] = llm_days[day].get(metric, 0) + int(value)

    overall = next((f for f in row.fulfilment if f["day"] is None), None)
    shipped_days = {date.fromisoformat(f["day"]): f for f in row.fulfilment if f["day"] is not None}
    fulfilment = Fulfilment(
        shipped=overall["shipped"] if overall else 0,
        p50_hours=_hours(overall["p50_hours"]) if overall else None,
        p95_hours=_hours(overall["p95_hours"]) if overall else None,
        by_day=[
            FulfilmentDay(
                day=day,
                shipped=shipped_days[day]["shipped"] if day in shipped_days else 0,
                p50_hours=_hours(shipped_days[day]["p50_hours"]) if day in shipped_days else None,
                p95_hours=_hours(shipped_days[day]["p95_hours"]) if day in shipped_days else None,
            )
            for day in window
        ],
    )

    by_day = []
    for day in window:
        d = llm_days[day]
        prompt, completion = d.get("llm_prompt_tokens", 0), d.get("llm_completion_tokens", 0)
        by_day.append(
            LlmDay(
                day=day,
                products=d.get("llm_products", 0),
                calls=d.get("llm_calls", 0),
                prompt_tokens=prompt,
                completion_tokens=completion,
                spend_usd=_usd(prompt, completion, settings),
            )  # fmt: skip
        )
    prompt_total = sum(d.prompt_tokens for d in by_day)
    completion_total = sum(d.completion_tokens for d in by_day)
    ordered_channels = sorted(channels)
    kpis = HomeKpis(
        generated_at=now,
        days=window,
        channels=ordered_channels,
        orders_total=sum(sum(d.by_channel.values()) for d in per_day.values()),
        orders_today=sum(per_day[today].by_channel.values()),
        revenue=dict(sorted(revenue.items())),
        orders_by_day=list(per_day.values()),
        awaiting_shipment=int(row.awaiting_shipment),
        fulfilment=fulfilment,
        live_listings={c: int(row.live_listings[c]) for c in ordered_channels if c in row.live_listings},
        open_tasks={k: int(v) for k, v in row.open_tasks.items()},
        llm=LlmUsage(
            products=sum(d.products for d in by_day),
            calls=sum(d.calls for d in by_day),
            prompt_tokens=prompt_total,
            completion_tokens=completion_total,
            spend_usd=_usd(prompt_total, completion_total, settings),
            by_day=by_day,
        ),
    )
    return kpis, int(row.daily_rows)


def compact_later(background: BackgroundTasks, engine: Engine, daily_rows: int) -> None:
    # Whoever reads the sums folds them: after the response is sent, so no caller waits for it.
    if daily_rows > KPI_DAILY_COMPACT_AFTER_ROWS:
        background.add_task(compact_kpi_daily, engine)


# Concurrent identical requests share one statement (api/coalesce.py): every Home screen asks at once.
_home_flights: SingleFlight[tuple[HomeKpis, int]] = SingleFlight()


def shared_home_kpis(engine: Engine, settings: Settings, *, days: int = DEFAULT_DAYS) -> tuple[HomeKpis, int]:
    """`build_home_kpis` on its own connection; identical requests in flight at once (the JSON route and the
    Home page alike) share one execution."""

    def answer() -> tuple[HomeKpis, int]:
        with engine.connect() as conn:
            return build_home_kpis(conn, settings, days=days)

    return _home_flights.run((str(engine.url), days), answer)


@router.get("/home", response_model=HomeKpis)
def home_kpis(
    request: Request,
    engine: Annotated[Engine, Depends(db_engine)],
    background: BackgroundTasks,
    _: Viewer,
    days: Annotated[
        int, Query(ge=1, le=MAX_DAYS, description="Window in days, ending today (UTC).")
    ] = DEFAULT_DAYS,
) -> Response:
    """The Home page's numbers: orders and revenue per day per channel, order-to-shipped p50/p95, live
    listings per channel, open tasks by kind, LLM tokens and estimated spend."""
    kpis, daily_rows = shared_home_kpis(engine, request.app.state.settings, days=days)
    compact_later(background, engine, daily_rows)
    return Response(content=kpis.model_dump_json(), media_type="application/json")

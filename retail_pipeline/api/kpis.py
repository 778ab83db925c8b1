"""``GET /ops/summary`` (viewer): commands, product vault, listings, orders, today's sales.

Exact totals come from ``retail.kpi_counts`` (trigger-kept deltas, folded now and then), so the answer
stays fast with millions of products and orders."""

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Annotated, get_args
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from fastapi import APIRouter, BackgroundTasks, Depends, HTTPException, Query, Response, status
from pydantic import BaseModel, Field
from sqlalchemy import Connection, Engine, text

from retail_pipeline.api.auth import Viewer
from retail_pipeline.api.coalesce import SingleFlight
from retail_pipeline.api.database import db_engine
from retail_pipeline.domain.orders import OrderStatus

router = APIRouter(prefix="/ops", tags=["ops"])

# More delta rows than this in retail.kpi_counts: fold them after answering.
KPI_COMPACT_AFTER_ROWS = 500
KPI_COMPACT_LOCK = 0x6B70_695F_636D  # "kpi_cm": one compaction at a time
UTC_ZONE = ZoneInfo("UTC")


# Concurrent identical requests share one statement (api/coalesce.py): every screen polls the KPIs.
_summary_flights: SingleFlight[tuple[bytes, int]] = SingleFlight()


COMMAND_STATUSES = ("queued", "running", "succeeded", "failed", "human_required")
PRODUCT_STATUSES = ("enriched", "failed", "blocked")
LISTING_STATES = ("pending", "live", "withdrawn", "sold", "ended", "failed")
ORDER_STATUSES = get_args(OrderStatus)


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

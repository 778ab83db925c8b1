"""Suppliers for operators: ``GET /api/suppliers`` (each supplier's funnel and top blockers, as
``GET /ops/pipeline_summary`` computes them, with its last re-scrape request) and
``POST /api/suppliers/{code}/rescrape`` (queues one run of that supplier's catalog partition; see
``defs/catalog/rescrape.py``). The console's suppliers page calls the same functions."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, BackgroundTasks, Depends, HTTPException, Path, status
from pydantic import BaseModel, Field
from sqlalchemy import Engine, text
from starlette.concurrency import run_in_threadpool

from retail_pipeline.api.auth import Operator, Viewer
from retail_pipeline.api.database import db_engine
from retail_pipeline.api.ops import StageCounts, SupplierPipeline, _pipelines
from retail_pipeline.api.products import actor
from retail_pipeline.db.activity import log_activity

router = APIRouter(prefix="/api/suppliers", tags=["suppliers"])

# A second click while the first request waits for the sensor adds nothing.
REQUEST_DEBOUNCE_SECONDS = 60
# How old a counted funnel may be before the next reader has it counted again (in the background).
FUNNEL_MAX_AGE_SECONDS = 120
FUNNEL_LOCK = 0x7375_7066_756E  # "supfun": one count at a time


class RescrapeRequest(BaseModel):
    id: int
    supplier: str
    requested_by: str
    created_at: datetime
    run_key: str


class SupplierView(SupplierPipeline):
    channels: list[str] | None = Field(
        default=None, description="default listing channels of its products (null = every listing channel)"
    )
    last_rescrape: RescrapeRequest | None
    counted_at: datetime | None = Field(
        description="when the funnel was counted (refreshed every few minutes)"
    )


LAST_REQUESTS = text(
    """
    SELECT DISTINCT ON (r.supplier_id) r.supplier_id, r.id, s.code AS supplier, r.requested_by, r.created_at
      FROM retail.rescrape_requests r JOIN retail.suppliers s ON s.id = r.supplier_id
     ORDER BY r.supplier_id, r.id DESC
    """
)

SNAPSHOT = text(
    """
    SELECT s.id, s.code, s.name, s.enabled, s.enrichment_blocked, CAST(s.channels AS text[]) AS channels, f.counts, f.top_blockers, f.computed_at
      FROM retail.suppliers s LEFT JOIN retail.supplier_funnels f ON f.supplier_id = s.id
     ORDER BY s.code
    """
)

STORE = text(
    """
    INSERT INTO retail.supplier_funnels (supplier_id, counts, top_blockers, computed_at)
    SELECT r.supplier_id, r.counts, r.top_blockers, now()
      FROM jsonb_to_recordset(CAST(:rows AS jsonb)) AS r(supplier_id bigint, counts jsonb, top_blockers jsonb)
    ON CONFLICT (supplier_id) DO UPDATE SET
        counts = EXCLUDED.counts, top_blockers = EXCLUDED.top_blockers, computed_at = EXCLUDED.computed_at
    """
)


def _request_view(row) -> RescrapeRequest:
    return RescrapeRequest(
        id=row.id, supplier=row.supplier, requested_by=row.requested_by, created_at=row.created_at,
        run_key=f"rescrape:{row.id}",
    )  # fmt: skip


def refresh_funnels(engine: Engine) -> bool:
    """Count every supplier's funnel (``ops._pipelines``, as ``GET /ops/pipeline_summary`` does) and keep
    it; False when another process is counting already (one at a time: it is seconds of work at scale)."""
    with engine.begin() as conn:
        if not conn.scalar(text("SELECT pg_try_advisory_xact_lock(:key)"), {"key": FUNNEL_LOCK}):
            return False
        rows = [
            # [rule, products] pairs: a jsonb object would not keep the most-frequent-first order
            {
                "supplier_id": p.id,
                "counts": p.counts.model_dump(),
                "top_blockers": list(p.top_blockers.items()),
            }
            for p in _pipelines(conn, None)
        ]
        conn.execute(STORE, {"rows": json.dumps(rows)})
    return True


@dataclass
class Funnels:
    suppliers: list[SupplierView]
    stale: bool  # older than FUNNEL_MAX_AGE_SECONDS, or a supplier not counted yet: refresh after answering


def supplier_views(engine: Engine) -> Funnels:
    """Every supplier with its last counted funnel and last re-scrape request. Counted on the spot the
    first time; after that the caller refreshes a stale snapshot in the background."""
    with engine.connect() as conn:
        rows = conn.execute(SNAPSHOT).all()
        if rows and all(r.computed_at is None for r in rows) and refresh_funnels(engine):
            rows = conn.execute(SNAPSHOT).all()
        last = {r.supplier_id: _request_view(r) for r in conn.execute(LAST_REQUESTS)}
        now = conn.scalar(text("SELECT now()"))
    views, stale = [], False
    for r in rows:
        if r.computed_at is None or (now - r.computed_at).total_seconds() > FUNNEL_MAX_AGE_SECONDS:
            stale = True
        views.append(
            SupplierView(
                id=r.id,
                code=r.code,
                name=r.name,
                enabled=r.enabled,
                enrichment_blocked=r.enrichment_blocked,
                channels=r.channels,
                counts=StageCounts.model_validate(r.counts or {}),
                top_blockers=dict(r.top_blockers or []),
                last_rescrape=last.get(r.id),
                counted_at=r.computed_at,
            )  # fmt: skip
        )
    return Funnels(views, stale)


class SupplierNotFound(LookupError):
    pass


class SupplierDisabled(ValueError):
    pass


def request_rescrape(engine: Engine, code: str, *, by: str) -> tuple[RescrapeRequest, bool]:
    """(the request, created). A request made in the last minute for the same supplier is returned
    instead of a new one. The supplier's row is locked so that two clicks cannot both insert."""
    with engine.begin() as conn:
        supplier = conn.execute(
            text("SELECT id, code, enabled FROM retail.suppliers WHERE code = :code FOR UPDATE"),
            {"code": code},
        ).one_or_none()
        if supplier is None:
            raise SupplierNotFound(f"no supplier {code!r}")
        if not supplier.enabled:
            raise SupplierDisabled(f"supplier {code} is disabled: enable it before re-scraping")
        recent = conn.execute(
            text(
                """SELECT r.id, s.code AS supplier, r.requested_by, r.created_at
                     FROM retail.rescrape_requests r JOIN retail.suppliers s ON s.id = r.supplier_id
                    WHERE r.supplier_id = :id AND r.created_at > now() - make_interval(secs => :secs)
                    ORDER BY r.id DESC LIMIT 1"""
            ),
            {"id": supplier.id, "secs": REQUEST_DEBOUNCE_SECONDS},
        ).one_or_none()
        if recent is not None:
            return _request_view(recent), False
        row = conn.execute(
            text(
                """INSERT INTO retail.rescrape_requests (supplier_id, requested_by) VALUES (:id, :by)
                   RETURNING id, :code AS supplier, requested_by, created_at"""
            ),
            {"id": supplier.id, "by": by, "code": supplier.code},
        ).one()
        log_activity(conn, actor=by, action="supplier.rescrape", entity_type="supplier", entity_id=supplier.code,
                     details={"request_id": row.id})  # fmt: skip
    return _request_view(row), True


@router.get("")
def get_suppliers(
    _: Viewer, engine: Annotated[Engine, Depends(db_engine)], background: BackgroundTasks
) -> list[SupplierView]:
    """Each supplier: products per stage (raw → enriched → validated → drafted → live), the LaunchLock
    rules that block most of its products (counted at most a few minutes ago: `counted_at`), and its
    last re-scrape request."""
    funnels = supplier_views(engine)
    if funnels.stale:
        background.add_task(refresh_funnels, engine)
    return funnels.suppliers


@router.post("/{code}/rescrape", status_code=status.HTTP_202_ACCEPTED)
async def post_rescrape(
    code: Annotated[str, Path(max_length=63)],
    principal: Operator,
    engine: Annotated[Engine, Depends(db_engine)],
) -> RescrapeRequest:
    """Queue a re-scrape: `rescrape_requests_sensor` launches the supplier partition's catalog_refresh run."""
    try:
        request, _ = await run_in_threadpool(request_rescrape, engine, code, by=actor(principal))
    except SupplierNotFound as error:
        raise HTTPException(status.HTTP_404_NOT_FOUND, {"field": "code", "message": str(error)}) from None
    except SupplierDisabled as error:
        raise HTTPException(status.HTTP_409_CONFLICT, {"field": "code", "message": str(error)}) from None
    return request

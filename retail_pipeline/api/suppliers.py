"""Suppliers for operators: ``GET /api/suppliers`` (each supplier's funnel and top blockers, as
``GET /ops/pipeline_summary`` computes them, with its last re-scrape request) and
``POST /api/suppliers/{code}/rescrape`` (queues one run of that supplier's catalog partition; see
``defs/catalog/rescrape.py``). The console's suppliers page calls the same functions."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Path, status
from pydantic import BaseModel
from sqlalchemy import Connection, Engine, text
from starlette.concurrency import run_in_threadpool

from retail_pipeline.api.auth import Operator, Viewer
from retail_pipeline.api.database import db_engine
from retail_pipeline.api.ops import SupplierPipeline, _pipelines
from retail_pipeline.api.products import actor
from retail_pipeline.db.activity import log_activity

router = APIRouter(prefix="/api/suppliers", tags=["suppliers"])

# A second click while the first request waits for the sensor adds nothing.
REQUEST_DEBOUNCE_SECONDS = 60


class RescrapeRequest(BaseModel):
    id: int
    supplier: str
    requested_by: str
    created_at: datetime
    run_key: str


class SupplierView(SupplierPipeline):
    last_rescrape: RescrapeRequest | None


LAST_REQUESTS = text(
    """
    SELECT DISTINCT ON (r.supplier_id) r.supplier_id, r.id, s.code AS supplier, r.requested_by, r.created_at
      FROM retail.rescrape_requests r JOIN retail.suppliers s ON s.id = r.supplier_id
     ORDER BY r.supplier_id, r.id DESC
    """
)


def _request_view(row) -> RescrapeRequest:
    return RescrapeRequest(
        id=row.id, supplier=row.supplier, requested_by=row.requested_by, created_at=row.created_at,
        run_key=f"rescrape:{row.id}",
    )  # fmt: skip


def supplier_views(conn: Connection) -> list[SupplierView]:
    last = {r.supplier_id: _request_view(r) for r in conn.execute(LAST_REQUESTS)}
    return [SupplierView(**p.model_dump(), last_rescrape=last.get(p.id)) for p in _pipelines(conn, None)]


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
def get_suppliers(_: Viewer, engine: Annotated[Engine, Depends(db_engine)]) -> list[SupplierView]:
    """Each supplier: products per stage (raw → enriched → validated → drafted → live), the LaunchLock
    rules that block most of its products, and its last re-scrape request."""
    with engine.connect() as conn:
        return supplier_views(conn)


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

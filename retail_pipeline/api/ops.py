"""Operator views of the catalog pipeline: how far each supplier's products got, and what holds them.

Stage counts are products, not rows, so they read as a funnel: raw (the supplier still lists it) →
enriched (has listing content: enriched, or the store's own for an enrichment-blocked supplier) →
validated (LaunchLock passed) → drafted (a draft on any channel) → live (live on any channel).
Blockers count the LaunchLock rules failed by products the supplier still lists.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, status
from pydantic import BaseModel
from sqlalchemy import Connection, Engine, text

from retail_pipeline.api.auth import require_role
from retail_pipeline.api.database import db_engine

TOP_BLOCKERS = 5
RECENT_FAILURES = 20

router = APIRouter(prefix="/ops", tags=["ops"], dependencies=[Depends(require_role("operator"))])


class StageCounts(BaseModel):
    raw: int = 0
    enriched: int = 0
    enrichment_failed: int = 0
    validated: int = 0
    validation_failed: int = 0
    drafted: int = 0
    live: int = 0


class SupplierPipeline(BaseModel):
    id: int
    code: str
    name: str
    enabled: bool
    enrichment_blocked: bool
    counts: StageCounts
    top_blockers: dict[str, int]  # rule -> products failing it, most frequent first


class PipelineSummary(BaseModel):
    totals: StageCounts
    suppliers: list[SupplierPipeline]


class FailedProduct(BaseModel):
    product_id: int
    sku: str
    title: str | None
    failed_rules: list[str]
    reasons: dict[str, str]
    validated_at: datetime


class SupplierPipelineDetail(SupplierPipeline):
    recent_failures: list[FailedProduct]


# :supplier_id NULL = every supplier. Drafts and live listings are de-duplicated per product first,
# so a product on three channels counts once.
STAGE_COUNTS = text(
    """
    SELECT s.id, s.code, s.name, s.enabled, s.enrichment_blocked,
           coalesce(c.raw, 0) AS raw, coalesce(c.enriched, 0) AS enriched,
           coalesce(c.enrichment_failed, 0) AS enrichment_failed,
           coalesce(c.validated, 0) AS validated, coalesce(c.validation_failed, 0) AS validation_failed,
           coalesce(c.drafted, 0) AS drafted, coalesce(c.live, 0) AS live
      FROM retail.suppliers s
      LEFT JOIN (
          SELECT sp.supplier_id,
                 count(*) FILTER (WHERE sp.removed_at IS NULL) AS raw,
                 count(p.id) FILTER (WHERE sp.removed_at IS NULL AND p.status <> 'failed') AS enriched,
                 count(p.id) FILTER (WHERE sp.removed_at IS NULL AND p.status = 'failed') AS enrichment_failed,
                 count(vr.id) FILTER (WHERE vr.passed) AS validated,
                 count(vr.id) FILTER (WHERE sp.removed_at IS NULL AND NOT vr.passed) AS validation_failed,
                 count(d.product_id) AS drafted,
                 count(l.product_id) AS live
            FROM retail.supplier_products sp
            LEFT JOIN retail.products p ON p.supplier_product_id = sp.id
            LEFT JOIN retail.validation_results vr ON vr.product_id = p.id
            LEFT JOIN (SELECT DISTINCT product_id FROM retail.listing_drafts) d ON d.product_id = p.id
            LEFT JOIN (SELECT DISTINCT product_id FROM retail.channel_listings WHERE actual_state = 'live') l
                   ON l.product_id = p.id
           WHERE CAST(:supplier_id AS bigint) IS NULL OR sp.supplier_id = :supplier_id
           GROUP BY sp.supplier_id
      ) c ON c.supplier_id = s.id
     WHERE CAST(:supplier_id AS bigint) IS NULL OR s.id = :supplier_id
     ORDER BY s.code
    """
)

TOP_BLOCKERS_BY_SUPPLIER = text(
    """
    SELECT supplier_id, rule, products
      FROM (SELECT sp.supplier_id, rule, count(*) AS products,
                   row_number() OVER (PARTITION BY sp.supplier_id ORDER BY count(*) DESC, rule) AS rank
              FROM retail.validation_results vr
              JOIN retail.products p ON p.id = vr.product_id
              JOIN retail.supplier_products sp ON sp.id = p.supplier_product_id
              CROSS JOIN LATERAL unnest(vr.failed_rules) AS rule
             WHERE sp.removed_at IS NULL
               AND (CAST(:supplier_id AS bigint) IS NULL OR sp.supplier_id = :supplier_id)
             GROUP BY sp.supplier_id, rule) ranked
     WHERE rank <= :limit
     ORDER BY supplier_id, rank
    """
)

RECENT_FAILED_PRODUCTS = text(
    """
    SELECT p.id AS product_id, p.sku, coalesce(p.title, sp.title) AS title, vr.failed_rules,
           vr.details AS reasons, vr.validated_at
      FROM retail.validation_results vr
      JOIN retail.products p ON p.id = vr.product_id
      JOIN retail.supplier_products sp ON sp.id = p.supplier_product_id
     WHERE sp.supplier_id = :supplier_id AND sp.removed_at IS NULL AND NOT vr.passed
     ORDER BY vr.validated_at DESC, vr.id DESC
     LIMIT :limit
    """
)

FIND_SUPPLIER = text("SELECT id FROM retail.suppliers WHERE id = :id OR code = :code")


def _pipelines(conn: Connection, supplier_id: int | None) -> list[SupplierPipeline]:
    params = {"supplier_id": supplier_id}
    blockers: dict[int, dict[str, int]] = {}
    for row in conn.execute(TOP_BLOCKERS_BY_SUPPLIER, {**params, "limit": TOP_BLOCKERS}):
        blockers.setdefault(row.supplier_id, {})[row.rule] = row.products
    return [
        SupplierPipeline(
            id=row.id,
            code=row.code,
            name=row.name,
            enabled=row.enabled,
            enrichment_blocked=row.enrichment_blocked,
            counts=StageCounts.model_validate(dict(row._mapping)),
            top_blockers=blockers.get(row.id, {}),
        )
        for row in conn.execute(STAGE_COUNTS, params)
    ]


@router.get("/pipeline_summary")
def pipeline_summary(engine: Annotated[Engine, Depends(db_engine)]) -> PipelineSummary:
    """Per supplier: raw → enriched → validated → drafted → live product counts and the top blockers."""
    with engine.connect() as conn:
        suppliers = _pipelines(conn, None)
    totals = {stage: sum(getattr(s.counts, stage) for s in suppliers) for stage in StageCounts.model_fields}
    return PipelineSummary(totals=StageCounts(**totals), suppliers=suppliers)


@router.get("/suppliers/{supplier}/pipeline")
def supplier_pipeline(supplier: str, engine: Annotated[Engine, Depends(db_engine)]) -> SupplierPipelineDetail:
    """One supplier (numeric id or code): its funnel, top blockers and its most recent failures."""
    with engine.connect() as conn:
        supplier_id = conn.scalar(
            FIND_SUPPLIER, {"id": int(supplier) if supplier.isdigit() else None, "code": supplier}
        )
        if supplier_id is None:
            raise HTTPException(
                status.HTTP_404_NOT_FOUND,
                detail=f"no supplier with id or code {supplier!r}; GET /ops/pipeline_summary lists them",
            )
        (pipeline,) = _pipelines(conn, supplier_id)
        failures = conn.execute(
            RECENT_FAILED_PRODUCTS, {"supplier_id": supplier_id, "limit": RECENT_FAILURES}
        )
        recent = [FailedProduct.model_validate(dict(row._mapping)) for row in failures]
    return SupplierPipelineDetail(**pipeline.model_dump(), recent_failures=recent)

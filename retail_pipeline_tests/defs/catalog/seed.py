"""Supplier rows for image and enrichment tests, written the way the pipeline writes them."""

from __future__ import annotations

import dagster as dg
from sqlalchemy import Engine, text

from retail_pipeline.catalog_writes.upsert import upsert_supplier_products


def add_supplier(
    engine: Engine, instance: dg.DagsterInstance, code: str, *, blocked_reason: str | None = None
) -> int:
    with engine.begin() as conn:
        supplier_id = conn.scalar(
            text(
                "INSERT INTO retail.suppliers (code, name, adapter, enrichment_blocked, enrichment_blocked_reason)"
                " VALUES (:code, :code, 'generic', :blocked, :reason) RETURNING id"
            ),
            {"code": code, "blocked": blocked_reason is not None, "reason": blocked_reason},
        )
    instance.add_dynamic_partitions("supplier", [code])
    return supplier_id


def add_products(engine: Engine, supplier_id: int, products: list[dict]) -> None:
    with engine.begin() as conn:
        upsert_supplier_products(conn, supplier_id, products)

"""The supplier registry: rows in retail.suppliers, and the supplier partitions that follow them."""

from __future__ import annotations

import json

import dagster as dg
from sqlalchemy import text

from retail_pipeline.defs.resources import DatabaseResource
from retail_pipeline.domain.suppliers import DEFAULT_SUPPLIERS
from retail_pipeline.partitions import enabled_supplier_codes, partition_changes, supplier_partitions

# Config-owned columns are refreshed from code; `enabled` belongs to operators and is never overwritten,
# nor is the ship-from location once set (code gives only the first one).
UPSERT_SUPPLIER = text(
    """
    INSERT INTO retail.suppliers (code, name, adapter, base_url, enrichment_blocked,
                                  enrichment_blocked_reason, config, location_id)
    VALUES (:code, :name, :adapter, :base_url, :blocked, :reason, CAST(:config AS jsonb),
            (SELECT id FROM retail.locations WHERE code = :location))
    ON CONFLICT (code) DO UPDATE SET
        name = EXCLUDED.name, adapter = EXCLUDED.adapter, base_url = EXCLUDED.base_url,
        enrichment_blocked = EXCLUDED.enrichment_blocked,
        enrichment_blocked_reason = EXCLUDED.enrichment_blocked_reason,
        config = EXCLUDED.config, updated_at = now()
    WHERE (suppliers.name, suppliers.adapter, suppliers.base_url, suppliers.enrichment_blocked,
           suppliers.enrichment_blocked_reason, suppliers.config)
          IS DISTINCT FROM
          (EXCLUDED.name, EXCLUDED.adapter, EXCLUDED.base_url, EXCLUDED.enrichment_blocked,
           EXCLUDED.enrichment_blocked_reason, EXCLUDED.config)
    RETURNING (xmax = 0) AS inserted
    """
)


@dg.asset(group_name="catalog", kinds={"postgres"})
def suppliers(db: DatabaseResource) -> dg.MaterializeResult:
    """The configured suppliers, upserted into retail.suppliers. A second run writes nothing."""
    inserted = updated = 0
    with db.engine.begin() as conn:
        for supplier in DEFAULT_SUPPLIERS:
            row = conn.execute(
                UPSERT_SUPPLIER,
                {
                    "code": supplier.code,
                    "name": supplier.name,
                    "adapter": supplier.adapter,
                    "base_url": supplier.base_url,
                    "blocked": supplier.enrichment_blocked,
                    "reason": supplier.enrichment_blocked_reason,
                    "config": json.dumps(supplier.config),
                    "location": supplier.location,
                },
            ).first()
            if row is not None:
                inserted += int(row.inserted)
                updated += int(not row.inserted)
        total = conn.scalar(text("SELECT count(*) FROM retail.suppliers"))
        enabled = conn.scalar(text("SELECT count(*) FROM retail.suppliers WHERE enabled"))
    return dg.MaterializeResult(
        metadata={
            "inserted": inserted,
            "updated": updated,
            "unchanged": len(DEFAULT_SUPPLIERS) - inserted - updated,
            "suppliers_total": total,
            "suppliers_enabled": enabled,
        }
    )


@dg.sensor(minimum_interval_seconds=60, default_status=dg.DefaultSensorStatus.RUNNING)
def supplier_partitions_sensor(context: dg.SensorEvaluationContext, db: DatabaseResource) -> dg.SensorResult:
    """Keeps one `supplier` partition per enabled supplier row (adds and removes)."""
    current = set(context.instance.get_dynamic_partitions(supplier_partitions.name))
    add, delete = partition_changes(current, set(enabled_supplier_codes(db.engine)))
    requests = []
    if add:
        requests.append(supplier_partitions.build_add_request(add))
    if delete:
        requests.append(supplier_partitions.build_delete_request(delete))
    if not requests:
        return dg.SensorResult(skip_reason="supplier partitions match retail.suppliers")
    context.log.info(f"supplier partitions: add {add}, delete {delete}")
    return dg.SensorResult(dynamic_partitions_requests=requests)

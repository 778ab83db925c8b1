"""Catalog automation (seed 000): every hour, scrape → images → enrich → validate, per supplier."""

from __future__ import annotations

import dagster as dg

from retail_pipeline.defs.catalog.suppliers import suppliers
from retail_pipeline.partitions import supplier_partitions

CATALOG_REFRESH = ["supplier_products", "product_images", "enriched_products", "validated_products"]

catalog_refresh_job = dg.define_asset_job(
    "catalog_refresh",
    selection=dg.AssetSelection.assets(*CATALOG_REFRESH),
    partitions_def=supplier_partitions,
    description="One supplier's catalogue end to end; a backfill of this job re-runs chosen suppliers.",
)

supplier_registry_job = dg.define_asset_job(
    "supplier_registry", selection=dg.AssetSelection.assets(suppliers)
)


@dg.schedule(
    job=catalog_refresh_job, cron_schedule="0 * * * *", default_status=dg.DefaultScheduleStatus.RUNNING
)
def hourly_catalog_refresh(context: dg.ScheduleEvaluationContext) -> list[dg.RunRequest] | dg.SkipReason:
    """One run per enabled supplier partition; run_key makes a tick that is evaluated twice harmless."""
    keys = sorted(context.instance.get_dynamic_partitions(supplier_partitions.name))
    if not keys:
        return dg.SkipReason("no supplier partitions yet: the supplier_partitions_sensor adds them")
    tick = context.scheduled_execution_time.isoformat() if context.scheduled_execution_time else "manual"
    return [
        # The retail/supplier tag feeds dagster.yaml's per-supplier run limit: one refresh per site at a time.
        dg.RunRequest(partition_key=key, run_key=f"{key}:{tick}", tags={"retail/supplier": key})
        for key in keys
    ]


daily_supplier_registry = dg.ScheduleDefinition(
    job=supplier_registry_job, cron_schedule="15 3 * * *", default_status=dg.DefaultScheduleStatus.RUNNING
)

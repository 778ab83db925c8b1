"""Re-scrape one supplier on an operator's request (the console's suppliers page, ``POST
/api/suppliers/{code}/rescrape``): a row in ``retail.rescrape_requests`` becomes exactly one
``catalog_refresh`` run of that supplier's partition (run_key ``rescrape:<id>``), the job the hourly
schedule runs, so a requested re-scrape is the ordinary scrape → images → enrich → validate."""

from __future__ import annotations

from retail_pipeline.defs.catalog.schedules import catalog_refresh_job
from retail_pipeline.defs.queue_sensor import queued_rows_sensor

rescrape_requests_sensor = queued_rows_sensor(
    name="rescrape_requests_sensor",
    job=catalog_refresh_job,
    queued="""SELECT r.id, s.code FROM retail.rescrape_requests r
                JOIN retail.suppliers s ON s.id = r.supplier_id WHERE s.enabled""",
    run_key_prefix="rescrape",
    run_config_for=lambda row: {},
    partition_key_for=lambda row: row.code,
    # The same tag as the hourly schedule: dagster.yaml's per-supplier limit keeps one refresh per site.
    tags_for=lambda row: {"retail/supplier": row.code, "retail/rescrape_request": str(row.id)},
    skip_reason="no re-scrape requested",
    minimum_interval_seconds=10,
    description="One catalog_refresh run of the supplier's partition per re-scrape request, oldest first.",
)

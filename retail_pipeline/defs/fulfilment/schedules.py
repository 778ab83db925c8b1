"""Fulfilment every 5 minutes, and at once after an order sync that brought new orders: accept the
orders that wait for it, buy labels, push tracking. Each step picks its orders by their latest status, so a run with
nothing to do costs three short queries."""

import dagster as dg

from retail_pipeline.defs.orders.schedules import order_sync_job

fulfilment_job = dg.define_asset_job(
    "fulfilment",
    selection=dg.AssetSelection.assets("order_acceptance", "shipping_labels", "tracking_updates"),
    description="Accept the orders waiting for us, buy a label per accepted order, push tracking: shipped.",
)

fulfilment_every_5_minutes = dg.ScheduleDefinition(
    name="fulfilment_every_5_minutes",
    job=fulfilment_job,
    cron_schedule="*/5 * * * *",
    default_status=dg.DefaultScheduleStatus.RUNNING,
)


ACTIVE = [dg.DagsterRunStatus.QUEUED, dg.DagsterRunStatus.NOT_STARTED, dg.DagsterRunStatus.STARTING,
          dg.DagsterRunStatus.STARTED]  # fmt: skip


def new_orders_in_run(instance: dg.DagsterInstance, run_id: str) -> int:
    """Orders the run's marketplace_orders materialisations inserted (0 when it synced nothing new)."""
    inserted = 0
    for entry in instance.all_logs(run_id, of_type=dg.DagsterEventType.ASSET_MATERIALIZATION):
        materialization = entry.asset_materialization
        if materialization and materialization.asset_key == dg.AssetKey("marketplace_orders"):
            value = materialization.metadata.get("orders_inserted")
            inserted += int(getattr(value, "value", 0) or 0)
    return inserted


@dg.run_status_sensor(
    name="fulfil_after_order_sync",
    run_status=dg.DagsterRunStatus.SUCCESS,
    monitored_jobs=[order_sync_job],
    request_job=fulfilment_job,
    minimum_interval_seconds=30,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="An order sync that brought new orders starts fulfilment at once (an order waiting for "
    "acceptance is accepted, and its units taken off every channel, within a minute rather than at the next tick).",
)
def fulfil_after_order_sync(context: dg.RunStatusSensorContext):
    run = context.dagster_run
    if not new_orders_in_run(context.instance, run.run_id):
        return dg.SkipReason(f"run {run.run_id} synced no new orders")
    if context.instance.get_runs(dg.RunsFilter(job_name=fulfilment_job.name, statuses=ACTIVE), limit=1):
        return dg.SkipReason("a fulfilment run is already waiting or running: it will pick these orders up")
    return dg.RunRequest(run_key=f"fulfil-after:{run.run_id}")

"""The fulfilment schedule: one run of the three status-driven steps per tick, harmless when idle."""

from __future__ import annotations

from datetime import UTC, datetime

import dagster as dg
from sqlalchemy import text

from retail_pipeline.definitions import defs as build_defs
from retail_pipeline.defs.fulfilment.schedules import fulfilment_every_5_minutes, fulfilment_job
from retail_pipeline.defs.resources import DatabaseResource


def test_the_schedule_asks_for_one_fulfilment_run_per_tick():
    tick = datetime(2025, 6, 2, 9, 5, tzinfo=UTC)
    context = dg.build_schedule_context(scheduled_execution_time=tick)
    [request] = fulfilment_every_5_minutes.evaluate_tick(context).run_requests
    assert request.job_name in (None, fulfilment_job.name)  # None: the schedule's own job
    assert fulfilment_every_5_minutes.job_name == "fulfilment"
    assert fulfilment_every_5_minutes.cron_schedule == "*/5 * * * *"
    assert fulfilment_every_5_minutes.default_status == dg.DefaultScheduleStatus.RUNNING


def test_the_job_runs_the_three_steps_in_order_and_an_idle_tick_writes_nothing(engine, simulator_url, db_url):
    defs = build_defs()
    job = defs.resolve_job_def("fulfilment")
    with dg.instance_for_test() as instance:
        result = job.execute_in_process(instance=instance, resources={"db": DatabaseResource(url=db_url)})
    assert result.success
    events = result.get_asset_materialization_events()
    assert [e.materialization.asset_key.to_user_string() for e in events] == [
        "order_acceptance", "shipping_labels", "tracking_updates"
    ]  # fmt: skip
    counts = {e.materialization.asset_key.to_user_string(): e.materialization.metadata for e in events}
    assert counts["order_acceptance"]["orders_found"].value == 0
    assert counts["shipping_labels"]["orders_new"].value == 0
    assert counts["tracking_updates"]["orders_found"].value == 0
    with engine.connect() as conn:
        assert conn.scalar(text("SELECT count(*) FROM retail.order_status_history")) == 0

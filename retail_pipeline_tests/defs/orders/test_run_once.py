"""run-once's handling of the order stage: after the other stages, the market shops first, and only
today's partition per channel runs (not every day since the start date)."""

from __future__ import annotations

import dagster as dg

from retail_pipeline.defs.orders.assets import channel_stock, marketplace_orders
from retail_pipeline.defs.orders.schedules import order_sync_job
from retail_pipeline.defs.resources import ChannelsResource, DatabaseResource
from retail_pipeline.orchestration import _partition_keys, _stages_in_order, execute_graph
from retail_pipeline.partitions import order_partitions
from retail_pipeline_tests.simulated_channels import CHANNELS, ORDER_CHANNELS

from .conftest import count


@dg.asset(partitions_def=dg.StaticPartitionsDefinition(list(CHANNELS)))
def a_channel_asset() -> None:
    """Stands for the listing stage."""


def test_only_todays_partitions_and_the_order_stage_last(sim, simulator_url):
    today = sim.clock.now().date().isoformat()
    with dg.instance_for_test() as instance:
        keys = _partition_keys(order_partitions, instance)
    assert sorted(map(str, keys)) == sorted(f"{c}|{today}" for c in ORDER_CHANNELS)
    defs = dg.Definitions(
        assets=[marketplace_orders, channel_stock, a_channel_asset],
        resources={
            "db": DatabaseResource(),
            "channels": ChannelsResource(),
        },
    )
    stages = _stages_in_order(defs)
    assert stages[-1][0] == order_partitions and len(stages) == 2
    assert set(stages[-1][1]) == {marketplace_orders.key, channel_stock.key}


def test_execute_graph_lets_the_market_shop_before_syncing_orders(
    engine, sim, listed, simulator_url, db_url, monkeypatch
):
    monkeypatch.setenv("RUN_ONCE_MARKET_MINUTES", "120")
    defs = dg.Definitions(
        assets=[marketplace_orders, channel_stock],
        jobs=[order_sync_job],
        resources={"db": DatabaseResource(url=db_url), "channels": ChannelsResource()},
    )
    with dg.instance_for_test() as instance:
        summary = execute_graph(defs, instance)
        # The schedule's own job, as the history shows it; not an anonymous one made up for run-once.
        history = instance.get_run_records()
    assert summary["ok"], summary
    assert {r.dagster_run.job_name for r in history} == {"order_sync"}
    assert {r.dagster_run.run_id for r in history} == {run["run_id"] for run in summary["runs"]}
    assert summary["market"]["minutes"] == 120 and summary["market"]["purchases"] > 0
    assert len(summary["runs"]) == len(ORDER_CHANNELS)
    held = count(engine, "SELECT count(*) FROM retail.orders")
    assert held == summary["stages"]["marketplace_orders"]["total"]["orders_inserted"] > 0

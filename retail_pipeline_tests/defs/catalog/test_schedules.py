"""The hourly catalog schedule asks for one run per supplier partition, and only those."""

from datetime import UTC, datetime

import dagster as dg

from retail_pipeline.definitions import defs as build_defs
from retail_pipeline.defs.catalog.schedules import CATALOG_REFRESH, hourly_catalog_refresh


def test_one_tagged_run_per_supplier_partition_with_a_stable_run_key():
    with dg.instance_for_test() as instance:
        empty = hourly_catalog_refresh(dg.build_schedule_context(instance=instance))
        assert isinstance(empty, dg.SkipReason)

        instance.add_dynamic_partitions("supplier", ["onecheq", "noel_leeming"])
        tick = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)
        requests = hourly_catalog_refresh(
            dg.build_schedule_context(instance=instance, scheduled_execution_time=tick)
        )
        again = hourly_catalog_refresh(
            dg.build_schedule_context(instance=instance, scheduled_execution_time=tick)
        )
    assert sorted(r.partition_key for r in requests) == ["noel_leeming", "onecheq"]
    assert all(r.tags["retail/supplier"] == r.partition_key for r in requests)
    assert [r.run_key for r in requests] == [
        r.run_key for r in again
    ]  # a re-evaluated tick launches nothing new


def test_catalog_refresh_job_runs_the_four_partitioned_assets_in_order():
    defs = build_defs()
    job = defs.resolve_job_def("catalog_refresh")
    assert {key.to_user_string() for key in job.asset_layer.selected_asset_keys} == set(CATALOG_REFRESH)
    graph = defs.resolve_asset_graph()
    for upstream, downstream in zip(CATALOG_REFRESH, CATALOG_REFRESH[1:], strict=False):
        assert dg.AssetKey(upstream) in graph.get(dg.AssetKey(downstream)).parent_keys
    assert {s.name for s in defs.schedules} >= {"hourly_catalog_refresh", "supplier_registry_schedule"}

"""run-once runs the graph as the named jobs the schedules and sensors launch, in dependency order."""

from __future__ import annotations

import dagster as dg
import pytest

from retail_pipeline.definitions import defs as build_defs
from retail_pipeline.orchestration import UnplannableGraph, execute_graph, named_asset_jobs, planned_runs


@pytest.fixture(scope="module")
def defs() -> dg.Definitions:
    return build_defs()


def test_every_asset_runs_once_in_a_named_job(defs: dg.Definitions):
    plan = [name for name, _ in planned_runs(defs)]
    jobs = named_asset_jobs(defs)
    assert len(plan) == len(set(plan)) and not [name for name in plan if name.startswith("__")]
    graph = defs.resolve_asset_graph()
    executable = {key for key in graph.get_all_asset_keys() if graph.get(key).is_materializable}
    planned = [key for name in plan for key in jobs[name]]
    assert sorted(planned) == sorted(executable)  # each asset exactly once


def test_the_plan_keeps_the_business_order(defs: dg.Definitions):
    plan = [name for name, _ in planned_runs(defs)]
    position = plan.index
    assert position("supplier_registry") < position("catalog_refresh") < position("listings_publish")
    assert position("listings_publish") < position("listing_state_sync")
    # Orders are read once listings are out and the market has bought; fulfilment works those orders.
    assert max(
        map(position, ["listings_publish", "listing_state_sync", "customer_messages_sync"])
    ) < position("order_sync")
    assert plan[-2:] == ["order_sync", "fulfilment"]


@dg.asset
def upstream() -> None: ...


@dg.asset(deps=[upstream])
def downstream() -> None: ...


@dg.asset(deps=[downstream])
def unscheduled() -> None: ...


def test_jobs_of_one_stage_run_upstream_first_and_an_asset_in_no_job_is_refused():
    first = dg.define_asset_job("first", selection=[upstream])
    second = dg.define_asset_job("second", selection=[downstream])
    everything = dg.define_asset_job("everything", selection=[upstream, downstream, unscheduled])
    plan = planned_runs(dg.Definitions(assets=[upstream, downstream], jobs=[second, first]))
    assert [name for name, _ in plan] == ["first", "second"]
    # An asset in no named job is refused, not run in a job made up for the purpose.
    with pytest.raises(UnplannableGraph, match="unscheduled"):
        planned_runs(dg.Definitions(assets=[upstream, downstream, unscheduled], jobs=[first, second]))
    plan = planned_runs(dg.Definitions(assets=[upstream, downstream, unscheduled], jobs=[first, everything]))
    assert [name for name, _ in plan] == ["everything"]  # the fewest runs: the larger job, no overlap


def test_the_packer_packs_between_the_labels_and_the_tracking_push():
    calls: list[str] = []

    @dg.asset(name="shipping_labels")
    def labels() -> None:
        calls.append("labels")

    @dg.asset(name="tracking_updates", deps=[labels])
    def tracking() -> None:
        calls.append("tracking")

    fulfilment = dg.define_asset_job("fulfilment", selection=[labels, tracking])
    defs = dg.Definitions(assets=[labels, tracking], jobs=[fulfilment])

    def packer() -> dict:
        calls.append("packer")
        return {"packed": 3}

    with dg.instance_for_test() as instance:
        summary = execute_graph(defs, instance, packer=packer)
        assert calls == ["labels", "packer", "tracking"]
        assert summary["ok"] and summary["packer"] == {"packed": 3}
        assert [run["job"] for run in summary["runs"]] == ["fulfilment", "fulfilment"]  # the schedules' job
        calls.clear()
        summary = execute_graph(defs, instance)  # no packer (PACKING_REQUIRED=false): one run, as before
        assert calls == ["labels", "tracking"] and "packer" not in summary and len(summary["runs"]) == 1

"""Every asset or op that calls an external API waits for a slot in a concurrency pool named for that
API (or, for steps that reach every sales channel, for that kind of channel work), and every pool in
use is documented in dagster.yaml and the README."""

from __future__ import annotations

import re

import dagster as dg

from retail_pipeline.definitions import defs as build_defs
from retail_pipeline.settings import PROJECT_ROOT

# Resources that are clients of external systems; a step that requires one calls out.
EXTERNAL_RESOURCES = {"channels", "carriers", "llm"}
# Steps that fetch supplier sites with their own polite client rather than a resource.
FETCHES_SUPPLIER_SITES = {"supplier_products", "product_images"}


def _steps(defs: dg.Definitions) -> dict[str, tuple[set[str], str | None]]:
    """name -> (required resource keys, pool) of every asset and every op in a job."""
    steps: dict[str, tuple[set[str], str | None]] = {}
    graph = defs.resolve_asset_graph()
    for key in graph.get_all_asset_keys():
        node = graph.get(key)
        if node.is_materializable:
            op = node.assets_def.node_def
            steps[key.to_user_string()] = (set(op.required_resource_keys), op.pool)
    for job in defs.resolve_all_job_defs():
        for op in job.graph.iterate_op_defs():
            steps.setdefault(op.name, (set(op.required_resource_keys), op.pool))
    return steps


def test_every_step_that_calls_an_external_api_has_a_documented_pool():
    steps = _steps(build_defs())
    calling = {
        name: pool
        for name, (resources, pool) in steps.items()
        if resources & EXTERNAL_RESOURCES or name in FETCHES_SUPPLIER_SITES
    }
    assert {"channel_listings", "marketplace_orders", "shipping_labels", "enriched_products"} <= set(calling)
    assert not [name for name, pool in calling.items() if not pool], "steps calling out without a pool"

    documented_in_yaml = set(re.findall(r"^\s*#\s+(\w+):", (PROJECT_ROOT / "dagster.yaml").read_text(), re.M))
    readme = (PROJECT_ROOT / "README.md").read_text()
    used = {pool for _, pool in steps.values() if pool}
    assert used <= documented_in_yaml, used - documented_in_yaml
    assert all(f"`{pool}`" in readme for pool in used), [p for p in used if f"`{p}`" not in readme]


def test_channel_pools_are_documented():
    """A pool a channel plug-in names (held by `holding_channel_pool` while a step works that channel,
    one slot to start: tested with the channel, retail_pipeline_tests/channels/vintage_and_rare) is
    documented like the step pools."""
    from retail_pipeline.channels.registry import all_channels

    named = {c.pool for c in all_channels() if c.pool}
    assert "browser" in named
    documented_in_yaml = set(re.findall(r"^\s*#\s+(\w+):", (PROJECT_ROOT / "dagster.yaml").read_text(), re.M))
    assert named <= documented_in_yaml
    readme = (PROJECT_ROOT / "README.md").read_text()
    assert all(f"`{pool}`" in readme for pool in named)

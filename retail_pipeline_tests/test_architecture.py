"""The layering and the channel plug-in rule, checked on the source itself.

- `integrations/`, `channels/` and `messaging/` import neither Dagster nor FastAPI; `simulators/` does not import Dagster;
- production code imports a simulator only where it starts them (the CLI and headless runner);
- `defs/` does not import `api/`;
- a channel's name appears only in its own module and the registry (outside `simulators/`);
- every per-channel partition set is the registry's channels with that capability.
"""

from __future__ import annotations

import ast
import functools
import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from retail_pipeline import partitions
from retail_pipeline.channels.registry import CHANNEL_MODULES, all_channels, channel_names

PACKAGE = Path(__file__).resolve().parents[1] / "retail_pipeline"
# Where a simulator may be imported: the commands and the headless runner that start them.
STARTS_SIMULATORS = {"cli.py", "demo.py", "orchestration.py"}
# A channel's name where it means something else: a label printed on supplier pages ("eBay item
# number") and the platform a supplier's storefront runs on (its public /products.json).
OTHER_MEANING = {
    "integrations/suppliers/extraction/visible.py",
    "integrations/suppliers/onecheq.py",
    "integrations/suppliers/__init__.py",
    "domain/suppliers.py",
}


def _sources(*, under: str = "") -> list[Path]:
    return sorted(
        p for p in (PACKAGE / under).rglob("*.py") if "simulators" not in p.relative_to(PACKAGE).parts
    )


@functools.cache  # each file parsed once for all the tests here
def _imports(path: Path) -> frozenset[str]:
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
    return frozenset(found)


def _importing(paths: list[Path], prefix: str) -> list[str]:
    return [
        str(p.relative_to(PACKAGE))
        for p in paths
        if any(name == prefix or name.startswith(prefix + ".") for name in _imports(p))
    ]


@pytest.mark.parametrize("layer", ["integrations", "channels", "messaging"])
def test_integrations_and_channels_know_nothing_of_dagster_or_fastapi(layer):
    paths = sorted((PACKAGE / layer).rglob("*.py"))
    assert paths
    assert _importing(paths, "dagster") == []
    assert _importing(paths, "fastapi") == []
    assert _importing(paths, "retail_pipeline.defs") == []
    assert _importing(paths, "retail_pipeline.api") == []


def test_loading_the_simulators_and_channels_does_not_load_dagster():
    code = (
        "import sys, retail_pipeline.simulators.app, retail_pipeline.channels.registry as r; r.all_channels();"
        "[c.client_class() for c in r.all_channels()];"
        "import retail_pipeline.integrations.carriers, retail_pipeline.integrations.llm;"
        "print(sorted(m for m in ('dagster', 'fastapi') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "['fastapi']"  # the simulators are FastAPI apps; nothing loads Dagster


def test_production_code_imports_simulators_only_where_it_starts_them():
    importing = _importing(_sources(), "retail_pipeline.simulators")
    assert set(importing) <= STARTS_SIMULATORS, importing


def test_defs_do_not_import_the_sidecar():
    assert _importing(_sources(under="defs"), "retail_pipeline.api") == []


def test_a_channel_is_named_only_in_its_module_and_the_registry():
    names = {c.name for c in all_channels()} | {c.title for c in all_channels()}
    pattern = re.compile(r"\b(" + "|".join(re.escape(n) for n in sorted(names)) + r")\b", re.IGNORECASE)
    where: dict[str, set[str]] = {}
    for path in _sources():
        rel = path.relative_to(PACKAGE).as_posix()
        for found in pattern.findall(path.read_text()):
            where.setdefault(found.lower(), set()).add(rel)
    for plugin in all_channels():
        files = where.get(plugin.name, set()) | where.get(plugin.title.lower(), set())
        outside = files - {f"channels/{plugin.name}.py", "channels/registry.py"}
        assert outside <= OTHER_MEANING, (plugin.name, sorted(outside - OTHER_MEANING))


def test_the_registry_is_the_channel_set_of_every_partition_and_capability():
    assert [c.name for c in all_channels()] == list(CHANNEL_MODULES)
    assert partitions.listing_channels.get_partition_keys() == list(channel_names("listings"))
    assert partitions.message_channels.get_partition_keys() == list(channel_names("buyer_messages"))
    assert partitions.order_channels.get_partition_keys() == list(channel_names("orders"))
    # what each channel declares today (a change here is a change of what the product does)
    assert channel_names("listings") == (
        "trademe", "ebay", "shopify", "reverb", "amazon", "kaufland", "vintage_and_rare",
    )  # fmt: skip
    assert "vintage_and_rare" not in channel_names("orders")  # no orders API: sales show in its CSV only
    assert channel_names("acceptance") == ("bestbuy",)
    assert channel_names("buyer_messages") == ("reverb", "bestbuy", "kaufland")
    assert channel_names("order_webhooks") == ("shopify",)
    assert set(channel_names("tracking")) == set(channel_names("orders"))


NEW_CHANNEL = """
import sys, types
from retail_pipeline.channels import registry
from retail_pipeline.channels.plugin import Channel


async def orders(client, window):
    return
    yield


async def push(client, order, lines, shipment, carrier):
    return {}


plugin = types.ModuleType("new_channel")
plugin.CHANNEL = Channel(name="otto", title="Otto", client="httpx:AsyncClient", orders=orders,
                         push_tracking=push, carrier_names={"canada_post": "Canada Post"})
sys.modules["new_channel"] = plugin
registry.CHANNEL_MODULES["otto"] = "new_channel"  # the one registry line

import json
from retail_pipeline import partitions
from retail_pipeline.definitions import defs
from retail_pipeline.orchestration import planned_runs

definitions = defs()
graph = definitions.resolve_asset_graph()
print(json.dumps({
    "orders": partitions.order_channels.get_partition_keys(),
    "listings": partitions.listing_channels.get_partition_keys(),
    "messages": partitions.message_channels.get_partition_keys(),
    "order_sync_jobs": sorted({name for name, _ in planned_runs(definitions)}),
}))
"""


def test_a_new_channel_is_one_module_and_one_registry_line():
    """An orders-and-tracking channel registered in a fresh process: its orders are partitioned and
    synced by the same jobs, and nothing else had to change."""
    done = subprocess.run([sys.executable, "-c", NEW_CHANNEL], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-3000:]
    seen = json.loads(done.stdout.strip().splitlines()[-1])
    assert seen["orders"] == [*channel_names("orders"), "otto"]
    assert "otto" not in seen["listings"] and "otto" not in seen["messages"]
    assert {"order_sync", "fulfilment"} <= set(seen["order_sync_jobs"])

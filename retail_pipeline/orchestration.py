"""Headless whole-graph execution: what `run-once`, the demo's first run and the benchmarks use.

It runs the very asset definitions the Dagster UI shows, on the same Postgres-backed instance, so
every headless run is in the run history too.
"""

from __future__ import annotations

import os
from collections import defaultdict
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager, nullcontext
from graphlib import CycleError, TopologicalSorter
from typing import Any

import dagster as dg

from retail_pipeline.settings import get_settings


def _simulators_answering(base_url: str) -> bool:
    import httpx

    try:
        return "systems" in httpx.get(f"{base_url}/", timeout=2).json()
    except (httpx.HTTPError, ValueError):
        return False


@contextmanager
def simulators_on_loopback(port: int | None = None) -> Iterator[str]:
    """Simulators on 127.0.0.1:`port` (SIMULATOR_PORT) for the duration; SIMULATOR_URL points at them.

    The port is fixed on purpose: product and image URLs contain it, so a second run against a
    fresh simulator sees the very same URLs and writes nothing. If simulators already answer there
    (the demo's), they are used as they are.
    """
    from retail_pipeline.simulators.app import build_simulator_app
    from retail_pipeline.simulators.persistence import persisted
    from retail_pipeline.simulators.serving import serve_in_thread

    port = port or get_settings().simulator_port
    base_url = f"http://127.0.0.1:{port}"
    previous = os.environ.get("SIMULATOR_URL")
    with ExitStack() as serving:
        url = base_url
        if not _simulators_answering(base_url):
            # Our own simulators keep their world (listings, orders) in the data dir between runs.
            app = build_simulator_app()
            serving.enter_context(persisted(app, get_settings().data_dir))
            url = serving.enter_context(serve_in_thread(app, port=port))
        os.environ["SIMULATOR_URL"] = url
        get_settings.cache_clear()
        try:
            yield url
        finally:
            if previous is None:
                os.environ.pop("SIMULATOR_URL", None)
            else:
                os.environ["SIMULATOR_URL"] = previous
            get_settings.cache_clear()


@contextmanager
def sidecar_on_loopback() -> Iterator[str]:
    """The sidecar (the same app `retail-pipeline api` serves) on a free loopback port for the duration:
    the simulated packer packs through its HTTP routes."""
    from retail_pipeline.api.app import create_app
    from retail_pipeline.simulators.serving import serve_in_thread

    with serve_in_thread(create_app(get_settings())) as url:
        yield url


# The asset that waits for the warehouse: tracking is pushed for packed orders only (PACKING_REQUIRED).
WAITS_FOR_PACKING = dg.AssetKey("tracking_updates")


def simulated_packer(api_url: str | None = None) -> Callable[[], dict[str, Any]] | None:
    """The pass of the simulated packer run-once makes between labels and tracking, packing through the
    sidecar at `api_url` (None: one served on loopback for the pass). None when packing is not
    required (tracking then ships labelled orders) or when not simulating."""
    settings = get_settings()
    if not (settings.packing_required and settings.use_simulators):
        return None

    def pack() -> dict[str, Any]:
        from retail_pipeline.db.engine import get_engine, resolve_database_url
        from retail_pipeline.simulators.packer import pack_labelled_orders

        engine = get_engine(resolve_database_url(get_settings()))
        try:
            with nullcontext(api_url) if api_url else sidecar_on_loopback() as url:
                result = pack_labelled_orders(url, engine)
        finally:
            engine.dispose()
        return {**result.counts, "errors": result.errors[:5]}

    return pack


def _stages_in_order(defs: dg.Definitions) -> list[tuple[dg.PartitionsDefinition | None, list[dg.AssetKey]]]:
    """Executable assets in stages: one run per stage (per partition), each stage one partitions
    definition, every stage after the stages it depends on.

    An asset's phase is the highest phase of its upstream assets, plus one where the upstream asset is
    partitioned differently (that stage must finish first). Time-partitioned assets sync the outside
    world (orders by channel × day), so they and everything downstream of them (acceptance, labels,
    tracking) come after every other stage: the listings they sell are published and the market has
    bought before orders are read, and fulfilment works the orders just synced."""
    graph = defs.resolve_asset_graph()
    keys = [key for level in graph.toposorted_asset_keys_by_level for key in level]
    outside: set[dg.AssetKey] = set()  # time-partitioned assets and their descendants
    for key in keys:
        node = graph.get(key)
        if _is_time_partitioned(node.partitions_def) or any(up in outside for up in node.parent_keys):
            outside.add(key)
    phase: dict[dg.AssetKey, int] = {}

    def place(key: dg.AssetKey, floor: int) -> None:
        node = graph.get(key)
        own = repr(node.partitions_def)
        phase[key] = max(
            [floor]
            + [
                phase[up] + (repr(graph.get(up).partitions_def) != own)
                for up in node.parent_keys
                if up in phase
            ]
        )

    for key in keys:
        if key not in outside:
            place(key, 0)
    after_inside = max(phase.values(), default=-1) + 1
    for key in keys:
        if key in outside:
            place(key, after_inside)
    groups: dict[tuple[int, str], list[dg.AssetKey]] = defaultdict(list)
    partitions: dict[tuple[int, str], dg.PartitionsDefinition | None] = {}
    for key in keys:
        node = graph.get(key)
        if not node.is_executable or not node.is_materializable:
            continue
        group = (phase[key], repr(node.partitions_def))
        partitions[group] = node.partitions_def
        groups[group].append(key)
    order = sorted(groups, key=lambda g: (g[0], not _is_time_partitioned(partitions[g])))
    return [(partitions[g], groups[g]) for g in order]


class UnplannableGraph(RuntimeError):
    """The definitions' named jobs cannot run the graph stage by stage (an asset in no job, say)."""


def named_asset_jobs(defs: dg.Definitions) -> dict[str, set[dg.AssetKey]]:
    """The definitions' asset jobs (what schedules, sensors and the UI launch) and the assets each selects."""
    graph = defs.resolve_asset_graph()
    jobs: dict[str, set[dg.AssetKey]] = {}
    for job in defs.jobs or []:
        selection = getattr(job, "selection", None)  # define_asset_job's; op jobs (@dg.job) have none
        if isinstance(selection, dg.AssetSelection):
            jobs[job.name] = set(selection.resolve(graph))
    return jobs


def planned_runs(defs: dg.Definitions) -> list[tuple[str, dg.PartitionsDefinition | None]]:
    """The graph as runs of named jobs: each stage of `_stages_in_order` covered by the jobs that lie
    wholly within it (the largest first, none overlapping), in dependency order within the stage, so
    run-once's history reads like the schedules' (catalog_refresh, listings_publish, order_sync, …)."""
    graph = defs.resolve_asset_graph()
    jobs = named_asset_jobs(defs)
    plan: list[tuple[str, dg.PartitionsDefinition | None]] = []
    for pdef, keys in _stages_in_order(defs):
        stage = set(keys)
        covered: set[dg.AssetKey] = set()
        chosen: list[str] = []
        for name in sorted(
            (n for n, sel in jobs.items() if sel and sel <= stage), key=lambda n: (-len(jobs[n]), n)
        ):
            if not jobs[name] & covered:
                chosen.append(name)
                covered |= jobs[name]
        if missing := stage - covered:
            names = ", ".join(sorted(k.to_user_string() for k in missing))
            raise UnplannableGraph(
                f"assets in no named job of their stage: {names}; add them to their area's job (defs/*/schedules.py)"
            )
        owner = {key: name for name in chosen for key in jobs[name]}
        waits_for: dict[str, set[str]] = {name: set() for name in chosen}  # the stage's jobs it runs after
        for name in chosen:
            for key in jobs[name]:
                waits_for[name] |= {owner[up] for up in graph.get(key).parent_keys if up in owner} - {name}
        sorter = TopologicalSorter(waits_for)
        try:
            plan += [(name, pdef) for name in sorter.static_order()]
        except CycleError as error:
            raise UnplannableGraph(f"named jobs depend on each other both ways: {error.args[1]}") from None
    return plan


def _is_time_partitioned(pdef: dg.PartitionsDefinition | None) -> bool:
    if isinstance(pdef, dg.MultiPartitionsDefinition):
        return pdef.has_time_window_dimension
    return isinstance(pdef, dg.TimeWindowPartitionsDefinition)


def _todays_key(pdef: dg.TimeWindowPartitionsDefinition) -> str | None:
    """Today's partition by the channels' clock (the simulated one against the simulators)."""
    from retail_pipeline.defs.resources import channel_now

    key = channel_now().strftime(pdef.fmt)
    return key if key in pdef.get_partition_keys() else None


def _partition_keys(pdef: dg.PartitionsDefinition, instance: dg.DagsterInstance) -> list[str]:
    """Every partition, except for time-partitioned assets: only today's (per channel for channel × day),
    not every day since the start date (older days are a backfill, not a run of the graph)."""
    if isinstance(pdef, dg.TimeWindowPartitionsDefinition):
        today = _todays_key(pdef)
        return [today] if today else []
    if isinstance(pdef, dg.MultiPartitionsDefinition) and pdef.has_time_window_dimension:
        time_dim = pdef.time_window_dimension
        today = _todays_key(time_dim.partitions_def)  # type: ignore[arg-type]
        if today is None:
            return []
        (other,) = [d for d in pdef.partitions_defs if d.name != time_dim.name]
        return [
            dg.MultiPartitionKey({other.name: key, time_dim.name: today})
            for key in other.partitions_def.get_partition_keys(dynamic_partitions_store=instance)
        ]
    return list(pdef.get_partition_keys(dynamic_partitions_store=instance))


def advance_market(minutes: float | None = None) -> dict[str, Any] | None:
    """Let the simulated buyers shop for `minutes` (RUN_ONCE_MARKET_MINUTES, default 60) of simulated
    time: POST /_control/market/advance. None when not simulating or the simulators do not answer."""
    import httpx

    settings = get_settings()
    if not settings.use_simulators:
        return None
    minutes = float(os.environ.get("RUN_ONCE_MARKET_MINUTES", "60")) if minutes is None else minutes
    try:
        response = httpx.post(
            f"{settings.simulator_url.rstrip('/')}/_control/market/advance",
            params={"minutes": minutes},
            timeout=60,
        )
        response.raise_for_status()
    except httpx.HTTPError:
        return None
    body = response.json()
    return {"minutes": minutes, "purchases": body["count"], "now": body["now"]}


def _numbers(metadata: dict[str, Any]) -> dict[str, float]:
    numbers = {}
    for name, value in metadata.items():
        number = getattr(value, "value", None)
        if isinstance(number, int | float) and not isinstance(number, bool):
            numbers[name] = number
    return numbers


def _collect(result: dg.ExecuteInProcessResult, partition: str | None, stages: dict[str, Any]) -> None:
    """Numeric metadata per asset; partitioned assets per partition plus a `total`."""
    for event in result.get_asset_materialization_events():
        materialization = event.materialization
        counts = _numbers(materialization.metadata)
        name = materialization.asset_key.to_user_string()
        if partition is None:
            stages[name] = counts
            continue
        stage = stages.setdefault(name, {"total": {}})
        stage[partition] = counts
        for key, number in counts.items():
            if isinstance(number, int):  # counts add up across suppliers; means and ratios do not
                stage["total"][key] = stage["total"].get(key, 0) + number


INTERRUPTIONS = {"KeyboardInterrupt", "DagsterExecutionInterruptedError"}


def _interrupted(result: dg.ExecuteInProcessResult) -> bool:
    """Whether a SIGINT/SIGTERM reached the run. Dagster turns one during a step into the step's failure,
    or, for a step with a RetryPolicy, into a retry, and the run ends normally either way."""
    for event in result.all_events:
        if event.is_step_failure and event.step_failure_data.error_source.name == "INTERRUPT":
            return True
        if event.event_type == dg.DagsterEventType.STEP_UP_FOR_RETRY:
            error = event.event_specific_data.error
            while error is not None:
                if error.cls_name in INTERRUPTIONS:
                    return True
                error = error.cause
    return False


def _split_at_packing(defs: dg.Definitions, job_name: str) -> list[list[dg.AssetKey] | None]:
    """The asset selections to run the job in: whole (None), or, when it ends with the tracking push and
    has steps before it (fulfilment: accept, label, track), those steps, then the push on its own, so the
    packer can pack in between."""
    assets = named_asset_jobs(defs).get(job_name, set())
    if WAITS_FOR_PACKING not in assets or len(assets) == 1:
        return [None]
    return [sorted(assets - {WAITS_FOR_PACKING}), [WAITS_FOR_PACKING]]


def execute_graph(
    defs: dg.Definitions, instance: dg.DagsterInstance, *, packer: Callable[[], dict[str, Any]] | None = None
) -> dict[str, Any]:
    """Materialise every asset once (every partition of partitioned ones, today's of time-partitioned
    ones) and gather their counts. Against the simulators, the market shops before the order stage, and
    the `packer` (see `simulated_packer`) packs the labelled orders before tracking is pushed."""
    from retail_pipeline.partitions import sync_dynamic_partitions

    stages: dict[str, Any] = {}
    runs: list[dict[str, Any]] = []
    ok = True
    market: dict[str, Any] | None = None
    marketed = False
    packed: dict[str, Any] | None = None
    for job_name, pdef in planned_runs(defs):
        if _is_time_partitioned(pdef) and not marketed:  # listings are out: buyers shop, then orders sync
            market, marketed = advance_market(), True
        job_def = defs.resolve_job_def(job_name)
        partition_keys: list[str | None] = [None]
        if isinstance(pdef, dg.DynamicPartitionsDefinition):
            sync_dynamic_partitions(instance)  # the sensor's work, done inline: partitions exist before use
        if pdef is not None:
            partition_keys = list(_partition_keys(pdef, instance))
        selections = _split_at_packing(defs, job_name) if packer is not None else [None]
        for partition_key in partition_keys:
            for selection in selections:
                if selection == [WAITS_FOR_PACKING]:  # the labels are printed: the warehouse packs
                    try:
                        packed = packer()  # type: ignore[misc]
                    except Exception as error:  # tracking then finds nothing packed: the summary says why
                        packed = {"error": f"{type(error).__name__}: {error}"}
                result = job_def.execute_in_process(
                    instance=instance,
                    partition_key=partition_key,
                    asset_selection=selection,
                    raise_on_error=False,
                    tags={"retail/trigger": "run-once"},
                )
                if _interrupted(result):  # told to stop: do so, rather than carry on with the next run
                    raise KeyboardInterrupt(f"{job_name} interrupted")
                _collect(result, partition_key, stages)
                runs.append(
                    {
                        "run_id": result.run_id,
                        "job": job_name,
                        "partition": partition_key,
                        "success": result.success,
                    }
                )
                ok = ok and result.success
    summary: dict[str, Any] = {"ok": ok, "stages": stages, "runs": runs}
    if market is not None:
        summary["market"] = market
    if packed is not None:
        summary["packer"] = packed
    return summary


def run_once(*, use_simulators: bool = True, api_url: str | None = None) -> dict[str, Any]:
    """The whole graph once. `api_url`: a sidecar already serving (the demo's) for the simulated packer;
    without it one is served on loopback for the packer's pass."""
    from retail_pipeline.definitions import defs as build_defs
    from retail_pipeline.runtime import prepare

    database = "external" if get_settings().database_url else "embedded"
    runtime = prepare()
    try:
        with simulators_on_loopback() if use_simulators else nullcontext():
            instance = dg.DagsterInstance.get()
            # dagster-postgres opens a new connection per event written (NullPool, for processes that
            # come and go); one process running the whole graph keeps a few open instead, as the
            # webserver does. No statement timeout: a run-once step may wait on a slow query legitimately.
            instance.optimize_for_webserver(statement_timeout=0, pool_recycle=3600, max_overflow=10)
            summary = execute_graph(build_defs(), instance, packer=simulated_packer(api_url))
    except Exception as error:  # a systemic failure still yields a readable summary and exit 1
        summary = {"ok": False, "stages": {}, "runs": [], "error": f"{type(error).__name__}: {error}"}
    summary["database"] = database
    summary["migrations_applied"] = runtime.applied_migrations
    return summary

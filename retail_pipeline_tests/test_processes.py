"""Long-running commands stop when told, even when started as a background job (SIGINT ignored)."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import psycopg
import pytest

from retail_pipeline.processes import Children, group_alive
from retail_pipeline.simulators.persistence import state_path
from retail_pipeline_tests.process_tree import (
    alive,
    background_command,
    descendants,
    free_port,
    wait_until_answering,
)

CLI = [sys.executable, "-m", "retail_pipeline.cli"]
STOP_WITHIN_SECONDS = 10


def _env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "DAGSTER_HOME", "SIMULATOR_URL")}
    return {**env, **extra}


def _stop(proc: subprocess.Popen, signum: int) -> tuple[int, float]:
    """Send `signum` to the command alone; its exit code and how long it took to exit."""
    started = time.monotonic()
    os.kill(proc.pid, signum)
    code = proc.wait(timeout=STOP_WITHIN_SECONDS)
    return code, time.monotonic() - started


def test_background_command_starts_with_sigint_ignored():
    """The precondition the other tests rely on: the child inherits SIGINT as SIG_IGN."""
    probe = [sys.executable, "-c", "import signal; print(signal.getsignal(signal.SIGINT) is signal.SIG_IGN)"]
    with background_command(probe, env=_env(), stdout=subprocess.PIPE, text=True) as proc:
        assert proc.communicate(timeout=30)[0].strip() == "True"


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_simulate_stops_on_a_signal_and_saves_its_world(signum: int, tmp_path: Path):
    port = free_port()
    data_dir = tmp_path / "var"
    env = _env(RETAIL_DATA_DIR=str(data_dir), SIMULATOR_PRODUCTS_PER_SUPPLIER="2")
    with background_command([*CLI, "simulate", "--port", str(port)], env=env) as proc:
        wait_until_answering(f"http://127.0.0.1:{port}/", proc)
        tree = descendants(proc.pid)
        code, seconds = _stop(proc, signum)
        assert code == 0 and seconds < STOP_WITHIN_SECONDS
        assert not alive(tree) and not group_alive(proc.pid)
        # A clean stop, not a kill: the simulated world was saved on the way out.
        assert state_path(data_dir).exists()


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_api_stops_on_a_signal(signum: int, database_url: str, tmp_path: Path):
    port = free_port()
    env = _env(DATABASE_URL=database_url, RETAIL_DATA_DIR=str(tmp_path / "var"), MEDIA_SIGNING_KEY="test")
    with background_command([*CLI, "api", "--port", str(port)], env=env) as proc:
        wait_until_answering(f"http://127.0.0.1:{port}/health", proc)
        tree = descendants(proc.pid)
        code, seconds = _stop(proc, signum)
        assert code == 0 and seconds < STOP_WITHIN_SECONDS
        assert not alive(tree) and not group_alive(proc.pid)


STUBBORN = """
import signal, subprocess, sys, time
signal.signal(signal.SIGTERM, signal.SIG_IGN)  # inherited by the grandchild below
subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)"])
time.sleep(120)
"""


def test_children_stop_kills_a_group_that_ignores_sigterm_after_the_grace_period():
    children = Children()
    child = children.start("stubborn", [sys.executable, "-c", STUBBORN])
    tree = []
    try:
        deadline = time.monotonic() + 30
        while len(tree) < 1 and time.monotonic() < deadline:  # the grandchild has started
            tree = descendants(child.pid)
            time.sleep(0.05)
        assert tree, "the grandchild never started"
        started = time.monotonic()
        children.stop(grace=1)
        assert time.monotonic() - started < STOP_WITHIN_SECONDS
        assert child.returncode == -signal.SIGKILL
        assert not alive(tree) and not group_alive(child.pid)
    finally:
        for process in alive(tree):
            process.kill()
        if child.poll() is None:
            os.killpg(child.pid, signal.SIGKILL)


def test_children_stop_waits_for_a_clean_exit():
    children = Children()
    child = children.start("polite", [sys.executable, "-c", "import time; time.sleep(120)"])
    try:
        started = time.monotonic()
        children.stop(grace=STOP_WITHIN_SECONDS)
        assert time.monotonic() - started < 2
        assert child.returncode == -signal.SIGTERM and not group_alive(child.pid)
    finally:
        if child.poll() is None:
            os.killpg(child.pid, signal.SIGKILL)


def test_run_once_interrupted_mid_run_stops_instead_of_carrying_on(database_url: str, tmp_path: Path):
    """Dagster turns a signal during a step into a failed run; run-once (and the demo's first run) must
    then stop, not go on to the next job."""
    port = free_port()
    env = _env(
        DATABASE_URL=database_url,
        RETAIL_DATA_DIR=str(tmp_path / "var"),
        SIMULATOR_PORT=str(port),
        SIMULATOR_PRODUCTS_PER_SUPPLIER="3",
        # The LLM answers slowly, one product at a time: after its first answer, enrichment still has
        # two products (3 s) to go, so the signal surely comes mid-step. (Concurrent calls would all
        # end together, and the signal could land in the next step instead.) The step ends its call in
        # flight before the run fails, so more work left would eat STOP_WITHIN_SECONDS (six products
        # took 8.7 of the 10 s on an idle machine).
        SIMULATOR_FAULTS=json.dumps({"llm": {"latency_ms": 1500}}),
        LLM_MAX_CONCURRENCY="1",
    )
    journal = f"http://127.0.0.1:{port}/_control/journal"
    with background_command([*CLI, "run-once"], env=env, stdout=subprocess.DEVNULL) as proc:
        deadline = time.monotonic() + 120
        while True:  # until the run-once's simulators have answered the LLM once
            assert proc.poll() is None and time.monotonic() < deadline
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(journal, params={"system": "llm", "limit": 1}, timeout=5).json()["entries"]:
                    break
            time.sleep(0.2)
        tree = descendants(proc.pid)
        code, seconds = _stop(proc, signal.SIGTERM)
        assert code == 130 and seconds < STOP_WITHIN_SECONDS
        assert not alive(tree) and not group_alive(proc.pid)
    with psycopg.connect(database_url) as conn:
        runs = conn.execute(
            "SELECT pipeline_name, status FROM dagster.runs ORDER BY create_timestamp"
        ).fetchall()
    assert runs[-1] == ("catalog_refresh", "FAILURE")
    assert not [job for job, _ in runs if job in ("listings_publish", "order_sync", "fulfilment")]

"""`retail-pipeline demo` end to end: embedded Postgres, simulators, sidecar, Dagster UI, first run, Ctrl-C."""

from __future__ import annotations

import contextlib
import os
import re
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import psycopg

from retail_pipeline.settings import PROJECT_ROOT
from retail_pipeline_tests.process_tree import alive, background_command, descendants, free_port

CLI = [sys.executable, "-m", "retail_pipeline.cli"]
READY_LINE = "Ctrl-C stops everything."


def _listening(port: int) -> bool:
    with socket.socket() as sock:
        return sock.connect_ex(("127.0.0.1", port)) == 0


def _graphql(ui: str, query: str) -> dict:
    response = httpx.post(f"{ui}/graphql", json={"query": query}, timeout=30)
    response.raise_for_status()
    return response.json()["data"]


def test_demo_serves_everything_on_the_embedded_database_and_stops_cleanly(tmp_path: Path, scratch_dir: Path):
    ports = {"SIMULATOR_PORT": free_port(), "API_PORT": free_port(), "DAGSTER_PORT": free_port()}
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "DAGSTER_HOME", "SIMULATOR_URL")}
    # A small world (4 products a supplier): the demo's mechanics are the subject here (the run-once test
    # covers the graph at 12), and the first run's volume only adds minutes.
    env.update(
        {k: str(v) for k, v in ports.items()},
        RETAIL_DATA_DIR=str(scratch_dir / "var"),
        SIMULATOR_PRODUCTS_PER_SUPPLIER="4",
    )
    log = open(tmp_path / "demo.log", "w+")  # noqa: SIM115 - read back while the process runs
    # Started as `make test &` in a script starts it: with SIGINT ignored, which the demo must not mind.
    # Leaving the stack kills the demo's whole tree, also when an assertion below failed.
    cleanup = contextlib.ExitStack()
    demo = cleanup.enter_context(
        background_command([*CLI, "demo"], env=env, stdout=log, stderr=subprocess.STDOUT)
    )
    try:
        deadline = time.monotonic() + 300
        while READY_LINE not in (tmp_path / "demo.log").read_text():
            assert demo.poll() is None, (tmp_path / "demo.log").read_text()[-4000:]
            assert time.monotonic() < deadline, (
                "demo never came up:\n" + (tmp_path / "demo.log").read_text()[-4000:]
            )
            time.sleep(1)
        output = (tmp_path / "demo.log").read_text()
        ui = f"http://127.0.0.1:{ports['DAGSTER_PORT']}"
        assert ui in output and f"http://127.0.0.1:{ports['API_PORT']}" in output
        assert '"ok": true' in output  # the first run succeeded

        assets = _graphql(ui, "{ assetNodes { assetKey { path } } }")["assetNodes"]
        assert ["suppliers"] in [a["assetKey"]["path"] for a in assets]
        query = "{ runsOrError { ... on Runs { results { runId status tags { key value } } } } }"
        runs = _graphql(ui, query)["runsOrError"]["results"]
        first_run = [r for r in runs if {"key": "retail/trigger", "value": "run-once"} in r["tags"]]
        assert first_run and all(r["status"] == "SUCCESS" for r in first_run)
        # The daemon's schedules and sensors may have started more by now; none has failed.
        assert not [r for r in runs if r["status"] in ("FAILURE", "CANCELED")], runs
        assert httpx.get(f"http://127.0.0.1:{ports['API_PORT']}/health", timeout=10).status_code == 200
        assert httpx.get(f"http://127.0.0.1:{ports['SIMULATOR_PORT']}/", timeout=10).status_code == 200
        # The printed admin key signs in to the console, whose home page then answers.
        console_key = re.search(r"sign in with the admin key (rp_\S+)\)", output).group(1)
        with httpx.Client(
            base_url=f"http://127.0.0.1:{ports['API_PORT']}", timeout=10, follow_redirects=True
        ) as browser:
            signed_in = browser.post("/console/signin", data={"api_key": console_key})
            assert signed_in.status_code == 200 and str(signed_in.url).endswith("/console"), signed_in.text[
                :500
            ]

        db_url = subprocess.run(
            [*CLI, "db", "url"], cwd=PROJECT_ROOT, env=env, capture_output=True, text=True, check=True
        ).stdout.strip()
        with psycopg.connect(db_url) as conn:  # the UI's run history is in Postgres, not SQLite
            stored = {r[0] for r in conn.execute("SELECT run_id FROM dagster.runs")}
            # The first run's orders were packed (the simulated packer, through the sidecar) and shipped.
            packed_then_shipped = conn.execute(
                "SELECT count(*) FROM retail.order_status_history p JOIN retail.order_status_history s"
                " ON s.order_id = p.order_id AND s.status = 'shipped' AND s.id > p.id WHERE p.status = 'packed'"
            ).fetchone()[0]
        assert packed_then_shipped > 0
        assert {r["runId"] for r in runs} <= stored
        assert not list((scratch_dir / "var").rglob("*.db"))

        # The simulators, the sidecar, dagster dev with its webserver, daemon and code server.
        tree = descendants(demo.pid)
        assert len(tree) >= 3
        os.killpg(demo.pid, signal.SIGINT)  # what Ctrl-C in the terminal sends
        assert demo.wait(timeout=90) == 0
        time.sleep(1)
        assert not any(_listening(port) for port in ports.values()), "a child process outlived the demo"
        assert not alive(tree), alive(tree)
    finally:
        cleanup.close()
        subprocess.run([*CLI, "db", "stop"], cwd=PROJECT_ROOT, env=env, capture_output=True, timeout=60)
        log.close()

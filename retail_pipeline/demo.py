"""`retail-pipeline demo`: the whole system on one machine, stopped cleanly by Ctrl-C."""

from __future__ import annotations

import json
import os
import secrets
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

from retail_pipeline.processes import Children
from retail_pipeline.settings import PROJECT_ROOT, get_settings


class DemoError(RuntimeError):
    pass


def _port_free(port: int) -> bool:
    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        return sock.connect_ex(("127.0.0.1", port)) != 0


def _wait_http(url: str, child: subprocess.Popen, what: str, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if child.poll() is not None:
            raise DemoError(f"{what} exited with code {child.returncode} before answering at {url}")
        try:
            if httpx.get(url, timeout=2).status_code < 500:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    raise DemoError(f"{what} did not answer at {url} within {timeout:.0f}s")


# How often the simulated packer works through the pick queue while the demo runs (the fulfilment
# schedule then ships what it packed at its next tick).
PACK_EVERY_SECONDS = 20


@contextmanager
def packing_bench(api_url: str) -> Iterator[Callable[[], dict[str, int]] | None]:
    """The demo's simulated warehouse worker: one operator key for the demo's life (revoked at exit) and
    a pass over the pick queue each time the returned function is called. None when the shop packs
    nothing (PACKING_REQUIRED=false)."""
    from retail_pipeline.db.engine import get_engine, resolve_database_url
    from retail_pipeline.simulators.packer import SimulatedPacker, packer_key

    settings = get_settings()
    if not settings.packing_required:
        yield None
        return
    engine = get_engine(resolve_database_url(settings))
    try:
        with (
            packer_key(engine) as key,
            httpx.Client(base_url=api_url, headers={"X-API-Key": key}, timeout=30) as client,
        ):
            yield lambda: SimulatedPacker(client).run().counts
    finally:
        engine.dispose()


def run_demo(*, no_first_run: bool = False) -> int:
    from retail_pipeline.orchestration import run_once
    from retail_pipeline.runtime import prepare

    settings = get_settings()
    ports = {
        "simulators": settings.simulator_port,
        "sidecar": settings.api_port,
        "dagster": settings.dagster_port,
    }
    busy = [f"{name} port {port}" for name, port in ports.items() if not _port_free(port)]
    if busy:
        print(
            f"cannot start the demo: {', '.join(busy)} already in use "
            "(set SIMULATOR_PORT / API_PORT / DAGSTER_PORT)",
            file=sys.stderr,
        )
        return 2

    runtime = prepare()
    cli = [sys.executable, "-m", "retail_pipeline.cli"]
    sim_url = f"http://127.0.0.1:{ports['simulators']}"
    api_url = f"http://127.0.0.1:{ports['sidecar']}"
    ui_url = f"http://127.0.0.1:{ports['dagster']}"
    os.environ["SIMULATOR_URL"] = sim_url  # the Dagster processes inherit it
    # The webhook refuses everything without a secret; the demo makes one up and prints it.
    webhook_secret = os.environ.setdefault("IMPORT_WEBHOOK_SECRET", secrets.token_urlsafe(24))
    get_settings.cache_clear()

    children = Children(cwd=PROJECT_ROOT)
    try:
        # The simulators and the sidecar start together; dagster dev starts after the first run, so its
        # daemon's schedules and sensors (which see the first run's sales) do not compete with that run
        # for the same pool slots: the first run takes the same time on every start.
        sim = children.start("simulators", [*cli, "simulate", "--port", str(ports["simulators"])])
        api = children.start("sidecar", [*cli, "api", "--port", str(ports["sidecar"])])
        _wait_http(f"{sim_url}/", sim, "simulators")
        _wait_http(f"{api_url}/health", api, "sidecar")
        # The console signs in with an API key; the demo makes an admin one and prints it (shown once).
        from retail_pipeline.api.keys import create_api_key
        from retail_pipeline.db.engine import get_engine

        console_key = create_api_key(get_engine(runtime.database_url), "admin", "demo admin")
        if not no_first_run:
            print("first run of the whole graph (the Dagster UI starts after it)…", flush=True)
            summary = run_once(use_simulators=False, api_url=api_url)
            print(json.dumps({"first_run": summary}, indent=2, default=str), flush=True)
        dagster_bin = str(Path(sys.executable).with_name("dagster"))
        ui = children.start(
            "dagster",
            [dagster_bin, "dev", "-w", "workspace.yaml", "-h", "127.0.0.1", "-p", str(ports["dagster"])],
        )
        _wait_http(f"{ui_url}/server_info", ui, "dagster dev", timeout=180)
        print(
            "\nretail_pipeline demo is up "
            f"(database: {'DATABASE_URL' if settings.database_url else 'embedded, ' + str(settings.embedded_pgdata)})\n"
            f"  Dagster UI   {ui_url}\n  sidecar API  {api_url}  (docs at {api_url}/docs)\n"
            f"  ops console  {api_url}/console  (sign in with the admin key {console_key})\n"
            f"  simulators   {sim_url}\n  DAGSTER_HOME {runtime.dagster_home}\n"
            f"  import webhook: curl -X POST {api_url}/api/import/webhook -H 'X-Webhook-Secret: {webhook_secret}'"
            " -H 'Content-Type: application/json' -d @batch.json\n"
            "Ctrl-C stops everything.",
            flush=True,
        )
        with packing_bench(api_url) as pack:
            next_pass = time.monotonic() + PACK_EVERY_SECONDS
            while all(proc.poll() is None for _, proc in children.procs):
                time.sleep(1)
                if pack is not None and time.monotonic() >= next_pass:
                    next_pass = time.monotonic() + PACK_EVERY_SECONDS
                    try:
                        counts = pack()
                    except httpx.HTTPError as error:  # the sidecar restarting: the next pass packs
                        print(f"simulated packer: {error}", file=sys.stderr, flush=True)
                    else:
                        if counts["packed"]:
                            print(f"simulated packer: packed {counts['packed']} order(s)", flush=True)
        dead = [name for name, proc in children.procs if proc.poll() is not None]
        print(f"stopping: {', '.join(dead)} exited", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("\nstopping the demo…", flush=True)
        return 0
    except DemoError as error:
        print(f"demo failed: {error}", file=sys.stderr)
        return 1
    finally:
        children.stop()

"""/api/sync/…: launching detect and apply runs through the Dagster webserver, applying one event, counting
a run's events. Once end to end with a real launch (sidecar → GraphQL → webserver → instance → run);
the other cases need no webserver (a dead one answers 503)."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from decimal import Decimal
from typing import Any

import dagster as dg
import pytest
from dagster._core.launcher import RunLauncher
from dagster._serdes import ConfigurableClass
from fastapi.testclient import TestClient
from sqlalchemy import Engine, text

from retail_pipeline.api.sync import DagsterLauncher, LaunchFailed, dagster_launcher
from retail_pipeline.defs.listings.state import detect
from retail_pipeline.integrations.marketplaces.base import RemoteListing
from retail_pipeline.settings import PROJECT_ROOT
from retail_pipeline_tests.defs.listings.conftest import listing_rows
from retail_pipeline_tests.defs.listings.test_publish import drafts, publish
from retail_pipeline_tests.defs.listings.test_state import live_listings
from retail_pipeline_tests.seeds.listed_products import seed_products

CHANNEL = "reverb"
DEAD_WEBSERVER = "http://127.0.0.1:1"  # nothing listens on port 1: connection refused at once


@pytest.fixture
def sidecar_settings(settings_env):
    return settings_env.model_copy(update={"dagster_webserver_url": DEAD_WEBSERVER})


class ThreadRunLauncher(RunLauncher, ConfigurableClass):
    """Test launcher: a launched run executes in a thread of this process, over the same instance.
    Production launches a process per run (DefaultRunLauncher); a thread saves loading the code again
    (~5 s). Dagster's SyncInMemoryRunLauncher would run it inside the webserver's GraphQL event loop,
    where our ops' asyncio.run cannot run."""

    def __init__(self, inst_data: Any = None):
        self._inst_data = inst_data
        super().__init__()

    @property
    def inst_data(self) -> Any:
        return self._inst_data

    @classmethod
    def config_type(cls) -> dict:
        return {}

    @classmethod
    def from_config_value(cls, inst_data: Any, config_value: Any) -> ThreadRunLauncher:
        return cls(inst_data)

    def launch_run(self, context: Any) -> None:
        from dagster._core.execution.api import execute_run
        from dagster._utils.hosted_user_process import recon_job_from_origin

        job = recon_job_from_origin(context.job_code_origin)
        threading.Thread(
            target=execute_run, args=(job, context.dagster_run, self._instance), daemon=True
        ).start()

    def terminate(self, run_id: str) -> bool:
        return False


@contextmanager
def dagster_webserver(database_url: str) -> Iterator[str]:
    """The Dagster webserver in this process on a free loopback port, over a Postgres instance in the test
    database (schema dagster, as in production) and the project's code location loaded in-process."""
    from dagster._core.remote_origin import InProcessCodeLocationOrigin
    from dagster._core.test_utils import InProcessTestWorkspaceLoadTarget
    from dagster._core.types.loadable_target_origin import LoadableTargetOrigin
    from dagster._core.workspace.context import WorkspaceProcessContext
    from dagster_webserver.app import create_app_from_workspace_process_context

    from retail_pipeline.db.urls import dagster_url
    from retail_pipeline.simulators.serving import serve_in_thread

    overrides = {
        "storage": {"postgres": {"postgres_url": dagster_url(database_url)}},
        "run_coordinator": {"module": "dagster._core.run_coordinator", "class": "DefaultRunCoordinator"},
        "run_launcher": {"module": __name__, "class": ThreadRunLauncher.__name__},
    }
    origin = InProcessCodeLocationOrigin(
        LoadableTargetOrigin(module_name="retail_pipeline.definitions", working_directory=str(PROJECT_ROOT)),
        location_name="retail_pipeline",
    )
    with (
        dg.instance_for_test(overrides=overrides) as instance,
        WorkspaceProcessContext(instance, InProcessTestWorkspaceLoadTarget(origin)) as workspace,
        serve_in_thread(create_app_from_workspace_process_context(workspace)) as url,
    ):
        yield url


def _sync_run(client: TestClient, headers, run_id: str, timeout: float = 20) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        body = client.get(f"/api/sync/runs/{run_id}", headers=headers).json()
        if body.get("status") in {"SUCCESS", "FAILURE", "CANCELED"} or time.monotonic() > deadline:
            return body
        time.sleep(0.2)


async def _reprice_by_hand(client, external_id: str, price: Decimal) -> None:
    async with client:
        listing = await client.find_by_sku("RP-1001")
        assert listing is not None and listing.external_id == external_id
        await client.update_price(listing, price)


def test_detect_then_apply_launched_through_the_webserver_with_their_counts(
    engine, settings_env, database_url, simulator_url, channels, operator
):
    from retail_pipeline.api.app import create_app

    seed_products(engine, settings_env.media_dir)
    drafts(engine, CHANNEL)
    publish(engine, channels.client(CHANNEL))
    listing = listing_rows(engine, CHANNEL)["RP-1001"]
    asyncio.run(
        _reprice_by_hand(
            channels.client(CHANNEL), listing["external_listing_id"], listing["actual_price"] + 3
        )
    )

    with dagster_webserver(database_url) as webserver_url:
        app = create_app(settings_env.model_copy(update={"dagster_webserver_url": webserver_url}))
        with TestClient(app) as client:
            launched = client.post(f"/api/sync/{CHANNEL}?mode=detect", headers=operator)
            assert launched.status_code == 202, launched.text
            (run,) = launched.json()["runs"]
            assert run["channel"] == CHANNEL and run["job"] == "listing_sync_detect"
            detected = _sync_run(client, operator, run["run_id"])
            assert detected["status"] == "SUCCESS", detected
            # reviewed: nothing applied yet; then apply that detection's events
            assert listing_rows(engine, CHANNEL)["RP-1001"]["actual_price"] == listing["actual_price"]
            url = f"/api/sync/{CHANNEL}?mode=apply&detect_run_id={run['run_id']}"
            (apply_run,) = client.post(url, headers=operator).json()["runs"]
            applied = _sync_run(client, operator, apply_run["run_id"])
    assert (detected["job"], detected["channel"]) == ("listing_sync_detect", CHANNEL)
    assert detected["detected"] == {"total": 1, "by_type": {"price": 1}, "by_status": {"pending": 1}}
    assert detected["applied"]["total"] == 0
    assert (applied["status"], applied["job"]) == ("SUCCESS", "listing_sync_apply"), applied
    assert applied["applied"] == {"total": 1, "by_type": {"price": 1}, "by_status": {"processed": 1}}
    assert listing_rows(engine, CHANNEL)["RP-1001"]["actual_price"] == listing["actual_price"] + 3
    with engine.connect() as conn:
        launches = conn.execute(
            text("SELECT * FROM retail.activity_log WHERE action = 'sync.launch' ORDER BY id")
        ).all()
    assert [r.entity_id for r in launches] == [run["run_id"], apply_run["run_id"]]
    assert launches[0].actor.startswith("api_key:")


class FakeLauncher(DagsterLauncher):
    """Stands in for the webserver: records what would be launched; refuses from the `fail_at`-th launch."""

    def __init__(self, fail_at: int | None = None):
        super().__init__("http://webserver.test:3000")
        self.launched: list[tuple[str, str, dict[str, Any]]] = []
        self.fail_at = fail_at

    def launch(self, job: str, channel: str, run_config: dict[str, Any], tags: dict[str, str]) -> str:
        if self.fail_at is not None and len(self.launched) + 1 >= self.fail_at:
            raise LaunchFailed("Error when connecting to url http://webserver.test:3000/graphql")
        self.launched.append((job, channel, run_config))
        return f"run-{len(self.launched)}"


@pytest.fixture
def fake_launcher(app) -> Iterator[FakeLauncher]:
    launcher = FakeLauncher()
    app.dependency_overrides[dagster_launcher] = lambda: launcher
    yield launcher
    app.dependency_overrides.clear()


def test_needs_an_operator_key(client: TestClient, viewer) -> None:
    assert client.post(f"/api/sync/{CHANNEL}").status_code == 403
    assert client.post("/api/sync/all", headers=viewer).status_code == 403
    assert client.post("/api/sync/events/1/apply", headers=viewer).status_code == 403
    assert client.get("/api/sync/runs/x", headers=viewer).status_code == 403
    assert client.post(f"/api/sync/{CHANNEL}", headers={"X-API-Key": "rp_not_a_key"}).status_code == 401


def test_unknown_channel_order_only_channel_and_bad_mode(client: TestClient, operator, fake_launcher) -> None:
    unknown = client.post("/api/sync/etsy", headers=operator)
    assert (
        unknown.status_code == 404
        and "reverb" in unknown.json()["detail"]
        and "trademe" in unknown.json()["detail"]
    )
    order_only = client.post("/api/sync/bestbuy", headers=operator)
    assert order_only.status_code == 422 and "no listings" in order_only.json()["detail"]
    assert client.post(f"/api/sync/{CHANNEL}?mode=both", headers=operator).status_code == 422
    detect_with_run = client.post(f"/api/sync/{CHANNEL}?mode=detect&detect_run_id=abc", headers=operator)
    assert detect_with_run.status_code == 422
    not_a_detection = client.post(f"/api/sync/{CHANNEL}?mode=apply&detect_run_id=abc", headers=operator)
    assert not_a_detection.status_code == 422 and "listing_sync_detect" in not_a_detection.json()["detail"]
    assert fake_launcher.launched == []


def test_modes_launch_the_jobs_per_channel(client: TestClient, operator, fake_launcher) -> None:
    from retail_pipeline_tests.simulated_channels import LISTING_CHANNELS

    detect_all = client.post("/api/sync/all", headers=operator)
    assert detect_all.status_code == 202
    body = detect_all.json()
    assert body["mode"] == "detect"
    assert sorted(r["channel"] for r in body["runs"]) == sorted(LISTING_CHANNELS)
    assert {r["job"] for r in body["runs"]} == {"listing_sync_detect"}
    apply_one = client.post(f"/api/sync/{CHANNEL}?mode=apply", headers=operator).json()
    assert apply_one["runs"] == [
        {"channel": CHANNEL, "run_id": apply_one["runs"][0]["run_id"], "job": "listing_state_sync"}
    ]
    assert fake_launcher.launched[-1] == ("listing_state_sync", CHANNEL, {})


def test_webserver_down_answers_503_and_says_what_was_launched(client: TestClient, operator, app) -> None:
    down = client.post(f"/api/sync/{CHANNEL}", headers=operator)  # the real launcher, nobody listening
    assert down.status_code == 503, down.text
    assert DEAD_WEBSERVER in down.json()["detail"] and down.json()["runs"] == []

    half_way = FakeLauncher(fail_at=3)
    app.dependency_overrides[dagster_launcher] = lambda: half_way
    try:
        partial = client.post("/api/sync/all", headers=operator)
    finally:
        app.dependency_overrides.clear()
    assert partial.status_code == 503
    launched = [channel for _, channel, _ in half_way.launched]
    assert [r["channel"] for r in partial.json()["runs"]] == launched and len(launched) == 2
    assert f"launched before it: {', '.join(launched)}" in partial.json()["detail"]


def test_apply_one_event_now_idempotent_and_unknown(
    client: TestClient, operator, engine: Engine, seeded_listings
) -> None:
    rows = seeded_listings
    remote = [
        RemoteListing(
            r["external_listing_id"], sku, r["actual_price"], r["actual_quantity"], r["actual_state"]
        )
        for sku, r in rows.items()
    ]
    remote = [replace(r, quantity=7) if r.sku == "RP-1002" else r for r in remote]
    detect(engine, CHANNEL, remote, "detect-1")
    with engine.connect() as conn:
        event_id = conn.scalar(text("SELECT id FROM retail.sync_events WHERE event_type = 'quantity'"))

    first = client.post(f"/api/sync/events/{event_id}/apply", headers=operator)
    assert first.status_code == 200, first.text
    assert first.json() | {"id": 0} == {
        "id": 0, "channel": CHANNEL, "event_type": "quantity", "external_listing_id": rows["RP-1002"]["external_listing_id"],
        "status": "processed", "error": None, "applied_now": True,
    }  # fmt: skip
    assert listing_rows(engine, CHANNEL)["RP-1002"]["actual_quantity"] == 7
    again = client.post(f"/api/sync/events/{event_id}/apply", headers=operator)
    assert (
        again.status_code == 200 and again.json()["status"] == "processed" and not again.json()["applied_now"]
    )
    with engine.connect() as conn:
        assert (
            conn.scalar(text("SELECT count(*) FROM retail.activity_log WHERE action = 'listing.sync'")) == 1
        )
    assert client.post("/api/sync/events/999999/apply", headers=operator).status_code == 404
    # the detection's counts, the event applied by hand (no run)
    counted = client.get("/api/sync/runs/detect-1", headers=operator).json()
    assert counted["detected"] == {"total": 1, "by_type": {"quantity": 1}, "by_status": {"processed": 1}}
    assert (counted["status"], counted["channel"]) == (None, CHANNEL)
    assert client.get("/api/sync/runs/no-such-run", headers=operator).status_code == 404


@pytest.fixture
def seeded_listings(engine: Engine, settings_env) -> dict[str, dict[str, Any]]:
    seed_products(engine, settings_env.media_dir)
    return live_listings(engine, CHANNEL)

"""Sync you can review (issue 12; seed 001's `/api/sync/…` routes): start listing-state syncs as Dagster
runs, apply one difference now, and count what a run found.

- `POST /api/sync/{channel}` and `POST /api/sync/all` (operator): `mode=detect` launches one
  `listing_sync_detect` run per channel (pending sync_events, nothing applied); `mode=apply` launches the
  scheduled detect-and-apply job (`listing_state_sync`), or with `detect_run_id` a `listing_sync_apply`
  run of that detection's events. 202 with the run ids.
- `POST /api/sync/events/{id}/apply` (operator): applies one pending event here and now, with the same
  `reconcile` the runs use; an event no longer pending answers with its status.
- `GET /api/sync/runs/{run_id}` (operator): the run's events by kind of difference and by status, and the
  Dagster run's own status.

The sidecar has no Dagster workspace: it launches through the webserver's GraphQL API
(DAGSTER_WEBSERVER_URL), as any outside service would, and reads run status from Dagster's run storage
(schema `dagster`, the same database), as the ops inbox does.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Any
from urllib.parse import urlsplit

from fastapi import APIRouter, Depends, HTTPException, Query, Request, status
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from sqlalchemy import Connection, Engine, text

from retail_pipeline.api.auth import Operator, Principal
from retail_pipeline.api.database import db_engine
from retail_pipeline.api.ops_inbox import DAGSTER_RUNS_EXIST
from retail_pipeline.channels.registry import channel_names
from retail_pipeline.db.activity import log_activity
from retail_pipeline.defs.listings.schedules import listing_state_job
from retail_pipeline.defs.listings.state import reconcile
from retail_pipeline.defs.listings.sync_jobs import APPLY_JOB, DETECT_JOB

router = APIRouter(prefix="/api/sync", tags=["sync"])

DETECT_AND_APPLY_JOB = listing_state_job.name  # the scheduled detect-and-apply job
LAUNCH_TIMEOUT_SECONDS = 15


class Mode(StrEnum):
    detect = "detect"
    apply = "apply"


class LaunchedRun(BaseModel):
    channel: str
    run_id: str
    job: str


class SyncLaunch(BaseModel):
    mode: Mode
    runs: list[LaunchedRun]


class LaunchFailed(Exception):
    """The webserver could not be reached or refused the run."""


class DagsterLauncher:
    """Submits a partitioned job run through the Dagster webserver's GraphQL API; returns its run id."""

    def __init__(self, webserver_url: str):
        self.webserver_url = webserver_url

    def launch(self, job: str, channel: str, run_config: dict[str, Any], tags: dict[str, str]) -> str:
        from dagster_graphql import DagsterGraphQLClient, DagsterGraphQLClientError

        url = urlsplit(self.webserver_url)
        try:
            client = DagsterGraphQLClient(
                url.hostname or "127.0.0.1", port_number=url.port, use_https=url.scheme == "https",
                path_prefix=url.path.rstrip("/"), timeout=LAUNCH_TIMEOUT_SECONDS,
            )  # fmt: skip
            return client.submit_job_execution(
                job, run_config=run_config, tags={"dagster/partition": channel, **tags}
            )
        except DagsterGraphQLClientError as error:
            raise LaunchFailed(f"{error}"[:500]) from None


def dagster_launcher(request: Request) -> DagsterLauncher:
    """Dependency: the launcher for the configured webserver (tests override it)."""
    return DagsterLauncher(request.app.state.settings.dagster_webserver_base)


Launcher = Annotated[DagsterLauncher, Depends(dagster_launcher)]
Database = Annotated[Engine, Depends(db_engine)]


def _listing_channel(channel: str) -> str:
    if channel not in channel_names():
        raise HTTPException(
            status.HTTP_404_NOT_FOUND, f"unknown channel {channel!r}; known: {list(channel_names())}"
        )
    if channel not in channel_names("listings"):
        raise HTTPException(
            status.HTTP_422_UNPROCESSABLE_CONTENT,
            f"{channel} has no listings to sync; listing channels: {list(channel_names('listings'))}",
        )
    return channel


def _launch_all(
    engine: Engine, launcher: DagsterLauncher, principal: Principal, mode: Mode,
    plans: list[tuple[str, str, dict[str, Any]]],
) -> Any:  # fmt: skip
    """Launch (channel, job, run_config) in order; on a failure stop and say which were launched."""
    launched: list[LaunchedRun] = []
    actor = f"api_key:{principal.key_prefix}"
    for channel, job, run_config in plans:
        try:
            run_id = launcher.launch(
                job, channel, run_config, {"retail/channel": channel, "retail/requested_by": actor}
            )
        except LaunchFailed as failure:
            done = ", ".join(r.channel for r in launched) or "none"
            body = {
                "detail": f"could not launch {job} for {channel} on the Dagster webserver at "
                f"{launcher.webserver_url} ({failure}); launched before it: {done}",
                "mode": mode.value,
                "runs": [r.model_dump() for r in launched],
            }
            return JSONResponse(body, status_code=status.HTTP_503_SERVICE_UNAVAILABLE)
        launched.append(LaunchedRun(channel=channel, run_id=run_id, job=job))
        with engine.begin() as conn:
            log_activity(
                conn, action="sync.launch", outcome="succeeded", actor=actor, run_id=run_id, channel=channel,
                entity_type="dagster_run", entity_id=run_id, details={"job": job, "mode": mode.value, **run_config},
            )  # fmt: skip
    return SyncLaunch(mode=mode, runs=launched)


def _plan(
    conn: Connection, channel: str, mode: Mode, detect_run_id: str | None
) -> tuple[str, str, dict[str, Any]]:
    if mode is Mode.detect:
        if detect_run_id:
            raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, "detect_run_id goes with mode=apply")
        return channel, DETECT_JOB, {}
    if not detect_run_id:
        return channel, DETECT_AND_APPLY_JOB, {}
    run = _dagster_run(conn, detect_run_id)
    if run is None or run.pipeline_name != DETECT_JOB or run.partition != channel:
        raise HTTPException(
            status.HTTP_422_UNPROCESSABLE_CONTENT, f"{detect_run_id!r} is not a {DETECT_JOB} run of {channel}"
        )
    return channel, APPLY_JOB, {"ops": {"apply_sync_events": {"config": {"detect_run_id": detect_run_id}}}}


LAUNCHED = {
    202: {"description": "the runs launched, one per channel"},
    503: {"description": "the Dagster webserver could not be reached; `runs` lists what was launched before"},
}
MODE = Query(description="detect: find differences only; apply: find and apply them")


@router.post("/all", status_code=status.HTTP_202_ACCEPTED, response_model=SyncLaunch, responses=LAUNCHED)
def sync_all(
    principal: Operator, engine: Database, launcher: Launcher, mode: Annotated[Mode, MODE] = Mode.detect
) -> Any:
    """One run per listing channel (see the module docstring for what each mode launches)."""
    with engine.connect() as conn:
        plans = [_plan(conn, channel, mode, None) for channel in channel_names("listings")]
    return _launch_all(engine, launcher, principal, mode, plans)


@router.post(
    "/{channel}",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=SyncLaunch,
    responses={
        **LAUNCHED,
        404: {"description": "unknown channel"},
        422: {"description": "not a listing channel"},
    },
)
def sync_channel(
    principal: Operator,
    engine: Database,
    launcher: Launcher,
    channel: str,
    mode: Annotated[Mode, MODE] = Mode.detect,
    detect_run_id: Annotated[
        str | None, Query(max_length=64, description="mode=apply: apply this detection run's events only")
    ] = None,
) -> Any:
    """Launch one sync run for the channel."""
    with engine.connect() as conn:
        plan = _plan(conn, _listing_channel(channel), mode, detect_run_id)
    return _launch_all(engine, launcher, principal, mode, [plan])


class EventView(BaseModel):
    id: int
    channel: str
    event_type: str = Field(
        description="the kind of difference: price, quantity, status, removed, unknown_listing"
    )
    external_listing_id: str
    status: str = Field(description="pending | processed | failed | ignored")
    error: str | None
    applied_now: bool = Field(description="false: it was no longer pending, nothing was done")


EVENT = text(
    "SELECT id, channel, event_type, external_listing_id, status, error FROM retail.sync_events WHERE id = :id"
)


@router.post(
    "/events/{event_id}/apply", response_model=EventView, responses={404: {"description": "no such event"}}
)
def apply_event(principal: Operator, engine: Database, event_id: int) -> Any:
    """Apply one pending sync event now (seed 001's per-event processor); idempotent."""
    with engine.connect() as conn:
        event = conn.execute(EVENT, {"id": event_id}).one_or_none()
    if event is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"sync event {event_id} does not exist")
    done = reconcile(engine, event.channel, None, event_ids=[event_id]) if event.status == "pending" else {}
    applied_now = sum(done.values()) > 0  # false also when a concurrent run applied it first
    with engine.begin() as conn:
        event = conn.execute(EVENT, {"id": event_id}).one()
        if applied_now:
            log_activity(
                conn, action="sync.apply_event", outcome="succeeded" if event.status == "processed" else "failed",
                actor=f"api_key:{principal.key_prefix}", channel=event.channel, entity_type="sync_event",
                entity_id=event_id, details={"event_type": event.event_type, "error": event.error},
            )  # fmt: skip
    return EventView(**event._mapping, applied_now=applied_now)


class EventCounts(BaseModel):
    total: int
    by_type: dict[str, int] = Field(description="event_type (kind of difference) -> events")
    by_status: dict[str, int] = Field(description="pending | processed | failed | ignored -> events")


class RunView(BaseModel):
    run_id: str
    job: str | None = Field(description="the Dagster job; null when Dagster's storage has no such run")
    channel: str | None
    status: str | None = Field(description="the Dagster run's status: QUEUED, STARTED, SUCCESS, FAILURE…")
    detected: EventCounts = Field(description="events this run found (and that no later detection saw again)")
    applied: EventCounts = Field(description="events this run applied or failed to apply")


def _dagster_run(conn: Connection, run_id: str) -> Any:
    if not conn.scalar(DAGSTER_RUNS_EXIST):
        return None
    return conn.execute(
        text("SELECT pipeline_name, status, partition FROM dagster.runs WHERE run_id = :r"), {"r": run_id}
    ).one_or_none()


def _counts(conn: Connection, column: str, run_id: str) -> EventCounts:
    rows = conn.execute(
        text(
            f"SELECT event_type, status, count(*) AS n FROM retail.sync_events WHERE {column} = :r GROUP BY 1, 2"
        ),
        {"r": run_id},
    ).all()
    by_type: dict[str, int] = {}
    by_status: dict[str, int] = {}
    for row in rows:
        by_type[row.event_type] = by_type.get(row.event_type, 0) + row.n
        by_status[row.status] = by_status.get(row.status, 0) + row.n
    return EventCounts(total=sum(r.n for r in rows), by_type=by_type, by_status=by_status)


@router.get("/runs/{run_id}", response_model=RunView, responses={404: {"description": "no such run"}})
def sync_run(principal: Operator, engine: Database, run_id: str) -> Any:
    """What a sync run found and applied, counted, and where the run is."""
    with engine.connect() as conn:
        run = _dagster_run(conn, run_id)
        detected, applied = _counts(conn, "run_id", run_id), _counts(conn, "applied_run_id", run_id)
        channel = run.partition if run else conn.scalar(
            text("SELECT channel FROM retail.sync_events WHERE run_id = :r OR applied_run_id = :r LIMIT 1"),
            {"r": run_id},
        )  # fmt: skip
    if run is None and not detected.total and not applied.total:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no sync run {run_id!r}")
    return RunView(
        run_id=run_id, job=run.pipeline_name if run else None, channel=channel,
        status=run.status if run else None, detected=detected, applied=applied,
    )  # fmt: skip

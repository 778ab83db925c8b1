"""``run_failure_to_ops_inbox``: every failed run becomes one ``run_failure`` ops task.

The task carries what an operator needs without opening Dagster: the job, the partition tags, the
run's failure message and, per failed step, its key and the root error. ``dedupe_key`` is the run
id and the insert skips a run that already has a task in any status, so a sensor tick evaluated
twice (or after an operator resolved the task) records the failure once.
"""

# No `from __future__ import annotations`: Dagster inspects the context annotations at runtime.

from typing import Any

import dagster as dg
from sqlalchemy import Engine

from retail_pipeline.db.ops_tasks import open_task
from retail_pipeline.defs.resources import DatabaseResource

MAX_ERROR_CHARS = 2000
MAX_STEPS = 10
WILL_RETRY_TAG = "dagster/will_retry"
PARTITION_TAG = "dagster/partition"


def _kept_tag(key: str) -> bool:
    """Partition keys (one tag, or one per dimension of a multi-partition) and our own routing tags."""
    return key == PARTITION_TAG or key.startswith((f"{PARTITION_TAG}/", "retail/"))


def _clip(message: str | None) -> str | None:
    if message is None:
        return None
    message = message.strip()
    return message if len(message) <= MAX_ERROR_CHARS else message[: MAX_ERROR_CHARS - 1] + "…"


def root_error(error: Any) -> str | None:
    """``Class: message`` of the innermost cause: Dagster wraps user exceptions in its own step error."""
    if error is None:
        return None
    while getattr(error, "cause", None) is not None:
        error = error.cause
    return _clip(error.message)  # already "Class: message", as traceback.format_exception_only writes it


def run_failure_details(context: dg.RunFailureSensorContext) -> dict[str, Any]:
    """What the task records about the failed run (pure: reads the context, writes nothing)."""
    run = context.dagster_run
    tags = dict(run.tags)
    steps = []
    for event in context.get_step_failure_events()[:MAX_STEPS]:
        data = event.step_failure_data
        steps.append({"step_key": event.step_key, "error": root_error(data.error) if data else None})
    partition = tags.get(PARTITION_TAG)
    return {
        "run_id": run.run_id,
        "job_name": run.job_name,
        "partition": partition,
        "partition_tags": {k: v for k, v in sorted(tags.items()) if _kept_tag(k)},
        "error": _clip(context.failure_event.message),
        "failed_steps": steps,
        "will_retry": tags.get(WILL_RETRY_TAG) == "true",
    }


def record_run_failure(engine: Engine, details: dict[str, Any]) -> int | None:
    """Insert the run's task; returns its id, or None when the run already has one."""
    where = f" ({details['partition']})" if details["partition"] else ""
    steps = ", ".join(s["step_key"] for s in details["failed_steps"] if s["step_key"])
    title = f"Run of {details['job_name']}{where} failed" + (f" in {steps}" if steps else "")
    with engine.begin() as conn:
        return open_task(
            conn,
            kind="run_failure",
            key=details["run_id"],
            # A run Dagster will retry may still come good: worth a look, not yet an error.
            severity="warning" if details["will_retry"] else "error",
            title=title,
            details=details,
            entity_type="run",
            entity_id=details["run_id"],
            run_id=details["run_id"],
            once=True,  # one run fails once: a tick evaluated again, or after a resolve, adds nothing
        )


@dg.run_failure_sensor(
    name="run_failure_to_ops_inbox",
    minimum_interval_seconds=30,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="Records every failed run of this code location as a run_failure ops task (once per run).",
)
def run_failure_to_ops_inbox(context: dg.RunFailureSensorContext, db: DatabaseResource) -> None:
    task_id = record_run_failure(db.engine, run_failure_details(context))
    if task_id is None:
        context.log.info(f"run {context.dagster_run.run_id} already has a run_failure task")
    else:
        context.log.info(f"recorded run {context.dagster_run.run_id} as ops task {task_id}")

"""``POST /ops/tasks/{id}/acknowledge|resolve|dismiss`` (operator): move an ops task on, with a note;
audited in the activity log. One function (``change_task_status``) behind all three and the console."""

from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Body, Depends, HTTPException, status
from pydantic import BaseModel, Field
from sqlalchemy import Engine, text

from retail_pipeline.api.auth import Operator
from retail_pipeline.api.database import db_engine
from retail_pipeline.api.ops_inbox import _TASK_COLUMNS, TaskItem
from retail_pipeline.db import ops_tasks
from retail_pipeline.db.activity import log_activity

router = APIRouter(prefix="/ops", tags=["ops"])


TaskAction = Literal["acknowledged", "resolved", "dismissed"]
CLOSED = ops_tasks.CLOSED


class TaskResolution(BaseModel):
    status: TaskAction = Field(
        default="resolved", description="acknowledged keeps it in the inbox as being looked at."
    )
    note: str | None = Field(default=None, max_length=2000)


class TaskResolved(BaseModel):
    task: TaskItem
    previous_status: str
    changed: bool = Field(description="False when the task already had this status: nothing was written.")
    resolved_at: datetime | None
    resolved_by: str | None


TASK_FOR_UPDATE = text(
    f"SELECT {_TASK_COLUMNS}, resolved_at, resolved_by FROM retail.ops_tasks WHERE id = :id FOR UPDATE"
)


def _task_resolved(row: dict[str, Any], previous: str, changed: bool) -> TaskResolved:
    resolved_at, resolved_by = row.pop("resolved_at"), row.pop("resolved_by")
    return TaskResolved(
        task=TaskItem(**row),
        previous_status=previous,
        changed=changed,
        resolved_at=resolved_at,
        resolved_by=resolved_by,
    )


def change_task_status(
    engine: Engine, task_id: int, status_to: str, note: str | None, actor: str
) -> TaskResolved:
    """Moves one ops task to acknowledged, resolved or dismissed, recorded in activity_log with the note.
    Asking for the status it already has changes nothing; a resolved or dismissed task cannot move
    again (409). Every route and console button that changes a task's status comes here."""
    with engine.begin() as conn:
        row = conn.execute(TASK_FOR_UPDATE, {"id": task_id}).mappings().one_or_none()
        if row is None:
            raise HTTPException(status.HTTP_404_NOT_FOUND, detail=f"no ops task with id {task_id}")
        current = dict(row)
        if current["status"] == status_to:
            return _task_resolved(current, current["status"], changed=False)
        if current["status"] in CLOSED:
            raise HTTPException(
                status.HTTP_409_CONFLICT,
                detail=f"ops task {task_id} is already {current['status']}; it cannot become {status_to}",
            )
        updated = dict(ops_tasks.set_task_status(conn, task_id, status_to, by=actor))
        details = {"kind": current["kind"], "from": current["status"], "to": status_to, "note": note}
        log_activity(
            conn,
            actor=actor,
            action=f"ops_task.{ACTION_FOR[status_to]}",
            outcome="succeeded",
            channel=current["channel"],
            entity_type="ops_task",
            entity_id=task_id,
            details=details,
        )
    return _task_resolved(updated, current["status"], changed=True)


ACTION_FOR = {"acknowledged": "acknowledge", "resolved": "resolve", "dismissed": "dismiss"}
STATUS_FOR = {action: status_to for status_to, action in ACTION_FOR.items()}


class TaskNote(BaseModel):
    note: str | None = Field(default=None, max_length=2000, description="Why; kept in the activity log.")


@router.post("/tasks/{task_id}/resolve")
def resolve_task(
    task_id: int,
    engine: Annotated[Engine, Depends(db_engine)],
    principal: Operator,
    resolution: Annotated[TaskResolution | None, Body()] = None,
) -> TaskResolved:
    """Resolve one ops task (or, with `status`, acknowledge or dismiss it), recorded in activity_log.
    Asking for the status it already has changes nothing; a resolved or dismissed task cannot move
    again (409)."""
    resolution = resolution or TaskResolution()
    return change_task_status(
        engine, task_id, resolution.status, resolution.note, f"api_key:{principal.key_prefix}"
    )


@router.post("/tasks/{task_id}/{action}")
def act_on_task(
    task_id: int,
    action: Literal["acknowledge", "dismiss"],
    engine: Annotated[Engine, Depends(db_engine)],
    principal: Operator,
    body: Annotated[TaskNote | None, Body()] = None,
) -> TaskResolved:
    """Acknowledge (still in the inbox, being looked at) or dismiss (closed: not a problem) one ops
    task, with an optional note; the same rules as resolve."""
    note = body.note if body else None
    return change_task_status(engine, task_id, STATUS_FOR[action], note, f"api_key:{principal.key_prefix}")

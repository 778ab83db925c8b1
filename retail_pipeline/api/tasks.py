"""``POST /ops/tasks/{id}/resolve`` (operator): acknowledge, resolve or dismiss an ops task; audited in
the activity log."""

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


@router.post("/tasks/{task_id}/resolve")
def resolve_task(
    task_id: int,
    engine: Annotated[Engine, Depends(db_engine)],
    principal: Operator,
    resolution: Annotated[TaskResolution | None, Body()] = None,
) -> TaskResolved:
    """Acknowledge, resolve or dismiss one ops task, recorded in activity_log. Asking for the status it
    already has changes nothing; a resolved or dismissed task cannot move again (409)."""
    resolution = resolution or TaskResolution()
    actor = f"api_key:{principal.key_prefix}"
    with engine.begin() as conn:
        row = conn.execute(TASK_FOR_UPDATE, {"id": task_id}).mappings().one_or_none()
        if row is None:
            raise HTTPException(status.HTTP_404_NOT_FOUND, detail=f"no ops task with id {task_id}")
        current = dict(row)
        if current["status"] == resolution.status:
            return _task_resolved(current, current["status"], changed=False)
        if current["status"] in CLOSED:
            raise HTTPException(
                status.HTTP_409_CONFLICT,
                detail=f"ops task {task_id} is already {current['status']}; it cannot become {resolution.status}",
            )
        updated = dict(ops_tasks.set_task_status(conn, task_id, resolution.status, by=actor))
        action = {"acknowledged": "acknowledge", "resolved": "resolve", "dismissed": "dismiss"}[
            resolution.status
        ]
        details = {
            "kind": current["kind"],
            "from": current["status"],
            "to": resolution.status,
            "note": resolution.note,
        }
        log_activity(
            conn,
            actor=actor,
            action=f"ops_task.{action}",
            outcome="succeeded",
            channel=current["channel"],
            entity_type="ops_task",
            entity_id=task_id,
            details=details,
        )
    return _task_resolved(updated, current["status"], changed=True)

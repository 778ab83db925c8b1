"""Operator commands (seed 000): ``POST /ops/commands``, ``GET /ops/commands/{id}`` and
``POST /ops/commands/{id}/retry``.

The route validates and stores the command (status queued) and answers 202; the
``operator_commands_sensor`` turns it into one ``operator_command`` Dagster run, which carries it out
(see ``retail_pipeline.defs.listings.commands``). Poll ``GET /ops/commands/{id}`` for the outcome.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, Header, HTTPException, status
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field, TypeAdapter, ValidationError
from sqlalchemy import Engine, text
from starlette.concurrency import run_in_threadpool

from retail_pipeline.api.auth import Operator
from retail_pipeline.api.database import db_engine
from retail_pipeline.db import ops_tasks
from retail_pipeline.db.activity import log_activity
from retail_pipeline.defs.listings.commands import (
    CommandRejected,
    CommandRequest,
    IdempotencyConflict,
    submit,
)

router = APIRouter(prefix="/ops", tags=["commands"])


class CommandView(BaseModel):
    id: int
    command_type: str
    channel: str | None
    payload: dict[str, Any]
    dry_run: bool
    status: str = Field(description="queued | running | succeeded | failed | human_required")
    result: dict[str, Any] | None = Field(description="counts, per-item errors, the listings touched")
    error: str | None = Field(description="why it failed or needs a person")
    run_id: str | None = Field(description="the Dagster run that carried it out")
    idempotency_key: str | None
    requested_by: str | None
    attempts: int
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    duplicate: bool = Field(default=False, description="a repeat of an earlier request with the same key")


def _view(row: Any, duplicate: bool = False) -> CommandView:
    return CommandView.model_validate({**row._mapping, "duplicate": duplicate})


@router.post(
    "/commands",
    status_code=status.HTTP_202_ACCEPTED,
    responses={
        200: {"description": "a repeat with the same idempotency key: the command stored earlier"},
        400: {"description": "the command cannot run as asked (unknown draft, listing not live...)"},
        409: {"description": "the idempotency key was used for a different command"},
    },
)
async def post_command(
    principal: Operator,
    engine: Annotated[Engine, Depends(db_engine)],
    command: Annotated[CommandRequest, Body()],
    idempotency_key: Annotated[str | None, Header(max_length=200)] = None,
) -> Any:
    """Queue PUBLISH_LISTING {draft_id}, UPDATE_PRICE {listing_id, price}, WITHDRAW_LISTING {listing_id,
    reason} or BULK_PUBLISH {channel, draft_ids?, limit?}, with `dry_run` and an optional idempotency key
    (body `idempotency_key` or header `Idempotency-Key`)."""
    if idempotency_key and command.idempotency_key and idempotency_key != command.idempotency_key:
        raise HTTPException(
            status.HTTP_400_BAD_REQUEST, "the Idempotency-Key header and the body's idempotency_key differ"
        )
    if idempotency_key:
        command = command.model_copy(update={"idempotency_key": idempotency_key})
    requested_by = f"api_key:{principal.key_prefix}"
    try:
        row, created = await run_in_threadpool(submit, engine, command, requested_by)
    except CommandRejected as rejected:
        raise HTTPException(status.HTTP_400_BAD_REQUEST, str(rejected)) from None
    except IdempotencyConflict as conflict:
        raise HTTPException(status.HTTP_409_CONFLICT, str(conflict)) from None
    view = _view(row, duplicate=not created)
    return JSONResponse(
        view.model_dump(mode="json"), status_code=status.HTTP_202_ACCEPTED if created else status.HTTP_200_OK
    )


@router.get("/commands/{command_id}")
def get_command(command_id: int, _: Operator, engine: Annotated[Engine, Depends(db_engine)]) -> CommandView:
    """The command's status, result, error and Dagster run id."""
    with engine.connect() as conn:
        row = conn.execute(
            text("SELECT * FROM retail.operator_commands WHERE id = :id"), {"id": command_id}
        ).one_or_none()
    if row is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no operator command {command_id}")
    return _view(row)


RETRYABLE = ("human_required", "failed")
_command_request: TypeAdapter[Any] = TypeAdapter(CommandRequest)

# The original is closed as failed, pointing at its retry, so the inbox stops listing it; only while
# it still needs a person (a repeat finds it already closed and changes nothing).
CLOSE_RETRIED = text(
    """
    UPDATE retail.operator_commands
       SET status = 'failed', error = format('retried as command %s: %s', CAST(:retry_id AS bigint), error),
           finished_at = coalesce(finished_at, now())
     WHERE id = :id AND status = 'human_required'
    RETURNING id
    """
)


def retry_command(engine: Engine, command_id: int, actor: str) -> tuple[Any, bool]:
    """Queues a command that needed a person (or failed) again, as a new command with the idempotency
    key ``retry:<id>``: a second retry (a double click, a crash and a repeat) returns that same new
    command. A new command, not the old row re-queued: the sensor launches one run per command id
    (run key ``command:<id>``) and never a second. The original is closed and its ops task resolved."""
    with engine.connect() as conn:
        original = conn.execute(
            text("SELECT * FROM retail.operator_commands WHERE id = :id"), {"id": command_id}
        ).one_or_none()
    if original is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no operator command {command_id}")
    if original.status not in RETRYABLE:
        raise HTTPException(
            status.HTTP_409_CONFLICT,
            f"operator command {command_id} is {original.status}; only one that failed or needs a person "
            "can be retried",
        )
    try:
        command = _command_request.validate_python(
            {
                "command_type": original.command_type,
                "payload": original.payload,
                "dry_run": original.dry_run,
                "idempotency_key": f"retry:{command_id}",
            }
        )
        row, created = submit(engine, command, actor)
    except (ValidationError, CommandRejected) as exc:
        raise HTTPException(
            status.HTTP_400_BAD_REQUEST, f"operator command {command_id} cannot be retried as it is: {exc}"
        ) from None
    with engine.begin() as conn:
        closed = conn.execute(CLOSE_RETRIED, {"id": command_id, "retry_id": row.id}).scalar()
        ops_tasks.resolve_task(conn, kind="command_human_required", key=f"command:{command_id}", by=actor)
        if closed is not None:
            log_activity(
                conn, actor=actor, action="command.retry", outcome="succeeded", channel=original.channel,
                entity_type="operator_command", entity_id=command_id,
                details={"retry_command_id": row.id, "previous_error": original.error},
            )  # fmt: skip
    return row, created


@router.post(
    "/commands/{command_id}/retry",
    status_code=status.HTTP_202_ACCEPTED,
    responses={
        200: {"description": "retried before: the command that retry queued"},
        400: {"description": "the command can no longer run as asked (the draft or listing changed)"},
        404: {"description": "no such command"},
        409: {"description": "the command did not fail and does not need a person"},
    },
)
async def post_retry(
    command_id: int, principal: Operator, engine: Annotated[Engine, Depends(db_engine)]
) -> Any:
    """Queue a HUMAN_REQUIRED (or failed) command again, after a person fixed its cause. Idempotent:
    the new command is answered again on a repeat (200)."""
    row, created = await run_in_threadpool(
        retry_command, engine, command_id, f"api_key:{principal.key_prefix}"
    )
    view = _view(row, duplicate=not created)
    return JSONResponse(
        view.model_dump(mode="json"), status_code=status.HTTP_202_ACCEPTED if created else status.HTTP_200_OK
    )

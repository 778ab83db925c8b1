"""Operator commands (seed 000): ``POST /ops/commands`` and ``GET /ops/commands/{id}``.

The route validates and stores the command (status queued) and answers 202; the
``operator_commands_sensor`` turns it into one ``operator_command`` Dagster run, which carries it out
(see ``retail_pipeline.defs.listings.commands``). Poll ``GET /ops/commands/{id}`` for the outcome.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, Header, HTTPException, status
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from sqlalchemy import Engine, text
from starlette.concurrency import run_in_threadpool

from retail_pipeline.api.auth import Operator
from retail_pipeline.api.database import db_engine
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

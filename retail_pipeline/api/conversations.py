"""Customer service JSON routes (viewer reads, operator acts): the thread list, one thread with its
order, a reply (crash-safe, idempotent, held on a collision), status changes, read state, saved
replies. The console page (`api/console/conversations.py`) calls the same `messaging.conversations`
functions.
"""

from __future__ import annotations

import asyncio
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Query, status
from fastapi.encoders import jsonable_encoder
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from sqlalchemy import Engine

from retail_pipeline.api.auth import Operator, Principal, Viewer
from retail_pipeline.api.database import db_engine
from retail_pipeline.channels.registry import channel_names
from retail_pipeline.domain.conversations import MAX_REPLY_CHARS, InvalidChange, Status
from retail_pipeline.messaging import conversations as cs

router = APIRouter(prefix="/api", tags=["conversations"])

Engine_ = Annotated[Engine, Depends(db_engine)]


def inbox_factory() -> cs.InboxFor:
    """Dependency: how a route reaches a channel's buyer inbox (tests may override it)."""
    return cs.sidecar_inbox


def actor_of(principal: Principal) -> str:
    return f"api_key:{principal.key_prefix}"


def _invalid(error: InvalidChange) -> HTTPException:
    return HTTPException(422, {"field": error.field, "message": error.message})


def _not_found(error: cs.NotFound) -> HTTPException:
    return HTTPException(status.HTTP_404_NOT_FOUND, str(error))


@router.get("/conversations")
def list_conversations(
    engine: Engine_,
    principal: Viewer,
    status_: Annotated[Status | None, Query(alias="status")] = None,
    channel: Annotated[str | None, Query(description="A channel with buyer messages.")] = None,
    unread: bool = False,
    q: Annotated[
        str | None, Query(max_length=200, description="Subject, customer, order or thread id.")
    ] = None,
    cursor: str | None = None,
    limit: Annotated[int, Query(ge=1, le=200)] = cs.PAGE_SIZE,
) -> dict[str, Any]:
    """Threads, newest activity first (keyset pagination: pass `next_cursor` back as `cursor`), with
    each status's total and unread counts."""
    if channel is not None and channel not in channel_names("buyer_messages"):
        raise HTTPException(
            422,
            {"field": "channel", "message": f"one of {', '.join(channel_names('buyer_messages'))}"},
        )
    try:
        return cs.list_conversations(
            engine, status=status_, channel=channel, unread=unread, q=q, cursor=cursor, limit=limit
        )
    except InvalidChange as error:
        raise _invalid(error) from None


@router.get("/conversations/{conversation_id}")
def get_conversation(conversation_id: int, engine: Engine_, principal: Viewer) -> dict[str, Any]:
    """The thread with its messages (oldest first) and the order beside it (lines, status, tracking)."""
    try:
        return cs.conversation(engine, conversation_id)
    except cs.NotFound as error:
        raise _not_found(error) from None


class Reply(BaseModel):
    body: str = Field(min_length=1, max_length=MAX_REPLY_CHARS)
    idempotency_key: str = Field(
        min_length=8, max_length=200, description="Made when the form is shown: the same key posts once."
    )
    last_seen_message_id: int = Field(
        ge=0, description="The newest message the agent has seen (0: none); newer ones hold the reply (409)."
    )
    force: bool = Field(default=False, description="Send even though newer messages arrived.")


@router.post(
    "/conversations/{conversation_id}/reply",
    responses={
        202: {"description": "Kept 'pending': the channel did not answer, or another request is posting it."},
        409: {
            "description": "New messages since `last_seen_message_id` (in detail.new_messages); nothing sent."
        },
        502: {"description": "The channel refused the reply; it is kept as 'failed' with the reason."},
    },
)
def reply(
    conversation_id: int,
    payload: Reply,
    engine: Engine_,
    principal: Operator,
    inbox_for: Annotated[cs.InboxFor, Depends(inbox_factory)],
) -> JSONResponse:
    """Posts a reply to the buyer through the channel, once (see `messaging.conversations.send_reply`)."""
    try:
        outcome = asyncio.run(
            cs.send_reply(
                engine, inbox_for, conversation_id, body=payload.body, idempotency_key=payload.idempotency_key,
                last_seen_message_id=payload.last_seen_message_id, force=payload.force,
                author_name=principal.label or principal.key_prefix, actor=actor_of(principal),
            )
        )  # fmt: skip
    except cs.NotFound as error:
        raise _not_found(error) from None
    except InvalidChange as error:
        raise _invalid(error) from None
    except cs.Collision as collision:
        raise HTTPException(
            status.HTTP_409_CONFLICT,
            {"field": "last_seen_message_id", "message": collision.message,
             "new_messages": jsonable_encoder(collision.new_messages)},
        ) from None  # fmt: skip
    delivery = outcome.delivery
    body = {"outcome": delivery.outcome, "retried": outcome.retried, "message": outcome.message}
    if delivery.posted:
        return JSONResponse(jsonable_encoder(body))
    if delivery.outcome == "failed":
        raise HTTPException(
            status.HTTP_502_BAD_GATEWAY,
            {"field": "body", "message": f"the channel refused it: {delivery.error}"},
        )
    return JSONResponse(jsonable_encoder(body | {"error": delivery.error}), status.HTTP_202_ACCEPTED)


class StatusChange(BaseModel):
    status: Status
    until: datetime | None = Field(
        default=None, description="Snoozed until (with an offset); only for snoozed."
    )


@router.post("/conversations/{conversation_id}/status")
def change_status(
    conversation_id: int, payload: StatusChange, engine: Engine_, principal: Operator
) -> dict[str, Any]:
    """open / pending / snoozed (with `until`) / resolved. A new buyer message reopens any thread."""
    try:
        return cs.set_status(
            engine, conversation_id, payload.status, until=payload.until, actor=actor_of(principal)
        )
    except cs.NotFound as error:
        raise _not_found(error) from None
    except InvalidChange as error:
        raise _invalid(error) from None


class ReadUpTo(BaseModel):
    upto: int | None = Field(default=None, ge=1, description="A message id; default the newest.")


@router.post("/conversations/{conversation_id}/read")
def mark_read(
    conversation_id: int, engine: Engine_, principal: Operator, payload: ReadUpTo | None = None
) -> dict[str, Any]:
    """Marks the thread read (up to a message); never moves backwards."""
    try:
        return cs.mark_read(engine, conversation_id, payload.upto if payload else None)
    except cs.NotFound as error:
        raise _not_found(error) from None


@router.get("/saved-replies")
def list_saved_replies(
    engine: Engine_,
    principal: Viewer,
    conversation_id: Annotated[
        int | None, Query(description="Fill {name} and {order} for this thread.")
    ] = None,
) -> list[dict[str, Any]]:
    try:
        return cs.saved_replies(engine, conversation_id)
    except cs.NotFound as error:
        raise _not_found(error) from None


class SavedReply(BaseModel):
    title: str = Field(min_length=1, max_length=120)
    body: str = Field(min_length=1, max_length=MAX_REPLY_CHARS)


@router.post("/saved-replies", status_code=status.HTTP_201_CREATED)
def add_saved_reply(payload: SavedReply, engine: Engine_, principal: Operator) -> dict[str, Any]:
    try:
        return cs.add_saved_reply(engine, payload.title, payload.body, actor=actor_of(principal))
    except cs.DuplicateTitle as error:
        raise HTTPException(
            status.HTTP_409_CONFLICT, {"field": error.field, "message": error.message}
        ) from None
    except InvalidChange as error:
        raise _invalid(error) from None

"""Console page: Customer service. The thread list (status tabs, unread badges, age) beside one thread
with the order it is about, a reply box (saved replies, collision warning) and status buttons.

Reads call `messaging.conversations` as the JSON routes do; every action in the page (reply, status,
read) is a call from `conversations.js` to those JSON routes, so a page and its route are one
implementation. The reply form's idempotency key is made here, when the page renders: a double click
or a retry posts once.
"""

from __future__ import annotations

import secrets
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, HTTPException, Query, Request
from fastapi.responses import HTMLResponse
from sqlalchemy import Engine

from retail_pipeline.api.console.session import PageViewer
from retail_pipeline.api.console.templating import render
from retail_pipeline.api.database import db_engine
from retail_pipeline.channels.registry import channel, channel_names
from retail_pipeline.domain.conversations import STATUSES, InvalidChange
from retail_pipeline.messaging import conversations as cs

router = APIRouter(tags=["console"], include_in_schema=False)

TABS = (*STATUSES, "all")


def _list_query(status: str, channel_name: str | None, unread: bool, q: str | None) -> dict[str, Any]:
    query: dict[str, Any] = {"status": status}
    if channel_name:
        query["channel"] = channel_name
    if unread:
        query["unread"] = "1"
    if q:
        query["q"] = q
    return query


def _page(
    request: Request,
    principal: Any,
    engine: Engine,
    *,
    conversation_id: int | None,
    status: str,
    channel_name: str | None,
    unread: bool,
    q: str | None,
    cursor: str | None,
) -> HTMLResponse:
    if status not in TABS:
        status = "open"
    if channel_name not in channel_names("buyer_messages"):
        channel_name = None
    try:
        listing = cs.list_conversations(
            engine, status=None if status == "all" else status, channel=channel_name, unread=unread, q=q,
            cursor=cursor,
        )  # fmt: skip
    except InvalidChange:  # a stale cursor: start from the top
        listing = cs.list_conversations(
            engine, status=None if status == "all" else status, channel=channel_name, unread=unread, q=q
        )
    thread = saved = None
    if conversation_id is not None:
        try:
            thread = cs.conversation(engine, conversation_id)
        except cs.NotFound:
            raise HTTPException(404, f"no conversation {conversation_id}") from None
        saved = cs.saved_replies(engine, conversation_id)
    query = _list_query(status, channel_name, unread, q)
    context = {
        "active": "conversations",
        "tabs": TABS,
        "tab": status,
        "listing": listing,
        "thread": thread,
        "saved_replies": saved,
        "query": query,
        "qs": urlencode(query),
        "tab_links": {name: urlencode(query | {"status": name}) for name in TABS},
        "next_qs": urlencode(query | {"cursor": listing["next_cursor"]}) if listing["next_cursor"] else None,
        "channels": [(name, channel(name).title) for name in channel_names("buyer_messages")],
        "channel_name": channel_name,
        "unread": unread,
        "q": q or "",
        "idempotency_key": secrets.token_urlsafe(18),
        "all_total": sum(c["total"] for c in listing["counts"].values()),
    }
    return render(request, "conversations.html", context, principal)


Engine_ = Annotated[Engine, Depends(db_engine)]


@router.get("/console/conversations", response_class=HTMLResponse)
def page(
    request: Request,
    principal: PageViewer,
    engine: Engine_,
    status: str = "open",
    channel: str | None = None,
    unread: bool = False,
    q: Annotated[str | None, Query(max_length=200)] = None,
    cursor: str | None = None,
) -> HTMLResponse:
    return _page(
        request, principal, engine, conversation_id=None, status=status, channel_name=channel, unread=unread,
        q=q, cursor=cursor,
    )  # fmt: skip


@router.get("/console/conversations/{conversation_id}", response_class=HTMLResponse)
def thread_page(
    conversation_id: int,
    request: Request,
    principal: PageViewer,
    engine: Engine_,
    status: str = "open",
    channel: str | None = None,
    unread: bool = False,
    q: Annotated[str | None, Query(max_length=200)] = None,
    cursor: str | None = None,
) -> HTMLResponse:
    return _page(
        request, principal, engine, conversation_id=conversation_id, status=status, channel_name=channel,
        unread=unread, q=q, cursor=cursor,
    )  # fmt: skip

"""``GET /console/events`` (viewer): the console's live events as a server-sent-events stream.

Triggers (sql/009_console_events.sql) send ``pg_notify('console_events', <json>)`` when a task, an
order or a message arrives or a shipment changes status. One LISTEN connection per sidecar process
(``EventHub``) fans each notification out to every open stream, so a hundred open consoles hold one
database connection, not a hundred; it is opened with the first stream and closed with the last.

A stream sends ``event: ready`` once the LISTEN is in place (a page that must not miss an event waits
for it), then ``event: <type>`` with the trigger's JSON as ``data`` for each event, and a comment line
every ``CONSOLE_EVENTS_HEARTBEAT_SECONDS`` so proxies keep the connection open and a dead peer is
noticed. It ends at once when the client goes away, and when the server shuts down
(``end_streams``, called by ``retail_pipeline.api.server.SidecarServer``): uvicorn waits for open
responses before it exits, and an endless stream would otherwise keep it from ever exiting.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Annotated, Any

import psycopg
from fastapi import APIRouter, Depends, FastAPI, Request
from fastapi.responses import StreamingResponse
from sqlalchemy import Engine
from starlette.concurrency import run_in_threadpool

from retail_pipeline.api.auth import Viewer
from retail_pipeline.api.console import session_store
from retail_pipeline.api.database import db_engine
from retail_pipeline.db.urls import libpq_url

logger = logging.getLogger(__name__)

router = APIRouter(tags=["console"])

CHANNEL = "console_events"
EVENT_TYPES = ("task", "order", "message", "shipment")
QUEUE_SIZE = 200  # a browser that stops reading loses its oldest events, never blocks the others
RECONNECT_MAX_SECONDS = 10.0
READY_WAIT_SECONDS = 5.0
# How often an open stream asks whether its key or session still stands: a revocation ends it within this.
RECHECK_SECONDS = 4.0
_END = object()  # put in a stream's queue: the stream ends


class EventHub:
    """One LISTEN connection, fanned out to the open streams' queues. Lives on the app's event loop."""

    def __init__(self, database_url: Callable[[], str]):
        self._database_url = database_url
        self._queues: set[asyncio.Queue[Any]] = set()
        self._listener: asyncio.Task[None] | None = None
        self.listening = asyncio.Event()
        self.closed = False

    @contextlib.asynccontextmanager
    async def subscribe(self) -> AsyncIterator[asyncio.Queue[Any]]:
        queue: asyncio.Queue[Any] = asyncio.Queue(maxsize=QUEUE_SIZE)
        self._queues.add(queue)
        if self.closed:
            queue.put_nowait(_END)
        elif self._listener is None or self._listener.done():
            self._listener = asyncio.create_task(self._listen(), name="console-events-listen")
        try:
            yield queue
        finally:
            self._queues.discard(queue)
            if not self._queues and self._listener is not None:
                self._listener.cancel()  # the last stream closed: give the connection back
                self._listener = None
                self.listening.clear()

    def close(self) -> None:
        """Ends every open stream (server shutdown); a stream opened after this ends at once."""
        self.closed = True
        for queue in list(self._queues):
            _offer(queue, _END)
        if self._listener is not None:
            self._listener.cancel()

    def publish(self, payload: str) -> None:
        try:
            event = json.loads(payload)
            event_type = event["type"]
        except (ValueError, KeyError, TypeError):
            logger.warning("console events: ignoring a malformed notification %r", payload[:200])
            return
        if event_type not in EVENT_TYPES:
            return
        for queue in list(self._queues):
            _offer(queue, (event_type, payload))

    async def _listen(self) -> None:
        delay = 0.5
        while not self.closed:
            try:
                # Resolving the URL may start the embedded server: not on the event loop.
                url = libpq_url(await run_in_threadpool(self._database_url))
                async with await psycopg.AsyncConnection.connect(url, autocommit=True) as conn:
                    await conn.execute(f"LISTEN {CHANNEL}")
                    self.listening.set()
                    delay = 0.5
                    async for notify in conn.notifies():
                        self.publish(notify.payload)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # the database went away: streams stay open, heartbeats continue
                logger.warning("console events: LISTEN failed (%s); retrying in %.1f s", exc, delay)
            self.listening.clear()
            await asyncio.sleep(delay)
            delay = min(delay * 2, RECONNECT_MAX_SECONDS)


def _offer(queue: asyncio.Queue[Any], item: Any) -> None:
    """Puts without waiting; a full queue drops its oldest item (an end marker always gets in)."""
    while True:
        try:
            queue.put_nowait(item)
            return
        except asyncio.QueueFull:
            queue.get_nowait()


def event_hub(app: FastAPI) -> EventHub:
    hub = getattr(app.state, "console_events", None)
    if hub is None:
        database = app.state.database
        hub = app.state.console_events = EventHub(lambda: database.url)
    return hub


def end_streams(app: FastAPI) -> None:
    """Ends the app's open event streams (call on the server's loop when it starts shutting down)."""
    hub = getattr(app.state, "console_events", None)
    if hub is not None:
        hub.close()


def sse(event: str, data: str) -> str:
    # data is one line of JSON (json.dumps / PostgreSQL's json text never contain a raw newline).
    return f"event: {event}\ndata: {data}\n\n"


async def _stream(
    request: Request, hub: EventHub, heartbeat: float, still_allowed: Callable[[], Awaitable[bool]]
) -> AsyncIterator[str]:
    async with hub.subscribe() as queue:

        async def watch_disconnect() -> None:
            while (await request.receive())["type"] != "http.disconnect":
                pass
            _offer(queue, _END)

        watcher = asyncio.create_task(watch_disconnect())
        try:
            yield "retry: 3000\n\n"
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(hub.listening.wait(), READY_WAIT_SECONDS)
            yield sse("ready", json.dumps({"listening": hub.listening.is_set()}))
            checked, beat = time.monotonic(), time.monotonic()
            while True:
                wait = min(
                    heartbeat - (time.monotonic() - beat), RECHECK_SECONDS - (time.monotonic() - checked)
                )
                try:
                    item = await asyncio.wait_for(queue.get(), max(wait, 0.01))
                except TimeoutError:
                    item = None
                if time.monotonic() - checked >= RECHECK_SECONDS:
                    if not await still_allowed():  # key revoked or signed out: no more events for it
                        yield sse("signed_out", "{}")
                        return
                    checked = time.monotonic()
                if item is _END:
                    return
                if item is not None:
                    yield sse(*item)
                elif time.monotonic() - beat >= heartbeat:
                    yield ": heartbeat\n\n"
                    beat = time.monotonic()
        finally:
            watcher.cancel()


@router.get("/console/events", response_class=StreamingResponse)
async def console_events(
    request: Request, principal: Viewer, engine: Annotated[Engine, Depends(db_engine)]
) -> StreamingResponse:
    """Server-sent events: ``ready``, then ``task``, ``order``, ``message`` and ``shipment`` events
    (JSON data: type, action, id, title and a few fields), with heartbeat comments between them."""
    heartbeat = request.app.state.settings.console_events_heartbeat_seconds

    async def still_allowed() -> bool:
        return await run_in_threadpool(
            session_store.still_live, engine, principal.key_id, principal.session_id
        )

    return StreamingResponse(
        _stream(request, event_hub(request.app), heartbeat, still_allowed),
        media_type="text/event-stream",
        # no-transform and X-Accel-Buffering: proxies must pass each event on, not buffer the stream.
        headers={"Cache-Control": "no-cache, no-transform", "X-Accel-Buffering": "no"},
    )

"""Every request a simulated system answered, for tests and the demo to inspect."""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

# Request headers that tell how a client behaves: identity, conditional GETs, content negotiation.
RECORDED_HEADERS = ("user-agent", "if-none-match", "if-modified-since", "accept")

# Set in the ASGI scope by the fault middleware so the journal can say which fault was injected.
FAULT_SCOPE_KEY = "simulator.fault"


@dataclass(frozen=True)
class JournalEntry:
    system: str
    method: str
    path: str  # as the system sees it, without the mount prefix
    query: str
    status: int | None  # None: the client gave up before an answer (e.g. during a timeout fault)
    headers: dict[str, str]
    sim_time: datetime
    wall_time: float  # Unix time the request arrived
    duration_ms: float
    fault: str | None

    def to_json(self) -> dict[str, Any]:
        return {**asdict(self), "sim_time": self.sim_time.isoformat()}


class RequestJournal:
    def __init__(self, max_entries: int = 50_000):
        self._entries: deque[JournalEntry] = deque(maxlen=max_entries)
        self._lock = threading.Lock()

    def record(self, entry: JournalEntry) -> None:
        with self._lock:
            self._entries.append(entry)

    def entries(self, system: str | None = None, limit: int | None = None) -> list[JournalEntry]:
        """Oldest first; `limit` keeps the most recent ones."""
        with self._lock:
            selected = [e for e in self._entries if system is None or e.system == system]
        return selected[-limit:] if limit else selected

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()

    def __len__(self) -> int:
        return len(self._entries)


class JournalMiddleware:
    """Outermost wrapper of a system: records what the client finally saw, faults included."""

    def __init__(self, app: ASGIApp, *, system: str, journal: RequestJournal, now: Callable[[], datetime]):
        self.app, self.system, self.journal, self.now = app, system, journal, now

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        scope[FAULT_SCOPE_KEY] = None
        status: int | None = None
        recorded = False
        arrived, started = time.time(), time.perf_counter()
        sim_time = self.now()

        def record() -> None:
            nonlocal recorded
            if recorded:
                return
            recorded = True
            headers = {k.decode("latin-1"): v.decode("latin-1") for k, v in scope["headers"]}
            self.journal.record(
                JournalEntry(
                    system=self.system,
                    method=scope["method"],
                    path=scope["path"][len(scope.get("root_path", "")) :] or "/",
                    query=scope["query_string"].decode("latin-1"),
                    status=status,
                    headers={h: headers[h] for h in RECORDED_HEADERS if h in headers},
                    sim_time=sim_time,
                    wall_time=arrived,
                    duration_ms=(time.perf_counter() - started) * 1000,
                    fault=scope[FAULT_SCOPE_KEY],
                )
            )

        async def send_and_note(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            elif message["type"] == "http.response.body" and not message.get("more_body", False):
                record()  # before the last byte leaves: a client that has its answer finds the entry
            await send(message)

        try:
            await self.app(scope, receive, send_and_note)
        finally:
            record()  # no answer sent (the app failed, or the client went away)

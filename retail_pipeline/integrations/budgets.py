"""API call budgets: so many calls per window (e.g. 1,000 per clock hour, or a daily quota).

One type, `WindowedCallBudget`. With an engine, the spending is kept in PostgreSQL
(`retail.call_budgets`, one row per API and window) and every process of the deployment (Dagster
runs, sensors, the sidecar) takes calls from the same row; an atomic conditional upsert means that
together they never pass the limit. Without one (a client built bare, as in unit tests), it counts in
this process only. `shared_engine()` is the database a process is configured with, if any.

The window follows the budget's clock (the wall clock for the real API, the simulated clock against
the simulators) and is aligned to the epoch in UTC: clock hours, UTC days.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import Engine, text

from retail_pipeline.db.engine import get_engine
from retail_pipeline.settings import get_settings

HOUR, DAY = timedelta(hours=1), timedelta(days=1)

_TAKE = text("""
    INSERT INTO retail.call_budgets AS budget (api, window_start, call_limit, spent)
    VALUES (:api, :window_start, :limit, :n)
    ON CONFLICT (api, window_start) DO UPDATE
        SET spent = budget.spent + excluded.spent, call_limit = excluded.call_limit, updated_at = now()
        WHERE budget.spent + excluded.spent <= excluded.call_limit
    RETURNING spent
""")
_EXHAUST = text("""
    INSERT INTO retail.call_budgets AS budget (api, window_start, call_limit, spent)
    VALUES (:api, :window_start, :limit, :limit)
    ON CONFLICT (api, window_start) DO UPDATE
        SET spent = greatest(budget.spent, excluded.spent), updated_at = now()
""")
_SPENT = text("SELECT spent FROM retail.call_budgets WHERE api = :api AND window_start = :window_start")


@dataclass(frozen=True)
class CallBudget:
    """A channel's limit on calls and how much of the current window is spent (`limit` None: the
    channel sets none, `used` is what this client sent)."""

    limit: int | None
    used: int
    resets_at: str | None = None  # ISO instant

    @property
    def remaining(self) -> int | None:
        return None if self.limit is None else max(0, self.limit - self.used)


def _utc_now() -> datetime:
    return datetime.now(UTC)


def shared_engine() -> Engine | None:
    """The database this process is configured with (DATABASE_URL; the CLI exports it to Dagster's
    processes for the embedded server too), or None: then budgets count per process."""
    url = get_settings().database_url
    return get_engine(url) if url else None


class WindowedCallBudget:
    """`limit` calls of `api` per `window`. Share one object between clients in a process, or give
    each the same engine to share across processes."""

    def __init__(
        self,
        api: str,
        limit: int,
        window: timedelta,
        *,
        clock: Callable[[], datetime] = _utc_now,
        engine: Engine | None = None,
    ):
        if limit < 1:
            raise ValueError(f"a call budget needs a limit of at least 1, not {limit}")
        self.api, self.limit, self.window, self.clock, self.engine = api, limit, window, clock, engine
        self._spent_here: dict[datetime, int] = {}  # window start -> calls, when there is no engine
        self._lock = threading.Lock()

    def _window_start(self) -> datetime:
        epoch = datetime(1970, 1, 1, tzinfo=UTC)
        return epoch + ((self.clock().astimezone(UTC) - epoch) // self.window) * self.window

    def _key(self, window_start: datetime) -> dict[str, object]:
        return {"api": self.api, "window_start": window_start, "limit": self.limit}

    def try_spend(self, calls: int = 1) -> bool:
        """Takes `calls` from the current window if all of them fit; False (nothing taken) if not."""
        start = self._window_start()
        if calls > self.limit:
            return False
        if self.engine is None:
            with self._lock:
                self._spent_here = {start: self._spent_here.get(start, 0)}  # older windows are done
                if self._spent_here[start] + calls > self.limit:
                    return False
                self._spent_here[start] += calls
                return True
        with self.engine.begin() as conn:
            return conn.execute(_TAKE, {**self._key(start), "n": calls}).first() is not None

    async def spend(self, calls: int = 1) -> bool:
        """`try_spend` without holding up the event loop on the database."""
        if self.engine is None:
            return self.try_spend(calls)
        return await asyncio.to_thread(self.try_spend, calls)

    def exhaust(self) -> None:
        """The API says this window is used up (someone else spent it): count it as spent."""
        start = self._window_start()
        if self.engine is None:
            with self._lock:
                self._spent_here = {start: self.limit}
            return
        with self.engine.begin() as conn:
            conn.execute(_EXHAUST, self._key(start))

    def snapshot(self) -> CallBudget:
        start = self._window_start()
        if self.engine is None:
            with self._lock:
                spent = self._spent_here.get(start, 0)
        else:
            with self.engine.connect() as conn:
                spent = conn.execute(_SPENT, self._key(start)).scalar() or 0
        return CallBudget(self.limit, spent, (start + self.window).isoformat())

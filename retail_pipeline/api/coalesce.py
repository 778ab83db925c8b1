"""Identical reads in flight at once share one execution (request coalescing, "single flight").

Operators' dashboards poll the inbox and the KPIs; when several ask at the same moment, one query
answers all of them. A request that joins one in flight gets an answer computed from a snapshot
taken at most one query's time before it arrived (milliseconds), never an older, cached one:
nothing is kept once the execution ends.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Awaitable, Callable, Hashable
from concurrent.futures import Future
from typing import Generic, TypeVar

T = TypeVar("T")


class SingleFlight(Generic[T]):
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._in_flight: dict[Hashable, Future[T]] = {}
        self.executions = 0  # how many times `compute` actually ran
        self.joined = 0  # how many calls were answered by another's execution

    def run(self, key: Hashable, compute: Callable[[], T]) -> T:
        """`compute()`, or the result of the identical call already running (its error too)."""
        with self._lock:
            future = self._in_flight.get(key)
            leader = future is None
            if leader:
                future = self._in_flight[key] = Future()
                self.executions += 1
            else:
                self.joined += 1
        if not leader:
            return future.result()
        try:
            result = compute()
        except BaseException as error:
            future.set_exception(error)
            raise
        else:
            future.set_result(result)
            return result
        finally:
            with self._lock:
                del self._in_flight[key]


class AsyncSingleFlight(Generic[T]):
    """`SingleFlight` for coroutines on one event loop: calls arriving while one runs await its result."""

    def __init__(self) -> None:
        self._in_flight: dict[Hashable, asyncio.Task[T]] = {}
        self.executions = 0
        self.joined = 0

    async def run(self, key: Hashable, compute: Callable[[], Awaitable[T]]) -> T:
        loop = asyncio.get_running_loop()
        task = self._in_flight.get(key)
        if task is None or task.done() or task.get_loop() is not loop:
            task = self._in_flight[key] = loop.create_task(compute())
            task.add_done_callback(lambda done: self._forget(key, done))
            self.executions += 1
        else:
            self.joined += 1
        # shield: one caller going away (a client disconnecting) does not cancel the others' answer.
        return await asyncio.shield(task)

    def _forget(self, key: Hashable, done: asyncio.Task[T]) -> None:
        if self._in_flight.get(key) is done:
            del self._in_flight[key]

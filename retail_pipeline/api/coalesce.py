"""Identical reads in flight at once share one execution (request coalescing, "single flight").

Operators' dashboards poll the inbox and the KPIs; when several ask at the same moment, one query
answers all of them. A request that joins one in flight gets an answer computed from a snapshot
taken at most one query's time before it arrived (milliseconds), never an older, cached one:
nothing is kept once the execution ends.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Hashable
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

"""SingleFlight: concurrent identical reads share one execution; nothing is kept afterwards."""

from __future__ import annotations

import asyncio
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from retail_pipeline.api.coalesce import AsyncSingleFlight, SingleFlight


def wait_for(condition, timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition never held"
        time.sleep(0.005)


def test_callers_during_one_execution_share_it_and_the_next_caller_computes_afresh():
    flights: SingleFlight[int] = SingleFlight()
    release, started = threading.Event(), threading.Event()
    calls = []

    def slow() -> int:
        calls.append(1)
        started.set()
        assert release.wait(5)
        return len(calls)

    with ThreadPoolExecutor(8) as pool:
        leader = pool.submit(flights.run, "inbox", slow)
        started.wait(5)
        followers = [pool.submit(flights.run, "inbox", slow) for _ in range(5)]
        other = pool.submit(flights.run, "summary", lambda: 99)  # another key never waits
        assert other.result(timeout=5) == 99
        wait_for(lambda: flights.joined == 5)
        release.set()
        assert [f.result(timeout=5) for f in [leader, *followers]] == [1] * 6
    assert flights.executions == 2 and len(calls) == 1
    assert flights.run("inbox", slow) == 2  # nothing cached: a later call runs again


def test_an_error_reaches_every_caller_and_is_not_kept():
    flights: SingleFlight[int] = SingleFlight()
    release, started = threading.Event(), threading.Event()

    def failing() -> int:
        started.set()
        assert release.wait(5)
        raise RuntimeError("database went away")

    with ThreadPoolExecutor(3) as pool:
        leader = pool.submit(flights.run, "k", failing)
        started.wait(5)
        follower = pool.submit(flights.run, "k", failing)
        wait_for(lambda: flights.joined == 1)
        release.set()
        for future in (leader, follower):
            with pytest.raises(RuntimeError, match="went away"):
                future.result(timeout=5)
    assert flights.run("k", lambda: 7) == 7


def test_async_callers_during_one_execution_share_it_and_the_next_computes_afresh():
    flights: AsyncSingleFlight[int] = AsyncSingleFlight()
    calls = 0

    async def compute() -> int:
        nonlocal calls
        calls += 1
        await asyncio.sleep(0.05)
        return calls

    async def scenario() -> tuple[list[int], int]:
        together = await asyncio.gather(*(flights.run("k", compute) for _ in range(8)))
        later = await flights.run("k", compute)
        return together, later

    together, later = asyncio.run(scenario())
    assert together == [1] * 8 and later == 2
    assert (flights.executions, flights.joined) == (2, 7)


def test_async_flight_errors_reach_every_caller_and_are_not_kept():
    flights: AsyncSingleFlight[int] = AsyncSingleFlight()

    async def boom() -> int:
        await asyncio.sleep(0.01)
        raise RuntimeError("channel down")

    async def scenario() -> list:
        return await asyncio.gather(*(flights.run("k", boom) for _ in range(3)), return_exceptions=True)

    errors = asyncio.run(scenario())
    assert [str(e) for e in errors] == ["channel down"] * 3 and flights._in_flight == {}

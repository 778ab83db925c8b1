"""The windowed call budget: spending kept in PostgreSQL is shared by processes and never passes the
limit; the in-process variant (no database) keeps the same rules."""

from __future__ import annotations

import multiprocessing
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import create_engine, text

from retail_pipeline.integrations.budgets import DAY, HOUR, WindowedCallBudget

WINDOW_CLOCK = datetime(2025, 6, 2, 9, 30, tzinfo=UTC)


def _frozen() -> datetime:
    return WINDOW_CLOCK


def _draw(db_url: str, limit: int, attempts: int, start: Any) -> int:
    """In a spawned process: try `attempts` single calls on the shared budget; how many were granted."""
    budget = WindowedCallBudget("trademe", limit, HOUR, clock=_frozen, engine=create_engine(db_url))
    start.wait(timeout=60)  # both processes draw at the same time
    granted = sum(budget.try_spend() for _ in range(attempts))
    budget.engine.dispose()
    return granted


def test_two_processes_on_one_budget_never_pass_its_limit(db_url):
    spawn = multiprocessing.get_context("spawn")
    with spawn.Manager() as manager, spawn.Pool(2) as pool:
        start = manager.Barrier(2)
        granted = pool.starmap(_draw, [(db_url, 50, 40, start), (db_url, 50, 40, start)])
    assert sum(granted) == 50 and min(granted) >= 10  # each got calls; together exactly the limit
    with create_engine(db_url).connect() as conn:
        row = conn.execute(text("SELECT api, window_start, call_limit, spent FROM retail.call_budgets")).one()
    assert tuple(row) == ("trademe", datetime(2025, 6, 2, 9, tzinfo=UTC), 50, 50)


@pytest.fixture(params=["postgresql", "memory"])
def make_budget(request, db_url):
    engine = create_engine(db_url) if request.param == "postgresql" else None
    yield lambda limit, window, clock: WindowedCallBudget("ebay", limit, window, clock=clock, engine=engine)
    if engine is not None:
        engine.dispose()


def test_a_window_refuses_what_does_not_fit_and_the_next_window_starts_afresh(make_budget):
    now = [datetime(2025, 6, 2, 23, 59, tzinfo=UTC)]
    budget = make_budget(3, DAY, lambda: now[0])
    assert budget.try_spend(2) and not budget.try_spend(2) and budget.try_spend()
    assert not budget.try_spend()
    assert (budget.snapshot().used, budget.snapshot().resets_at) == (3, "2025-06-03T00:00:00+00:00")
    now[0] = datetime(2025, 6, 3, 0, 0, tzinfo=UTC)
    assert budget.snapshot().used == 0 and budget.try_spend()
    budget.exhaust()  # the API says the day is gone
    assert budget.snapshot().remaining == 0 and not budget.try_spend()


def test_clients_in_different_processes_share_through_the_database(db_url):
    """Two budget objects on one database (as two processes would have) see one count."""
    first, second = (
        WindowedCallBudget("trademe", 2, HOUR, clock=_frozen, engine=create_engine(db_url)) for _ in range(2)
    )
    assert first.try_spend() and second.try_spend() and not first.try_spend()
    assert first.snapshot().used == second.snapshot().used == 2

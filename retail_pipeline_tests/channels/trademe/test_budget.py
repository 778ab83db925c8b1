"""The hourly call budget: the client counts every call and stops before exceeding it; the simulator
enforces Trade Me's own count per clock hour on the simulated clock, with a 429 and no Retry-After."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from retail_pipeline.integrations.budgets import HOUR, WindowedCallBudget
from retail_pipeline.integrations.marketplaces.base import BudgetExhausted
from retail_pipeline.simulators import FaultConfig

from .conftest import Wire, make_draft

pytestmark = pytest.mark.anyio


async def test_the_sixth_call_of_five_is_refused_before_sending(make_client, sim):
    async with make_client(hourly_call_limit=5) as client:
        for _ in range(5):
            await client.account_summary()
        assert client.budget().remaining == 0
        with pytest.raises(BudgetExhausted) as refused:
            await client.account_summary()
        assert refused.value.retryable
        assert (refused.value.budget.used, refused.value.budget.resets_at) == (5, "2025-06-02T10:00:00+00:00")
        assert len(sim.journal.entries("trademe")) == 5  # the sixth never left the client

        sim.clock.advance(0.99)
        with pytest.raises(BudgetExhausted):
            await client.account_summary()
        sim.clock.advance(0.01)  # 10:00: a new clock hour
        await client.account_summary()
        assert (client.budget().used, client.budget().resets_at) == (1, "2025-06-02T11:00:00+00:00")
    assert len(sim.journal.entries("trademe")) == 6


async def test_retries_are_counted_too(make_client, sim):
    sim.faults.set("trademe", FaultConfig(error_rate=1.0))
    async with make_client(hourly_call_limit=3, max_attempts=5) as client:
        with pytest.raises(BudgetExhausted):
            await client.account_summary()
    assert len(sim.journal.entries("trademe")) == 3


async def test_the_simulator_answers_429_past_its_limit(wire: Wire, backend, sim):
    backend.hourly_call_limit = 2
    assert [(await wire("GET", "/v1/MyTradeMe/Summary.json")).status_code for _ in range(2)] == [200, 200]
    refused = await wire("GET", "/v1/MyTradeMe/Summary.json")
    assert refused.status_code == 429 and "retry-after" not in refused.headers
    assert "rate limit" in refused.json()["ErrorDescription"]
    sim.clock.advance(1)
    assert (await wire("GET", "/v1/MyTradeMe/Summary.json")).status_code == 200


async def test_a_429_without_retry_after_ends_the_hour_for_the_client(make_client, backend, sim):
    backend.hourly_call_limit = 3  # another process spent the rest of this hour's calls
    async with make_client() as client:
        await client.create(make_draft())  # 1 call
        await client.account_summary()  # 2
        await client.account_summary()  # 3
        with pytest.raises(BudgetExhausted):
            await client.account_summary()  # 4: Trade Me says no
        assert client.budget().remaining == 0
        with pytest.raises(BudgetExhausted):
            await client.account_summary()  # not sent
        assert len(sim.journal.entries("trademe")) == 4
        sim.clock.advance(1)
        assert (await client.account_summary()).selling_count == 1


def test_a_shared_budget_spans_clients_and_resets_each_hour():
    now = [datetime(2025, 6, 2, 9, 59, tzinfo=UTC)]
    budget = WindowedCallBudget("trademe", 2, HOUR, clock=lambda: now[0])
    assert budget.try_spend() and budget.try_spend() and not budget.try_spend()
    assert budget.snapshot().remaining == 0
    now[0] = datetime(2025, 6, 2, 10, 0, tzinfo=UTC)
    assert budget.snapshot().used == 0 and budget.try_spend()

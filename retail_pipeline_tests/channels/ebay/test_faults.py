"""Injected faults (5xx, 429, timeouts, cut-off bodies) are absorbed by retries; the daily quota and
the client's own budget defer work instead of failing it."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest

from retail_pipeline.integrations.budgets import DAY, WindowedCallBudget
from retail_pipeline.integrations.marketplaces.base import BudgetExhausted, ChannelError
from retail_pipeline.simulators import FaultConfig

from .conftest import make_draft

pytestmark = pytest.mark.anyio


async def test_injected_faults_are_absorbed_and_leave_exactly_one_listing_each(
    make_client, sim, backend, recorder
):
    sim.faults.set(
        "ebay",
        FaultConfig(
            error_rate=0.15,
            rate_limit_rate=0.1,
            retry_after_seconds=0,
            timeout_rate=0.05,
            hang_seconds=0.01,
            malformed_rate=0.1,
        ),
    )
    async with make_client(max_attempts=8) as client:
        listings = [await client.create(make_draft(sku=f"OC-{n}")) for n in range(8)]
        for listing in listings[:4]:
            await client.update_price(listing, Decimal("300.00"))
        for listing in listings[4:]:
            await client.withdraw(listing, "out of stock at the supplier")
        remote = {r.sku: r async for r in client.selling()}

    faults = [e for e in sim.journal.entries("ebay") if e.fault]
    assert {e.fault for e in faults} >= {"error", "rate_limit", "timeout", "malformed"}
    assert len(backend.offers) == 8  # one offer per SKU, whatever was retried
    assert {sku: r.price for sku, r in remote.items()} == {f"OC-{n}": Decimal("300.00") for n in range(4)}
    problems, _ = recorder.spec_violations()
    assert problems == []  # eBay's own answers, fault pages aside, were all in the spec


async def test_a_fault_that_outlasts_the_retries_is_retryable(make_client, sim):
    sim.faults.set("ebay", FaultConfig(error_rate=1.0))
    async with make_client(max_attempts=3) as client:
        with pytest.raises(ChannelError) as caught:
            await client.find_by_sku("OC-1")
    assert caught.value.retryable and caught.value.status in (500, 502, 503)
    assert "after 3 attempts" in caught.value.message


async def test_ebays_daily_quota_defers_the_rest_until_the_next_day(make_client, sim, backend, recorder):
    backend.config = backend.config.model_copy(update={"calls_per_day": 3})
    async with make_client() as client:
        await client.create(make_draft())  # three Sell calls: the day's quota
        with pytest.raises(BudgetExhausted) as caught:
            await client.find_by_sku("OC-100007")
        assert caught.value.retryable and client.budget().remaining == 0
        assert recorder.exchanges[-1].status == 429
        retry_after = int(recorder.exchanges[-1].headers["retry-after"])
        assert retry_after == 15 * 3600  # until midnight UTC, simulated time
        with pytest.raises(BudgetExhausted):  # refused without asking eBay again
            await client.find_by_sku("OC-100007")
        assert len(recorder.exchanges) == 5

        sim.clock.advance(retry_after / 3600)
        assert (await client.find_by_sku("OC-100007")).state == "live"
    assert backend.calls_today() == 1


async def test_the_clients_own_budget_stops_before_sending(make_client, recorder):
    async with make_client(daily_call_limit=3) as client:
        await client.find_by_sku("A")  # token + 1
        await client.find_by_sku("B")
        with pytest.raises(BudgetExhausted) as caught:
            await client.find_by_sku("C")
        budget = client.budget()
    assert len(recorder.exchanges) == 3
    assert (budget.limit, budget.used, budget.remaining) == (3, 3, 0)
    assert budget.resets_at == "2025-06-03T00:00:00+00:00" == caught.value.budget.resets_at


async def test_the_budget_counts_on_the_clock_it_is_given(make_client, sim):
    async with make_client(daily_call_limit=2) as client:
        await client.find_by_sku("A")
        sim.clock.advance(24)
        assert client.budget().used == 0
        assert await client.find_by_sku("A") is None
    assert sim.clock.now() - sim.clock.start == timedelta(hours=24)


async def test_clients_of_one_app_can_share_one_budget(make_client, sim):
    shared = WindowedCallBudget("ebay", 4, DAY, clock=sim.clock.now)
    async with make_client(budget=shared) as first, make_client(budget=shared) as second:
        await first.find_by_sku("A")  # token + 1
        await second.find_by_sku("A")  # its own token
        with pytest.raises(BudgetExhausted):
            await first.find_by_sku("B")
    assert shared.snapshot().used == 4

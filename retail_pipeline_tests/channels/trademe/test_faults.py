"""Faults: 5xx, 429 with Retry-After and cut-off bodies are absorbed by retries; a retry after an
attempt that may have been carried out asks Trade Me first, so nothing is listed twice."""

from __future__ import annotations

from decimal import Decimal

import pytest

from retail_pipeline.integrations.marketplaces.base import ChannelError
from retail_pipeline.simulators import FaultConfig

from .conftest import LoseAnswer, make_draft

pytestmark = pytest.mark.anyio


async def test_twenty_percent_5xx_are_absorbed(client, backend, sim, photo_file):
    sim.faults.set("trademe", FaultConfig(error_rate=0.2))
    created = [await client.create(make_draft(sku=f"OC-{n}", photos=(photo_file(),))) for n in range(8)]
    for listing in created:
        await client.update_price(listing, Decimal("299.00"))
    await client.withdraw(created[0], "Discontinued")
    remote = [r async for r in client.selling()]

    assert len(remote) == 7 and {r.price for r in remote} == {Decimal("299.0")}
    assert sorted(x.form["SKU"] for x in backend.listings.values()) == sorted(f"OC-{n}" for n in range(8))
    faults = [e for e in sim.journal.entries("trademe") if e.fault == "error"]
    assert len(faults) >= 5 and {e.status for e in faults} <= {500, 502, 503}


async def test_429s_with_retry_after_are_waited_out(client, sim):
    sim.faults.set("trademe", FaultConfig(rate_limit_rate=0.5, retry_after_seconds=0))
    for _ in range(6):
        await client.account_summary()
    assert any(e.status == 429 for e in sim.journal.entries("trademe"))
    assert client.budget().remaining > 0  # a throttle, not Trade Me's hourly limit


async def test_a_long_retry_after_is_a_retryable_failure(make_client, sim):
    sim.faults.set("trademe", FaultConfig(rate_limit_rate=1.0, retry_after_seconds=120))
    async with make_client(max_retry_after_seconds=60) as client:
        with pytest.raises(ChannelError) as error:
            await client.account_summary()
    assert (error.value.status, error.value.retryable) == (429, True)


async def test_retries_give_up_with_a_retryable_error(make_client, sim):
    sim.faults.set("trademe", FaultConfig(error_rate=1.0))
    async with make_client(max_attempts=3) as client:
        with pytest.raises(ChannelError) as error:
            await client.account_summary()
    assert error.value.retryable and error.value.status in (500, 502, 503)
    assert "after 3 attempts" in error.value.message
    assert len(sim.journal.entries("trademe")) == 3


async def test_cut_off_answers_to_create_never_list_twice(client, backend, sim):
    sim.faults.set("trademe", FaultConfig(malformed_rate=0.3))
    for n in range(10):
        await client.create(make_draft(sku=f"OC-{n}"))
    assert sorted(x.form["SKU"] for x in backend.listings.values()) == sorted(f"OC-{n}" for n in range(10))
    cut = [
        e for e in sim.journal.entries("trademe") if e.fault == "malformed" and e.path == "/v1/Selling.json"
    ]
    assert cut  # some listings were created although their answer was lost


async def test_a_lost_create_answer_is_found_by_sku_not_listed_again(make_client, transport, backend, sim):
    transport = LoseAnswer(transport, "/v1/Selling.json")
    async with make_client(transport=transport) as client:
        created = await client.create(make_draft())
    assert transport.lost == 1 and len(backend.listings) == 1
    assert created.external_id == str(next(iter(backend.listings)))
    assert [e.path for e in sim.journal.entries("trademe")] == [
        "/v1/Selling.json",
        "/v1/MyTradeMe/SellingItems/All.json",
    ]


async def test_a_lost_withdraw_answer_is_not_a_failure(make_client, transport, backend):
    async with make_client() as client:
        created = await client.create(make_draft())
    transport = LoseAnswer(transport, "/v1/Selling/Withdraw.json")
    async with make_client(transport=transport) as client:
        assert (await client.withdraw(created, "Discontinued")).state == "withdrawn"
    assert transport.lost == 1 and backend.state(backend.listings[int(created.external_id)]) == "withdrawn"


async def test_a_lost_courier_parcel_answer_is_not_a_failure(make_client, transport, backend):
    async with make_client() as client:
        created = await client.create(make_draft())
    sale = backend.buy(int(created.external_id))
    transport = LoseAnswer(transport, "/v1/MyTradeMe/CourierParcels.json")
    async with make_client(transport=transport) as client:
        assert await client.add_courier_parcel([sale.purchase_id], "NZ Post", "LZ1NZ") is None
    assert len(backend.parcels) == 1

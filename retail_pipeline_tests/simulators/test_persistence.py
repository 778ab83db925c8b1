"""The simulated world outlives the process: a listing created and a sale made in one simulator are
there, on the same clock, in the next one built with the same world; another world starts fresh."""

from __future__ import annotations

import pickle
from datetime import timedelta

import httpx
import pytest

from retail_pipeline.channels.trademe import TradeMeClient, TradeMeSettings
from retail_pipeline.simulators import SimulatorConfig, build_simulator_app, get_simulator
from retail_pipeline.simulators.persistence import load_state, persisted, save_state, state_path

from ..channels.trademe.conftest import make_draft

pytestmark = pytest.mark.anyio

WORLD = SimulatorConfig(seed=7, products_per_supplier=2)


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


def _client(app) -> TradeMeClient:
    config = get_simulator(app).backend("trademe").config
    settings = TradeMeSettings(
        base_url="http://sim/trademe",
        consumer_key=config.consumer_key,
        consumer_secret=config.consumer_secret,
        oauth_token=config.oauth_token,
        oauth_token_secret=config.oauth_token_secret,
        backoff_initial_seconds=0,
        backoff_max_seconds=0,
    )
    return TradeMeClient(settings, transport=httpx.ASGITransport(app=app), clock=get_simulator(app).clock.now)


async def test_listings_sales_and_the_clock_survive_a_restart(tmp_path):
    first = build_simulator_app(WORLD)
    with persisted(first, tmp_path) as restored:
        assert restored == []  # nothing saved yet
        async with _client(first) as client:
            created = await client.create(make_draft(quantity=3))
        sim = get_simulator(first)
        sim.clock.advance(2)
        sim.backend("trademe").buy(int(created.external_id), 1)
    assert state_path(tmp_path).is_file()

    second = build_simulator_app(WORLD)
    with persisted(second, tmp_path) as restored:
        assert "trademe" in restored and "ebay" in restored
        sim2 = get_simulator(second)
        assert sim2.clock.now() == WORLD.start_time + timedelta(hours=2)
        async with _client(second) as client:
            [remote] = [r async for r in client.selling()]
            assert (remote.external_id, remote.sku, remote.quantity) == (created.external_id, "OC-100007", 2)
            assert len([s async for s in client.sold_items("Last24Hours")]) == 1
            # The restored backend is the live one the routes use, with working locks: it still sells.
            sim2.backend("trademe").buy(int(created.external_id), 2)
            assert [r async for r in client.selling()] == []


async def test_another_world_or_a_damaged_file_starts_fresh(tmp_path):
    first = build_simulator_app(WORLD)
    async with _client(first) as client:
        await client.create(make_draft())
    save_state(get_simulator(first), state_path(tmp_path))

    other = build_simulator_app(SimulatorConfig(seed=8, products_per_supplier=2))
    assert load_state(get_simulator(other), state_path(tmp_path)) == []
    assert get_simulator(other).backend("trademe").listings == {}

    state_path(tmp_path).write_bytes(b"not a pickle")
    same = build_simulator_app(WORLD)
    assert load_state(get_simulator(same), state_path(tmp_path)) == []
    with pytest.raises(pickle.UnpicklingError):
        pickle.loads(state_path(tmp_path).read_bytes())

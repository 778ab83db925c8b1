"""Simulator fixtures: a small seeded app in-process (httpx ASGI transport) for every test."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest

from retail_pipeline.simulators import Simulator, SimulatorConfig, build_simulator_app, get_simulator

SEED = 11
SIZE = 30  # products per supplier: enough for several pages, small enough to stay fast


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
def config() -> SimulatorConfig:
    return SimulatorConfig(seed=SEED, products_per_supplier=SIZE, crawl_delay_seconds=1)


@pytest.fixture
def app(config: SimulatorConfig):
    return build_simulator_app(config)


@pytest.fixture
def sim(app) -> Simulator:
    return get_simulator(app)


@pytest.fixture
async def client(app) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://sim") as c:
        yield c

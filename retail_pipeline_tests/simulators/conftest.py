"""Simulator fixtures: a bigger seeded catalogue than the shared one (several pages per supplier, a
crawl delay), and an async HTTP client to the simulators in-process."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest

from retail_pipeline.simulators import SimulatorConfig, build_simulator_app

SEED = 11
SIZE = 30  # products per supplier: enough for several pages, small enough to stay fast


@pytest.fixture
def config() -> SimulatorConfig:
    return SimulatorConfig(seed=SEED, products_per_supplier=SIZE, crawl_delay_seconds=1)


@pytest.fixture
def simulator_app(config: SimulatorConfig):
    return build_simulator_app(config)


@pytest.fixture
async def client(transport) -> AsyncIterator[httpx.AsyncClient]:
    """HTTP to the simulators (not the sidecar's client: these tests are about the simulators' wire)."""
    async with httpx.AsyncClient(transport=transport, base_url="http://sim") as c:
        yield c

"""Carrier fixtures: the Canada Post simulator's backend and a client bound to it (no waiting)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx
import pytest

from retail_pipeline.integrations.carriers.canadapost import CanadaPostClient, CanadaPostSettings
from retail_pipeline.simulators.canadapost import CanadaPostBackend
from retail_pipeline_tests.integrations.carriers.label_requests import QUICK


@pytest.fixture
def backend(sim) -> CanadaPostBackend:
    return sim.backend("canadapost")


@pytest.fixture
def make_client(transport, sim) -> Callable[..., CanadaPostClient]:
    """A client on the simulated clock, through `transport` unless given another; keyword arguments
    override settings."""
    simulators = transport

    def make(transport: httpx.AsyncBaseTransport | None = None, **overrides: Any) -> CanadaPostClient:
        settings = CanadaPostSettings(_env_file=None, **(QUICK | overrides))
        return CanadaPostClient(settings, transport=transport or simulators, clock=sim.clock.now)

    return make

"""Carrier fixtures: the simulators in-process and a Canada Post client bound to them (no waiting)."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import Any

import httpx
import pytest

from retail_pipeline.domain.orders import Address
from retail_pipeline.integrations.carriers.base import CustomsItem, Dimensions, LabelRequest
from retail_pipeline.integrations.carriers.canadapost import CanadaPostClient, CanadaPostSettings
from retail_pipeline.simulators import Simulator, get_simulator
from retail_pipeline.simulators.canadapost import CanadaPostBackend

QUICK = {
    "backoff_initial_seconds": 0,
    "backoff_max_seconds": 0,
    "throttle_wait_seconds": 0,
    "max_attempts": 6,
}
TORONTO = Address(
    name="Jane Doe", street_1="123 Main St", street_2="Unit 4", city="Toronto", state="ON",
    zip_code="m5v 2t6", country_iso_code="CA", phone="416-555-0199",
)  # fmt: skip
SEATTLE = Address(
    name="John Roe", street_1="400 Broad St", city="Seattle", state="WA", zip_code="98109",
    country_iso_code="US", phone="206-555-0100",
)  # fmt: skip


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
def sim(simulator_app) -> Simulator:
    return get_simulator(simulator_app)


@pytest.fixture
def backend(sim) -> CanadaPostBackend:
    return sim.backend("canadapost")


def domestic(reference: str = "rp-order-1", **overrides: Any) -> LabelRequest:
    values: dict[str, Any] = {
        "reference": reference, "destination": TORONTO, "weight_kg": Decimal("1.2"), "service_code": "DOM.EP",
        "dimensions": Dimensions(Decimal("30"), Decimal("20"), Decimal("10")), "reference_2": "bestbuy 123-A",
    }  # fmt: skip
    return LabelRequest(**(values | overrides))


def to_us(reference: str = "rp-order-2") -> LabelRequest:
    return LabelRequest(
        reference=reference, destination=SEATTLE, weight_kg=Decimal("2.5"), service_code="USA.EP",
        currency="CAD",
        customs=(CustomsItem("Wireless headphones", 1, Decimal("399.00"), Decimal("0.800"), sku="RP-1001"),),
    )  # fmt: skip


@pytest.fixture
def make_client(simulator_app, sim) -> Callable[..., CanadaPostClient]:
    def make(transport: httpx.AsyncBaseTransport | None = None, **overrides: Any) -> CanadaPostClient:
        settings = CanadaPostSettings(_env_file=None, **(QUICK | overrides))
        return CanadaPostClient(
            settings, transport=transport or httpx.ASGITransport(app=simulator_app), clock=sim.clock.now
        )

    return make

"""Kaufland fixtures: the simulators in-process, a client bound to them through a transport that records
every exchange, and after every test the check that each request the client sent and each response the
simulator gave is one Kaufland's OpenAPI document allows."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterator
from decimal import Decimal
from typing import Any

import pytest

from retail_pipeline.channels.kaufland import (
    SIMULATOR_CLIENT_KEY,
    SIMULATOR_SECRET_KEY,
    KauflandClient,
    KauflandSettings,
)
from retail_pipeline.integrations.marketplaces.base import ListingDraft
from retail_pipeline.simulators import SimulatorConfig, build_simulator_app
from retail_pipeline.simulators.kaufland import KauflandBackend, conformance
from retail_pipeline.simulators.kaufland.models import categories
from retail_pipeline_tests.channels import rest_support

API = "http://sim/kaufland/v2"


def category_id(key: str = "electronics/audio/headphones/headphones") -> str:
    return str(next(c.id for c in categories().values() if c.node.key == key))


def draft(sku: str = "OC-200001", **overrides: Any) -> ListingDraft:
    fields = {
        "ean": "4548736132580",
        "category": category_id(),
        "manufacturer": "Sony",
        "condition": "NEW",
        "attributes": {
            "brand": "Sony",
            "model": "WH-1000XM5",
            "form_factor": "Over-Ear",
            "connectivity": ["Bluetooth", "Wired"],
            "colour": "Black",
        },
    }
    values = {
        "title": "Sony WH-1000XM5 Wireless Noise Cancelling Headphones",
        "price": Decimal("349.99"),
        "currency": "EUR",
        "brand": "Sony",
        "gtin": "4548736132580",
        "mpn": "WH1000XM5/B",
        "fields": fields,
    }
    return rest_support.draft(sku, **(values | overrides))


class Recorder(rest_support.Recorder):
    """Every exchange with the in-process simulators, judged by Kaufland's official document."""

    def spec_violations(self) -> tuple[list[str], set[str]]:
        """Problems by the OpenAPI document with the API calls seen, and the operations exercised. A 429
        is Kaufland's (its rate-limit guide) but listed on no operation: its body is checked as an
        ErrorResponse by the tests that provoke it."""
        return self.judged(
            conformance,
            prefix="/kaufland",
            skip=lambda path, exchange: not path.startswith("/v2/") or exchange.status == 429,
            api="Kaufland",
        )


@pytest.fixture
def simulator_app():
    """The simulators with a tiny catalogue: these tests only need the channel."""
    return build_simulator_app(SimulatorConfig(seed=7, products_per_supplier=2))


@pytest.fixture
def backend(sim) -> KauflandBackend:
    return sim.backend("kaufland")


@pytest.fixture
def recorder(transport) -> Iterator[Recorder]:
    recorder = Recorder(transport)
    yield recorder
    problems, _ = recorder.spec_violations()
    assert problems == [], json.dumps(problems, indent=1)


@pytest.fixture
def settings() -> KauflandSettings:
    return KauflandSettings(
        _env_file=None, base_url=API, client_key=SIMULATOR_CLIENT_KEY, secret_key=SIMULATOR_SECRET_KEY
    )


@pytest.fixture
async def client(settings, recorder) -> AsyncIterator[KauflandClient]:
    async with KauflandClient(settings, transport=recorder, policy=rest_support.QUICK_RETRIES) as c:
        yield c

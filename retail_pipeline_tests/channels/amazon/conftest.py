"""Amazon fixtures: the simulators in-process, a client bound to them through a transport that records
every exchange (each checked against Amazon's models), and drafts for a product type."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable
from decimal import Decimal
from typing import Any

import httpx
import pytest

from retail_pipeline.channels.amazon import AmazonClient, AmazonSettings
from retail_pipeline.integrations.marketplaces.base import ListingDraft, Photo
from retail_pipeline.integrations.marketplaces.rest import RetryPolicy
from retail_pipeline.simulators import SimulatorConfig, build_simulator_app
from retail_pipeline.simulators.amazon import AmazonBackend, conformance
from retail_pipeline_tests.channels import rest_support

BASE = "http://sim/amazon"
SELLER = "A1SIMULATEDSELLER"
QUICK = RetryPolicy(max_attempts=6, backoff_initial=0.001, backoff_max=0.01)
# HEADPHONES' required attributes besides those the client fills, as the LLM would fill them
HEADPHONES = {"model_number": "WH1000XM5", "form_factor": "Over-Ear", "connectivity": ["Bluetooth"]}


@pytest.fixture
def simulator_app():
    return build_simulator_app(SimulatorConfig(seed=7, products_per_supplier=2))


@pytest.fixture
def backend(sim) -> AmazonBackend:
    return sim.backend("amazon")


class Recorder(rest_support.Recorder):
    """Every exchange with the in-process simulators, judged by Amazon's official document."""

    def spec_violations(self) -> tuple[list[str], set[str]]:
        """Problems with SP-API requests and responses by Amazon's models (the LWA endpoint and the
        pre-signed document URLs are not SP-API operations), and the operations exercised."""

        def skip(path: str, exchange: rest_support.Exchange) -> bool:
            if path.startswith(("/auth/", "/_schemas/", "/_documents/")):
                return True
            assert exchange.headers.get("x-amzn-RequestId"), f"{path}: no x-amzn-RequestId"
            return False

        return self.judged(conformance, prefix="/amazon", skip=skip, api="SP-API")


@pytest.fixture
def recorder(transport) -> Recorder:
    return Recorder(transport)


def settings(**overrides: Any) -> AmazonSettings:
    values = {
        "base_url": BASE,
        "lwa_url": f"{BASE}/auth/o2/token",
        "client_id": "amzn1.application-oa2-client.test",
        "client_secret": "secret",
        "refresh_token": "Atzr|test",
        "seller_id": SELLER,
        "feed_poll_seconds": 0,
        **overrides,
    }
    return AmazonSettings(_env_file=None, **values)


@pytest.fixture
def make_client(sim, recorder) -> Callable[..., AmazonClient]:
    def make(
        transport: httpx.AsyncBaseTransport | None = None, policy: RetryPolicy = QUICK, **overrides: Any
    ):
        return AmazonClient(
            settings(**overrides), transport=transport or recorder, policy=policy, clock=sim.clock.now
        )

    return make


@pytest.fixture
async def client(make_client) -> AsyncIterator[AmazonClient]:
    async with make_client() as c:
        yield c


def make_draft(sku: str = "RP-2001", **changes: Any) -> ListingDraft:
    values: dict[str, Any] = {
        "sku": sku,
        "title": "Sony WH-1000XM5 Wireless Noise Cancelling Headphones",
        "description": "Industry-leading noise cancellation. 30 hours of battery.",
        "price": Decimal("449.99"),
        "currency": "CAD",
        "quantity": 3,
        "condition": "new",
        "photos": (
            Photo("front.jpg", "f" * 64, "image/jpeg", public_url="https://media.example.com/front.jpg"),
            Photo("back.jpg", "b" * 64, "image/jpeg", public_url="https://media.example.com/back.jpg"),
        ),
        "brand": "Sony",
        "gtin": "4548736132580",
        "mpn": "WH1000XM5/B",
        "fields": {"product_type": "HEADPHONES", "attributes": dict(HEADPHONES), "bullet_points": ["ANC"]},
    }
    values.update(changes)
    return ListingDraft(**values)


class LoseAnswer(httpx.AsyncBaseTransport):
    """Delivers the first `method` request whose path ends with `path` but loses its answer."""

    def __init__(self, inner: httpx.AsyncBaseTransport, method: str, path: str):
        self.inner, self.method, self.path, self.lost = inner, method, path, 0

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        response = await self.inner.handle_async_request(request)
        if request.method == self.method and request.url.path.endswith(self.path) and not self.lost:
            self.lost += 1
            await response.aread()
            raise httpx.ReadTimeout("answer lost", request=request)
        return response


def body(exchange: rest_support.Exchange) -> Any:
    return json.loads(exchange.body) if exchange.body else None


def sent(exchange: rest_support.Exchange) -> Any:
    return json.loads(exchange.request.content)

"""eBay fixtures: the simulators in-process, a client bound to them through a transport that records
every exchange (for the spec checks), raw authorised calls for wire tests, and drafts."""

from __future__ import annotations

import base64
import json
from collections.abc import AsyncIterator, Callable
from datetime import datetime
from decimal import Decimal
from typing import Any

import httpx
import pytest

from retail_pipeline.channels.ebay import EbayClient, EbaySettings
from retail_pipeline.integrations.budgets import WindowedCallBudget
from retail_pipeline.integrations.marketplaces.base import ListingDraft, Photo
from retail_pipeline.simulators import SimulatorConfig, build_simulator_app
from retail_pipeline.simulators.ebay import EbayBackend, conformance
from retail_pipeline_tests.channels import rest_support

BASE = "http://sim/ebay"


@pytest.fixture
def simulator_app():
    """The simulators with a tiny catalogue: these tests only need the channel."""
    return build_simulator_app(SimulatorConfig(seed=7, products_per_supplier=2))


@pytest.fixture
def backend(sim) -> EbayBackend:
    return sim.backend("ebay")


class Recorder(rest_support.Recorder):
    """Every exchange with the in-process simulators, judged by eBay's official document."""

    def spec_violations(self) -> tuple[list[str], set[str]]:
        """Problems with Sell API requests and responses by eBay's specs (faults injected in front of
        eBay are skipped: they are not eBay's answers), and the operations exercised."""
        return self.judged(
            conformance,
            prefix="/ebay",
            skip=lambda path, exchange: not path.startswith("/sell/") or _injected(exchange),
            api="eBay",
        )


def _injected(exchange: rest_support.Exchange) -> bool:
    """A fault page (HTML) or a body cut off by the fault layer: the simulator's own answer behind it
    was checked by its gateway before it was spoilt."""
    if "html" in exchange.headers.get("content-type", ""):
        return True
    try:
        json.loads(exchange.body or b"null")
    except ValueError:
        return True
    return False


@pytest.fixture
def recorder(transport) -> Recorder:
    return Recorder(transport)


@pytest.fixture
def make_client(sim, recorder) -> Callable[..., EbayClient]:
    """A client with the default (simulator) settings on the simulated clock; keyword arguments
    override settings. No backoff, so retries cost no time."""

    def make(
        transport: httpx.AsyncBaseTransport | None = None,
        clock: Callable[[], datetime] | None = None,
        budget: WindowedCallBudget | None = None,
        **overrides: Any,
    ) -> EbayClient:
        settings = EbaySettings(
            _env_file=None, **{"backoff_initial_seconds": 0, "backoff_max_seconds": 0, **overrides}
        )
        return EbayClient(
            settings, transport=transport or recorder, budget=budget, clock=clock or sim.clock.now
        )

    return make


@pytest.fixture
async def client(make_client) -> AsyncIterator[EbayClient]:
    async with make_client() as c:
        yield c


class Wire:
    """Raw calls with a valid user token, as any eBay client would send them."""

    def __init__(self, http: httpx.AsyncClient):
        self.http = http
        self.token: str | None = None

    async def mint(self, **form: str) -> httpx.Response:
        return await self.http.post(
            f"{BASE}/identity/v1/oauth2/token",
            data={"grant_type": "refresh_token", "refresh_token": "any-refresh-token", **form},
            headers={"Authorization": "Basic " + base64.b64encode(b"any-id:any-secret").decode()},
        )

    async def __call__(self, method: str, path: str, json: Any = None, **kwargs: Any) -> httpx.Response:
        if self.token is None:
            self.token = (await self.mint()).json()["access_token"]
        headers = {
            "Authorization": f"Bearer {self.token}",
            "Content-Language": "en-US",
            **kwargs.pop("headers", {}),
        }
        return await self.http.request(method, f"{BASE}{path}", json=json, headers=headers, **kwargs)


@pytest.fixture
async def wire(recorder) -> AsyncIterator[Wire]:
    async with httpx.AsyncClient(transport=recorder) as http:
        yield Wire(http)


def photo(name: str = "front") -> Photo:
    return Photo(f"{name}.jpg", name * 4, "image/jpeg", public_url=f"https://media.example.com/{name}.jpg")


def make_draft(sku: str = "OC-100007", **changes: Any) -> ListingDraft:
    values: dict[str, Any] = {
        "sku": sku,
        "title": "Sony WH-1000XM5 Wireless Noise Cancelling Headphones",
        "description": "<p>Industry-leading noise cancellation.</p><p>30 hours of battery.</p>",
        "price": Decimal("349.00"),
        "currency": "USD",
        "quantity": 3,
        "condition": "new",
        "photos": (photo("front"), photo("back")),
        "brand": "Sony",
        "gtin": "4548736132580",
        "mpn": "WH1000XM5/B",
        "fields": {"categoryId": "112529", "aspects": {"Colour": "Black", "Type": ["Over-Ear"]}},
    }
    values.update(changes)
    return ListingDraft(**values)


class LoseAnswer(httpx.AsyncBaseTransport):
    """Delivers the first request whose path ends with `path` but loses its answer (a read timeout),
    as when a connection drops after eBay acted: the client cannot know whether it happened."""

    def __init__(self, inner: httpx.AsyncBaseTransport, path: str):
        self.inner, self.path, self.lost = inner, path, 0

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        response = await self.inner.handle_async_request(request)
        if request.url.path.endswith(self.path) and not self.lost:
            self.lost += 1
            await response.aread()
            raise httpx.ReadTimeout("answer lost", request=request)
        return response


class Crash(Exception):
    """The process dying between two calls."""


class CrashBefore(httpx.AsyncBaseTransport):
    """Dies instead of sending the first request whose path ends with `path`."""

    def __init__(self, inner: httpx.AsyncBaseTransport, path: str):
        self.inner, self.path, self.crashed = inner, path, False

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith(self.path) and not self.crashed:
            self.crashed = True
            raise Crash(request.url.path)
        return await self.inner.handle_async_request(request)

"""Trade Me fixtures: the simulators in-process, a client bound to them, raw signed calls for wire
tests, drafts and photo files."""

from __future__ import annotations

import hashlib
import io
from collections.abc import AsyncIterator, Callable, Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest
from oauthlib.oauth1 import Client as OAuth1Client
from PIL import Image

from retail_pipeline.channels.trademe import TradeMeClient, TradeMeSettings
from retail_pipeline.integrations.marketplaces.base import ListingDraft, Photo
from retail_pipeline.media.storage import get_storage
from retail_pipeline.settings import get_settings
from retail_pipeline.simulators import SimulatorConfig, build_simulator_app
from retail_pipeline.simulators.trademe import TradeMeBackend

BASE = "http://sim/trademe"


@pytest.fixture
def simulator_app():
    """The simulators with a tiny catalogue: these tests only need the channel."""
    return build_simulator_app(SimulatorConfig(seed=7, products_per_supplier=2))


@pytest.fixture
def backend(sim) -> TradeMeBackend:
    return sim.backend("trademe")


@pytest.fixture
def settings(backend) -> TradeMeSettings:
    config = backend.config
    return TradeMeSettings(
        base_url=BASE,
        consumer_key=config.consumer_key,
        consumer_secret=config.consumer_secret,
        oauth_token=config.oauth_token,
        oauth_token_secret=config.oauth_token_secret,
        backoff_initial_seconds=0,
        backoff_max_seconds=0,
    )


@pytest.fixture
def make_client(transport, sim, settings) -> Callable[..., TradeMeClient]:
    """A client on the simulated clock; keyword arguments override settings."""

    simulators = transport

    def make(transport: httpx.AsyncBaseTransport | None = None, **overrides: Any) -> TradeMeClient:
        return TradeMeClient(
            TradeMeSettings(**{**settings.model_dump(), **overrides}),
            transport=transport or simulators,
            clock=sim.clock.now,
        )

    return make


@pytest.fixture
async def client(make_client) -> AsyncIterator[TradeMeClient]:
    async with make_client() as c:
        yield c


class Wire:
    """Signed requests as a third-party client would send them, for wire-level assertions."""

    def __init__(self, http: httpx.AsyncClient, backend: TradeMeBackend, method: str = "PLAINTEXT"):
        config = backend.config
        self.http = http
        self.oauth = OAuth1Client(
            config.consumer_key,
            client_secret=config.consumer_secret,
            resource_owner_key=config.oauth_token,
            resource_owner_secret=config.oauth_token_secret,
            signature_method=method,
        )

    def signed(self, method: str, path: str) -> dict[str, str]:
        _, headers, _ = self.oauth.sign(f"{BASE}{path}", method)
        return headers

    async def __call__(self, method: str, path: str, json: Any = None, **kwargs: Any) -> httpx.Response:
        headers = {**self.signed(method, path), **kwargs.pop("headers", {})}
        return await self.http.request(method, f"{BASE}{path}", json=json, headers=headers, **kwargs)


@pytest.fixture
async def wire(transport, backend) -> AsyncIterator[Wire]:
    async with httpx.AsyncClient(transport=transport) as http:
        yield Wire(http, backend)


def listing_body(**changes: Any) -> dict[str, Any]:
    """A valid Buy Now only ListingRequest; `changes` set (or, with None, drop) fields."""
    body = {
        "Category": "0002-0356-",
        "Title": "Sony WH-1000XM5 Wireless Noise Cancelling Headphones",
        "Subtitle": "Brand new, NZ stock",
        "Description": ["Industry-leading noise cancellation.", "", "30 hours of battery."],
        "StartPrice": 349.0,
        "BuyNowPrice": 349.0,
        "Duration": 7,
        "Pickup": 1,
        "IsBrandNew": True,
        "Quantity": 3,
        "PaymentMethods": [1, 2],
        "ShippingOptions": [{"Type": 4, "Price": 9.5, "Method": "Nationwide courier"}],
        "Attributes": [{"Name": "Colour", "Value": "Black"}],
        "SKU": "OC-100007",
        "ExternalReferenceId": "OC-100007",
    }
    body.update(changes)
    return {k: v for k, v in body.items() if v is not None}


def make_draft(sku: str = "OC-100007", photos: tuple[Photo, ...] = (), **changes: Any) -> ListingDraft:
    values: dict[str, Any] = {
        "sku": sku,
        "title": "Sony WH-1000XM5 Wireless Noise Cancelling Headphones",
        "description": "Industry-leading noise cancellation.\n\n30 hours of battery.",
        "price": Decimal("349.00"),
        "currency": "NZD",
        "quantity": 3,
        "condition": "new",
        "photos": photos,
        "brand": "Sony",
        "mpn": "WH1000XM5/B",
        "fields": {
            "Category": "0002-0356-",
            "Duration": 7,
            "Pickup": 1,
            "PaymentMethods": [1, 2],
            "ShippingOptions": [{"Type": 4, "Price": Decimal("9.50"), "Method": "Nationwide courier"}],
            "Subtitle": "Brand new, NZ stock",
            "Attributes": [{"Name": "Colour", "Value": "Black"}],
        },
    }
    values.update(changes)
    return ListingDraft(**values)


def image_bytes(colour: str = "navy", kind: str = "JPEG") -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (64, 48), colour).save(buffer, kind)
    return buffer.getvalue()


@pytest.fixture
def photo_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[..., Photo]]:
    """Photos kept in the media storage (local disk under tmp_path), as the images asset leaves them."""
    monkeypatch.setenv("MEDIA_ROOT", str(tmp_path / "media"))
    get_settings.cache_clear()

    def make(colour: str = "navy") -> Photo:
        data = image_bytes(colour)
        get_storage().put(f"test/{colour}.jpg", data)
        return Photo(f"test/{colour}.jpg", hashlib.sha256(data).hexdigest(), "image/jpeg")

    yield make
    get_settings.cache_clear()


class LoseAnswer(httpx.AsyncBaseTransport):
    """Delivers the first request to `path` but loses its answer (a read timeout), as when a
    connection drops after the server acted: the client cannot know whether it happened."""

    def __init__(self, inner: httpx.AsyncBaseTransport, path: str):
        self.inner, self.path, self.lost = inner, path, 0

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        response = await self.inner.handle_async_request(request)
        if request.url.path.endswith(self.path) and not self.lost:
            self.lost += 1
            await response.aread()
            raise httpx.ReadTimeout("answer lost", request=request)
        return response

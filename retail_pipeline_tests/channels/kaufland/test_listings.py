"""The Kaufland client against the simulator: signed requests, units (create, reprice, requantify,
withdraw), product data by EAN, crash safety by our SKU, the rate limit."""

from __future__ import annotations

import json
import time
from decimal import Decimal

import httpx
import pytest
from pydantic import SecretStr

from retail_pipeline.channels.kaufland import (
    SIMULATOR_CLIENT_KEY,
    USER_AGENT,
    KauflandClient,
    RateWindow,
    signature,
)
from retail_pipeline.integrations.marketplaces.base import ChannelError
from retail_pipeline.integrations.marketplaces.rest import RetryPolicy
from retail_pipeline.simulators.kaufland.models import RateLimiter
from retail_pipeline_tests.channels import rest_support
from retail_pipeline_tests.channels.kaufland.conftest import API, draft

pytestmark = pytest.mark.anyio


async def test_a_unit_is_created_repriced_requantified_and_withdrawn(client, backend, recorder):
    listing = await client.create(draft())

    assert (listing.state, listing.sku, listing.price, listing.quantity) == (
        "live",
        "OC-200001",
        Decimal("349.99"),
        3,
    )
    unit = backend.units[int(listing.external_id)]
    assert (unit.listing_price, unit.amount, unit.condition, unit.handling_time) == (34999, 3, "NEW", 1)
    record = backend.product_data["4548736132580"]
    assert record.ready and record.attributes["connectivity"] == ["Bluetooth", "Wired"]
    assert record.attributes["picture"] == [
        "https://media.example/m/front.jpg",
        "https://media.example/m/back.jpg",
    ]
    assert [f"{e.request.method} {e.request.url.path}" for e in recorder.exchanges] == [
        "PUT /kaufland/v2/product-data",
        "POST /kaufland/v2/units",
    ]  # a listing is two calls: photos go by URL
    sent = recorder.exchanges[1].request
    assert sent.url.params["storefront"] == "de" and sent.headers["user-agent"] == USER_AGENT
    assert (
        sent.headers["accept"] == "application/json"
        and sent.headers["shop-client-key"] == SIMULATOR_CLIENT_KEY
    )
    assert json.loads(sent.content)["listing_price"] == 34999  # cents

    await client.patch_product_data("4548736132580", {"description": ["Now with a case."]})
    data = await client.product_data("4548736132580")
    assert data["attributes"]["description"] == ["Now with a case."] and data["attributes"]["brand"] == [
        "Sony"
    ]
    assert await client.find_by_sku("OC-200001") == listing
    repriced = await client.update_price(listing, Decimal("329.5"))
    assert repriced.price == Decimal("329.50") and unit.listing_price == 32950
    emptied = await client.update_quantity(repriced, 0)
    assert (emptied.quantity, emptied.state, backend.live_skus()) == (0, "ended", {})
    await client.update_quantity(emptied, 2)
    assert [x.quantity async for x in client.selling()] == [2]

    withdrawn = await client.withdraw(emptied, "discontinued")
    assert withdrawn.state == "withdrawn" and backend.units == {}
    assert (await client.withdraw(emptied, "again")).state == "withdrawn"  # a unit already gone is withdrawn
    assert await client.find_by_sku("OC-200001") is None


async def test_missing_required_attributes_are_named_and_leave_no_unit(client, backend):
    bare = draft()
    bare.fields["attributes"] = {"brand": "Sony", "model": "WH-1000XM5", "form_factor": "Headband"}

    with pytest.raises(ChannelError) as refused:
        await client.create(bare)

    assert (
        "missing attributes: form_factor, connectivity" in refused.value.message
    )  # Headband: not in the set
    assert refused.value.details["product_not_ready_reason"] == "MISSING_ATTRIBUTES"
    assert backend.units == {}


async def test_a_lost_answer_on_create_does_not_make_two_units(settings, recorder, backend):
    lossy = rest_support.LoseAnswers(recorder, "POST", "/units")
    async with KauflandClient(settings, transport=lossy, policy=rest_support.QUICK_RETRIES) as client:
        listing = await client.create(draft())

    assert len(backend.units) == 1 and listing.external_id == str(next(iter(backend.units)))
    assert len(recorder.calls("POST", "/units")) == 1  # found by our SKU (id_offer) instead of posted again
    assert recorder.calls("GET", "/units")[0].request.url.params["id_offer"] == "OC-200001"


async def test_local_validation_names_what_kaufland_would_refuse(client):
    problems = await client.validate(draft(gtin="123", currency="NZD", fields={"ean": None}))
    assert "Kaufland lists by EAN: a GTIN of 12 to 14 digits is required" in problems
    assert "no Kaufland category chosen for this product (fields.category)" in problems
    assert "price is in NZD; the de storefront sells in EUR" in problems
    assert await client.validate(draft()) == []


class Tamper(httpx.AsyncBaseTransport):
    """Changes a signed request on the way (a price raised after signing)."""

    def __init__(self, inner: httpx.AsyncBaseTransport):
        self.inner = inner

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        body = request.content.replace(b"34999", b"34900")
        changed = httpx.Request(request.method, request.url, headers=request.headers, content=body)
        return await self.inner.handle_async_request(changed)


@pytest.mark.parametrize("case", ["wrong secret", "tampered body", "stale timestamp", "unknown key"])
async def test_the_simulator_refuses_what_kaufland_refuses(case, settings, recorder, backend):
    changes = {
        "wrong secret": {"secret_key": SecretStr("not-it")},
        "unknown key": {"client_key": SecretStr("someone")},
    }
    settings = settings.model_copy(update=changes.get(case, {}))
    transport = Tamper(recorder) if case == "tampered body" else recorder
    clock = (lambda: time.time() - 600) if case == "stale timestamp" else time.time
    async with KauflandClient(
        settings, transport=transport, policy=rest_support.QUICK_RETRIES, clock=clock
    ) as client:
        with pytest.raises(ChannelError) as refused:
            await client.create(draft())

    problem = {
        "wrong secret": "/problems/corrupted-signature",
        "tampered body": "/problems/corrupted-signature",
        "stale timestamp": "/problems/missing-or-invalid-request-header",
        "unknown key": "/problems/invalid-credentials",
    }[case]
    assert refused.value.status == 401 and refused.value.details["type"] == problem
    assert problem in refused.value.message  # the readable message carries Kaufland's problem type
    assert backend.units == {}
    # the product data went through untouched (only the unit's price was changed on the way)
    assert list(backend.product_data) == (["4548736132580"] if case == "tampered body" else [])


async def test_the_signature_is_kauflands_documented_hmac(transport):
    """A request signed by hand, as Kaufland's guide describes it, is accepted byte for byte."""
    url, stamp = f"{API}/units?storefront=de&id_offer=X", str(int(time.time()))
    headers = {
        "Accept": "application/json",
        "User-Agent": USER_AGENT,
        "Shop-Client-Key": SIMULATOR_CLIENT_KEY,
        "Shop-Timestamp": stamp,
        "Shop-Signature": signature("kaufland-simulator-secret-key", "GET", url, b"", stamp),
    }
    async with httpx.AsyncClient(transport=transport) as http:
        assert (await http.get(url, headers=headers)).json() == {
            "data": [],
            "pagination": {"offset": 0, "limit": 30, "total": 0},
        }
        missing = await http.get(url, headers={k: v for k, v in headers.items() if k != "Shop-Signature"})
    assert missing.status_code == 401 and missing.json()["errors"] == [
        {"field": "Shop-Signature", "message": "is required"}
    ]


async def test_the_simulator_holds_requests_to_the_openapi_document(transport):
    """A client bug (an undefined field, a missing storefront) is refused field by field, as Kaufland does."""
    body = b'{"id_offer": "X", "listing_price": 100, "handling_time": 1, "price_eur": 1}'
    async with httpx.AsyncClient(transport=transport) as http:
        answers = []
        for url in (f"{API}/units?storefront=de", f"{API}/units"):
            stamp = str(int(time.time()))
            headers = {
                "Accept": "application/json",
                "Content-Type": "application/json",
                "User-Agent": USER_AGENT,
                "Shop-Client-Key": SIMULATOR_CLIENT_KEY,
                "Shop-Timestamp": stamp,
                "Shop-Signature": signature("kaufland-simulator-secret-key", "POST", url, body, stamp),
            }
            answers.append(await http.post(url, content=body, headers=headers))
    assert [a.status_code for a in answers] == [400, 400]
    assert [e["field"] for e in answers[0].json()["errors"]] == ["price_eur"]
    assert "storefront" in [e["field"] for e in answers[1].json()["errors"]]


async def test_past_its_rate_kaufland_answers_429(settings, backend, recorder):
    assert backend.config.requests_per_second == 111
    backend.limiter = RateLimiter(3, clock=lambda: 1000.0)  # 3 a second, and time stands still
    once = RetryPolicy(max_attempts=1)
    async with KauflandClient(settings, transport=recorder, policy=once) as client:
        for _ in range(3):
            assert await client.find_by_sku("nothing") is None
        with pytest.raises(ChannelError) as limited:
            await client.find_by_sku("nothing")
    assert limited.value.status == 429 and limited.value.retryable


async def test_a_429_is_retried_after_its_retry_after(settings, recorder, backend):
    calls = {"n": 0}
    original = backend.limiter.admit

    def admit_after_one_refusal(key: str) -> float | None:
        calls["n"] += 1
        return 0.0 if calls["n"] == 1 else original(key)

    backend.limiter.admit = admit_after_one_refusal
    async with KauflandClient(settings, transport=recorder, policy=rest_support.QUICK_RETRIES) as client:
        assert await client.find_by_sku("nothing") is None

    refused = recorder.exchanges[0]
    assert refused.status == 429 and float(refused.headers["retry-after"]) >= 0
    assert set(json.loads(refused.body)) == {"message", "errors"}  # Kaufland's ErrorResponse
    assert [e.status for e in recorder.exchanges] == [429, 200]


async def test_the_client_never_sends_more_than_its_rate_in_a_second():
    now = {"t": 0.0}
    window = RateWindow(3, period=1.0, clock=lambda: now["t"])
    for _ in range(3):
        await window()
    assert len(window._sent) == 3
    now["t"] = 1.0  # the first three leave the window
    await window()
    assert list(window._sent) == [1.0]

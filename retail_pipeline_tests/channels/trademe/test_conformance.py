"""Both sides against Trade Me's documentation: every field the client sends and every field the
simulator answers is one the endpoint's reference page names (documented_fields.json). Trade Me
publishes no machine-readable spec for these endpoints, so names are what can be checked."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import httpx
import pytest

from .conftest import Wire, make_draft

pytestmark = pytest.mark.anyio

DOCUMENTED: dict[str, dict[str, list[str]]] = {
    endpoint: fields
    for endpoint, fields in json.loads((Path(__file__).parent / "documented_fields.json").read_text()).items()
    if not endpoint.startswith("_")
}
UNDOCUMENTED_TYPES = {"Buyer"}  # <Member>: its fields are on no page we have


def _pattern(endpoint: str) -> tuple[str, re.Pattern[str]]:
    method, path = endpoint.split(" ")
    return method, re.compile("/trademe" + re.sub(r"\\\{\w+\\\}", "[^/]+", re.escape(path)) + "$", re.I)


ROUTES = {endpoint: _pattern(endpoint) for endpoint in DOCUMENTED}


def field_names(value: Any) -> set[str]:
    if isinstance(value, list):
        return set().union(*map(field_names, value)) if value else set()
    if not isinstance(value, dict):
        return set()
    names = set(value)
    for name, inner in value.items():
        if name not in UNDOCUMENTED_TYPES:
            names |= field_names(inner)
    return names


class Recorder(httpx.AsyncBaseTransport):
    def __init__(self, inner: httpx.AsyncBaseTransport):
        self.inner = inner
        self.exchanges: list[tuple[str, str, Any, Any]] = []

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        response = await self.inner.handle_async_request(request)
        content = await response.aread()
        sent = json.loads(request.content) if request.content else None
        self.exchanges.append((request.method, request.url.path, sent, json.loads(content)))
        return httpx.Response(
            response.status_code, headers=response.headers, content=content, request=request
        )


async def test_client_requests_and_simulator_answers_use_documented_fields(
    transport, make_client, backend, photo_file
):
    recorder = Recorder(transport)
    async with make_client(transport=recorder) as client:
        wire = Wire(httpx.AsyncClient(transport=recorder), backend)
        draft = make_draft(photos=(photo_file(),), gtin="4548736132610")
        assert await client.validate(draft) == []
        created = await client.create(draft)
        listing_id = int(created.external_id)
        await client.update_price(created, draft.price - 10)
        await wire("GET", f"/v1/Selling/Listings/{listing_id}.json")
        extra = await client.upload_photo(photo_file("teal"))
        await wire("POST", f"/v1/Photos/{extra}/Add/{listing_id}.json")
        sale = backend.buy(listing_id)
        assert [s async for s in client.sold_items("LastHour")]
        await client.set_status(sale.purchase_id, "GoodsShipped")
        await client.add_courier_parcel([sale.purchase_id], "NZ Post", "LZ1NZ", account_number="ACC-1")
        [listed] = [r async for r in client.selling()]
        await client.withdraw(listed, "Discontinued")
        await wire("POST", "/v1/Selling/Relist.json", {"ListingId": listing_id})
        await client.account_summary()
        await wire.http.aclose()

    exercised = set()
    for method, path, sent, answered in recorder.exchanges:
        [endpoint] = [e for e, (m, pattern) in ROUTES.items() if m == method and pattern.match(path)]
        exercised.add(endpoint)
        documented = DOCUMENTED[endpoint]
        assert field_names(sent) <= set(documented["request"]), (
            endpoint,
            field_names(sent) - set(documented["request"]),
        )
        assert field_names(answered) <= set(documented["response"]), (
            endpoint,
            field_names(answered) - set(documented["response"]),
        )
    assert exercised == set(DOCUMENTED)  # every documented endpoint we serve was checked

"""Test support for the JSON channel clients (Shopify, Reverb): quick retries, drafts, and a transport
that loses answers after the channel has acted on the request (what a read timeout looks like)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import httpx

from retail_pipeline.integrations.marketplaces.base import ListingDraft, Photo
from retail_pipeline.integrations.marketplaces.rest import RetryPolicy

QUICK_RETRIES = RetryPolicy(max_attempts=6, backoff_initial=0.01, backoff_max=0.05)


def photo(name: str = "front") -> Photo:
    digest = (name.encode().hex() * 64)[:64]
    return Photo(f"media/{name}.jpg", digest, "image/jpeg", public_url=f"https://media.example/m/{name}.jpg")


def draft(sku: str = "OC-100123", **overrides: Any) -> ListingDraft:
    values: dict[str, Any] = {
        "sku": sku,
        "title": "Fender Player Stratocaster, Sunburst",
        "description": "Solid alder body.\n\nShips in a padded gig bag.",
        "price": Decimal("1299.00"),
        "currency": "NZD",
        "quantity": 3,
        "condition": "new",
        "photos": (photo("front"), photo("back")),
        "brand": "Fender",
        "mpn": "0144502500",
        "gtin": "885978911234",
    }
    return ListingDraft(**(values | overrides))


class LoseAnswers(httpx.AsyncBaseTransport):
    """Passes every request on, but for the first `count` that match `method` and `path_suffix` it
    throws the answer away and raises ReadTimeout: the channel acted, the client never heard."""

    def __init__(self, inner: httpx.AsyncBaseTransport, method: str, path_suffix: str, count: int = 1):
        self.inner, self.method, self.path_suffix, self.count = inner, method, path_suffix, count

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        response = await self.inner.handle_async_request(request)
        if self.count and request.method == self.method and request.url.path.endswith(self.path_suffix):
            self.count -= 1
            await response.aclose()
            raise httpx.ReadTimeout("the answer was lost on the way", request=request)
        return response


@dataclass(frozen=True)
class Exchange:
    request: httpx.Request
    status: int
    headers: httpx.Headers
    body: bytes


class Recorder(httpx.AsyncBaseTransport):
    """The in-process simulators, keeping every request and the response the client got (a channel's
    conftest adds `spec_violations`, judging them by that channel's official document)."""

    def __init__(self, inner: httpx.AsyncBaseTransport):
        self.inner = inner
        self.exchanges: list[Exchange] = []

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        response = await self.inner.handle_async_request(request)
        body = await response.aread()
        self.exchanges.append(Exchange(request, response.status_code, response.headers, body))
        return httpx.Response(response.status_code, headers=response.headers, content=body, request=request)

    def calls(self, method: str | None = None, contains: str = "") -> list[Exchange]:
        return [
            e
            for e in self.exchanges
            if (method is None or e.request.method == method) and contains in e.request.url.path
        ]

    def judged(
        self, conformance: Any, *, prefix: str, skip: Callable[[str, Exchange], bool], api: str
    ) -> tuple[list[str], set[str]]:
        """Each exchange not skipped, judged by a channel's conformance module (`find_operation`,
        `spec_request`, `request_problems`, `response_problems`, `SpecResponse`): the problems found, and
        the operations exercised. `prefix` is the simulator's mount point, `api` names it in messages."""
        problems: list[str] = []
        operations: set[str] = set()
        for exchange in self.exchanges:
            method, path = exchange.request.method, exchange.request.url.path.removeprefix(prefix)
            if skip(path, exchange):
                continue
            operation = conformance.find_operation(method, path)
            assert operation is not None, f"{method} {path} is not an {api} operation"
            operations.add(getattr(operation, "operation_id", operation))
            request = conformance.spec_request(
                method,
                path,
                query=exchange.request.url.query.decode(),
                headers=exchange.request.headers.multi_items(),
                body=exchange.request.content,
            )
            label = f"{method} {path} -> {exchange.status}"
            problems += [f"{label}: request {p}" for p in conformance.request_problems(request)]
            response = conformance.SpecResponse.build(
                exchange.status, exchange.body, exchange.headers.multi_items()
            )
            problems += [f"{label}: response {p}" for p in conformance.response_problems(request, response)]
        return problems, operations

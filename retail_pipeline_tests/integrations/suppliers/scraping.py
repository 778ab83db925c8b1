"""Supplier adapter test helper: run an adapter against the in-process simulators."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping

import httpx

from retail_pipeline.integrations.http import FetchPolicy, PoliteClient
from retail_pipeline.integrations.suppliers import KnownPage, ScrapeResult, adapter_for, collect

# Fast retries: the fault tests inject hundreds of 5xx/429 and must still finish in seconds.
FAST = FetchPolicy(
    requests_per_second=1000, max_concurrency=8, backoff_initial_seconds=0.01, backoff_max_seconds=0.05
)


def scrape(
    app,
    kind: str,
    prefix: str,
    known: Mapping[str, KnownPage] | None = None,
    *,
    transport: httpx.AsyncBaseTransport | None = None,
) -> tuple[ScrapeResult, int]:
    """(result, HTTP requests made) for one adapter against one simulated site, in-process."""
    base_url = f"http://sim/{prefix}"

    async def run() -> tuple[ScrapeResult, int]:
        async with PoliteClient(
            FAST, site_root=base_url, transport=transport or httpx.ASGITransport(app=app)
        ) as client:
            result = await collect(adapter_for(kind).scrape(client, base_url, known))
            return result, client.requests_made

    return asyncio.run(run())

"""The page window: a scrape of any size holds a bounded number of pages, fetched or parsed."""

from __future__ import annotations

import asyncio

import httpx

from retail_pipeline.integrations.http import FetchPolicy, PoliteClient
from retail_pipeline.integrations.suppliers import base
from retail_pipeline.integrations.suppliers.base import KnownPage, stream_pages

POLICY = FetchPolicy(requests_per_second=10_000, max_concurrency=2, obey_robots=False)


def test_pages_in_flight_stay_within_the_window_and_validators_are_asked_a_chunk_at_a_time(monkeypatch):
    monkeypatch.setattr(base, "LOOKUP_CHUNK", 10)
    urls = [f"http://shop/p/{n}" for n in range(300)]
    requested: list[str] = []
    asked: list[list[str]] = []

    def respond(request: httpx.Request) -> httpx.Response:
        requested.append(str(request.url))
        fresh = request.headers.get("if-none-match") != '"v1"'
        return httpx.Response(200 if fresh else 304, text=str(request.url), headers={"etag": '"v1"'})

    def known(chunk):
        asked.append(list(chunk))
        return {url: KnownPage('"v1"', None) for url in chunk if url.endswith("7")}

    async def run() -> list:
        async with PoliteClient(POLICY, transport=httpx.MockTransport(respond)) as client:
            pages = stream_pages(client, urls, lambda fetched: fetched.text, known, width=4)
            results = [await anext(pages) for _ in range(3)]
            await asyncio.sleep(0.05)  # the caller is busy (writing a chunk): nothing new may start
            assert len(requested) <= 3 + 4
            assert sum(map(len, asked)) <= 3 + 4 + 10
            results += [page async for page in pages]
            return results

    results = asyncio.run(run())
    assert sorted(page.url for page in results) == sorted(urls) and len(requested) == len(urls)
    assert all(len(chunk) <= 10 for chunk in asked) and sum(map(len, asked)) == len(urls)
    assert {page.url for page in results if page.not_modified} == {u for u in urls if u.endswith("7")}
    assert all(page.value == page.url for page in results if not page.not_modified)

"""The polite client against the simulators: retries, Retry-After, robots, conditional GETs, pacing."""

from __future__ import annotations

import time

import anyio
import httpx
import pytest

from retail_pipeline.integrations.http import FetchError, FetchPolicy, PoliteClient, retry_after_seconds
from retail_pipeline.simulators import FaultConfig, SimulatorConfig, build_simulator_app, get_simulator

pytestmark = pytest.mark.anyio
SITE = "http://sim/onecheq"


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


def _client(app, **policy) -> PoliteClient:
    policy.setdefault("backoff_initial_seconds", 0.01)
    return PoliteClient(FetchPolicy(**policy), site_root=SITE, transport=httpx.ASGITransport(app=app))


async def test_retries_through_5xx_and_429_and_honours_retry_after():
    faults = FaultConfig(error_rate=0.3, rate_limit_rate=0.2, retry_after_seconds=0)
    app = build_simulator_app(SimulatorConfig(seed=3, products_per_supplier=5, faults={"onecheq": faults}))
    async with _client(app, max_attempts=8) as client:
        pages = [await client.get(f"{SITE}/products.json?page=1") for _ in range(20)]
    assert all(p.status == 200 and p.content.startswith(b"{") for p in pages)
    statuses = [e.status for e in get_simulator(app).journal.entries() if e.path.endswith("products.json")]
    assert any(s >= 500 for s in statuses) and 429 in statuses  # faults happened and were absorbed
    assert client.requests_made == len(statuses) + 1  # + robots.txt


async def test_gives_up_with_a_reason_after_max_attempts_and_does_not_retry_404():
    app = build_simulator_app(
        SimulatorConfig(seed=3, products_per_supplier=5, faults={"onecheq": FaultConfig(error_rate=1.0)})
    )
    async with _client(app, max_attempts=3, obey_robots=False) as client:
        with pytest.raises(FetchError, match="after 3 attempts") as failed:
            await client.get(f"{SITE}/products.json")
        assert failed.value.status in (500, 502, 503)
    healthy = build_simulator_app(SimulatorConfig(seed=3, products_per_supplier=5))
    async with _client(healthy, max_attempts=3) as client:
        with pytest.raises(FetchError, match="HTTP 404"):
            await client.get(f"{SITE}/products/no-such-thing.json")
        assert client.requests_made == 2  # robots.txt + one attempt


async def test_long_retry_after_is_a_failure_not_a_wait():
    app = build_simulator_app(
        SimulatorConfig(
            seed=3,
            products_per_supplier=5,
            faults={"onecheq": FaultConfig(rate_limit_rate=1.0, retry_after_seconds=3600)},
        )
    )
    async with _client(app, obey_robots=False, max_retry_after_seconds=30) as client:
        started = time.monotonic()
        with pytest.raises(FetchError, match="Retry-After 3600s is too long"):
            await client.get(f"{SITE}/products.json")
    assert time.monotonic() - started < 5


async def test_robots_disallow_and_crawl_delay_are_obeyed():
    app = build_simulator_app(SimulatorConfig(seed=3, products_per_supplier=5, crawl_delay_seconds=1))
    site = "http://sim/noelleeming"
    async with PoliteClient(FetchPolicy(), site_root=site, transport=httpx.ASGITransport(app=app)) as client:
        with pytest.raises(FetchError, match="robots.txt"):
            await client.get(f"{site}/checkout")
        started = time.monotonic()
        for _ in range(3):
            await client.get(f"{site}/categories")
        assert time.monotonic() - started >= 1.9  # three requests, one a second


async def test_conditional_get_returns_not_modified():
    app = build_simulator_app(SimulatorConfig(seed=3, products_per_supplier=5))
    async with _client(app) as client:
        first = await client.get(f"{SITE}/products.json")
        assert first.etag
        again = await client.get(f"{SITE}/products.json", etag=first.etag)
    assert again.not_modified and again.status == 304 and again.content == b""


async def test_concurrency_cap_holds(monkeypatch):
    app = build_simulator_app(
        SimulatorConfig(seed=3, products_per_supplier=5, faults={"onecheq": FaultConfig(latency_ms=50)})
    )
    in_flight = peak = 0
    original = httpx.AsyncClient.get

    async def counting_get(self, *args, **kwargs):
        nonlocal in_flight, peak
        in_flight += 1
        peak = max(peak, in_flight)
        try:
            return await original(self, *args, **kwargs)
        finally:
            in_flight -= 1

    monkeypatch.setattr(httpx.AsyncClient, "get", counting_get)
    client = _client(app, max_concurrency=3, requests_per_second=1000, obey_robots=False)
    async with client, anyio.create_task_group() as group:
        for _ in range(12):
            group.start_soon(client.get, f"{SITE}/products.json")
    assert peak == 3


def test_retry_after_parses_both_forms():
    assert retry_after_seconds(httpx.Response(429, headers={"Retry-After": "7"})) == 7
    future = time.strftime("%a, %d %b %Y %H:%M:%S GMT", time.gmtime(time.time() + 30))
    assert 25 <= retry_after_seconds(httpx.Response(429, headers={"Retry-After": future})) <= 31
    assert retry_after_seconds(httpx.Response(429)) is None

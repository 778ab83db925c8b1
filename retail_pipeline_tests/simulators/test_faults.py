"""Fault injection: each kind triggers, the control endpoint toggles it, and it is reproducible."""

from __future__ import annotations

import asyncio
import json
import time
from collections import Counter

import httpx
import pytest

from retail_pipeline.simulators import FaultConfig, SimulatorConfig, build_simulator_app, get_simulator

pytestmark = pytest.mark.anyio

URL = "/onecheq/products.json"


async def set_faults(client, system: str = "onecheq", **settings) -> None:
    response = await client.put(f"/_control/faults/{system}", json=settings)
    assert response.status_code == 200, response.text


async def test_rate_limit_answers_429_with_retry_after(client):
    await set_faults(client, rate_limit_rate=1.0, retry_after_seconds=7)
    response = await client.get(URL)
    assert response.status_code == 429 and response.headers["retry-after"] == "7"
    assert (await client.get("/noelleeming/categories")).status_code == 200  # other systems untouched


async def test_error_rate_answers_5xx_and_the_control_endpoint_turns_it_off(client):
    await set_faults(client, error_rate=1.0)
    statuses = {(await client.get(URL)).status_code for _ in range(12)}
    assert statuses <= {500, 502, 503} and len(statuses) > 1
    assert (await client.get("/_control/faults/onecheq")).json()["error_rate"] == 1.0
    assert (await client.delete("/_control/faults")).status_code == 204
    assert (await client.get(URL)).status_code == 200


async def test_malformed_body_is_a_200_that_does_not_parse(client):
    await set_faults(client, malformed_rate=1.0)
    response = await client.get(URL)
    assert response.status_code == 200
    assert int(response.headers["content-length"]) == len(response.content)
    with pytest.raises(json.JSONDecodeError):
        json.loads(response.content)


async def test_latency_is_measurable(client, sim):
    await set_faults(client, latency_ms=120, latency_jitter_ms=10)
    started = time.perf_counter()
    assert (await client.get(URL)).status_code == 200
    assert time.perf_counter() - started >= 0.11
    assert sim.journal.entries("onecheq")[-1].duration_ms >= 110


async def test_timeout_hangs_past_the_client_and_else_ends_in_504(client, sim):
    await set_faults(client, timeout_rate=1.0, hang_seconds=5)
    with pytest.raises(TimeoutError):
        await asyncio.wait_for(client.get(URL), timeout=0.2)
    entry = sim.journal.entries("onecheq")[-1]
    assert entry.fault == "timeout" and entry.status is None

    await set_faults(client, timeout_rate=1.0, hang_seconds=0.05)
    assert (await client.get(URL)).status_code == 504


async def test_rates_are_reproducible_under_the_seed():
    async def statuses(seed: int) -> list[int]:
        config = SimulatorConfig(
            seed=seed, products_per_supplier=3, faults={"*": FaultConfig(error_rate=0.2, rate_limit_rate=0.2)}
        )
        app = build_simulator_app(config)
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://sim") as client:
            return [(await client.get("/cashconverters/robots.txt")).status_code for _ in range(200)]

    first = await statuses(4)
    assert first == await statuses(4)
    assert first != await statuses(5)
    counts = Counter(first)
    assert 20 <= counts[429] <= 60 and 20 <= sum(counts[s] for s in (500, 502, 503)) <= 60


def test_config_faults_apply_per_system_and_reset_restores_them():
    config = SimulatorConfig(
        faults={"noelleeming": FaultConfig(error_rate=0.5), "*": FaultConfig(latency_ms=5)}
    )
    sim = get_simulator(build_simulator_app(config))
    assert sim.faults.get("noelleeming").error_rate == 0.5
    assert sim.faults.get("onecheq").latency_ms == 5
    sim.faults.set("noelleeming", FaultConfig())
    sim.faults.reset()
    assert sim.faults.get("noelleeming").error_rate == 0.5
    with pytest.raises(ValueError, match="unknown systems"):
        build_simulator_app(SimulatorConfig(faults={"no_such_system": FaultConfig()}))


async def test_fault_control_rejects_bad_input(client):
    assert (await client.put("/_control/faults/onecheq", json={"error_rate": 2})).status_code == 422
    assert (await client.put("/_control/faults/onecheq", json={"eror_rate": 0.1})).status_code == 422
    assert (await client.get("/_control/faults/no_such_system")).status_code == 404

"""GET /llm/health against the LLM simulator on loopback, a wrong key, an unreachable endpoint, offline."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, text

from retail_pipeline.api.app import create_app
from retail_pipeline.api.keys import create_api_key
from retail_pipeline.settings import Settings
from retail_pipeline_tests.process_tree import free_port
from retail_pipeline_tests.seeds.catalog import add_product, add_supplier

LLM_ENV = ("LLM_MODE", "LLM_BASE_URL", "LLM_API_KEY", "LLM_MODEL")


@pytest.fixture
def llm_env(monkeypatch) -> pytest.MonkeyPatch:
    for name in LLM_ENV:
        monkeypatch.delenv(name, raising=False)
    return monkeypatch


@pytest.fixture
def sidecar(llm_env, settings_env) -> Iterator[tuple[TestClient, dict[str, str]]]:
    """A sidecar built after the test set its LLM_* / SIMULATOR_URL environment (Settings read then)."""

    def build() -> tuple[TestClient, dict[str, str]]:
        client = TestClient(create_app(Settings()))
        return client, {"X-API-Key": create_api_key(client.app.state.database.engine, "operator")}

    yield build


def _spend(engine: Engine) -> None:
    """Three products enriched in the window (one failed), one long ago: what the stats should count."""
    with engine.begin() as conn:
        supplier = add_supplier(conn, "onecheq")
        ids = [add_product(conn, supplier, f"S{i}", images=0) for i in range(4)]
        conn.execute(
            text(
                "UPDATE retail.products SET enricher = 'llm', model = 'gpt-4o-mini', prompt_tokens = 300,"
                " completion_tokens = 120, llm_attempts = 1 WHERE id = ANY(:ids)"
            ),
            {"ids": ids[:3]},
        )
        conn.execute(
            text(
                "UPDATE retail.products SET status = 'failed', error = 'truncated', llm_attempts = 3,"
                " prompt_tokens = 900, completion_tokens = 0 WHERE id = :id"
            ),
            {"id": ids[2]},
        )
        conn.execute(
            text("UPDATE retail.products SET enriched_at = now() - interval '3 days' WHERE id = :id"),
            {"id": ids[3]},
        )


def test_health_probes_the_simulator_and_reports_recent_spend(simulator_url, sidecar, llm_env):
    llm_env.setenv("LLM_API_KEY", "sk-test-secret-value-1234")
    client, operator = sidecar()
    _spend(client.app.state.database.engine)

    response = client.get("/llm/health", headers=operator)

    assert response.status_code == 200, response.text
    assert "sk-test-secret-value-1234" not in response.text
    body = response.json()
    assert body["status"] == "ok"
    assert body["config"] == {
        "mode": "auto",
        "enricher": "llm",
        "base_url": f"{simulator_url}/llm/v1",
        "model": "gpt-4o-mini",
        "api_key_configured": True,
        "timeout_seconds": 60.0,
    }
    probe = body["probe"]
    assert probe["ok"] is True and probe["status_code"] == 200 and probe["model_listed"] is True
    assert probe["url"] == f"{simulator_url}/llm/v1/models" and 0 < probe["latency_ms"] < 3000
    assert body["enrichment"] == {
        "window_hours": 24,
        "products": 3,
        "enriched": 2,
        "failed": 1,
        "blocked": 0,
        "llm_products": 3,
        "llm_calls": 5,
        "prompt_tokens": 1500,
        "completion_tokens": 240,
        "by_model": {"gpt-4o-mini": 3},
    }
    assert (
        client.get("/llm/health", headers=operator, params={"hours": 96}).json()["enrichment"]["products"]
        == 4
    )


def test_a_model_the_endpoint_does_not_list_is_reported(simulator_url, sidecar, llm_env):
    llm_env.setenv("LLM_MODEL", "gpt-9-imaginary")
    client, operator = sidecar()

    probe = client.get("/llm/health", headers=operator).json()["probe"]

    assert probe["ok"] is True and probe["model_listed"] is False


def test_a_rejected_key_is_degraded_and_the_key_is_not_echoed(sidecar, llm_env):
    from retail_pipeline.simulators import SimulatorConfig, build_simulator_app
    from retail_pipeline.simulators.serving import serve_in_thread

    llm_env.setenv("SIMULATOR_LLM_API_KEY", "sk-the-right-one")  # read when the simulator app is built
    with serve_in_thread(build_simulator_app(SimulatorConfig(seed=1, products_per_supplier=1))) as base:
        llm_env.setenv("LLM_BASE_URL", f"{base}/llm/v1")
        llm_env.setenv("LLM_API_KEY", "sk-wrong-key-abcdefgh")
        client, operator = sidecar()
        body = client.get("/llm/health", headers=operator).json()

    assert body["status"] == "degraded"
    assert body["probe"]["status_code"] == 401 and body["probe"]["ok"] is False
    assert "Incorrect API key" in body["probe"]["error"]
    assert "sk-wrong-key-abcdefgh" not in str(body)


def test_an_unreachable_endpoint_is_degraded_fast(sidecar, llm_env):
    llm_env.setenv("LLM_BASE_URL", f"http://127.0.0.1:{free_port()}/v1")
    client, operator = sidecar()

    body = client.get("/llm/health", headers=operator).json()

    assert body["status"] == "degraded"
    probe = body["probe"]
    assert probe["ok"] is False and probe["status_code"] is None
    assert probe["error"].startswith("ConnectError") and probe["latency_ms"] < 3000


def test_offline_mode_makes_no_probe(sidecar, llm_env):
    llm_env.setenv("LLM_MODE", "offline")
    client, operator = sidecar()

    body = client.get("/llm/health", headers=operator).json()

    assert body["status"] == "offline"
    assert body["config"]["enricher"] == "offline" and body["config"]["base_url"] is None
    assert body["probe"] == {
        "ok": True,
        "url": None,
        "status_code": None,
        "latency_ms": None,
        "model_listed": None,
        "error": None,
    }


def test_llm_mode_with_nothing_to_call_says_so(sidecar, llm_env):
    llm_env.setenv("LLM_MODE", "llm")
    llm_env.setenv("USE_SIMULATORS", "false")
    client, operator = sidecar()

    body = client.get("/llm/health", headers=operator).json()

    assert body["status"] == "degraded" and "LLM_MODE=llm" in body["probe"]["error"]

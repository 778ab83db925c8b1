"""Where enrichment requests go, and how the client gives up."""

from __future__ import annotations

import pytest

from retail_pipeline.defs.resources import LLMResource
from retail_pipeline.domain.enrichment import EnrichmentInput
from retail_pipeline.integrations.llm import EnrichmentFailed, LLMClient, LLMMode, resolve_endpoint
from retail_pipeline.integrations.llm.endpoint import PLACEHOLDER_API_KEY, SIMULATOR_API_KEY, Endpoint
from retail_pipeline.simulators import FaultConfig

SIM = "http://127.0.0.1:8765"


@pytest.mark.parametrize(
    ("mode", "base_url", "api_key", "use_simulators", "expected"),
    [
        (LLMMode.AUTO, None, None, True, Endpoint(f"{SIM}/llm/v1", SIMULATOR_API_KEY)),
        (
            LLMMode.AUTO,
            "https://api.groq.com/openai/v1/",
            "gsk",
            True,
            Endpoint("https://api.groq.com/openai/v1", "gsk"),
        ),
        (
            LLMMode.AUTO,
            "http://localhost:11434/v1",
            None,
            False,
            Endpoint("http://localhost:11434/v1", PLACEHOLDER_API_KEY),
        ),
        (LLMMode.AUTO, None, "sk-real", False, Endpoint(None, "sk-real")),  # the OpenAI API itself
        (LLMMode.AUTO, None, None, False, None),  # nothing configured: offline
        (LLMMode.OFFLINE, "https://api.openai.com/v1", "sk-real", False, None),
    ],
)
def test_resolve_endpoint(mode, base_url, api_key, use_simulators, expected):
    assert (
        resolve_endpoint(mode, base_url, api_key, use_simulators=use_simulators, simulator_url=SIM)
        == expected
    )


def test_llm_mode_without_an_endpoint_is_a_configuration_error():
    with pytest.raises(ValueError, match="LLM_MODE=llm"):
        resolve_endpoint(LLMMode.LLM, None, None, use_simulators=False, simulator_url=SIM)


def test_settings_come_from_llm_environment_variables(env, monkeypatch):
    monkeypatch.setenv("LLM_MODEL", "gpt-4.1-mini")
    monkeypatch.setenv("LLM_MAX_CONCURRENCY", "3")
    monkeypatch.setenv("LLM_MAX_ATTEMPTS", "5")
    llm = LLMResource()
    assert (llm.enricher.kind, llm.enricher.model, llm.concurrency, llm.attempts_per_run) == (
        "llm",
        "gpt-4.1-mini",
        3,
        5,
    )
    assert LLMResource(model="gpt-4o").enricher.model == "gpt-4o"  # resource config wins over the environment


def test_a_retry_after_longer_than_we_wait_ends_the_retries_at_once(env, sim):
    sim.faults.set("llm", FaultConfig(rate_limit_rate=1.0, retry_after_seconds=600))
    client = LLMClient(base_url=f"{env.simulator_url}/llm/v1", api_key="sk-test", model="gpt-4o-mini")
    with pytest.raises(EnrichmentFailed) as failed:
        client.enrich(EnrichmentInput(title="Sony WH-1000XM5"))
    assert failed.value.attempts == 1 and failed.value.service_trouble
    assert failed.value.reason == "HTTP 429 (after 1 attempt)"
    client.close()

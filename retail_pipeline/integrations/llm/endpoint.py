"""Which LLM endpoint enriches, from ``LLM_*`` environment variables (the Dagster resource over it is
``LLMResource`` in ``retail_pipeline/defs/resources.py``).

Which enricher runs (``LLM_MODE``, default ``auto``):

- ``offline``: the deterministic offline enricher, never a network call;
- ``llm``: an OpenAI-compatible endpoint, an error if none is configured;
- ``auto``: ``LLM_BASE_URL`` when set; else the LLM simulator (``{SIMULATOR_URL}/llm/v1``) when
  ``USE_SIMULATORS`` is true; else the OpenAI API when ``LLM_API_KEY`` is set; else offline.

"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict


class LLMMode(StrEnum):
    AUTO = "auto"
    LLM = "llm"
    OFFLINE = "offline"


SIMULATOR_API_KEY = "sk-simulator"
PLACEHOLDER_API_KEY = "unused"  # local OpenAI-compatible servers often need no key; the SDK wants one


class LLMSettings(BaseSettings):
    """LLM_MODE, LLM_BASE_URL, LLM_API_KEY, LLM_MODEL, LLM_MAX_CONCURRENCY, LLM_TIMEOUT_SECONDS,
    LLM_MAX_ATTEMPTS, LLM_MAX_COMPLETION_TOKENS."""

    model_config = SettingsConfigDict(env_prefix="LLM_", env_file=".env", extra="ignore")

    mode: LLMMode = LLMMode.AUTO
    base_url: str | None = Field(default=None, description="e.g. https://api.groq.com/openai/v1")
    api_key: SecretStr | None = None
    model: str = "gpt-4o-mini"
    max_concurrency: int = Field(default=8, ge=1)
    timeout_seconds: float = Field(default=60.0, gt=0)
    max_attempts: int = Field(default=3, ge=1, description="Requests per product per run.")
    max_completion_tokens: int = Field(default=1500, ge=1)


@dataclass(frozen=True)
class Endpoint:
    base_url: str | None  # None = the OpenAI API
    api_key: str


def resolve_endpoint(
    mode: LLMMode, base_url: str | None, api_key: str | None, *, use_simulators: bool, simulator_url: str
) -> Endpoint | None:
    """Where enrichment requests go; None = the offline enricher."""
    if mode == LLMMode.OFFLINE:
        return None
    if base_url:
        return Endpoint(base_url.rstrip("/"), api_key or PLACEHOLDER_API_KEY)
    if use_simulators:
        return Endpoint(f"{simulator_url.rstrip('/')}/llm/v1", api_key or SIMULATOR_API_KEY)
    if api_key:
        return Endpoint(None, api_key)
    if mode == LLMMode.LLM:
        raise ValueError(
            "LLM_MODE=llm, but there is no LLM_BASE_URL or LLM_API_KEY (and USE_SIMULATORS is false)"
        )
    return None

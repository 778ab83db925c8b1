"""``LLMResource``: the enricher as a Dagster resource, configured from ``LLM_*`` environment variables.

Which enricher runs (``LLM_MODE``, default ``auto``):

- ``offline``: the deterministic offline enricher, never a network call;
- ``llm``: an OpenAI-compatible endpoint, an error if none is configured;
- ``auto``: ``LLM_BASE_URL`` when set; else the LLM simulator (``{SIMULATOR_URL}/llm/v1``) when
  ``USE_SIMULATORS`` is true; else the OpenAI API when ``LLM_API_KEY`` is set; else offline.

Resource fields left unset fall back to the environment, so ``LLMResource()`` is the usual wiring;
the key is read at execution time and never appears in run config or metadata.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

import dagster as dg
from pydantic import Field, PrivateAttr, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

from retail_pipeline.domain.enrichment import NOTHING_TO_ENRICH, Enricher, EnrichmentInput, offline_enrich
from retail_pipeline.integrations.llm.client import EnrichmentFailed, EnrichmentResult, LLMClient, Usage
from retail_pipeline.settings import get_settings


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


class LLMResource(dg.ConfigurableResource):
    """Enriches one product at a time (``enrich``); use ``concurrency`` threads to run several."""

    mode: LLMMode | None = None
    base_url: str | None = None
    api_key: str | None = None
    model: str | None = None
    max_concurrency: int | None = None
    timeout_seconds: float | None = None
    max_attempts: int | None = None
    max_completion_tokens: int | None = None
    backoff_initial_seconds: float = 0.5

    _client: LLMClient | None = PrivateAttr(default=None)
    _enricher: Enricher | None = PrivateAttr(default=None)
    _concurrency: int = PrivateAttr(default=1)

    def setup_for_execution(self, context: dg.InitResourceContext) -> None:
        self._connect()

    def teardown_after_execution(self, context: dg.InitResourceContext) -> None:
        if self._client is not None:
            self._client.close()
            self._client = None
        self._enricher = None

    def _connect(self) -> None:
        env = LLMSettings()
        settings = get_settings()
        api_key = self.api_key or (env.api_key.get_secret_value() if env.api_key else None)
        endpoint = resolve_endpoint(
            self.mode or env.mode,
            self.base_url or env.base_url,
            api_key,
            use_simulators=settings.use_simulators,
            simulator_url=settings.simulator_url,
        )
        if endpoint is None:
            self._enricher, self._concurrency = Enricher.offline(), 1  # CPU-only: threads would not help
            return
        model = self.model or env.model
        self._client = LLMClient(
            base_url=endpoint.base_url,
            api_key=endpoint.api_key,
            model=model,
            timeout_seconds=self.timeout_seconds or env.timeout_seconds,
            max_attempts=self.max_attempts or env.max_attempts,
            max_completion_tokens=self.max_completion_tokens or env.max_completion_tokens,
            backoff_initial_seconds=self.backoff_initial_seconds,
        )
        self._enricher = Enricher.llm(model)
        self._concurrency = self.max_concurrency or env.max_concurrency

    def _ready(self) -> None:
        if self._enricher is None:  # used outside a run
            self._connect()

    @property
    def enricher(self) -> Enricher:
        """Who enriches (kind, prompt version, model): part of every product's cache key."""
        self._ready()
        return self._enricher

    @property
    def concurrency(self) -> int:
        """How many products to enrich at once."""
        self._ready()
        return self._concurrency

    @property
    def attempts_per_run(self) -> int:
        """Requests one product may take in a run (the offline enricher makes none)."""
        self._ready()
        return self._client.max_attempts if self._client else 1

    def enrich(self, product: EnrichmentInput) -> EnrichmentResult:
        """Listing content for one product. Raises EnrichmentFailed (this product) or
        LLMUnavailable (the configuration: stop the run)."""
        if not product.has_content:  # no model could do better: no call, and no retry later
            raise EnrichmentFailed(NOTHING_TO_ENRICH)
        if self.enricher.kind == "offline":
            return EnrichmentResult(offline_enrich(product), Usage(), None, None, attempts=0)
        return self._client.enrich(product)

"""The Dagster resources, one per external system and the database: what every asset, sensor and
schedule is given. Clients read their own settings from the environment (defaulting to the simulators
when USE_SIMULATORS); tests bind them to in-process simulators with `with_transport` / `with_kwargs`.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, Self

import dagster as dg
from pydantic import PrivateAttr
from sqlalchemy import Engine

from retail_pipeline.channels.plugin import CategorySuggestion
from retail_pipeline.channels.registry import channel, channel_names
from retail_pipeline.db.engine import get_engine, resolve_database_url
from retail_pipeline.domain.buyer_messages import Inbox
from retail_pipeline.domain.channel_categories import (
    CHOICE_SCHEMA_NAME,
    attribute_messages,
    choice_messages,
    choice_schema,
    offline_fill,
    parse_attributes,
    parse_choice,
    strict_schema,
)
from retail_pipeline.domain.enrichment import NOTHING_TO_ENRICH, Enricher, EnrichmentInput, offline_enrich
from retail_pipeline.integrations.carriers import Carrier, carrier_class
from retail_pipeline.integrations.fx import EcbClient
from retail_pipeline.integrations.llm.client import EnrichmentFailed, EnrichmentResult, LLMClient, Usage
from retail_pipeline.integrations.llm.endpoint import LLMMode, LLMSettings, resolve_endpoint
from retail_pipeline.settings import get_settings


class DatabaseResource(dg.ConfigurableResource):
    """The business database. Empty ``url`` = ``DATABASE_URL`` or the embedded server."""

    url: str | None = None
    _engine: Engine | None = PrivateAttr(default=None)

    def setup_for_execution(self, context: dg.InitResourceContext) -> None:
        self._engine = get_engine(self.url or resolve_database_url())

    @property
    def engine(self) -> Engine:
        if self._engine is None:  # used outside a run (sensors built by hand, scripts)
            self._engine = get_engine(self.url or resolve_database_url())
        return self._engine


def simulator_now(base_url: str, timeout: float = 2.0) -> datetime | None:
    """The simulators' clock, or None when they do not answer."""
    import httpx

    from retail_pipeline.integrations.http import tls_context

    try:  # the shared TLS context: read per asset call, a fresh one (CA bundle loaded) took longer than the read
        url = f"{base_url.rstrip('/')}/_control/clock"
        body = httpx.get(url, timeout=timeout, verify=tls_context()).json()
        return datetime.fromisoformat(body["now"]).astimezone(UTC)
    except (httpx.HTTPError, ValueError, KeyError, TypeError):
        return None


def channel_now() -> datetime:
    """The channels' clock: the simulated one when simulating (and they answer), else the wall clock."""
    settings = get_settings()
    if settings.use_simulators and (now := simulator_now(settings.simulator_url)):
        return now
    return datetime.now(UTC)


class WorldClock(dg.ConfigurableResource):
    """The time the outside world keeps (`channel_now`: the simulated clock when simulating), which tests
    replace with `with_clock`: one for the channels and the exchange rates alike."""

    _clock: Callable[[], datetime] | None = PrivateAttr(default=None)

    def with_clock(self, clock: Callable[[], datetime]) -> Self:
        self._clock = clock
        return self

    def now(self) -> datetime:
        return (self._clock or channel_now)()


class ChannelsResource(WorldClock):
    """Creates a sales channel's client and its buyer inbox (the channel's own plug-in says how), and
    tells the channels' time. Tests bind clients to an in-process simulator with
    `ChannelsResource().with_transport(transport, <channel>={...})` and the clock with `with_clock`."""

    _kwargs: dict[str, Any] = PrivateAttr(default_factory=dict)
    _per_channel: dict[str, dict[str, Any]] = PrivateAttr(default_factory=dict)

    def with_transport(self, transport: Any = None, /, **per_channel: dict[str, Any]) -> ChannelsResource:
        if transport is not None:
            self._kwargs["transport"] = transport
        self._per_channel.update(per_channel)
        return self

    def _client_kwargs(self, name: str) -> dict[str, Any]:
        return {**self._kwargs, **self._per_channel.get(name, {})}

    def client(self, name: str) -> Any:
        return channel(name).new_client(**self._client_kwargs(name))

    def inbox(self, name: str) -> Inbox:
        if name not in channel_names("buyer_messages"):
            raise ValueError(f"no inbox for channel {name!r}; known: {channel_names('buyer_messages')}")
        return channel(name).new_inbox(**self._client_kwargs(name))


class FxResource(WorldClock):
    """The exchange-rate source: the European Central Bank's reference rates (ECB_* settings, the
    simulator when USE_SIMULATORS). Tests call the asset's body (`refresh_fx_rates`) with a client
    bound to the in-process simulators."""

    def client(self) -> EcbClient:
        return EcbClient()


class CarriersResource(dg.ConfigurableResource):
    """Creates the client for a carrier; each reads its own settings (CANADAPOST_*), defaulting to the
    simulator when USE_SIMULATORS. Tests bind clients with `CarriersResource().with_kwargs(canada_post=
    {"transport": ..., "settings": ..., "clock": ...})`."""

    _client_kwargs: dict[str, dict[str, Any]] = PrivateAttr(default_factory=dict)

    def with_kwargs(self, **per_carrier: dict[str, Any]) -> CarriersResource:
        self._client_kwargs.update(per_carrier)
        return self

    def client(self, carrier: str) -> Carrier:
        return carrier_class(carrier)(**self._client_kwargs.get(carrier, {}))


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

    def fill_attributes(
        self, channel_title: str, category_path: str, schema: dict[str, Any], payload: dict[str, Any]
    ) -> EnrichmentResult:
        """A category's attributes for one product, the category's own schema as the strict
        structured-output schema (`domain.channel_categories.strict_schema`); `output` is the answer
        (name -> value or None). Offline: filled from the product's words, no call. Raises
        EnrichmentFailed / LLMUnavailable as `enrich` does."""
        strict = strict_schema(schema)
        if self.enricher.kind == "offline":
            return EnrichmentResult(offline_fill(schema, payload), Usage(), None, None, attempts=0)
        return self._client.structured(
            attribute_messages(channel_title, category_path, payload),
            {
                "type": "json_schema",
                "json_schema": {"name": "category_attributes", "schema": strict, "strict": True},
            },
            lambda content: parse_attributes(content, strict),
        )

    def choose_category(
        self, channel_title: str, candidates: list[CategorySuggestion], payload: dict[str, Any]
    ) -> EnrichmentResult:
        """Which of close candidates the product belongs in (`output`: a candidate's id, or None: none
        clearly fits). Offline: None, no call (the operator chooses)."""
        if self.enricher.kind == "offline":
            return EnrichmentResult(None, Usage(), None, None, attempts=0)
        return self._client.structured(
            choice_messages(channel_title, candidates, payload),
            {
                "type": "json_schema",
                "json_schema": {
                    "name": CHOICE_SCHEMA_NAME,
                    "schema": choice_schema(candidates),
                    "strict": True,
                },
            },
            lambda content: parse_choice(content, candidates),
        )

    def enrich(self, product: EnrichmentInput) -> EnrichmentResult:
        """Listing content for one product. Raises EnrichmentFailed (this product) or
        LLMUnavailable (the configuration: stop the run)."""
        if not product.has_content:  # no model could do better: no call, and no retry later
            raise EnrichmentFailed(NOTHING_TO_ENRICH)
        if self.enricher.kind == "offline":
            return EnrichmentResult(offline_enrich(product), Usage(), None, None, attempts=0)
        return self._client.enrich(product)


defs = dg.Definitions(
    resources={
        "db": DatabaseResource(),
        "channels": ChannelsResource(),
        "carriers": CarriersResource(),
        "fx": FxResource(),
        "llm": LLMResource(),
    }
)

"""Listing fixtures: LaunchLock-passed products seeded (photos on disk) and a listing client per channel
bound to the in-process simulators."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx
import pytest
from sqlalchemy import Engine, text

from retail_pipeline.channels.ebay import EbayClient, EbaySettings
from retail_pipeline.channels.reverb import ReverbClient, ReverbSettings
from retail_pipeline.channels.shopify import ShopifyClient, ShopifySettings
from retail_pipeline.channels.trademe import TradeMeClient, TradeMeSettings
from retail_pipeline.integrations.marketplaces.base import ChannelClient
from retail_pipeline.integrations.marketplaces.rest import RetryPolicy
from retail_pipeline.simulators import Simulator
from retail_pipeline_tests.seeds.listed_products import seed_products

QUICK = RetryPolicy(max_attempts=8, backoff_initial=0.001, backoff_max=0.01)
# The requests that create a listing, per channel (path as the simulator's journal records it).
CREATE_CALLS: dict[str, Callable[[str, str], bool]] = {
    "trademe": lambda m, p: m == "POST" and p.endswith("/Selling.json"),
    "ebay": lambda m, p: m == "POST" and p.endswith("/publish"),
    "shopify": lambda m, p: m == "POST" and p.endswith("/graphql.json"),  # productSet
    "reverb": lambda m, p: m == "POST" and p.rstrip("/").endswith("/listings"),
}


@pytest.fixture
def make_client(transport, sim) -> Callable[..., ChannelClient]:
    """A listing client for a channel on the simulators; more attempts than the shared `channels` (the
    fault tests inject several failures in a row); keyword arguments override settings."""
    default_transport = transport

    def make(
        channel: str, transport: httpx.AsyncBaseTransport | None = None, **overrides: Any
    ) -> ChannelClient:
        transport = transport or default_transport
        if channel == "trademe":
            settings = TradeMeSettings(
                _env_file=None, backoff_initial_seconds=0, backoff_max_seconds=0, **overrides
            )
            return TradeMeClient(settings, transport=transport, clock=sim.clock.now)
        if channel == "ebay":
            settings = EbaySettings(
                _env_file=None, backoff_initial_seconds=0, backoff_max_seconds=0, **overrides
            )
            return EbayClient(settings, transport=transport, clock=sim.clock.now)
        if channel == "shopify":
            return ShopifyClient(
                ShopifySettings(_env_file=None, **overrides), transport=transport, policy=QUICK
            )
        return ReverbClient(ReverbSettings(_env_file=None, **overrides), transport=transport, policy=QUICK)

    return make


@pytest.fixture
def seeded(engine, settings_env) -> dict[str, int]:
    return seed_products(engine, settings_env.media_dir)


def listing_rows(engine: Engine, channel: str) -> dict[str, dict[str, Any]]:
    with engine.connect() as conn:
        rows = conn.execute(
            text("SELECT * FROM retail.channel_listings WHERE channel = :c ORDER BY sku"), {"c": channel}
        )
        return {r.sku: dict(r._mapping) for r in rows}


def create_calls(sim: Simulator, channel: str) -> int:
    return sum(
        1
        for e in sim.journal.entries(channel)
        if CREATE_CALLS[channel](e.method, e.path) and e.status and e.status < 300
    )

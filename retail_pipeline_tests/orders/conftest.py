"""Orders fixtures: the simulators in-process, our products listed on all four channels, order clients
and listing clients bound to the simulators, and the simulated market."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from sqlalchemy import Engine, text

from retail_pipeline.channels.bestbuy.client import MiraklSettings
from retail_pipeline.channels.ebay.client import EbaySettings
from retail_pipeline.channels.reverb.client import ReverbSettings
from retail_pipeline.channels.shopify.client import ShopifySettings
from retail_pipeline.channels.trademe.client import TradeMeSettings
from retail_pipeline.db.engine import get_engine
from retail_pipeline.defs.listings.drafts import build_drafts
from retail_pipeline.defs.listings.publish import run_publish
from retail_pipeline.defs.resources import ChannelsResource
from retail_pipeline.integrations.marketplaces.rest import RetryPolicy
from retail_pipeline.simulators import Simulator, get_simulator
from retail_pipeline.simulators.market import Market
from retail_pipeline_tests.listings.conftest import seed_products, signed

CHANNELS = ("trademe", "ebay", "shopify", "reverb")  # where we list
ORDER_CHANNELS = (*CHANNELS, "bestbuy")  # where orders come from (Best Buy sells our Shopify offers)
QUICK = RetryPolicy(max_attempts=6, backoff_initial=0.001, backoff_max=0.01)
# sku, title, category, cost, stock, brand, mpn, photos (the listing tests' shape)
PRODUCTS = [
    ("RP-2001", "Sony WH-1000XM5 Wireless Noise Cancelling Headphones", "Headphones", "399.00", 2, "Sony",
     "WH1000XM5", 1),
    ("RP-2002", "Fender Player Stratocaster Electric Guitar, 3-Colour Sunburst", "Guitars", "1150.00", 1,
     "Fender", "0144502500", 1),
    ("RP-2003", "Lenovo ThinkPad X1 Carbon Gen 11 14in Laptop", "Laptops", "2100.00", 3, "Lenovo", "21HM", 1),
]  # fmt: skip


@pytest.fixture
def sim(simulator_app) -> Simulator:
    return get_simulator(simulator_app)


@pytest.fixture
def engine(settings_env, db_url) -> Engine:
    engine = get_engine(db_url)
    yield engine
    engine.dispose()


def client_kwargs(sim: Simulator) -> dict[str, dict[str, Any]]:
    """Per-channel client arguments: quick retries, the simulated clock for the call budgets."""
    return {
        "trademe": {
            "settings": TradeMeSettings(_env_file=None, backoff_initial_seconds=0, backoff_max_seconds=0),
            "clock": sim.clock.now,
        },
        "ebay": {
            "settings": EbaySettings(_env_file=None, backoff_initial_seconds=0, backoff_max_seconds=0),
            "clock": sim.clock.now,
        },
        "shopify": {"settings": ShopifySettings(_env_file=None), "policy": QUICK},
        "reverb": {"settings": ReverbSettings(_env_file=None), "policy": QUICK},
        "bestbuy": {"settings": MiraklSettings(_env_file=None), "policy": QUICK},
    }


@pytest.fixture
def transport(simulator_app) -> httpx.ASGITransport:
    return httpx.ASGITransport(app=simulator_app)


@pytest.fixture
def order_sources(sim, transport) -> ChannelsResource:
    return ChannelsResource().with_transport(transport, **client_kwargs(sim)).with_clock(sim.clock.now)


@pytest.fixture
def channels(sim, transport) -> ChannelsResource:
    return ChannelsResource().with_transport(transport, **client_kwargs(sim))


@pytest.fixture
def listed(engine, settings_env, channels) -> dict[str, int]:
    """Our three products live on all four channels; returns sku -> product id."""
    ids = seed_products(engine, settings_env.media_dir, PRODUCTS)
    for channel in CHANNELS:
        with engine.begin() as conn:
            build_drafts(conn, channel)
        result = run_publish(engine, channels.client(channel), media_url=signed)
        assert result.counts["failed"] == 0, result.errors
    return ids


@pytest.fixture
def market(sim) -> Market:
    return Market(sim, deliver_webhooks=False)


def count(engine: Engine, sql: str, **params: Any) -> int:
    with engine.connect() as conn:
        return conn.scalar(text(sql), params)


def table_counts(engine: Engine) -> dict[str, int]:
    names = ("orders", "order_lines", "customers", "order_status_history", "activity_log")
    return {name: count(engine, f"SELECT count(*) FROM retail.{name}") for name in names}

"""Channel client arguments for the in-process simulators: quick retries, the simulated clock."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from typing import Any

from retail_pipeline.channels.amazon import AmazonSettings
from retail_pipeline.channels.bestbuy import MiraklSettings
from retail_pipeline.channels.ebay import EbaySettings
from retail_pipeline.channels.kaufland import KauflandSettings
from retail_pipeline.channels.reverb import ReverbSettings
from retail_pipeline.channels.shopify import ShopifySettings
from retail_pipeline.channels.trademe import TradeMeSettings
from retail_pipeline.integrations.marketplaces.rest import RetryPolicy
from retail_pipeline.simulators import Simulator

CHANNELS = ("trademe", "ebay", "shopify", "reverb")  # where we list
# where we list once the channel's own category is chosen for a product (the channel_categories asset);
# until then their drafts are invalid with the reason named, so the seeds above do not list there
CATEGORY_FIRST = ("amazon",)
ORDER_CHANNELS = (
    *CHANNELS,
    "bestbuy",
    *CATEGORY_FIRST,
    "kaufland",
)  # where orders come from (Best Buy: our Shopify offers)
SELLING_CHANNELS = (*CHANNELS, "bestbuy")  # where the seeded products are on sale, so buyers can buy
# Every channel we can list on. Kaufland's drafts wait for a chosen Kaufland category (the
# channel_categories asset) and for a EUR price (the day's exchange rate), so the seeded end-to-end
# set (CHANNELS) leaves it out until those are in the test seeds; its own tests are channels/kaufland.
# Vintage & Rare is driven by a browser (no HTTP client to bind here): its tests are
# channels/vintage_and_rare, with one browser for the module.
LISTING_CHANNELS = (*CHANNELS, *CATEGORY_FIRST, "kaufland", "vintage_and_rare")
QUICK = RetryPolicy(max_attempts=6, backoff_initial=0.001, backoff_max=0.01)


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
        "amazon": {
            "settings": AmazonSettings(_env_file=None, feed_poll_seconds=0),
            "policy": QUICK,
            "clock": sim.clock.now,
        },
        "kaufland": {"settings": KauflandSettings(_env_file=None), "policy": QUICK},
    }


# --- a stand-in for the channel_categories asset (another workstream): each product's category chosen
# from the channel's own suggestions (the best one) and its required attributes filled from the schema


async def choose_categories(client: Any, channel: str, products: list[Any]) -> dict[str, tuple[str, dict]]:
    """sku → (the channel's category id, attributes filled for it) for (sku, title, category, brand, mpn)
    rows: what the categories asset would store, without its LLM (enum values take their first choice)."""
    from retail_pipeline.channels.plugin import CategoryQuery
    from retail_pipeline.channels.registry import channel as plugin

    taxonomy = plugin(channel).taxonomy
    chosen = {}
    for sku, title, category, brand, mpn in products:
        best = (await taxonomy.suggest(client, CategoryQuery(title=title, brand=brand, category=category)))[0]
        schema = (await taxonomy.attributes(client, best.category_id)).schema
        values: dict[str, Any] = {}
        for name in schema["required"]:
            prop = schema["properties"][name]
            item = prop.get("items", prop)
            value = {"brand": brand, "model_number": mpn}.get(name) or (item.get("enum") or ["Standard"])[0]
            values[name] = [value] if prop["type"] == "array" else value
        chosen[sku] = (best.category_id, values)
    return chosen


def categorised(client: Any, channel: str, products: list[Any]) -> dict[str, tuple[str, dict]]:
    async def run() -> dict[str, tuple[str, dict]]:
        async with client:
            return await choose_categories(client, channel, products)

    return asyncio.run(run())


def store_categories(engine: Any, channel: str, choices: Mapping[str, tuple[str, dict]]) -> None:
    """Record these categories (sku -> (category id, attributes)) as the channel_categories asset leaves
    a confident choice, so drafts built next carry them."""
    import json

    from sqlalchemy import text

    with engine.begin() as conn:
        for sku, (category_id, attributes) in choices.items():
            conn.execute(
                text(
                    """INSERT INTO retail.channel_categories
                           (product_id, channel, status, category_id, category_path, confidence, chosen_by,
                            query_hash, attributes)
                       SELECT id, :channel, 'chosen', :category, :category, 0.9, 'auto', 'seeded',
                              CAST(:attributes AS jsonb)
                         FROM retail.products WHERE sku = :sku
                       ON CONFLICT (product_id, channel) DO UPDATE SET status = 'chosen',
                           category_id = EXCLUDED.category_id, attributes = EXCLUDED.attributes"""
                ),
                {
                    "channel": channel,
                    "category": category_id,
                    "attributes": json.dumps(attributes),
                    "sku": sku,
                },
            )

"""Channel client arguments for the in-process simulators: quick retries, the simulated clock."""

from __future__ import annotations

from typing import Any

from retail_pipeline.channels.bestbuy import MiraklSettings
from retail_pipeline.channels.ebay import EbaySettings
from retail_pipeline.channels.kaufland import KauflandSettings
from retail_pipeline.channels.reverb import ReverbSettings
from retail_pipeline.channels.shopify import ShopifySettings
from retail_pipeline.channels.trademe import TradeMeSettings
from retail_pipeline.integrations.marketplaces.rest import RetryPolicy
from retail_pipeline.simulators import Simulator

CHANNELS = ("trademe", "ebay", "shopify", "reverb")  # where we list
ORDER_CHANNELS = (*CHANNELS, "bestbuy", "kaufland")  # where orders come from (Best Buy: our Shopify offers)
SELLING_CHANNELS = (*CHANNELS, "bestbuy")  # where the seeded products are on sale, so buyers can buy
# Every channel we can list on. Kaufland's drafts wait for a chosen Kaufland category (the
# channel_categories asset) and for a EUR price (the day's exchange rate), so the seeded end-to-end
# set (CHANNELS) leaves it out until those are in the test seeds; its own tests are channels/kaufland.
LISTING_CHANNELS = (*CHANNELS, "kaufland")
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
        "kaufland": {"settings": KauflandSettings(_env_file=None), "policy": QUICK},
    }

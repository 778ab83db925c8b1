"""The sales channels: the one list of them. Adding a channel is one line here plus its module
(`retail_pipeline/channels/<name>.py`, whose `CHANNEL` declares what it can do) and its simulator.

Everything that works per channel (partitions, resources, schedules, sensors, run-once, the sidecar)
asks this registry which channels can do what.
"""

from __future__ import annotations

import importlib
from functools import cache

from retail_pipeline.channels.plugin import CAPABILITIES, Channel

# channel name → the module whose CHANNEL describes it (the order is the order partitions are shown in)
CHANNEL_MODULES: dict[str, str] = {
    "trademe": "retail_pipeline.channels.trademe",
    "ebay": "retail_pipeline.channels.ebay",
    "shopify": "retail_pipeline.channels.shopify",
    "reverb": "retail_pipeline.channels.reverb",
    "bestbuy": "retail_pipeline.channels.bestbuy",
    "amazon": "retail_pipeline.channels.amazon",
    "kaufland": "retail_pipeline.channels.kaufland",
    "vintage_and_rare": "retail_pipeline.channels.vintage_and_rare",
}


@cache
def all_channels() -> tuple[Channel, ...]:
    channels = tuple(importlib.import_module(module).CHANNEL for module in CHANNEL_MODULES.values())
    for name, found in zip(CHANNEL_MODULES, channels, strict=True):
        if found.name != name or (found.listing is not None and found.listing.channel != name):
            raise RuntimeError(
                f"{CHANNEL_MODULES[name]} declares channel {found.name!r} (listing policy for "
                f"{found.listing.channel if found.listing else None!r}), registered as {name!r}"
            )
    return channels


def channel(name: str) -> Channel:
    for found in all_channels():
        if found.name == name:
            return found
    raise ValueError(f"unknown channel {name!r}; known: {sorted(CHANNEL_MODULES)}")


def channel_names(capability: str | None = None) -> tuple[str, ...]:
    """The channels that can do `capability` (one of CAPABILITIES), or all of them."""
    if capability is not None and capability not in CAPABILITIES:
        raise ValueError(f"unknown capability {capability!r}; known: {CAPABILITIES}")
    return tuple(c.name for c in all_channels() if capability is None or capability in c.capabilities)

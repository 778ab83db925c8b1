"""Sales channels: one `ChannelClient` module per channel, and the registry the listing assets use.

Adding a channel (Amazon, Kaufland) is a new module implementing `ChannelClient` plus one line in
`CHANNEL_CLIENTS`.
"""

from __future__ import annotations

import importlib
from typing import Any

import dagster as dg
from pydantic import PrivateAttr

from .base import ChannelClient

# channel name → "module:Class" (imported on first use, so loading definitions stays cheap)
CHANNEL_CLIENTS: dict[str, str] = {
    "trademe": "retail_pipeline.integrations.marketplaces.trademe:TradeMeClient",
    "ebay": "retail_pipeline.integrations.marketplaces.ebay:EbayClient",
    "shopify": "retail_pipeline.integrations.marketplaces.shopify:ShopifyClient",
    "reverb": "retail_pipeline.integrations.marketplaces.reverb:ReverbClient",
}


def client_class(channel: str) -> type[ChannelClient]:
    try:
        module_name, class_name = CHANNEL_CLIENTS[channel].split(":")
    except KeyError:
        raise ValueError(f"no client for channel {channel!r}; known: {sorted(CHANNEL_CLIENTS)}") from None
    return getattr(importlib.import_module(module_name), class_name)


class ChannelsResource(dg.ConfigurableResource):
    """Creates the client for a channel. Each client reads its own settings from the environment
    (TRADEME_*, EBAY_*, SHOPIFY_*, REVERB_*), defaulting to the simulators when USE_SIMULATORS.

    Tests bind clients to an in-process app with `ChannelsResource().with_transport(transport)`
    (or any keyword arguments the client constructors take, per channel)."""

    _client_kwargs: dict[str, dict[str, Any]] = PrivateAttr(default_factory=dict)
    _shared_kwargs: dict[str, Any] = PrivateAttr(default_factory=dict)

    def with_transport(self, transport: Any = None, /, **per_channel: dict[str, Any]) -> ChannelsResource:
        if transport is not None:
            self._shared_kwargs["transport"] = transport
        self._client_kwargs.update(per_channel)
        return self

    def client(self, channel: str) -> ChannelClient:
        kwargs = {**self._shared_kwargs, **self._client_kwargs.get(channel, {})}
        return client_class(channel)(**kwargs)

"""Where each channel's orders come from: one "order source" per channel (fetch a time window →
`ChannelOrder`s), the `order_sources` resource that makes their clients, and the channels' clock.

Adding a channel (Amazon, Kaufland) is one `ORDER_SOURCES` entry: its client ("module:Class")
and a fetch function that calls the client and the channel's pure normaliser.

The clock: an order's partition is the UTC day it was placed on *by the channel's clock*. Against the
real APIs that is the wall clock; against the simulators it is their shared simulated clock (read
from `GET {SIMULATOR_URL}/_control/clock`), so "today" and Trade Me's look-back windows agree with
the orders the simulated buyers placed.
"""

from __future__ import annotations

import importlib
import importlib.util
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

import dagster as dg
from pydantic import PrivateAttr

from retail_pipeline.domain.order_sources import (
    order_from_ebay,
    order_from_mirakl,
    order_from_reverb,
    order_from_shopify,
    order_from_trademe,
    trademe_period,
)
from retail_pipeline.domain.orders import ChannelOrder
from retail_pipeline.settings import get_settings

DAY = timedelta(days=1)
# How far back the light "new sales" poll looks: one page of each channel's most recent orders.
RECENT = timedelta(hours=1)


@dataclass(frozen=True)
class Window:
    """Orders placed in [start, end) by the channel's clock, asked at the channel's `now`."""

    start: datetime
    end: datetime
    now: datetime

    def __contains__(self, moment: datetime) -> bool:
        return self.start <= moment < self.end

    @classmethod
    def day(cls, day: date, now: datetime) -> Window:
        start = datetime.combine(day, time(0), tzinfo=UTC)
        return cls(start, start + DAY, now)

    @classmethod
    def recent(cls, now: datetime, span: timedelta = RECENT) -> Window:
        return cls(now - span, now + timedelta(seconds=1), now)


class OutOfReach(Exception):
    """The channel no longer lists orders this old (Trade Me keeps 45 days of sold items)."""


# --- one fetch per channel: call the client, keep the window, normalise


async def trademe_orders(client: Any, window: Window) -> AsyncIterator[ChannelOrder]:
    period = trademe_period(window.start, window.now)
    if period is None:
        raise OutOfReach(f"Trade Me lists sold items of the last 45 days only, not {window.start.date()}")
    async for item in client.sold_items(period):  # one call per 500 sales
        if item.sold_at in window:
            yield order_from_trademe(item)


async def ebay_orders(client: Any, window: Window) -> AsyncIterator[ChannelOrder]:
    last = window.end - timedelta(milliseconds=1)  # eBay's creationdate range includes both ends
    async for raw in client.orders(window.start, last):
        order = order_from_ebay(raw)
        if order.placed_at in window:
            yield order


async def shopify_orders(client: Any, window: Window) -> AsyncIterator[ChannelOrder]:
    async for raw in client.orders(created_at_min=window.start, status="any"):
        order = order_from_shopify(raw)
        if order.placed_at in window:
            yield order


async def reverb_orders(client: Any, window: Window) -> AsyncIterator[ChannelOrder]:
    # Reverb filters by update time only; an order placed in the window was updated at or after its start.
    async for raw in client.orders("all", updated_start_date=window.start):
        order = order_from_reverb(raw)
        if order.placed_at in window:
            yield order


async def bestbuy_orders(client: Any, window: Window) -> AsyncIterator[ChannelOrder]:
    # Mirakl's date range includes both ends; the window's own test drops the end instant.
    async for raw in client.orders(start=window.start, end=window.end):
        order = order_from_mirakl(raw)
        if order.placed_at in window:
            yield order


OrderFetch = Callable[[Any, Window], AsyncIterator[ChannelOrder]]


@dataclass(frozen=True)
class OrderSource:
    client: str  # "module:Class", imported on first use
    fetch: OrderFetch

    @property
    def available(self) -> bool:
        return importlib.util.find_spec(self.client.split(":")[0]) is not None


MARKETPLACES = "retail_pipeline.integrations.marketplaces"
ORDER_SOURCES: dict[str, OrderSource] = {
    "trademe": OrderSource(f"{MARKETPLACES}.trademe:TradeMeClient", trademe_orders),
    "ebay": OrderSource(f"{MARKETPLACES}.ebay:EbayClient", ebay_orders),
    "shopify": OrderSource(f"{MARKETPLACES}.shopify:ShopifyClient", shopify_orders),
    "reverb": OrderSource(f"{MARKETPLACES}.reverb:ReverbClient", reverb_orders),
    "bestbuy": OrderSource(f"{MARKETPLACES}.mirakl:MiraklClient", bestbuy_orders),
}

# Channels whose client is installed: the partitions of the order assets.
ORDER_CHANNELS: tuple[str, ...] = tuple(c for c, source in ORDER_SOURCES.items() if source.available)


def simulator_now(base_url: str, timeout: float = 2.0) -> datetime | None:
    """The simulators' clock, or None when they do not answer."""
    import httpx

    try:
        body = httpx.get(f"{base_url.rstrip('/')}/_control/clock", timeout=timeout).json()
        return datetime.fromisoformat(body["now"]).astimezone(UTC)
    except (httpx.HTTPError, ValueError, KeyError, TypeError):
        return None


def channel_now() -> datetime:
    """The channels' clock: the simulated one when simulating (and they answer), else the wall clock."""
    settings = get_settings()
    if settings.use_simulators and (now := simulator_now(settings.simulator_url)):
        return now
    return datetime.now(UTC)


class OrderSourcesResource(dg.ConfigurableResource):
    """Creates a channel's order client (each reads its own TRADEME_*/EBAY_*/SHOPIFY_*/REVERB_*/MIRAKL_*
    settings) and tells the channels' time. Tests bind clients to an in-process simulator with
    `OrderSourcesResource().with_transport(transport, trademe={...})` and its clock with `with_clock`."""

    _kwargs: dict[str, Any] = PrivateAttr(default_factory=dict)
    _per_channel: dict[str, dict[str, Any]] = PrivateAttr(default_factory=dict)
    _clock: Callable[[], datetime] | None = PrivateAttr(default=None)

    def with_transport(self, transport: Any = None, /, **per_channel: dict[str, Any]) -> OrderSourcesResource:
        if transport is not None:
            self._kwargs["transport"] = transport
        self._per_channel.update(per_channel)
        return self

    def with_clock(self, clock: Callable[[], datetime]) -> OrderSourcesResource:
        self._clock = clock
        return self

    def now(self) -> datetime:
        return (self._clock or channel_now)()

    def client(self, channel: str) -> Any:
        try:
            target = ORDER_SOURCES[channel].client
        except KeyError:
            raise ValueError(
                f"no order source for channel {channel!r}; known: {sorted(ORDER_SOURCES)}"
            ) from None
        module_name, class_name = target.split(":")
        client_class = getattr(importlib.import_module(module_name), class_name)
        return client_class(**{**self._kwargs, **self._per_channel.get(channel, {})})


async def fetch_orders(client: Any, channel: str, window: Window) -> list[ChannelOrder]:
    """Every order of the channel placed in the window (paging handled), the client closed after."""
    try:
        return [order async for order in ORDER_SOURCES[channel].fetch(client, window)]
    finally:
        await client.aclose()

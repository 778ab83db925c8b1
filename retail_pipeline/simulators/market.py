"""The simulated market: shoppers buying our live listings on every marketplace, over simulated time.

`Market(sim).advance(minutes)` moves the shared clock forward through that span; on each channel,
purchases arrive as a Poisson process (`rate_per_hour` per channel, seeded, so a world replays the same
way) and each buys one unit of a random live listing through the channel simulator's own `buy` hook, at
its simulated instant. The channels then show those orders on their APIs exactly as a real sale
would (Trade Me SoldItems, eBay getOrders, Shopify orders.json plus the orders/create webhook, Reverb
orders, Best Buy's Mirakl OR11 in WAITING_ACCEPTANCE, Kaufland order units; Vintage & Rare, with no orders
API, shows the item sold in its inventory CSV), and take the units off
the listings.

Over HTTP: `POST /_control/market/advance?minutes=N[&rate_per_hour=R]`.
"""

from __future__ import annotations

import asyncio
import bisect
import random
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from .buyers import NotBuyable

if TYPE_CHECKING:
    from .app import Simulator

DEFAULT_RATE_PER_HOUR = 4.0  # purchases per hour on each channel
MARKETPLACES = (
    "trademe", "ebay", "shopify", "reverb", "mirakl", "bestbuy", "amazon", "kaufland", "vintage_and_rare",
)  # fmt: skip


@dataclass(frozen=True)
class Purchase:
    channel: str
    sku: str
    quantity: int
    at: datetime
    order_id: str  # the channel's id of the order (Trade Me: the PurchaseId)


class _Shop:
    """One channel's window: what can be bought now, and buying one."""

    def __init__(self, channel: str, backend: Any):
        self.channel, self.backend = channel, backend

    def live(self) -> dict[str, int]:
        if self.channel == "trademe":  # Trade Me sells by listing id; our SKU is on the listing
            return {
                listing.form["SKU"] or listing.form["ExternalReferenceId"]: listing.form["Quantity"] or 1
                for listing in self.backend.live_listings()
                if listing.form["SKU"] or listing.form["ExternalReferenceId"]
            }
        return dict(self.backend.live_skus())

    def buy(self, sku: str, quantity: int) -> str:
        if self.channel == "trademe":
            from .trademe.models import BusinessFailure

            listing = next(
                (
                    x
                    for x in self.backend.live_listings()
                    if sku in (x.form["SKU"], x.form["ExternalReferenceId"])
                ),
                None,
            )
            if listing is None:
                raise NotBuyable(f"no live Trade Me listing has SKU {sku!r}")
            try:
                return str(self.backend.buy(listing.listing_id, quantity).purchase_id)
            except BusinessFailure as error:
                raise NotBuyable(str(error)) from None
        order = self.backend.buy(sku, quantity)
        for name in ("order_id", "order_number", "id"):
            if (value := getattr(order, name, None)) is not None:
                return str(value)
        return repr(order)


class Market:
    def __init__(
        self,
        sim: Simulator,
        *,
        rate_per_hour: float = DEFAULT_RATE_PER_HOUR,
        seed: int | str | None = None,
        channels: tuple[str, ...] | None = None,
        deliver_webhooks: bool = True,
    ):
        self.sim = sim
        self.rate_per_hour = rate_per_hour
        self.deliver_webhooks = deliver_webhooks
        seed = sim.config.seed if seed is None else seed
        wanted = channels or MARKETPLACES
        self.shops = {
            name: _Shop(name, sim.backend(name))
            for name in wanted
            if name in sim.systems and hasattr(sim.backend(name), "buy")
        }
        self._rng = {name: random.Random(f"{seed}:market:{name}") for name in self.shops}
        self._lock = threading.Lock()
        self.purchases: list[Purchase] = []
        self.missed = 0  # arrivals that found nothing to buy on their channel

    @classmethod
    def of(cls, sim: Simulator) -> Market:
        """The simulator's one market (created on first use), so its random streams carry on."""
        market = sim.__dict__.get("market")
        if market is None:
            market = sim.__dict__["market"] = cls(sim)
        return market

    def _arrivals(self, channel: str, minutes: float, rate_per_hour: float) -> list[float]:
        """Offsets (minutes) of the purchases in the span: exponential gaps at the channel's rate."""
        rng, offsets, at = self._rng[channel], [], 0.0
        if rate_per_hour <= 0:
            return offsets
        while True:
            at += rng.expovariate(rate_per_hour / 60)
            if at >= minutes:
                return offsets
            offsets.append(at)

    def advance(self, minutes: float, *, rate_per_hour: float | None = None) -> list[Purchase]:
        """Move the clock `minutes` forward, buyers purchasing on the way; the purchases made."""
        if minutes < 0:
            raise ValueError("the market only moves forward")
        rate = self.rate_per_hour if rate_per_hour is None else rate_per_hour
        with self._lock:
            events: list[tuple[float, str]] = []
            for channel in sorted(self.shops):
                for offset in self._arrivals(channel, minutes, rate):
                    bisect.insort(events, (offset, channel))
            clock, made = self.sim.clock, []
            start = clock.now()
            for offset, channel in events:
                clock.advance_to(start + timedelta(minutes=offset))
                if purchase := self._buy(channel, clock.now()):
                    made.append(purchase)
            clock.advance_to(start + timedelta(minutes=minutes))
            self.purchases += made
        return made

    def buy_now(self, channel: str, sku: str | None = None) -> Purchase | None:
        """One purchase on `channel` at the current instant (a given SKU, or a random live one)."""
        with self._lock:
            purchase = self._buy(channel, self.sim.clock.now(), sku)
            if purchase:
                self.purchases.append(purchase)
            return purchase

    def _buy(self, channel: str, at: datetime, sku: str | None = None) -> Purchase | None:
        shop, rng = self.shops[channel], self._rng[channel]
        if sku is None:
            choices = sorted(s for s, available in shop.live().items() if available >= 1)
            if not choices:
                self.missed += 1
                return None
            sku = rng.choice(choices)
        try:
            order_id = shop.buy(sku, 1)
        except NotBuyable:
            self.missed += 1
            return None
        pending = getattr(shop.backend, "webhook_deliveries", ())
        if self.deliver_webhooks and any(not d.delivered for d in pending):
            _run_async(shop.backend.deliver_webhooks)  # Shopify sends orders/create within seconds
        return Purchase(channel, sku, 1, at, order_id)


def _run_async(make: Callable[[], Any]) -> Any:
    """Run a coroutine to completion from sync code, whether or not this thread has a running loop."""
    result: list[Any] = []
    thread = threading.Thread(target=lambda: result.append(asyncio.run(make())), name="market-webhooks")
    thread.start()
    thread.join()
    return result[0] if result else None


def purchases_json(purchases: list[Purchase]) -> list[dict[str, Any]]:
    return [
        {
            "channel": p.channel,
            "sku": p.sku,
            "quantity": p.quantity,
            "at": p.at.isoformat(),
            "order_id": p.order_id,
        }
        for p in purchases
    ]

"""Every simulated external system, by the prefix it is mounted under.

Adding a system = a subpackage exposing `build(sim) -> FastAPI` plus one line here.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from fastapi import FastAPI

from . import (
    amazon,
    canadapost,
    cashconverters,
    ebay,
    ecb,
    kaufland,
    llm,
    mirakl,
    noelleeming,
    onecheq,
    reverb,
    shopify,
    trademe,
    vintage_and_rare,
)

if TYPE_CHECKING:
    from .app import Simulator


@dataclass(frozen=True)
class SystemSpec:
    name: str  # also the mount prefix: /onecheq
    description: str
    build: Callable[[Simulator], FastAPI]


SYSTEMS: dict[str, SystemSpec] = {
    spec.name: spec
    for spec in (
        SystemSpec("onecheq", "OneCheq supplier: Shopify storefront (products.json, sitemap)", onecheq.build),
        SystemSpec(
            "noelleeming", "Noel Leeming supplier: HTML category pages, JSON-LD products", noelleeming.build
        ),
        SystemSpec(
            "cashconverters", "Cash Converters supplier: second-hand HTML listings", cashconverters.build
        ),
        SystemSpec("llm", "OpenAI-compatible LLM: chat completions, structured output, usage", llm.build),
        SystemSpec("trademe", "Trade Me channel: OAuth 1.0a Selling, Photos, MyTradeMe", trademe.build),
        SystemSpec("shopify", "Shopify channel: Admin REST API, orders/create webhooks", shopify.build),
        SystemSpec("reverb", "Reverb channel: API v3 listings, orders and shipping", reverb.build),
        SystemSpec("ebay", "eBay channel: OAuth2, Sell Inventory and Fulfillment (spec-checked)", ebay.build),
        SystemSpec(
            "canadapost",
            "Canada Post carrier: ncshipment-v4 labels (XSD-checked), PDF labels, tracking",
            canadapost.build,
        ),
        SystemSpec(
            "amazon",
            "Amazon channel: SP-API Listings Items, Product Types, Feeds, Orders 2026-01-01 (model-checked)",
            amazon.build,
        ),
        SystemSpec(
            "mirakl", "Best Buy (Mirakl) channel: orders OR11/OR21/OR23/OR24, inbox M10-M12", mirakl.build
        ),
        SystemSpec(
            "ecb", "European Central Bank: euro reference rates (eurofxref daily, 90 days)", ecb.build
        ),
        SystemSpec(
            "kaufland",
            "Kaufland channel: Seller API v2 (signed), units, order units, tickets (spec-checked)",
            kaufland.build,
        ),
        SystemSpec(
            "vintage_and_rare",
            "Vintage & Rare channel: the dealer website (sign-in, item forms, images, inventory CSV)",
            vintage_and_rare.build,
        ),
    )
}

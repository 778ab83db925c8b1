"""Supplier sites: one adapter per kind of site, chosen by `retail.suppliers.adapter`.

`generic` reads any shop with a sitemap through the generic extractor: a new supplier is a row.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .base import (
    Discovered,
    Known,
    KnownPage,
    NotModified,
    PageFailure,
    ScrapeItem,
    ScrapeResult,
    SiteUnavailable,
    SupplierAdapter,
    collect,
)
from .cashconverters import CashConvertersAdapter
from .generic import GenericSitemapAdapter
from .noelleeming import NoelLeemingAdapter
from .onecheq import ShopifyStorefrontAdapter

ADAPTERS: dict[str, type[SupplierAdapter]] = {
    adapter.kind: adapter
    for adapter in (
        ShopifyStorefrontAdapter,
        NoelLeemingAdapter,
        CashConvertersAdapter,
        GenericSitemapAdapter,
    )
}
# Suppliers that push their products (the n8n/Allegro webhook import); nothing to scrape.
PUSH_ONLY = frozenset({"webhook"})


class UnsupportedAdapter(LookupError):
    pass


def adapter_for(kind: str, config: Mapping[str, Any] | None = None) -> SupplierAdapter:
    """The adapter for a `suppliers.adapter` value, configured from `suppliers.config`."""
    if kind not in ADAPTERS:
        raise UnsupportedAdapter(f"no scraper for adapter {kind!r}; have {sorted(ADAPTERS)}")
    return ADAPTERS[kind].from_config(config or {})


__all__ = [
    "ADAPTERS",
    "PUSH_ONLY",
    "Discovered",
    "Known",
    "KnownPage",
    "NotModified",
    "PageFailure",
    "ScrapeItem",
    "ScrapeResult",
    "SiteUnavailable",
    "SupplierAdapter",
    "UnsupportedAdapter",
    "adapter_for",
    "collect",
]

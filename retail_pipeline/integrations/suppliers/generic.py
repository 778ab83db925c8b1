"""Any shop with a sitemap: sitemap(s) → product pages → the generic extractor.

This is how a new supplier is onboarded without code: a `retail.suppliers` row with adapter
`generic` and, in `config`, optionally `sitemap_url` (default `{base_url}/sitemap.xml`) and
`product_url_pattern` (a regex a product page URL must match; default: every page in the sitemap
except the home page). `retail-pipeline extract-product URL` shows what the extractor makes of one.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Mapping
from typing import Any

from retail_pipeline.catalog_writes.upsert import ProductRecord
from retail_pipeline.integrations.http import Fetched, PoliteClient

from .base import (
    Known,
    PageFailure,
    ScrapeItem,
    SupplierAdapter,
    fetch_pages,
    scrape_product_pages,
)
from .extraction.extract import extract_product
from .noelleeming import record_from_extracted
from .onecheq import parse_sitemap

MAX_SITEMAPS = 200  # a sitemap index pointing at more is a crawl trap, not a catalogue


def _is_sitemap(url: str) -> bool:
    return bool(re.search(r"sitemap[^/]*\.xml(\.gz)?(\?|$)", url, re.I))


class GenericSitemapAdapter(SupplierAdapter):
    kind = "generic"

    def __init__(
        self, *, currency: str = "NZD", sitemap_url: str | None = None, product_url_pattern: str | None = None
    ):
        super().__init__(currency=currency)
        self.sitemap_url = sitemap_url
        self.product_url = re.compile(product_url_pattern) if product_url_pattern else None

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> GenericSitemapAdapter:
        return cls(
            currency=config.get("currency", "NZD"),
            sitemap_url=config.get("sitemap_url"),
            product_url_pattern=config.get("product_url_pattern"),
        )

    def _is_product(self, url: str, base_url: str) -> bool:
        if self.product_url is not None:
            return bool(self.product_url.search(url))
        return url.rstrip("/") != base_url.rstrip("/")

    async def discover(self, client: PoliteClient, base_url: str) -> tuple[list[str], list[PageFailure]]:
        """Page URLs from the sitemap, following sitemap indexes breadth-first."""
        pending, seen = [self.sitemap_url or f"{base_url}/sitemap.xml"], set()
        pages: dict[str, None] = {}
        failures: list[PageFailure] = []
        while pending and len(seen) < MAX_SITEMAPS:
            batch = [url for url in pending if url not in seen][: MAX_SITEMAPS - len(seen)]
            seen.update(batch)
            pending = []
            for result in await fetch_pages(client, batch, parse_sitemap):
                if result.value is None:
                    failures.append(PageFailure(result.url, result.failure or "no sitemap"))
                    continue
                for loc in result.value:
                    if _is_sitemap(loc):
                        pending.append(loc)
                    elif self._is_product(loc, base_url):
                        pages[loc] = None
        return list(pages), failures

    async def scrape(
        self, client: PoliteClient, base_url: str, known: Known = None
    ) -> AsyncIterator[ScrapeItem]:
        urls, failures = await self.discover(client, base_url)

        def parse(fetched: Fetched) -> ProductRecord:
            return record_from_extracted(
                extract_product(fetched.content, fetched.url), fetched, currency=self.currency
            )

        async for item in scrape_product_pages(client, urls, failures, parse, known):
            yield item

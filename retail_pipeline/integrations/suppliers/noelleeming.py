"""Noel Leeming: `/categories` → `/c/{slug}?page=N` → product pages read by the generic extractor.

Product pages carry schema.org JSON-LD (plain or inside an `@graph`), which is exactly what the
generic extractor reads; this module only knows the site's category pages.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator
from urllib.parse import urljoin

from retail_pipeline.catalog_writes.upsert import ProductRecord
from retail_pipeline.integrations.http import Fetched, PoliteClient

from .base import (
    Known,
    Listing,
    PageFailure,
    ParseError,
    ScrapeItem,
    SiteUnavailable,
    SupplierAdapter,
    fetch_page,
    has_class,
    html_document,
    read_listing,
    scrape_product_pages,
    text_of,
)
from .extraction.extract import ExtractedProduct, extract_product

_PAGE_STATUS = re.compile(r"page\s+\d+\s+of\s+(\d+)", re.I)


# --- pure parsing


def parse_categories(fetched: Fetched) -> list[str]:
    doc = html_document(fetched)
    links = doc.xpath(f"//ul[{has_class('category-list')}]//a/@href")
    if not links:
        raise ParseError("no category links")
    return list(dict.fromkeys(urljoin(fetched.url, href) for href in links))


def parse_category_page(fetched: Fetched) -> Listing[str]:
    """Product page URLs on one category page, and the category's page count ("Page 1 of 3")."""
    doc = html_document(fetched)
    status = text_of(next(iter(doc.xpath(f"//*[{has_class('page-status')}]")), None))
    match = _PAGE_STATUS.search(status or "")
    if match is None:
        raise ParseError("no page count")
    links = doc.xpath(f"//div[{has_class('product-tile')}]//a[{has_class('pdp-link')}]/@href")
    return Listing([urljoin(fetched.url, href) for href in links], int(match[1]))


def record_from_extracted(product: ExtractedProduct, fetched: Fetched, *, currency: str) -> ProductRecord:
    """The generic extractor's product as a supplier_products row, with the page's validators."""
    if not product.sku or not product.name:
        raise ParseError("no product name or SKU on the page")
    return ProductRecord(
        sku=product.sku,
        url=fetched.url,
        title=product.name,
        description=product.description,
        brand=product.brand,
        gtin=product.gtin,
        mpn=product.mpn,
        categories=tuple(product.category),
        images=tuple(product.images),
        price=product.price,
        currency=(product.currency or currency) if product.price is not None else None,
        availability=product.availability,
        condition=product.condition,
        raw=({"regular_price": str(product.regular_price)} if product.regular_price is not None else {})
        | ({"parcel_refused": product.parcel_refused} if product.parcel_refused else {}),
        weight_grams=product.weight_grams,
        length_mm=product.length_mm,
        width_mm=product.width_mm,
        height_mm=product.height_mm,
        http_etag=fetched.etag,
        http_last_modified=fetched.last_modified,
    )


# --- the adapter


class NoelLeemingAdapter(SupplierAdapter):
    kind = "jsonld"

    async def scrape(
        self, client: PoliteClient, base_url: str, known: Known = None
    ) -> AsyncIterator[ScrapeItem]:
        categories = await fetch_page(client, f"{base_url}/categories", parse_categories)
        if categories.value is None:
            raise SiteUnavailable(f"{categories.url}: {categories.failure}")
        urls: dict[str, None] = {}  # ordered set: a product may sit in more than one category
        failures: list[PageFailure] = []
        listings = await asyncio.gather(
            *(read_listing(client, c, parse_category_page) for c in categories.value)
        )
        for entries, listing_failures in listings:
            urls.update(dict.fromkeys(entries))
            failures += listing_failures

        def parse(fetched: Fetched) -> ProductRecord:
            return record_from_extracted(
                extract_product(fetched.content, fetched.url), fetched, currency=self.currency
            )

        async for item in scrape_product_pages(client, urls, failures, parse, known):
            yield item

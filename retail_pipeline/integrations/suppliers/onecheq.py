"""Shopify storefronts (OneCheq): the public `/products.json`, one SKU per variant, sitemap fallback.

`/products.json?limit=250&page=N` lists every published product with its variants; past the last
page it answers `{"products": []}`. When that listing is switched off (some shops 404 it) or a page
of it fails, `/sitemap.xml` → `/sitemap_products_N.xml` names every product and the ones still
missing are read one by one from `/products/{handle}.json`.
"""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator, Iterable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote, urlsplit

import lxml.html
from lxml import etree

from retail_pipeline.catalog_writes.upsert import ProductRecord
from retail_pipeline.domain.parcels import storefront_variant_parcel, text_parcel
from retail_pipeline.integrations.http import Fetched, PoliteClient
from retail_pipeline.integrations.suppliers.extraction.identifiers import normalise_gtin
from retail_pipeline.integrations.suppliers.extraction.prices import normalise_condition, parse_amount

from .base import (
    Discovered,
    Known,
    PageFailure,
    ParseError,
    ScrapeItem,
    SiteUnavailable,
    SupplierAdapter,
    fetch_page,
    fetch_pages,
    fragment_text,
    stream_pages,
    text_of,
)

PAGE_LIMIT = 250  # Shopify's maximum for /products.json
# Listing pages fetched at once: each is 250 products' worth of records, and parsing, not the round
# trip, is what a page costs, so a few in flight keep the pace and the memory small.
LISTING_WINDOW = 4
_XML = etree.XMLParser(resolve_entities=False, no_network=True)
# Identifier rows in a description table: "EAN", "MPN (256GB)", "Barcode: …"
_ID_LABEL = re.compile(r"^(?P<kind>ean|gtin|upc|barcode|mpn)\b\s*(?:\((?P<option>[^)]+)\))?\s*:?$", re.I)


# --- pure parsing


def parse_products_page(fetched: Fetched) -> list[dict[str, Any]]:
    """The products of one `/products.json` page (or the one of `/products/{handle}.json`)."""
    try:
        data = json.loads(fetched.content)
    except ValueError as error:
        raise ParseError(f"not JSON: {error}") from error
    if isinstance(data, dict) and isinstance(data.get("product"), dict):
        return [data["product"]]
    if not isinstance(data, dict) or not isinstance(data.get("products"), list):
        raise ParseError("no products list")
    return data["products"]


def parse_sitemap(fetched: Fetched) -> list[str]:
    """<loc>s of a sitemap index (child sitemaps) or of a urlset (pages), in document order."""
    try:
        root = etree.fromstring(fetched.content, _XML)
    except etree.XMLSyntaxError as error:
        raise ParseError(f"not XML: {error}") from error
    return [loc.strip() for loc in root.xpath("/*/*/*[local-name()='loc']/text()")]


def product_handle(url: str) -> str | None:
    """`…/products/{handle}` → handle; None for other pages (the home page opens product sitemaps)."""
    path = urlsplit(url).path
    head, found, handle = path.rpartition("/products/")
    return unquote(handle) if found and handle and "/" not in handle else None


def product_url(base_url: str, handle: str) -> str:
    return f"{base_url}/products/{handle}"


def _tags(value: object) -> list[str]:
    # The list endpoint gives an array, the single-product endpoint one comma-separated string.
    items = value.split(",") if isinstance(value, str) else value or []
    return sorted({str(tag).strip() for tag in items if str(tag).strip()})


def _condition(product: Mapping[str, Any], tags: Iterable[str]) -> str:
    """Shopify has no condition field; shops tag it ("Refurbished") or put it in the title."""
    not_condition = {product.get("vendor"), product.get("product_type")}  # "New Balance" is a brand
    for tag in tags:
        if tag not in not_condition and (condition := normalise_condition(tag)) != "unknown":
            return condition
    suffix = str(product.get("title", "")).rpartition(" - ")[2]
    return normalise_condition(suffix) if suffix != product.get("title") else "unknown"


def _labelled_ids(root: etree._Element | None) -> dict[tuple[str, str | None], str]:
    """{("gtin"|"mpn", variant option or None): value} from the description's spec table."""
    if root is None:
        return {}
    ids: dict[tuple[str, str | None], str] = {}
    for row in root.iter("tr"):
        cells = [text_of(cell) for cell in row if cell.tag in ("td", "th")]
        if len(cells) != 2 or not cells[0] or not cells[1]:
            continue
        match = _ID_LABEL.match(cells[0])
        if match:
            kind = "mpn" if match["kind"].lower() == "mpn" else "gtin"
            ids[(kind, match["option"])] = cells[1]
    return ids


def variant_records(product: Mapping[str, Any], *, base_url: str, currency: str) -> list[ProductRecord]:
    """One record per variant. Both product shapes (list and single endpoint) give the same records,
    so a product read through the sitemap fallback does not look changed; only availability is
    missing from the single shape (Shopify leaves `available` out of it)."""
    handle = product["handle"]
    tags = _tags(product.get("tags"))
    condition = _condition(product, tags)
    # The description is parsed once: its spec table is read, then its text (which marks up the tree).
    body_html = product.get("body_html")
    body = lxml.html.fragment_fromstring(body_html, create_parent="div") if body_html else None
    ids = _labelled_ids(body)
    description = fragment_text(body) if body is not None and body_html.strip() else None
    images = tuple(
        image["src"] for image in sorted(product.get("images") or [], key=lambda i: i.get("position") or 0)
    )
    variants = product.get("variants") or []
    described = text_parcel(description)
    records = []
    for variant in variants:
        option = variant.get("title")
        option = option if option and option != "Default Title" else None
        price = parse_amount(variant.get("price"))
        available = variant.get("available")
        # Variant grams first; the description's "Weight:"/"Dimensions:" lines for what they lack.
        parcel = storefront_variant_parcel(variant).or_else(described)
        records.append(
            ProductRecord(
                # A variant without a SKU still needs a stable key: its Shopify id is one.
                sku=str(variant.get("sku") or "").strip() or f"{handle}:{variant['id']}",
                url=product_url(base_url, handle),
                title=f"{product['title']} - {option}" if option and len(variants) > 1 else product["title"],
                description=description,
                brand=product.get("vendor") or None,
                gtin=normalise_gtin(
                    variant.get("barcode") or ids.get(("gtin", option)) or ids.get(("gtin", None))
                ),
                mpn=ids.get(("mpn", option)) or ids.get(("mpn", None)),
                categories=(product["product_type"],) if product.get("product_type") else (),
                images=images,
                price=price,
                currency=currency if price is not None else None,
                availability="unknown" if available is None else "in_stock" if available else "out_of_stock",
                condition=condition,
                raw={
                    "product_id": product.get("id"),
                    "variant_id": variant.get("id"),
                    "handle": handle,
                    "option": option,
                    "compare_at_price": variant.get("compare_at_price"),
                    "grams": variant.get("grams"),
                    "tags": tags,
                }
                | ({"parcel_refused": list(parcel.rejected)} if parcel.rejected else {}),
                **parcel.columns(),
            )
        )
    return records


# --- the adapter


class ShopifyStorefrontAdapter(SupplierAdapter):
    kind = "shopify_storefront"

    async def scrape(
        self, client: PoliteClient, base_url: str, known: Known = None
    ) -> AsyncIterator[ScrapeItem]:
        """The listing a window of pages at a time, each page's products turned into records at once;
        then, if the listing had a gap or is switched off, the sitemap for the products it missed."""
        listed: set[str] = set()  # handles the listing gave, so the sitemap reads only the others
        failed: list[PageFailure] = []  # the first few, for the message when nothing could be read
        complete = False
        next_page, window = 1, 1  # page 1 alone first (most shops fit on it), then wider windows

        def parse(fetched: Fetched) -> tuple[list[str], list[ScrapeItem]]:
            # Records at once, so a window of pages holds records, not the bigger parsed JSON.
            products = parse_products_page(fetched)
            items = [item for product in products for item in self._records(product, base_url)]
            return [product.get("handle") for product in products], items

        while True:
            numbers = range(next_page, next_page + window)
            pages = await fetch_pages(
                client, [f"{base_url}/products.json?limit={PAGE_LIMIT}&page={n}" for n in numbers], parse
            )
            lengths = []
            for page in pages:
                if page.value is None:
                    failure = PageFailure(page.url, page.failure or "")
                    failed = [*failed, failure][:3]
                    yield failure
                    continue
                handles, items = page.value
                lengths.append(len(handles))
                listed.update(handles)
                for item in items:
                    yield item
            if any(n < PAGE_LIMIT for n in lengths):
                complete = not failed
                break
            if not lengths:  # a whole window failed: where the listing ends is unknown
                break
            next_page, window = next_page + window, min(LISTING_WINDOW, client.policy.max_concurrency)
        read = len(listed)  # products read: listed, or loaded one by one
        if not complete:
            fallback = _Progress()
            async for item in self._from_sitemap(client, base_url, listed, fallback):
                if isinstance(item, PageFailure):
                    failed = [*failed, item][:3]
                yield item
            complete = fallback.complete
            read += fallback.read
        if not read and not complete:
            raise SiteUnavailable("; ".join(f"{f.url}: {f.reason}" for f in failed))
        yield Discovered(read, complete=complete)

    def _records(self, product: Mapping[str, Any], base_url: str) -> list[ScrapeItem]:
        try:
            return list(variant_records(product, base_url=base_url, currency=self.currency))
        except (KeyError, TypeError, ValueError) as error:  # ValueError covers pydantic's
            url = product_url(base_url, product.get("handle", "?"))
            return [PageFailure(url, f"invalid product: {type(error).__name__}: {error}")]

    async def _from_sitemap(
        self, client: PoliteClient, base_url: str, listed: set[str], progress: _Progress
    ) -> AsyncIterator[ScrapeItem]:
        """Products the listing missed, named by the sitemaps and read one by one. Complete when every
        product sitemap was read; a product that will not load is a failure against its URL."""
        index = await fetch_page(client, f"{base_url}/sitemap.xml", parse_sitemap)
        if index.value is None:
            yield PageFailure(index.url, index.failure or "")
            return
        product_maps = [loc for loc in index.value if "sitemap_products_" in urlsplit(loc).path]
        failed = False
        handles: dict[str, None] = {}  # ordered set: sitemap order is the shop's order
        for sitemap in await fetch_pages(client, product_maps, parse_sitemap):
            if sitemap.value is None:
                failed = True
                yield PageFailure(sitemap.url, sitemap.failure or "")
                continue
            handles.update(
                dict.fromkeys(h for h in map(product_handle, sitemap.value) if h and h not in listed)
            )
        progress.complete = bool(product_maps) and not failed
        urls = (f"{product_url(base_url, handle)}.json" for handle in handles)
        async for page in stream_pages(client, urls, parse_products_page):
            url = page.url.removesuffix(".json")
            if page.value is None:
                yield PageFailure(url, f"{page.url}: {page.failure}")
                continue
            progress.read += len(page.value)
            for product in page.value:
                for item in self._records(product, base_url):
                    yield item


@dataclass
class _Progress:
    """What the sitemap fallback found, told back to `scrape` (a generator cannot return it)."""

    complete: bool = False
    read: int = 0

"""Cash Converters: `/shop/search?page=N` product cards → `/shop/item/{id}` pages, read by selectors.

No structured data on these pages, so the selectors below are the contract with the site: the item
title, price, gallery, the details table (store, condition, brand, model, category, item number,
barcode) and the description with its condition notes. Every item is a one-off second-hand piece.
"""

from __future__ import annotations

import math
import re
from collections.abc import AsyncIterator
from urllib.parse import urljoin

from retail_pipeline.catalog_writes.upsert import ProductRecord
from retail_pipeline.domain.parcels import text_parcel
from retail_pipeline.integrations.http import Fetched, PoliteClient
from retail_pipeline.integrations.suppliers.extraction.identifiers import normalise_gtin
from retail_pipeline.integrations.suppliers.extraction.prices import normalise_condition, parse_price

from .base import (
    Known,
    Listing,
    ParseError,
    ScrapeItem,
    SupplierAdapter,
    has_class,
    html_document,
    read_listing,
    scrape_product_pages,
    text_of,
)

_TOTAL = re.compile(r"of\s+([\d,]+)\s+items?", re.I)
_STORE_BRAND = re.compile(r"^cash\s*converters\s+", re.I)


# --- pure parsing


def parse_search_page(fetched: Fetched) -> Listing[str]:
    """Item URLs on one results page, and the page count from "Showing 1–24 of 61 items"."""
    doc = html_document(fetched)
    summary = text_of(next(iter(doc.xpath(f"//*[{has_class('search-summary')}]")), None))
    match = _TOTAL.search(summary or "")
    if match is None:
        raise ParseError("no result count")
    links = doc.xpath(f"//article[{has_class('product-card')}]//a[{has_class('product-card__link')}]/@href")
    total = int(match[1].replace(",", ""))
    pages = math.ceil(total / len(links)) if links else 1
    return Listing([urljoin(fetched.url, href) for href in links], pages)


def normalise_store(name: str | None) -> str | None:
    """ "Cash Converters New Lynn" → "New Lynn": the branch, as operators say it."""
    if not name:
        return None
    return _STORE_BRAND.sub("", re.sub(r"\s+", " ", name).strip()) or None


def condition_grade(label: str | None) -> str | None:
    """ "Used - Excellent" → "Excellent"; the grade the normalised condition drops."""
    if not label or "-" not in label:
        return None
    return label.split("-", 1)[1].strip() or None


def parse_item_page(fetched: Fetched, *, currency: str) -> ProductRecord:
    doc = html_document(fetched)
    item = next(iter(doc.xpath(f"//article[{has_class('item')}]")), None)
    details = {
        text_of(row.find("th")): text_of(row.find("td"))
        for row in doc.xpath(f"//table[{has_class('item-details')}]//tr")
        if row.find("th") is not None
    }
    title = text_of(next(iter(doc.xpath(f"//h1[{has_class('item-title')}]")), None))
    item_number = details.get("Item number") or (item.get("data-item-id") if item is not None else None)
    if not title or not item_number or not details.get("Condition"):
        raise ParseError("no item title, number or details table")
    price_text = text_of(next(iter(doc.xpath(f"//*[{has_class('item-price')}]")), None))
    price, price_currency = parse_price(price_text, hint_currency=currency) if price_text else (None, None)
    description = doc.xpath(f"//div[{has_class('item-description')}]/p")
    notes = [text_of(li) for li in doc.xpath(f"//ul[{has_class('item-condition-notes')}]/li")]
    condition = details["Condition"]
    description_text = "\n".join(filter(None, [text_of(p) for p in description] + notes)) or None
    parcel = text_parcel(
        "\n".join(f"{k}: {v}" for k, v in details.items() if k and v) + f"\n{description_text or ''}"
    )
    return ProductRecord(
        sku=item_number,
        url=fetched.url,
        title=title,
        description=description_text,
        brand=details.get("Brand"),
        gtin=normalise_gtin(details.get("Barcode")),
        categories=(details["Category"],) if details.get("Category") else (),
        images=tuple(
            urljoin(fetched.url, src) for src in doc.xpath(f"//div[{has_class('item-gallery')}]//img/@src")
        ),
        price=price,
        currency=(price_currency or currency) if price is not None else None,
        # A listed item is for sale until it sells, and then its page is gone.
        availability="in_stock" if doc.xpath(f"//button[{has_class('item-buy')}]") else "unknown",
        condition=normalise_condition(condition),
        raw={
            "store": normalise_store(details.get("Store")),
            "condition_label": condition,
            "grade": condition_grade(condition),
            "model": details.get("Model"),
        }
        | ({"parcel_refused": list(parcel.rejected)} if parcel.rejected else {}),
        **parcel.columns(),
        http_etag=fetched.etag,
        http_last_modified=fetched.last_modified,
    )


# --- the adapter


class CashConvertersAdapter(SupplierAdapter):
    kind = "html"

    async def scrape(
        self, client: PoliteClient, base_url: str, known: Known = None
    ) -> AsyncIterator[ScrapeItem]:
        # The unfiltered search lists every item once, which category pages would not promise.
        urls, failures = await read_listing(client, f"{base_url}/shop/search", parse_search_page)

        def parse(fetched: Fetched) -> ProductRecord:
            return parse_item_page(fetched, currency=self.currency)

        async for item in scrape_product_pages(client, list(dict.fromkeys(urls)), failures, parse, known):
            yield item

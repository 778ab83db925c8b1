"""<meta> layers: OpenGraph / Facebook product tags ("opengraph") and the rest ("meta": twitter
labels, itemprop meta tags outside any itemscope, plain name=description)."""

from __future__ import annotations

import re

from retail_pipeline.integrations.suppliers.extraction.prices import (
    clean_text,
    currency_code,
    normalise_availability,
    normalise_condition,
    parse_amount,
    parse_price,
)

from .identifiers import clean_sku, normalise_gtin
from .page import Page
from .structured import Fields


def _first(meta: dict[str, str], *keys: str) -> str | None:
    for key in keys:
        if meta.get(key):
            return clean_text(meta[key])
    return None


def opengraph_fields(page: Page) -> Fields:
    meta = page.meta
    fields: Fields = {}
    currency = currency_code(
        _first(meta, "product:price:currency", "og:price:currency", "product:sale_price:currency")
    )
    sale = parse_amount(_first(meta, "product:sale_price:amount"))
    price = parse_amount(_first(meta, "product:price:amount", "og:price:amount", "product:price"))
    if sale is not None and price is not None and sale < price:
        # Facebook catalogue tags: price is the regular price, sale_price what the buyer pays.
        fields.update(price=sale, regular_price=price)
    elif price is not None or sale is not None:
        fields["price"] = price if price is not None else sale
    # The pre-sale price under its catalogue names ("standard_amount": Williams-Sonoma-style tags).
    original = parse_amount(
        _first(
            meta, "product:original_price:amount", "og:price:standard_amount", "product:price:standard_amount"
        )
    )
    if original is not None and fields.get("price") is not None and original > fields["price"]:
        fields["regular_price"] = original
    if fields.get("price") is not None:
        fields["currency"] = currency
    fields["name"] = _first(meta, "og:title")
    fields["description"] = _first(meta, "og:description")
    fields["brand"] = _first(meta, "product:brand", "og:brand")
    fields["sku"] = clean_sku(
        _first(meta, "product:retailer_item_id", "product:sku", "og:sku", "product:retailer_part_no")
    )
    fields["mpn"] = _first(meta, "product:mfr_part_no")
    fields["gtin"] = next(
        (
            g
            for k in (
                "product:gtin",
                "product:ean",
                "product:upc",
                "product:isbn",
                "og:upc",
                "og:ean",
                "og:isbn",
            )
            if (g := normalise_gtin(meta.get(k)))
        ),
        None,
    )
    availability = _first(meta, "product:availability", "og:availability")
    if availability:
        fields["availability"] = normalise_availability(availability)
    condition = _first(meta, "product:condition", "og:condition")
    if condition:
        fields["condition"] = normalise_condition(condition)
    image = page.absolute(meta.get("og:image:secure_url") or meta.get("og:image") or meta.get("og:image:url"))
    if image:
        fields["images"] = [image]
    category = _first(meta, "product:category")
    if category and not category.isdigit():
        fields["category"] = [c for c in re.split(r"\s*(?:>|/|»|›)\s*", category) if c]
    return {k: v for k, v in fields.items() if v not in (None, "", [], "unknown")}


def meta_fields(page: Page) -> Fields:
    meta = page.meta
    fields: Fields = {}
    # Twitter product cards: label1/data1, label2/data2 ("PRICE" / "LBP139999.00", "Availability" / …).
    for n in range(1, 5):
        label, data = (meta.get(f"twitter:label{n}") or "").lower(), meta.get(f"twitter:data{n}")
        if not data:
            continue
        if re.search(r"price|preis|prix|precio|prezzo|cena|pre[cç]o|価格", label):
            amount, currency = parse_price(data)
            if amount is not None:
                fields.update(price=amount, currency=currency)
        elif re.search(r"availab|stock|verfügbar|disponib", label):
            fields["availability"] = normalise_availability(data)
    # <meta itemprop> outside an itemscope (microdata would have taken it otherwise).
    if "price" in meta and "price" not in fields:
        amount = parse_amount(meta["price"])
        if amount is not None:
            fields.update(price=amount, currency=currency_code(meta.get("pricecurrency")))
    fields["sku"] = clean_sku(meta.get("sku") or meta.get("productid"))
    fields["gtin"] = next(
        (
            g
            for k in ("gtin13", "gtin", "gtin12", "gtin14", "gtin8", "ean")
            if (g := normalise_gtin(meta.get(k)))
        ),
        None,
    )
    fields["mpn"] = meta.get("mpn")
    fields["brand"] = meta.get("brand")
    if meta.get("availability"):
        fields["availability"] = normalise_availability(meta["availability"])
    fields["name"] = _first(meta, "twitter:title", "title")
    fields["description"] = _first(meta, "description", "twitter:description")
    image = page.absolute(meta.get("twitter:image") or meta.get("twitter:image:src") or meta.get("image"))
    if image:
        fields["images"] = [image]
    return {k: v for k, v in fields.items() if v not in (None, "", [], "unknown")}

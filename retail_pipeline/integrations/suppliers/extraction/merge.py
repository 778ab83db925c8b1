"""Merging the layers into one product, most trusted first, and the rules for when the visible page
overrides the markup.

Trust order: JSON-LD, microdata, OpenGraph, other <meta>, then the visible page. Markup is what the
shop meant machines to read, so it wins by default; the visible page wins only where it positively
contradicts the markup (see `_reconcile_price` and `_reconcile_availability`), because stale markup is
the commonest error on real shops and the page is what the customer pays.
"""

from __future__ import annotations

import re
from decimal import Decimal
from itertools import islice
from typing import Any

from retail_pipeline.domain.parcels import SupplierParcel, structured_parcel, text_parcel
from retail_pipeline.integrations.suppliers.extraction.prices import clean_text, currency_from_host

from .identifiers import clean_sku, url_id_tokens, url_item_code
from .meta import meta_fields, opengraph_fields
from .model import ExtractedProduct
from .page import Page
from .structured import Fields, jsonld_documents, microdata_documents, product_fields
from .visible import VisiblePage, heading_text, strip_home

_TITLE_SEPARATORS = re.compile(r"\s+(?:\||–|—|·|»|::|-|:)\s+|(?<=\w):\s+")


def markup_layers(page: Page) -> list[tuple[str, Fields]]:
    """The schema.org layers alone (what a markup-only extractor sees)."""
    return [
        ("jsonld", product_fields(jsonld_documents(page), page)),
        ("microdata", product_fields(microdata_documents(page), page)),
    ]


def extract_from_page(page: Page) -> ExtractedProduct:
    layers = markup_layers(page) + [("opengraph", opengraph_fields(page)), ("meta", meta_fields(page))]
    visible = VisiblePage(page)
    product: dict[str, Any] = {"url": page.url}
    sources: dict[str, str] = {}

    def take(name: str, value: Any, source: str) -> None:
        if value not in (None, "", []) and name not in product:
            product[name] = value
            sources[name] = source

    def first_layer(name: str) -> tuple[Any, str | None]:
        for source, fields in layers:
            if fields.get(name) not in (None, "", []):
                return fields[name], source
        return None, None

    _name(page, layers, visible, take)
    for name in ("brand", "mpn", "gtin", "description", "condition"):
        value, source = first_layer(name)
        if source:
            take(name, value, source)
    # The visible page is read only for fields the markup left empty (its work is lazy and cached).
    if "brand" not in product:
        take("brand", visible.brand, "html")
    for name in ("mpn", "gtin", "condition"):
        if name not in product:
            take(name, visible.labelled.get(name), "html")
    if "description" not in product:
        take("description", visible.description, "html")
    _sku(page, layers, visible, product, take)
    _price(page, layers, visible, take)
    _availability(layers, visible, take)
    _images(layers, visible, product, sources)
    _category(layers, visible, product, take)
    _parcel(layers, visible, product, sources)
    product.setdefault("availability", "unknown")
    product.setdefault("condition", "unknown")
    return ExtractedProduct(**product, sources=sources)


# --- weight and box ---------------------------------------------------------------------------------


def _parcel(layers: list[tuple[str, Fields]], visible: VisiblePage, product: dict, sources: dict) -> None:
    """Markup's weight/depth/width/height first; the visible text ("Weight: 2.3 kg", "30 x 20 x 10 cm")
    only for what the markup lacks."""
    parcel, source = SupplierParcel(), None
    for name, fields in layers:
        if fields.get("parcel") and name in ("jsonld", "microdata"):
            parcel = structured_parcel(**fields["parcel"])
            source = name
            break
    if parcel.weight_grams is None or parcel.sides_mm is None:
        from_text = text_parcel(visible.text)
        if not from_text.empty:
            source = source if parcel.weight_grams is not None else "html"
        parcel = parcel.or_else(from_text)
    columns = parcel.columns()
    product.update({k: v for k, v in columns.items() if v is not None})
    if parcel.rejected:
        product["parcel_refused"] = list(parcel.rejected)
    if parcel.weight_grams is not None and source:
        sources["weight_grams"] = source


# --- name -------------------------------------------------------------------------------------------


def _site_names(page: Page) -> set[str]:
    names = {
        page.meta.get("og:site_name", ""),
        page.meta.get("application-name", ""),
        page.meta.get("apple-mobile-web-app-title", ""),
    }
    host = page.host or ""
    labels = [p for p in host.split(".") if p not in ("www", "shop", "store", "m")]
    if labels:
        names.add(labels[0])
    return {_squash(n) for n in names if n}


def _squash(text: str) -> str:
    return re.sub(r"\W+", "", text).lower()


def clean_title(title: str | None, page: Page) -> str | None:
    """A page/OpenGraph title without the shop's name and tag lines ("Anvil - New | ACME" -> "Anvil")."""
    if not title:
        return None
    title = clean_text(title)
    sites = _site_names(page)
    parts = _TITLE_SEPARATORS.split(title)
    kept = [
        p
        for p in parts
        if _squash(p) not in sites
        and not any(s and s in _squash(p) and len(_squash(p)) <= len(s) + 4 for s in sites)
    ]
    if not kept:
        return title
    if len(kept) == len(parts) and " | " not in title:
        return title  # nothing to remove: the dashes belong to the name
    return kept[0] if "|" in title or len(kept) < len(parts) else title


def _overlap(a: str, b: str) -> float:
    ta, tb = set(re.findall(r"\w+", a.lower())), set(re.findall(r"\w+", b.lower()))
    return len(ta & tb) / len(ta) if ta else 0.0


def _name(page: Page, layers, visible: VisiblePage, take) -> None:
    for source, fields in layers[:2]:
        if fields.get("name"):
            take("name", fields["name"], source)
            return
    heading = heading_text(visible)
    titles = [
        (clean_title(layers[2][1].get("name"), page), "opengraph"),
        (clean_title(layers[3][1].get("name"), page), "meta"),
        (clean_title(page.title, page), "html"),
    ]
    titles = [(t, s) for t, s in titles if t]
    # The h1 is the product's visible name unless it shares nothing with the page's titles (a
    # site banner or a "Welcome" heading); one-word titles ("Shop") say nothing either way.
    telling = [t for t, _ in titles if len(t.split()) > 1]
    if (
        heading
        and len(heading) <= 300
        and (not telling or any(max(_overlap(heading, t), _overlap(t, heading)) >= 0.5 for t in telling))
    ):
        take("name", heading, "html")
    elif titles:
        take("name", *titles[0])
    elif heading:
        take("name", heading, "html")


# --- identifiers ------------------------------------------------------------------------------------


def _sku(page: Page, layers, visible: VisiblePage, product: dict, take) -> None:
    # A SKU the markup or the page names as such first, then product IDs (markup productID, a
    # "Product ID:" label), which are often database keys.
    for key in ("sku", "product_id"):
        for source, fields in layers:
            sku = clean_sku(fields.get(key))
            if sku:
                take("sku", sku, source)
                return
        take("sku", visible.labelled.get(key) or (visible.data_sku if key == "sku" else None), "html")
        if "sku" in product:
            return
    # An ID in the product URL that the page itself shows (or repeats in its markup) is the shop's
    # own key for the product; IDs that are part of the product name are model numbers, not SKUs.
    name = product.get("name") or ""
    for token in url_id_tokens(page.url):
        if token in name:
            continue
        pattern = rf"(?<![\w-]){re.escape(token)}(?![\w-])"
        if re.search(pattern, visible.text) or len(re.findall(pattern, page.html)) >= 2:
            take("sku", token, "url")
            return
    links = (page.absolute(a.get("href")) for a in page.body.iter("a") if a.get("href"))
    take("sku", url_item_code(page.url, (link for link in links if link)), "url")
    take("sku", product.get("gtin"), product.get("gtin") and "html")


# --- price ------------------------------------------------------------------------------------------


def _reconcile_price(markup: Decimal, visible: VisiblePage) -> tuple[Decimal, bool]:
    """(price, taken from the page?) when markup and the visible page may disagree.

    Rules, in order:
    0. Markup equal to a price the page labels as excluding sales tax, with the price including tax
       shown beside it: the customer pays the latter.
    1. Markup in minor units (7000 for $70.00) when the page shows exactly a hundredth of it.
    2. Markup equal to a struck-through/"was" price while a lower current price is shown: the markup
       is the pre-sale price.
    3. Markup nowhere on the page while a strong current price is (a price element with a currency,
       next to the heading or buy button): the markup is stale.
    Otherwise the markup stands (prices rendered by JavaScript are absent from the HTML, which is
    no contradiction).
    """
    gross = visible.gross_for(markup)
    if gross is not None:
        return gross.amount, True  # markup gave the price before tax; the page shows what is paid
    current = visible.current_price
    if current is None or current.amount == markup:
        return markup, False
    if markup == markup.to_integral_value() and markup / 100 == current.amount:
        return current.amount, True
    if markup in visible.old_amounts and current.amount < markup:
        return current.amount, True
    if current.strong and markup not in visible.shown_amounts and current.score >= 4.0:
        return current.amount, True
    return markup, False


def _price(page: Page, layers, visible: VisiblePage, take) -> None:
    markup_price, source, currency, regular = None, None, None, None
    for layer_source, fields in layers:
        if fields.get("price") is not None:
            markup_price, source = fields["price"], layer_source
            currency, regular = fields.get("currency"), fields.get("regular_price")
            break
    if markup_price is not None:
        sale = _sale_in_later_layer(layers, markup_price)
        if sale is not None:
            (regular, markup_price), source = (markup_price, sale[0]), sale[1]
    current = visible.current_price
    if markup_price is not None:
        price, from_page = _reconcile_price(markup_price, visible)
        if from_page:
            take("price", price, "html")
            # A markup price above the page's is its regular price, unless it was the same price in
            # minor units (24999 for 249.99).
            if price < markup_price != price * 100 and (regular is None or regular <= price):
                regular = markup_price
        else:
            take("price", price, source)
    elif current is not None:
        price = current.amount
        take("price", price, "html")
    else:
        return
    if regular is None or regular <= price:
        regular = visible.regular_price_near(price)
    if regular is not None and regular > price:
        take("regular_price", regular, "html" if regular in visible.old_amounts else source)
    currency_source = source
    if currency is None:
        for layer_source, fields in layers:
            if fields.get("currency"):
                currency, currency_source = fields["currency"], layer_source
                break
    if currency is None and current is not None and current.currency:
        currency, currency_source = current.currency, "html"
    if currency is None:
        currency, currency_source = currency_from_host(page.host), "url"
    if currency is None and current is not None and _shows_dollar(page, current.element):
        # A bare "$" on a shop with no country domain (.com, .shop): the US dollar, by far the commonest.
        currency, currency_source = "USD", "html"
    take("currency", currency, currency_source)


def _sale_in_later_layer(layers, price: Decimal) -> tuple[Decimal, str] | None:
    """(sale price, layer) when another markup layer names `price` as its regular (pre-sale) price
    and gives a lower current one: the first layer carries the price before the sale (JSON-LD
    150.00 beside product:price:amount 120.00 and og:price:standard_amount 150.00)."""
    for source, fields in layers:
        other = fields.get("price")
        if other is not None and other < price and fields.get("regular_price") == price:
            return other, source
    return None


def _shows_dollar(page: Page, el) -> bool:
    """Whether the price element, or the price it is a part of ("$" + "24" + "99"), shows a "$"."""
    return any("$" in page.text(node) for node in (el, *islice(el.iterancestors(), 2)))


# --- availability -----------------------------------------------------------------------------------


def _availability(layers, visible: VisiblePage, take) -> None:
    for source, fields in layers:
        value = fields.get("availability")
        if value and value != "unknown":
            # Markup says buyable, but the page says sold out and offers no working buy button:
            # the markup is stale (shops often leave InStock in templates).
            if value in ("in_stock", "limited") and visible.availability in ("out_of_stock", "discontinued"):
                take("availability", visible.availability, "html")
            else:
                take("availability", value, source)
            return
    take("availability", visible.availability if visible.availability != "unknown" else None, "html")


# --- images and category ----------------------------------------------------------------------------


def _images(layers, visible: VisiblePage, product: dict, sources: dict) -> None:
    images: list[str] = []
    for source, fields in [*layers, ("html", {"images": visible.gallery_images})]:
        new = [i for i in fields.get("images") or [] if i not in images]
        if new and not images:
            sources["images"] = source
        images.extend(new)
    product["images"] = images[:30]


def _category(layers, visible: VisiblePage, product: dict, take) -> None:
    def candidates():
        for source, fields in layers[:2]:
            yield fields.get("category"), source
        yield visible.breadcrumbs, "html"  # read only when the schema.org layers have no category
        for source, fields in layers[2:]:
            yield fields.get("category"), source

    for crumbs, source in candidates():
        cleaned = strip_home(crumbs or [], product.get("name"))
        if cleaned:
            take("category", cleaned, source)
            return

"""schema.org markup: JSON-LD and microdata, read into one shape and reduced to one product's fields.

Both layers become plain dicts in JSON-LD form ({"@type": "Product", "offers": {...}}), so one set of
rules picks the page's product (the variant the URL names, else the first offer) and its price.
JSON-LD on real pages is often not JSON: CDATA wrappers, HTML comments, trailing commas, raw
newlines in strings, several objects in one block, JavaScript object syntax. Each is repaired in
turn, cheapest first.
"""

from __future__ import annotations

import json
import re
from decimal import Decimal
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import chompjs
from extruct.w3cmicrodata import MicrodataExtractor
from lxml import etree

from retail_pipeline.integrations.suppliers.extraction.prices import (
    clean_text,
    currency_code,
    normalise_availability,
    normalise_condition,
    parse_amount,
    parse_price,
)

from .identifiers import normalise_gtin
from .page import Page

Fields = dict[str, Any]

_PRODUCT_TYPES = {
    "product",
    "productgroup",
    "individualproduct",
    "productmodel",
    "someproducts",
    "vehicle",
    "car",
    "motorcycle",
}
_OFFER_KEYS = ("offers", "offer")
# Nodes under these keys describe other products; never take them for the page's own.
_OTHER_PRODUCT_KEYS = {
    "isrelatedto",
    "issimilarto",
    "isaccessoryorsparepartfor",
    "isconsumablefor",
    "relatedlink",
    "review",
    "reviews",
    "itemlistelement",
    "isvariantof",
    "hasvariant",
    "model",
    "mentions",
    "subjectof",
    "about",
}
_REGULAR_PRICE_TYPES = re.compile(r"listprice|strikethrough|msrp|srp|regular|original|was", re.I)
_GTIN_KEYS = ("gtin13", "gtin", "gtin12", "gtin14", "gtin8", "ean", "isbn", "upc", "gtin13s")


# --- loading --------------------------------------------------------------------------------------


_CDATA_WRAPPER = re.compile(r"^\s*(//)?\s*<!\[CDATA\[|(//)?\s*\]\]>\s*$")
_COMMENT_WRAPPER = re.compile(r"^\s*<!--|-->\s*$")
_LEADING_BLOCK_COMMENT = re.compile(r"^\s*/\*.*?\*/", re.S)
_TRAILING_COMMA = re.compile(r",\s*([}\]])")
_LINE_COMMENT = re.compile(r"(?m)^\s*//[^\n\"]*$")


def _json_candidates(raw: str) -> list[Any]:
    text = raw.strip()
    # Each wrapper is looked for only when its marker is there at all (the patterns cannot match
    # without it): most blocks are plain JSON, and these patterns scan every position of the text.
    if "<![CDATA[" in text or "]]>" in text:
        text = _CDATA_WRAPPER.sub("", text).strip()
    if "<!--" in text or "-->" in text:
        text = _COMMENT_WRAPPER.sub("", text).strip()
    if "/*" in text:
        text = _LEADING_BLOCK_COMMENT.sub("", text).strip()
    text = text.rstrip(";").strip()
    if not text:
        return []
    try:
        return [json.loads(text, strict=False)]
    except ValueError:
        pass
    repaired = _TRAILING_COMMA.sub(r"\1", text)
    repaired = _LINE_COMMENT.sub("", repaired)
    try:
        return [json.loads(repaired, strict=False)]
    except ValueError:
        pass
    objects = _raw_decode_all(repaired)
    if objects:
        return objects
    try:
        parsed = chompjs.parse_js_object(repaired)
    except (ValueError, TypeError):
        return []
    return [parsed]


def _raw_decode_all(text: str) -> list[Any]:
    """Several JSON values back to back ("{...}{...}" or "{...},{...}") in one script block."""
    decoder = json.JSONDecoder(strict=False)
    out: list[Any] = []
    index = 0
    while index < len(text):
        while index < len(text) and text[index] in " \t\r\n,;":
            index += 1
        if index >= len(text):
            break
        try:
            value, index = decoder.raw_decode(text, index)
        except ValueError:
            return out
        out.append(value)
    return out


def jsonld_documents(page: Page) -> list[Any]:
    docs: list[Any] = []
    for script in page.tree.iter("script"):
        kind = (script.get("type") or "").lower()
        if "ld+json" in kind or "json+ld" in kind:
            docs.extend(_json_candidates(script.text or ""))
    return docs


_HAS_ITEMSCOPE = etree.XPath("boolean(//*[@itemscope])")


def microdata_documents(page: Page) -> list[Any]:
    if not _HAS_ITEMSCOPE(page.tree):
        return []  # no items: what the extractor would find, without its two passes over the tree
    extractor = MicrodataExtractor(add_text_content=False, add_html_node=False)
    try:
        items = extractor.extract_items(page.tree, page.resolve_base or "")
    except Exception:  # noqa: BLE001 - extruct raises anything on broken markup; the layer just goes empty
        return []
    return [_from_microdata(item) for item in items]


def _from_microdata(item: Any) -> Any:
    if isinstance(item, list):
        return [_from_microdata(v) for v in item]
    if not isinstance(item, dict) or "properties" not in item:
        return item
    types = item.get("type") or []
    node: dict[str, Any] = {
        "@type": [_short_type(t) for t in (types if isinstance(types, list) else [types])]
    }
    if item.get("id"):
        node["@id"] = item["id"]
    for key, value in item["properties"].items():
        node[key] = _from_microdata(value)
    return node


# --- walking --------------------------------------------------------------------------------------


def _short_type(value: Any) -> str:
    return str(value).rstrip("/").rsplit("/", 1)[-1].rsplit(":", 1)[-1].rsplit("#", 1)[-1]


def types_of(node: dict) -> set[str]:
    raw = node.get("@type") or node.get("type") or []
    values = raw if isinstance(raw, list) else [raw]
    return {_short_type(v).lower() for v in values if isinstance(v, str)}


def _walk(value: Any, parent_key: str = "", nested_in_product: bool = False):
    """Yield (node, top_level) for every dict; top_level is False under keys naming other products."""
    if isinstance(value, list):
        for item in value:
            yield from _walk(item, parent_key, nested_in_product)
    elif isinstance(value, dict):
        is_other = parent_key.lower() in _OTHER_PRODUCT_KEYS or nested_in_product
        yield value, not is_other
        is_product = bool(types_of(value) & _PRODUCT_TYPES)
        for key, child in value.items():
            if isinstance(child, (dict, list)):
                yield from _walk(
                    child,
                    key,
                    nested_in_product=is_other or (is_product and key != "offers" and key not in ("brand",)),
                )


def _id_index(docs: list[Any]) -> dict[str, dict]:
    index: dict[str, dict] = {}
    for node, _ in _walk(docs):
        node_id = node.get("@id")
        if isinstance(node_id, str) and len(node) > 1:
            index.setdefault(node_id, node)
    return index


def _resolve(value: Any, index: dict[str, dict]) -> Any:
    if isinstance(value, dict) and set(value) <= {"@id", "@type"} and value.get("@id") in index:
        return index[value["@id"]]
    return value


def _as_list(value: Any) -> list:
    if value is None:
        return []
    return value if isinstance(value, list) else [value]


def _text(value: Any) -> str | None:
    """A plain string from a schema.org value that may be a list, a dict with name/@value, or HTML."""
    if isinstance(value, list):
        value = next((v for v in value if _text(v)), None)
    if isinstance(value, dict):
        value = value.get("name") or value.get("@value") or value.get("value")
    if value is None or isinstance(value, (dict, list)):
        return None
    value = str(value)
    text = clean_text(_TAG.sub(" ", value) if "<" in value else value)
    return text or None


_TAG = re.compile(r"<[^>]+>")
_URL_VALUE = re.compile(r"(?i)^(https?:)?//\S+$")


def _url_matches(candidate: Any, page_url: str | None) -> bool:
    if not isinstance(candidate, str) or not page_url:
        return False
    a, b = urlsplit(candidate), urlsplit(page_url)
    if a.path.rstrip("/") != b.path.rstrip("/") and a.path:
        return False
    query_a, query_b = dict(parse_qsl(a.query)), dict(parse_qsl(b.query))
    return all(query_b.get(k) == v for k, v in query_a.items()) and (bool(query_a) or not query_b)


# --- choosing the product -------------------------------------------------------------------------


def _main_product(docs: list[Any], page: Page) -> tuple[dict | None, dict | None, dict]:
    """(product node, selected variant or None, @id index)."""
    index = _id_index(docs)
    candidates = [node for node, top in _walk(docs) if top and types_of(node) & _PRODUCT_TYPES]
    if not candidates:
        # A bare node with offers and a name is a product whatever its declared type (Book, Event…).
        candidates = [
            n
            for n, top in _walk(docs)
            if top
            and any(k in n for k in _OFFER_KEYS)
            and "name" in n
            and not types_of(n) & {"aggregateoffer", "offer"}
        ]
    if not candidates:
        return None, None, index

    # One candidate needs no ranking (nor the page's names that ranking reads).
    product = candidates[0] if len(candidates) == 1 else _best_ranked(candidates, page)
    variants = [_resolve(v, index) for v in _as_list(product.get("hasVariant"))]
    variants = [v for v in variants if isinstance(v, dict)]
    selected = _select_variant(variants, page)
    return product, selected, index


def _best_ranked(candidates: list[dict], page: Page) -> dict:
    """The first candidate of the best rank."""
    page_names = _page_names(page)

    def rank(node: dict) -> tuple:
        return (
            _url_matches(node.get("url"), page.url) or _url_matches(node.get("@id"), page.url),
            # Related products are often marked up too, some with offers while the page's own has none;
            # the page's product is the one its heading or title names.
            _names_page(_text(node.get("name")), page_names),
            "productgroup" in types_of(node) or "hasVariant" in node,
            any(k in node for k in _OFFER_KEYS),
            bool(node.get("name")),
        )

    ranks = [rank(n) for n in candidates]
    return candidates[ranks.index(max(ranks))]


_WORD = re.compile(r"\w+")


def _words(text: str | None) -> set[str]:
    return set(_WORD.findall((text or "").lower()))


def _page_names(page: Page) -> list[set[str]]:
    """Word sets of the page's own names: its <h1>s, og:title and <title>."""
    names = [page.meta.get("og:title"), page.meta.get("twitter:title"), page.title]
    names += [" ".join(h.itertext()) for h in page.tree.iter("h1")][:3]
    return [w for w in (_words(n) for n in names) if w]


def _names_page(name: str | None, page_names: list[set[str]]) -> bool:
    words = _words(name)
    if not words:
        return False
    return any(len(words & n) / len(words) >= 0.6 for n in page_names)


def _select_variant(variants: list[dict], page: Page) -> dict | None:
    if not variants:
        return None
    url = page.url or ""
    query_values = {v for _, v in parse_qsl(urlsplit(url).query) if v}
    for variant in variants:
        offer_urls = [o.get("url") for o in _as_list(variant.get("offers")) if isinstance(o, dict)]
        if any(_url_matches(u, url) for u in [variant.get("url"), variant.get("@id"), *offer_urls]):
            return variant
        ids = {str(variant.get(k)) for k in ("sku", "productID", "@id", "gtin13", "gtin") if variant.get(k)}
        ids |= {str(u).rsplit("=", 1)[-1] for u in [variant.get("url"), *offer_urls] if u and "=" in str(u)}
        if query_values & ids:
            return variant
    # Nothing selected by the URL: the first variant that has an offer stands for the group.
    return next((v for v in variants if v.get("offers")), variants[0])


# --- offers and prices ----------------------------------------------------------------------------


def _offers(node: dict, index: dict) -> list[dict]:
    out: list[dict] = []
    for key in _OFFER_KEYS:
        for offer in _as_list(_resolve(node.get(key), index)):
            offer = _resolve(offer, index)
            if not isinstance(offer, dict):
                continue
            nested = [o for o in _as_list(offer.get("offers")) if isinstance(o, dict)]
            if "aggregateoffer" in types_of(offer) and nested and not _has_price(offer):
                out.extend(nested)
            else:
                out.append(offer)
    return out


def _has_price(offer: dict) -> bool:
    return any(offer.get(k) not in (None, "") for k in ("price", "lowPrice", "priceSpecification"))


def _pick_offer(offers: list[dict], page: Page) -> dict | None:
    priced = [o for o in offers if _has_price(o)] or offers
    if not priced:
        return None
    for offer in priced:
        if _url_matches(offer.get("url"), page.url):
            return offer
    return priced[0]


def _amount(value: Any, currency_hint: str | None) -> tuple[Decimal | None, str | None]:
    if isinstance(value, list):
        value = next((v for v in value if v not in (None, "")), None)
    if isinstance(value, dict):
        value = value.get("@value") or value.get("value")
    amount = parse_amount(value)
    currency = None
    if isinstance(value, str) and not _PLAIN_AMOUNT.fullmatch(value):
        currency = parse_price(value, currency_hint)[1]
    return amount, currency


_PLAIN_AMOUNT = re.compile(r"\s*[\d.]+\s*")


def offer_price(offer: dict) -> tuple[Decimal | None, Decimal | None, str | None]:
    """(current price, regular price, currency) of one offer, priceSpecification included."""
    currency = currency_code(_text(offer.get("priceCurrency")))
    price, found_currency = _amount(offer.get("price"), currency)
    if price is None and offer.get("lowPrice") not in (None, ""):
        price, found_currency = _amount(offer.get("lowPrice"), currency)
    currency = currency or found_currency
    regular = None
    for spec in _as_list(offer.get("priceSpecification")):
        if not isinstance(spec, dict):
            continue
        spec_amount, spec_currency = _amount(spec.get("price", spec.get("minPrice")), currency)
        if spec_amount is None:
            continue
        currency = currency or currency_code(_text(spec.get("priceCurrency"))) or spec_currency
        price_type = str(spec.get("priceType") or "")
        if _REGULAR_PRICE_TYPES.search(price_type):
            regular = regular if regular is not None else spec_amount
        elif _is_per_unit(spec):
            continue
        elif price is None:
            price = spec_amount
    if regular is not None and price is not None and regular <= price:
        regular = None
    return price, regular, currency


def _is_per_unit(spec: dict) -> bool:
    """A UnitPriceSpecification priced per kg/litre/100 g is not the item's price."""
    reference = spec.get("referenceQuantity")
    if isinstance(reference, dict):
        unit = str(reference.get("unitCode") or reference.get("unitText") or "").upper()
        value = str(reference.get("value") or "1")
        return unit not in ("", "C62", "EA", "H87", "PCE", "XPP") or value not in ("1", "1.0")
    return False


# --- fields ---------------------------------------------------------------------------------------


def _images(values: Any, page: Page) -> list[str]:
    out: list[str] = []
    for value in _as_list(values):
        if isinstance(value, dict):
            value = value.get("url") or value.get("contentUrl") or value.get("contentURL") or value.get("@id")
        link = page.absolute(value) if isinstance(value, str) else None
        if link and link not in out:
            out.append(link)
    return out


def breadcrumb_names(docs: list[Any]) -> list[str]:
    for node, _ in _walk(docs):
        if "breadcrumblist" not in types_of(node):
            continue
        items = [i for i in _as_list(node.get("itemListElement")) if isinstance(i, dict)]
        items.sort(key=lambda i: _position(i.get("position")))
        names = []
        for item in items:
            inner = item.get("item")
            name = _text(item.get("name")) or (_text(inner.get("name")) if isinstance(inner, dict) else None)
            if name:
                names.append(name)
        if names:
            return names
    return []


def _position(value: Any) -> float:
    try:
        return float(value)
    except (TypeError, ValueError):
        return 1e9


_CATEGORY_SEPARATOR = re.compile(r"\s*(?:>|/|»|›|\|)\s*")


def product_fields(docs: list[Any], page: Page) -> Fields:
    """The page's product from schema.org documents (JSON-LD or microdata), as flat fields."""
    product, variant, index = _main_product(docs, page)
    fields: Fields = {}
    crumbs = breadcrumb_names(docs)
    if crumbs:
        fields["category"] = crumbs
    if product is None:
        return fields
    # The variant the URL names (or the first one) supplies the offer and identifiers; the group
    # supplies what variants usually leave out (brand, description, the shared name).
    layers = [n for n in (variant, product) if n is not None]

    def first(*keys: str) -> Any:
        for node in layers:
            for key in keys:
                value = node.get(key)
                if value not in (None, "", []):
                    return _resolve(value, index)
        return None

    fields["name"] = _text(product.get("name")) or _text(first("name"))
    fields["description"] = _text(first("description"))
    brand = _text(first("brand", "manufacturer"))
    # Microdata on a link (<a itemprop="brand" href=...>) gives the href, which names no brand.
    fields["brand"] = None if brand and _URL_VALUE.match(brand) else brand
    fields["mpn"] = _text(first("mpn"))
    fields["images"] = _images(first("image", "images", "photo"), page)
    if not fields.get("category") and _text(first("category")):
        fields["category"] = [c.strip() for c in _CATEGORY_SEPARATOR.split(_text(first("category"))) if c]
    for key in _GTIN_KEYS:
        gtin = normalise_gtin(_text(first(key)))
        if gtin:
            fields["gtin"] = gtin
            break

    offers = [o for node in layers for o in _offers(node, index)]
    offer = _pick_offer(offers, page)
    fields["sku"] = _text(first("sku")) or (_text(offer.get("sku")) if offer else None)
    # productID is often the shop's database key rather than the SKU: used only when nothing better is.
    fields["product_id"] = _text(first("productID"))
    condition = first("itemCondition")
    if offer:
        price, regular, currency = offer_price(offer)
        fields.update(price=price, regular_price=regular, currency=currency)
        fields["availability"] = normalise_availability(_text(offer.get("availability")))
        condition = offer.get("itemCondition") or condition
        if not fields.get("gtin"):
            fields["gtin"] = next(
                (normalise_gtin(_text(offer.get(k))) for k in _GTIN_KEYS if offer.get(k)), None
            )
    fields["condition"] = normalise_condition(_text(condition))
    # Raw QuantitativeValues or texts ("1.6 kg"): domain.parcels reads them (and refuses absurd ones).
    sizes = {key: first(key) for key in ("weight", "depth", "width", "height")}
    fields["parcel"] = {k: v for k, v in sizes.items() if v not in (None, "", [])} or None
    return {k: v for k, v in fields.items() if v not in (None, "", [], "unknown")}

"""OneCheq's wire formats: Shopify storefront JSON, Shopify sitemaps and theme HTML.

Shapes follow what a Shopify storefront serves publicly (there is no official spec for it): the
list endpoint gives tags as an array and variants with `available`; the single-product endpoint
gives the older admin-like shape, tags as one comma-separated string and variants with `barcode`.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any
from xml.sax.saxutils import escape as xml_escape
from zoneinfo import ZoneInfo

from fastapi import Request, Response

from ..catalogue import CatalogueSnapshot, Product, ProductState, display_price, price_string
from ..images import HEIGHT, WIDTH
from ..storefront import (
    HTML,
    JSON,
    Site,
    escape,
    html_page,
    json_ld,
    schema_product,
    site_path,
    site_url,
)
from .models import image_id, photo_filename, product_id, variant_id

SHOP_TIMEZONE = ZoneInfo("Pacific/Auckland")  # Shopify writes times in the shop's zone
SITE = Site("OneCheq", (("Home", "/"),), "© OneCheq Ltd. Powered by Shopify")


def shop_time(moment: datetime) -> str:
    return moment.astimezone(SHOP_TIMEZONE).isoformat(timespec="seconds")


def compact_json(data: Any) -> str:
    return json.dumps(data, ensure_ascii=False, separators=(",", ":"))


def photo_url(request: Request, product: Product, number: int) -> str:
    version = int(product.created_at.timestamp())  # Shopify's cache-busting ?v=
    return site_url(request, f"/cdn/shop/files/{photo_filename(product, number)}?v={version}")


def body_html(product: Product) -> str:
    features = "".join(f"<li>{escape(f)}</li>" for f in product.features)
    notes = f"<p><strong>Condition:</strong> {escape(' '.join(product.notes))}</p>" if product.notes else ""
    rows = [("Brand", product.brand), ("Model", product.model), ("Condition", product.condition)]
    for v in product.variants:
        suffix = f" ({v.option})" if v.option else ""
        rows.append((f"MPN{suffix}", v.mpn))
        if v.gtin:
            rows.append((f"EAN{suffix}", v.gtin))
    table = "".join(f"<tr><td>{escape(k)}</td><td>{escape(v)}</td></tr>" for k, v in rows)
    return f"<p>{escape(product.summary)}</p><ul>{features}</ul>{notes}<table><tbody>{table}</tbody></table>"


def _tags(product: Product) -> list[str]:
    # Shopify splits tags at commas when they are saved: "Keys, Amps & Effects" is two tags
    words = (product.brand, *product.category.name.split(","), product.condition, "NZ Stock")
    return sorted({word.strip() for word in words if word.strip()})


def product_json(request: Request, state: ProductState, *, single: bool = False) -> dict[str, Any]:
    """One product as /products.json lists it, or (single=True) as /products/{handle}.json gives it."""
    product = state.product
    pid = product_id(product)
    created, updated = shop_time(product.created_at), shop_time(state.updated_at)
    images = [
        {
            "id": image_id(product, n),
            "created_at": created,
            "position": n,
            "updated_at": created,
            "product_id": pid,
            "variant_ids": [],
            "src": photo_url(request, product, n),
            "width": WIDTH,
            "height": HEIGHT,
        }
        for n in range(1, product.image_count + 1)
    ]
    variants = []
    for n, vs in enumerate(state.variants, start=1):
        v = vs.variant
        option = v.option or "Default Title"
        variant: dict[str, Any] = {
            "id": variant_id(product, n),
            "title": option,
            "option1": option,
            "option2": None,
            "option3": None,
            "sku": v.sku,
            "requires_shipping": True,
            "taxable": True,
            "featured_image": None,
            "available": vs.available,
            "price": price_string(vs.price_cents),
            "grams": v.grams,
            "compare_at_price": price_string(vs.compare_at_cents) if vs.compare_at_cents else None,
            "position": n,
            "product_id": pid,
            "created_at": created,
            "updated_at": updated,
        }
        if single:
            del variant["featured_image"], variant["available"]
            variant |= {
                "inventory_policy": "deny",
                "fulfillment_service": "manual",
                "inventory_management": "shopify",
                "barcode": v.gtin or "",
                "weight": v.grams / 1000,
                "weight_unit": "kg",
                "image_id": None,
            }
        variants.append(variant)
    option_values = [v.option for v in product.variants] if product.option_name else ["Default Title"]
    options: list[dict[str, Any]] = [
        {"name": product.option_name or "Title", "position": 1, "values": option_values}
    ]
    data: dict[str, Any] = {
        "id": pid,
        "title": product.title,
        "handle": product.handle,
        "body_html": body_html(product),
        "published_at": created,
        "created_at": created,
        "updated_at": updated,
        "vendor": product.brand,
        "product_type": product.category.name,
        "tags": _tags(product),
        "variants": variants,
        "images": images,
        "options": options,
    }
    if single:
        data |= {
            "template_suffix": None,
            "published_scope": "web",
            "tags": ", ".join(data["tags"]),
            "image": images[0],
        }
        options[0] |= {"id": pid + 1, "product_id": pid}
    return data


def products_json(request: Request, states: list[ProductState] | tuple[ProductState, ...]) -> str:
    return compact_json({"products": [product_json(request, s) for s in states]})


def single_product_json(request: Request, state: ProductState) -> str:
    return compact_json({"product": product_json(request, state, single=True)})


# --- sitemaps

_XML_HEAD = '<?xml version="1.0" encoding="UTF-8"?>\n'


def sitemap_index_xml(request: Request, files: list[tuple[int, int]]) -> str:
    """files: the (first, last) product id of each product sitemap, as Shopify's from/to parameters."""
    entries = "".join(
        f"  <sitemap>\n    <loc>{xml_escape(site_url(request, f'/sitemap_products_{n}.xml?from={first}&to={last}'))}</loc>\n  </sitemap>\n"
        for n, (first, last) in enumerate(files, start=1)
    )
    return f'{_XML_HEAD}<sitemapindex xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">\n{entries}</sitemapindex>\n'


def product_sitemap_xml(
    request: Request, states: list[ProductState] | tuple[ProductState, ...], *, first: bool
) -> str:
    # Shopify opens the first product sitemap with the home page; scrapers must skip it.
    urls = (
        [
            f"  <url>\n    <loc>{xml_escape(site_url(request, '/'))}</loc>\n    <changefreq>daily</changefreq>\n  </url>\n"
        ]
        if first
        else []
    )
    for state in states:
        product = state.product
        urls.append(
            "  <url>\n"
            f"    <loc>{xml_escape(site_url(request, f'/products/{product.handle}'))}</loc>\n"
            f"    <lastmod>{shop_time(state.updated_at)}</lastmod>\n"
            "    <changefreq>daily</changefreq>\n"
            "    <image:image>\n"
            f"      <image:loc>{xml_escape(photo_url(request, product, 1))}</image:loc>\n"
            f"      <image:title>{xml_escape(product.title)}</image:title>\n"
            "    </image:image>\n"
            "  </url>\n"
        )
    return (
        f'{_XML_HEAD}<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9" '
        f'xmlns:image="http://www.google.com/schemas/sitemap-image/1.1">\n{"".join(urls)}</urlset>\n'
    )


# --- HTML


def _price_block(state: ProductState) -> str:
    first = state.variants[0]
    regular = (
        f' <s class="price-item price-item--regular">{display_price(first.compare_at_cents)} NZD</s>'
        if first.compare_at_cents
        else ""
    )
    sold_out = "" if state.available else ' <span class="badge price__badge-sold-out">Sold out</span>'
    return (
        f'<div class="price{" price--on-sale" if regular else ""}">'
        f'<span class="price-item price-item--sale">{display_price(first.price_cents)} NZD</span>{regular}{sold_out}</div>'
    )


def product_page_html(request: Request, state: ProductState) -> str:
    product = state.product
    url = site_url(request, f"/products/{product.handle}")
    photos = [photo_url(request, product, n) for n in range(1, product.image_count + 1)]
    head = (
        f'<link rel="canonical" href="{escape(url)}">\n'
        '<meta property="og:type" content="product">\n'
        f'<meta property="og:title" content="{escape(product.title)}">\n'
        f'<meta property="og:url" content="{escape(url)}">\n'
        f'<meta property="og:image" content="{escape(photos[0])}">\n'
        f'<meta property="og:price:amount" content="{price_string(state.price_cents)}">\n'
        '<meta property="og:price:currency" content="NZD">\n'
        + json_ld({"@context": "https://schema.org", **schema_product(state, url=url, images=photos)})
    )
    media = "".join(
        f'<li class="product__media-item"><img src="{escape(src)}" alt="{escape(product.title)}" width="{WIDTH}" height="{HEIGHT}"></li>'
        for src in photos
    )
    choices = "".join(
        f'<option value="{variant_id(product, n)}"{"" if vs.available else " disabled"}>'
        f"{escape(vs.variant.option or 'Default Title')} - {display_price(vs.price_cents)} NZD</option>"
        for n, vs in enumerate(state.variants, start=1)
    )
    button = "Add to cart" if state.available else "Sold out"
    main = (
        f'<section class="product" data-product-id="{product_id(product)}">\n'
        f'<ul class="product__media-list">{media}</ul>\n'
        '<div class="product__info-container">\n'
        f'<p class="product__text caption-with-letter-spacing">{escape(product.brand)}</p>\n'
        f'<h1 class="product__title">{escape(product.title)}</h1>\n'
        f"{_price_block(state)}\n"
        f'<form method="post" action="{escape(site_path(request, "/cart/add"))}" class="product-form">'
        f'<select name="id">{choices}</select>'
        f'<button type="submit" name="add" class="product-form__submit"{"" if state.available else " disabled"}>{button}</button></form>\n'
        f'<div class="product__description rte">{body_html(product)}</div>\n'
        "</div>\n</section>"
    )
    return html_page(request, SITE, product.title, main, head=head)


def home_page_html(request: Request, snapshot: CatalogueSnapshot) -> str:
    newest = list(reversed(snapshot.products[-12:]))
    cards = "".join(
        f'<li class="grid__item"><a href="{escape(site_path(request, f"/products/{s.product.handle}"))}">'
        f'{escape(s.product.title)}</a> <span class="price">{display_price(s.price_cents)} NZD</span></li>'
        for s in newest
    )
    return html_page(
        request, SITE, "New arrivals", f'<h2>New arrivals</h2>\n<ul class="grid product-grid">{cards}</ul>'
    )


def not_found_page(request: Request) -> Response:
    if request.url.path.endswith(".json"):
        return Response(compact_json({"errors": "Not Found"}), status_code=404, media_type=JSON)
    main = (
        '<div class="template-404"><p class="caption">404</p><h1>Page not found</h1>'
        f'<a class="button" href="{escape(site_path(request, "/"))}">Continue shopping</a></div>'
    )
    return Response(html_page(request, SITE, "404 Not Found", main), status_code=404, media_type=HTML)

"""Noel Leeming's pages: category grids with pagination, and product pages with JSON-LD in two shapes."""

from __future__ import annotations

from typing import Any

from fastapi import Request, Response

from ..catalogue import Product, ProductState, display_price, price_string
from ..catalogue_data import Category
from ..images import HEIGHT, WIDTH
from ..storefront import HTML, Page, Site, escape, html_page, json_ld, schema_product, site_path, site_url
from .models import NoelLeemingStore, photo_filename

SITE = Site(
    "Noel Leeming",
    (("Categories", "/categories"),),
    "© Noel Leeming Group Limited. Prices include GST.",
)


def product_path(product: Product) -> str:
    return f"/p/{product.handle}/{product.ref}.html"


def category_path(category: Category, page: int = 1) -> str:
    return f"/c/{category.slug}" + (f"?page={page}" if page > 1 else "")


def photo_url(request: Request, product: Product, number: int) -> str:
    return site_url(request, f"/images/hi-res/{photo_filename(product, number)}")


def _price(state: ProductState) -> str:
    first = state.variants[0]
    regular = (
        f'<span class="price strike-through list"><span class="value" content="{price_string(first.compare_at_cents)}">'
        f"{display_price(first.compare_at_cents)}</span></span>"
        if first.compare_at_cents
        else ""
    )
    return (
        f'<div class="prices"><span class="price sales"><span class="value" content="{price_string(first.price_cents)}">'
        f"{display_price(first.price_cents)}</span></span>{regular}</div>"
    )


def _availability(state: ProductState) -> str:
    label, css = ("In stock online", "in-stock") if state.available else ("Out of stock", "out-of-stock")
    return f'<div class="availability {css}">{label}</div>'


def categories_page_html(request: Request, store: NoelLeemingStore, counts: dict[str, int]) -> str:
    items = "".join(
        f'<li class="category-tile"><a href="{escape(site_path(request, category_path(c)))}">{escape(c.name)}</a>'
        f' <span class="count">({counts.get(c.slug, 0)})</span></li>'
        for c in store.categories
    )
    return html_page(
        request,
        SITE,
        "Shop by category",
        f'<h1>Shop by category</h1>\n<ul class="category-list">{items}</ul>',
    )


def category_page_html(request: Request, category: Category, page: Page[ProductState]) -> str:
    tiles = []
    for state in page.items:
        product = state.product
        href = escape(site_path(request, product_path(product)))
        tiles.append(
            f'<div class="product-tile" data-pid="{product.ref}">\n'
            f'  <a class="tile-link" href="{href}"><img class="tile-image" src="{escape(photo_url(request, product, 1))}" '
            f'alt="{escape(product.title)}" width="{WIDTH}" height="{HEIGHT}"></a>\n'
            f'  <div class="tile-body"><div class="brand">{escape(product.brand)}</div>'
            f'<a class="pdp-link" href="{href}">{escape(product.title)}</a>\n'
            f"  {_price(state)}{_availability(state)}</div>\n</div>\n"
        )
    grid = "".join(tiles) or '<p class="no-results">No products found.</p>'
    links = []
    head = ""
    if page.number > 1:
        prev = escape(site_path(request, category_path(category, page.number - 1)))
        links.append(f'<a class="page-previous" rel="prev" href="{prev}">Previous</a>')
        head += f'<link rel="prev" href="{prev}">\n'
    links.append(f'<span class="page-status">Page {page.number} of {page.count}</span>')
    if page.has_next:
        nxt = escape(site_path(request, category_path(category, page.number + 1)))
        links.append(f'<a class="page-next" rel="next" href="{nxt}">Next</a>')
        head += f'<link rel="next" href="{nxt}">\n'
    main = (
        f'<h1 class="category-title">{escape(category.name)}</h1>\n'
        f'<p class="result-count" data-total="{page.total}">{page.total} results</p>\n'
        f'<div class="product-grid">\n{grid}</div>\n'
        f'<nav class="pagination" aria-label="Pagination">{"".join(links)}</nav>'
    )
    return html_page(request, SITE, category.name, main, head=head)


def product_json_ld(request: Request, store: NoelLeemingStore, state: ProductState) -> dict[str, Any]:
    product = state.product
    url = site_url(request, product_path(product))
    photos = [photo_url(request, product, n) for n in range(1, product.image_count + 1)]
    if not store.uses_graph(product):
        return {
            "@context": "https://schema.org",
            **schema_product(state, url=url, images=photos, price_as_number=True),
        }
    crumbs = [
        ("Home", site_url(request, "/")),
        (product.category.name, site_url(request, category_path(product.category))),
        (product.title, url),
    ]
    return {
        "@context": "https://schema.org",
        "@graph": [
            {
                "@type": "BreadcrumbList",
                "itemListElement": [
                    {"@type": "ListItem", "position": n, "name": name, "item": item}
                    for n, (name, item) in enumerate(crumbs, start=1)
                ],
            },
            {"@id": f"{url}#product", **schema_product(state, url=url, images=photos)},
        ],
    }


def product_page_html(request: Request, store: NoelLeemingStore, state: ProductState) -> str:
    product = state.product
    variant = product.variants[0]
    head = f'<link rel="canonical" href="{escape(site_url(request, product_path(product)))}">\n'
    head += json_ld(product_json_ld(request, store, state))
    photos = "".join(
        f'<img class="product-image" src="{escape(photo_url(request, product, n))}" alt="{escape(product.title)}">'
        for n in range(1, product.image_count + 1)
    )
    specs = [
        ("Brand", product.brand),
        ("Model", product.model),
        ("Manufacturer part number", variant.mpn),
        ("SKU", product.ref),
    ]
    if variant.gtin:
        specs.append(("EAN", variant.gtin))
    specs.append(("Weight", f"{variant.grams / 1000:g} kg"))
    spec_rows = "".join(f"<tr><th>{escape(k)}</th><td>{escape(v)}</td></tr>" for k, v in specs)
    features = "".join(f"<li>{escape(f)}</li>" for f in product.features)
    main = (
        f'<nav class="breadcrumbs"><a href="{escape(site_path(request, "/"))}">Home</a> / '
        f'<a href="{escape(site_path(request, category_path(product.category)))}">{escape(product.category.name)}</a></nav>\n'
        f'<div class="product-detail" data-pid="{product.ref}">\n'
        f'<div class="product-images">{photos}</div>\n'
        f'<div class="product-brand">{escape(product.brand)}</div>\n'
        f'<h1 class="product-name">{escape(product.title)}</h1>\n'
        f'<div class="product-number">SKU: <span>{product.ref}</span></div>\n'
        f"{_price(state)}\n{_availability(state)}\n"
        f'<button class="add-to-cart"{"" if state.available else " disabled"}>Add to cart</button>\n'
        f'<div class="product-description"><p>{escape(product.summary)}</p><ul>{features}</ul></div>\n'
        f'<table class="specifications">{spec_rows}</table>\n</div>'
    )
    return html_page(request, SITE, product.title, main, head=head)


def not_found_page(request: Request) -> Response:
    main = (
        '<div class="error-page"><h1>Sorry, we can\'t find that page</h1>'
        "<p>The page you are looking for may have moved or is no longer available.</p>"
        f'<a href="{escape(site_path(request, "/categories"))}">Shop by category</a></div>'
    )
    return Response(html_page(request, SITE, "Page not found", main), status_code=404, media_type=HTML)

"""Cash Converters' pages: search results of product cards, and item pages with a details table."""

from __future__ import annotations

from urllib.parse import urlencode

from fastapi import Request, Response

from ..catalogue import Product, ProductState, display_price
from ..catalogue_data import Category
from ..storefront import HTML, Page, Site, escape, html_page, site_path, site_url
from .models import CashConvertersStore

SITE = Site(
    "Cash Converters", (("Shop", "/shop/search"),), "© Cash Converters New Zealand. All items are pre-owned."
)


def item_path(product: Product) -> str:
    return f"/shop/item/{product.ref}"


def search_path(category: str, page: int) -> str:
    query = {k: v for k, v in (("category", category), ("page", page if page > 1 else None)) if v}
    return "/shop/search" + (f"?{urlencode(query)}" if query else "")


def photo_url(request: Request, product: Product, number: int) -> str:
    return site_url(request, f"/images/items/{product.ref}/{number}.jpg")


def _category_filter(request: Request, store: CashConvertersStore, selected: str) -> str:
    options = ['<option value="">All categories</option>'] + [
        f'<option value="{c.slug}"{" selected" if c.slug == selected else ""}>{escape(c.name)}</option>'
        for c in store.categories
    ]
    return (
        f'<form class="search-filters" method="get" action="{escape(site_path(request, "/shop/search"))}">'
        f'<select name="category">{"".join(options)}</select><button type="submit">Filter</button></form>'
    )


def search_page_html(
    request: Request, store: CashConvertersStore, category: Category | None, page: Page[ProductState]
) -> str:
    slug = category.slug if category else ""
    cards = []
    for state in page.items:
        product = state.product
        href = escape(site_path(request, item_path(product)))
        cards.append(
            f'<article class="product-card" data-item-id="{product.ref}">\n'
            f'  <a class="product-card__link" href="{href}">\n'
            f'    <img class="product-card__image" src="{escape(photo_url(request, product, 1))}" alt="{escape(product.title)}" loading="lazy">\n'
            f'    <h3 class="product-card__title">{escape(product.title)}</h3>\n'
            "  </a>\n"
            f'  <div class="product-card__price">{display_price(state.price_cents)}</div>\n'
            f'  <div class="product-card__store">{escape(product.store or "")}</div>\n'
            f'  <div class="product-card__condition">{escape(product.condition)}</div>\n'
            "</article>\n"
        )
    if page.items:
        first = (page.number - 1) * page.per_page + 1
        summary = f"Showing {first}&ndash;{first + len(page.items) - 1} of {page.total} items"
    else:
        summary = f"Showing 0 of {page.total} items"
    pager = [f'<li class="pagination__item pagination__item--active">{page.number}</li>']
    if page.number > 1:
        pager.insert(
            0,
            f'<li class="pagination__item"><a class="pagination__prev" href="{escape(site_path(request, search_path(slug, page.number - 1)))}">Previous</a></li>',
        )
    if page.has_next:
        pager.append(
            f'<li class="pagination__item"><a class="pagination__next" href="{escape(site_path(request, search_path(slug, page.number + 1)))}">Next</a></li>'
        )
    title = category.name if category else "All items"
    results = "".join(cards) or '<p class="search-results__empty">No items found.</p>'
    main = (
        f'<h1 class="search-title">{escape(title)}</h1>\n{_category_filter(request, store, slug)}\n'
        f'<p class="search-summary">{summary}</p>\n'
        f'<section class="search-results">\n{results}</section>\n'
        f'<ul class="pagination">{"".join(pager)}</ul>'
    )
    return html_page(request, SITE, title, main)


def item_page_html(request: Request, state: ProductState) -> str:
    product = state.product
    details = [
        ("Store", product.store or ""),
        ("Condition", product.condition),
        ("Brand", product.brand),
        ("Model", product.model),
        ("Category", product.category.name),
        ("Item number", product.ref),
    ]
    if product.variants[0].gtin:
        details.append(("Barcode", product.variants[0].gtin))
    rows = "".join(f"<tr><th>{escape(k)}</th><td>{escape(v)}</td></tr>" for k, v in details)
    gallery = "".join(
        f'<img class="item-gallery__image" src="{escape(photo_url(request, product, n))}" alt="{escape(product.title)} photo {n}">'
        for n in range(1, product.image_count + 1)
    )
    notes = "".join(f"<li>{escape(n)}</li>" for n in product.notes)
    main = (
        f'<article class="item" data-item-id="{product.ref}">\n'
        f'<h1 class="item-title">{escape(product.title)}</h1>\n'
        f'<div class="item-price">{display_price(state.price_cents)}</div>\n'
        f'<div class="item-gallery">{gallery}</div>\n'
        f'<table class="item-details"><tbody>{rows}</tbody></table>\n'
        f'<div class="item-description"><p>{escape(product.summary)}</p><ul class="item-condition-notes">{notes}</ul></div>\n'
        '<button class="item-buy">Buy now</button>\n</article>'
    )
    return html_page(request, SITE, product.title, main)


def home_page_html(request: Request, store: CashConvertersStore) -> str:
    links = "".join(
        f'<li><a href="{escape(site_path(request, search_path(c.slug, 1)))}">{escape(c.name)}</a></li>'
        for c in store.categories
    )
    return html_page(
        request, SITE, "Shop pre-owned", f'<h1>Shop pre-owned</h1>\n<ul class="category-links">{links}</ul>'
    )


def not_found_page(request: Request) -> Response:
    main = (
        '<div class="not-found"><h1>This item is no longer available</h1>'
        "<p>It may have sold or been removed. Browse similar items below.</p>"
        f'<a href="{escape(site_path(request, "/shop/search"))}">Shop all items</a></div>'
    )
    return Response(html_page(request, SITE, "Not found", main), status_code=404, media_type=HTML)

"""Noel Leeming's routes: categories, paginated category pages, product pages, photos, robots.txt."""

from __future__ import annotations

from collections import Counter
from typing import TYPE_CHECKING

from fastapi import FastAPI, Request, Response

from ..catalogue_data import CATEGORY_BY_SLUG
from ..storefront import (
    HTML,
    conditional_response,
    not_found,
    paginate,
    photo_response,
    query_int,
    robots_txt,
    storefront_app,
)
from . import responses
from .models import PAGE_SIZE, PROFILE, NoelLeemingStore

if TYPE_CHECKING:
    from ..app import Simulator


def build(sim: Simulator) -> FastAPI:
    store = NoelLeemingStore(sim)
    app = storefront_app(store, responses.not_found_page)
    crawl_delay = sim.config.crawl_delay_seconds

    @app.get("/")
    @app.get("/categories")
    async def categories(request: Request) -> Response:
        snapshot = store.snapshot()
        counts = Counter(s.product.category.slug for s in snapshot)
        body = responses.categories_page_html(request, store, counts)
        return conditional_response(request, body, HTML, snapshot.last_modified)

    @app.get("/c/{slug}")
    async def category(request: Request, slug: str) -> Response:
        if slug not in PROFILE.categories:
            raise not_found()
        snapshot = store.snapshot()
        page = paginate(store.in_category(snapshot, slug), query_int(request, "page", 1), PAGE_SIZE)
        body = responses.category_page_html(request, CATEGORY_BY_SLUG[slug], page)
        return conditional_response(request, body, HTML, snapshot.last_modified)

    @app.get("/p/{slug}/{sku}.html")
    async def product(request: Request, slug: str, sku: str) -> Response:
        # Like the real site, the slug is decoration: the SKU finds the product.
        state = store.snapshot().by_ref(sku)
        if state is None:
            raise not_found()
        return conditional_response(
            request, responses.product_page_html(request, store, state), HTML, state.updated_at
        )

    # Photos are drawn with PIL the first time: CPU work that stays on the threadpool. The other
    # routes only read the in-memory catalogue and format a string, so they run on the event loop.
    @app.get("/images/hi-res/{filename}")
    def photo(request: Request, filename: str) -> Response:
        return photo_response(request, *store.photo(store.snapshot(), filename))

    @app.get("/robots.txt")
    async def robots(request: Request) -> Response:
        return robots_txt(
            request,
            store.opened,
            disallow=("/checkout", "/cart", "/account", "/search"),
            crawl_delay=crawl_delay,
        )

    return app

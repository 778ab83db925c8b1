"""Cash Converters' routes: search listings, item pages, photos, robots.txt."""

from __future__ import annotations

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
from .models import PAGE_SIZE, CashConvertersStore

if TYPE_CHECKING:
    from ..app import Simulator


def build(sim: Simulator) -> FastAPI:
    store = CashConvertersStore(sim)
    app = storefront_app(store, responses.not_found_page)

    @app.get("/")
    async def home(request: Request) -> Response:
        return conditional_response(request, responses.home_page_html(request, store), HTML, store.opened)

    @app.get("/shop/search")
    async def search(request: Request) -> Response:
        # An unknown category is an empty result page, as a search is.
        slug = request.query_params.get("category", "")
        snapshot = store.snapshot()
        page = paginate(store.search(snapshot, slug), query_int(request, "page", 1), PAGE_SIZE)
        body = responses.search_page_html(request, store, CATEGORY_BY_SLUG.get(slug), page)
        return conditional_response(request, body, HTML, snapshot.last_modified)

    @app.get("/shop/item/{item_number}")
    async def item(request: Request, item_number: str) -> Response:
        state = store.snapshot().by_ref(item_number)
        if state is None:
            raise not_found()
        return conditional_response(request, responses.item_page_html(request, state), HTML, state.updated_at)

    # Photos are drawn with PIL the first time: CPU work that stays on the threadpool. The other
    # routes only read the in-memory catalogue and format a string, so they run on the event loop.
    @app.get("/images/items/{item_number}/{number:int}.jpg")
    def photo(request: Request, item_number: str, number: int) -> Response:
        return photo_response(request, store.snapshot().by_ref(item_number), number)

    @app.get("/robots.txt")
    async def robots(request: Request) -> Response:
        return robots_txt(request, store.opened, disallow=("/shop/checkout", "/shop/cart", "/account"))

    return app

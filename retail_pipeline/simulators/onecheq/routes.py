"""OneCheq's routes, as a Shopify storefront answers them."""

from __future__ import annotations

from typing import TYPE_CHECKING

from fastapi import FastAPI, Request, Response

from ..storefront import (
    HTML,
    JSON,
    XML,
    conditional_response,
    not_found,
    photo_response,
    query_int,
    robots_txt,
    storefront_app,
)
from . import responses
from .models import OneCheqStore, product_id

if TYPE_CHECKING:
    from ..app import Simulator

PRODUCTS_LIMIT_DEFAULT, PRODUCTS_LIMIT_MAX = 30, 250


def build(sim: Simulator) -> FastAPI:
    store = OneCheqStore(sim)
    app = storefront_app(store, responses.not_found_page)

    @app.get("/products.json")
    async def products(request: Request) -> Response:
        # Shopify clamps limit to 250 and answers {"products": []} past the last page.
        limit = query_int(request, "limit", PRODUCTS_LIMIT_DEFAULT, maximum=PRODUCTS_LIMIT_MAX)
        page = query_int(request, "page", 1)
        snapshot = store.snapshot()
        selected = snapshot.products[(page - 1) * limit : page * limit]
        return conditional_response(
            request, responses.products_json(request, selected), JSON, snapshot.last_modified
        )

    @app.get("/products/{handle}.json")
    async def product_json(request: Request, handle: str) -> Response:
        state = store.snapshot().by_handle(handle)
        if state is None:
            raise not_found()
        return conditional_response(
            request, responses.single_product_json(request, state), JSON, state.updated_at
        )

    @app.get("/products/{handle}")
    async def product_page(request: Request, handle: str) -> Response:
        state = store.snapshot().by_handle(handle)
        if state is None:
            raise not_found()
        return conditional_response(
            request, responses.product_page_html(request, state), HTML, state.updated_at
        )

    # Photos are drawn with PIL the first time: CPU work that stays on the threadpool. The other
    # routes only read the in-memory catalogue and format a string, so they run on the event loop.
    @app.get("/cdn/shop/files/{filename}")
    def photo(request: Request, filename: str) -> Response:
        return photo_response(request, *store.photo(store.snapshot(), filename))

    @app.get("/sitemap.xml")
    async def sitemap_index(request: Request) -> Response:
        snapshot = store.snapshot()
        bounds = [
            (product_id(f[0].product), product_id(f[-1].product)) if f else (0, 0)
            for f in store.sitemap_files(snapshot)
        ]
        return conditional_response(
            request, responses.sitemap_index_xml(request, bounds), XML, snapshot.last_modified
        )

    @app.get("/sitemap_products_{number:int}.xml")
    async def product_sitemap(request: Request, number: int) -> Response:
        snapshot = store.snapshot()
        files = store.sitemap_files(snapshot)
        if not 1 <= number <= len(files):
            raise not_found()
        body = responses.product_sitemap_xml(request, files[number - 1], first=number == 1)
        return conditional_response(request, body, XML, snapshot.last_modified)

    @app.get("/robots.txt")
    async def robots(request: Request) -> Response:
        return robots_txt(
            request,
            store.opened,
            preamble="# we use Shopify as our ecommerce platform\n",
            disallow=(
                "/admin",
                "/cart",
                "/orders",
                "/checkouts/",
                "/checkout",
                "/account",
                "/collections/*sort_by*",
                "/search",
            ),
            sitemap="/sitemap.xml",
        )

    @app.get("/")
    async def home(request: Request) -> Response:
        snapshot = store.snapshot()
        return conditional_response(
            request, responses.home_page_html(request, snapshot), HTML, snapshot.last_modified
        )

    return app

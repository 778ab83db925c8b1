"""The Vintage & Rare dealer site: sign-in, the dealer's items, their forms and images, the inventory CSV.

V&R has no public API: a dealer works in the browser. Forms carry a CSRF token (bound to a pre-session
cookie on the sign-in page, to the session after), a session cookie `vr_session` expires, and an
expired or missing one on a dealer page redirects to the sign-in page with `next`. The site's
switches (`/_control/site`) make every sign-in and dealer page slow, answer a bot challenge (403), expire
sessions, or change the page layout. Market and seeding hooks sit under `/_control` as elsewhere.
"""

from __future__ import annotations

import asyncio
import csv
import io
import re
import secrets
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode

from fastapi import FastAPI, Request, Response
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse
from starlette.datastructures import UploadFile
from starlette.exceptions import HTTPException as StarletteHTTPException

from ..buyers import BuyRequest, NotBuyable
from ..existing_listings import add_existing_listings_route
from ..storefront import site_path, site_url
from . import pages, taxonomy
from .models import (
    MAX_IMAGE_BYTES,
    FormInvalid,
    NotFound,
    Session,
    SiteSettings,
    SiteSettingsUpdate,
    VintageAndRareBackend,
    VintageAndRareSimulatorConfig,
)

if TYPE_CHECKING:
    from ..app import Simulator

SESSION_COOKIE = "vr_session"
PRESESSION_COOKIE = "vr_presession"
CSV_COLUMNS = (
    "item_id", "external_id", "brand", "model", "title", "year", "category", "subcategory", "price",
    "currency", "quantity", "condition", "status", "url", "image_urls", "description", "updated_at",
)  # fmt: skip
_SESSION_KEY = "vintage_and_rare.session"
_ITEM_ACTION = re.compile(r"/dealer/items/(\d+)/")
_LEADING_ID = re.compile(r"(\d+)(-.*)?")
_IMAGE_NAME = re.compile(r"(\d+)\.(jpg|png|webp)")


def _path(request: Request) -> str:
    return request.scope["path"][len(request.scope.get("root_path", "")) :]


def _guarded(path: str) -> bool:
    """Pages behind the site's bot check and slowness: sign-in and the dealer area."""
    return path == "/login" or path == "/dealer" or path.startswith("/dealer/")


def _next_for(request: Request) -> str:
    """Where to go back after signing in: the page asked for, or for a form post, the page it came from."""
    path = _path(request)
    if request.method != "GET":
        match = _ITEM_ACTION.match(path)
        path = f"/dealer/items/{match[1]}/edit" if match else "/dealer/items"
    elif request.url.query:
        path += f"?{request.url.query}"
    return site_path(request, path)


def _safe_next(request: Request, wanted: str) -> str:
    home = site_path(request, "/dealer/items")
    root = site_path(request, "/dealer")
    if wanted.startswith("//") or not wanted.startswith(root):
        return home
    return wanted


def _cookie_path(request: Request) -> str:
    return request.scope.get("root_path") or "/"


def _html(body: str, status: int = 200) -> HTMLResponse:
    return HTMLResponse(body, status_code=status)


def _see_other(url: str) -> RedirectResponse:
    return RedirectResponse(url, status_code=303)


def build(sim: Simulator) -> FastAPI:
    backend = VintageAndRareBackend(sim, VintageAndRareSimulatorConfig.from_env())
    app = FastAPI(docs_url=None, redoc_url=None, openapi_url=None)
    app.state.backend = backend

    def base(request: Request) -> str:
        return site_path(request, "")

    def session_of(request: Request) -> Session:
        return request.scope[_SESSION_KEY]

    def layout() -> pages.Layout:
        return pages.LAYOUTS[backend.settings.layout]

    def this_year() -> int:
        return sim.clock.now().year

    def not_found_page(request: Request) -> HTMLResponse:
        return _html(pages.message_page(base(request), "Page not found", "We could not find that page."), 404)

    def bad_csrf(request: Request) -> HTMLResponse:
        return _html(
            pages.message_page(
                base(request), "Invalid CSRF token", "Invalid CSRF token. Reload the page and try again."
            ),
            400,
        )

    async def unknown_route(request: Request, exc: StarletteHTTPException) -> Response:
        if exc.status_code == 404:
            return not_found_page(request)
        return _html(pages.message_page(base(request), "Error", str(exc.detail)), exc.status_code)

    app.add_exception_handler(StarletteHTTPException, unknown_route)

    async def item_not_found(request: Request, exc: NotFound) -> Response:
        return not_found_page(request)

    app.add_exception_handler(NotFound, item_not_found)

    @app.middleware("http")
    async def site_gate(request: Request, call_next: Callable[[Request], Awaitable[Response]]) -> Response:
        path = _path(request)
        if _guarded(path):
            settings = backend.settings
            if settings.slow_ms:
                await asyncio.sleep(settings.slow_ms / 1000)
            if settings.challenge:
                return _html(pages.challenge_page(), 403)
        if path == "/dealer" or path.startswith("/dealer/"):
            session = backend.session(request.cookies.get(SESSION_COOKIE))
            if session is None:
                login = site_path(request, "/login")
                return _see_other(f"{login}?{urlencode({'next': _next_for(request)})}")
            request.scope[_SESSION_KEY] = session
        return await call_next(request)

    async def checked_form(request: Request) -> dict[str, Any] | None:
        """The posted form, or None when its CSRF token is not this session's."""
        form = await request.form(max_files=1, max_part_size=1024 * 1024)
        token = form.get(pages.CSRF_FIELD)
        if not backend.csrf_ok(session_of(request).id, token if isinstance(token, str) else None):
            return None
        return dict(form)

    def csrf(request: Request) -> str:
        return backend.csrf_token(session_of(request).id)

    # --- sign-in

    @app.get("/")
    async def home(request: Request) -> HTMLResponse:
        main = (
            "<h1>Vintage &amp; Rare</h1><p>Vintage and rare musical instruments from dealers worldwide.</p>"
            f'<p><a href="{base(request)}/login">Dealer sign in</a></p>'
        )
        return _html(pages.shell(base(request), "Vintage & Rare", main))

    @app.get("/login")
    async def login_form(request: Request) -> HTMLResponse:
        presession = request.cookies.get(PRESESSION_COOKIE) or secrets.token_urlsafe(18)
        had_session = bool(request.cookies.get(SESSION_COOKIE))
        expired = had_session and backend.session(request.cookies.get(SESSION_COOKIE)) is None
        page = pages.login_page(
            base(request),
            backend.csrf_token(presession),
            request.query_params.get("next", ""),
            expired=expired,
        )
        response = _html(page)
        response.set_cookie(
            PRESESSION_COOKIE, presession, httponly=True, samesite="lax", path=_cookie_path(request)
        )
        return response

    @app.post("/login")
    async def login(request: Request) -> Response:
        form = await request.form()
        presession = request.cookies.get(PRESESSION_COOKIE)
        token = form.get(pages.CSRF_FIELD)
        if not backend.csrf_ok(presession, token if isinstance(token, str) else None):
            return bad_csrf(request)
        email, password = str(form.get("email") or ""), str(form.get("password") or "")
        next_path = str(form.get("next") or "")
        session = backend.sign_in(email, password)
        if session is None:
            page = pages.login_page(
                base(request),
                backend.csrf_token(presession or ""),
                next_path,
                error="Email or password is incorrect",
            )
            return _html(page)
        response = _see_other(_safe_next(request, next_path))
        response.set_cookie(
            SESSION_COOKIE,
            session.id,
            httponly=True,
            samesite="lax",
            path=_cookie_path(request),
            max_age=int(backend.config.session_ttl_seconds),
        )
        return response

    # --- the dealer's items

    @app.get("/dealer/items")
    async def my_items(request: Request) -> HTMLResponse:
        return _html(pages.items_page(base(request), backend.dealer_items(session_of(request).dealer)))

    @app.get("/dealer/brands")
    async def brands(q: str = "") -> list[str]:
        return taxonomy.suggest_brands(q)

    @app.get("/dealer/categories/{category_id}/subcategories")
    async def subcategories(category_id: int) -> Response:
        category = taxonomy.category(category_id)
        if category is None:
            return JSONResponse({"error": f"no category {category_id}"}, status_code=404)
        return JSONResponse([{"id": s.id, "name": s.name} for s in category.subcategories])

    def form_page(
        request: Request, values: dict[str, str], *, item: Any = None, errors: Any = (), notice: str = ""
    ) -> str:
        return pages.item_form_page(
            base(request),
            layout(),
            csrf(request),
            values,
            this_year(),
            item=item,
            errors=errors,
            notice=notice,
        )

    @app.get("/dealer/items/new")
    async def new_item_form(request: Request) -> HTMLResponse:
        return _html(form_page(request, {"currency": "GBP", "quantity": "1"}))

    @app.post("/dealer/items/new")
    async def create_item(request: Request) -> Response:
        form = await checked_form(request)
        if form is None:
            return bad_csrf(request)
        values = layout().posted(form)
        try:
            item = backend.create_item(session_of(request).dealer, values)
        except FormInvalid as invalid:
            return _html(form_page(request, values, errors=invalid.errors), 422)
        return _see_other(site_path(request, f"/dealer/items/{item.id}/edit?saved=1"))

    _NOTICES = {"saved": "Item saved", "uploaded": "Image uploaded", "sold": "Item marked as sold"}

    @app.get("/dealer/items/{item_id}/edit")
    async def edit_item_form(request: Request, item_id: int) -> HTMLResponse:
        item = backend.item(session_of(request).dealer, item_id)
        notice = next((text for key, text in _NOTICES.items() if request.query_params.get(key)), "")
        return _html(form_page(request, pages.item_values(item), item=item, notice=notice))

    @app.post("/dealer/items/{item_id}/edit")
    async def update_item(request: Request, item_id: int) -> Response:
        dealer = session_of(request).dealer
        item = backend.item(dealer, item_id)
        form = await checked_form(request)
        if form is None:
            return bad_csrf(request)
        values = layout().posted(form)
        try:
            backend.update_item(dealer, item_id, values)
        except FormInvalid as invalid:
            return _html(form_page(request, values, item=item, errors=invalid.errors), 422)
        return _see_other(site_path(request, f"/dealer/items/{item_id}/edit?saved=1"))

    @app.post("/dealer/items/{item_id}/images")
    async def upload_image(request: Request, item_id: int) -> Response:
        dealer = session_of(request).dealer
        item = backend.item(dealer, item_id)
        form = await checked_form(request)
        if form is None:
            return bad_csrf(request)
        upload = form.get(layout().image_field)
        data = await upload.read(MAX_IMAGE_BYTES + 1) if isinstance(upload, UploadFile) else b""
        try:
            backend.add_image(dealer, item_id, data)
        except FormInvalid as invalid:
            return _html(form_page(request, pages.item_values(item), item=item, errors=invalid.errors), 422)
        return _see_other(site_path(request, f"/dealer/items/{item_id}/edit?uploaded=1"))

    @app.post("/dealer/items/{item_id}/sold")
    async def mark_sold(request: Request, item_id: int) -> Response:
        dealer = session_of(request).dealer
        backend.item(dealer, item_id)
        if await checked_form(request) is None:
            return bad_csrf(request)
        backend.mark_sold(dealer, item_id)
        return _see_other(site_path(request, f"/dealer/items/{item_id}/edit?sold=1"))

    @app.post("/dealer/items/{item_id}/delete")
    async def delete_item(request: Request, item_id: int, confirm: str = "") -> Response:
        dealer = session_of(request).dealer
        item = backend.item(dealer, item_id)
        if await checked_form(request) is None:
            return bad_csrf(request)
        if confirm != "1":
            return _html(pages.delete_confirm_page(base(request), csrf(request), item))
        backend.delete(dealer, item_id)
        return _see_other(site_path(request, "/dealer/items"))

    @app.get("/dealer/export/inventory.csv")
    async def export_inventory(request: Request) -> Response:
        out = io.StringIO()
        writer = csv.DictWriter(out, fieldnames=CSV_COLUMNS)
        writer.writeheader()
        for item in backend.dealer_items(session_of(request).dealer):
            writer.writerow(
                {
                    "item_id": item.id,
                    "external_id": item.reference,
                    "brand": item.brand,
                    "model": item.model,
                    "title": item.title,
                    "year": "" if item.year is None else item.year,
                    "category": item.category.name,
                    "subcategory": item.subcategory_name,
                    "price": f"{item.price:.2f}",
                    "currency": item.currency,
                    "quantity": item.quantity,
                    "condition": item.condition,
                    "status": item.status,
                    "url": site_url(request, f"/items/{item.slug}"),
                    "image_urls": "|".join(
                        site_url(request, f"/images/{item.id}/{n}.{image.ext}")
                        for n, image in enumerate(item.images, start=1)
                    ),
                    "description": item.description,
                    "updated_at": item.updated_at.isoformat(),
                }
            )
        return Response(
            out.getvalue(),
            media_type="text/csv; charset=utf-8",
            headers={
                "content-disposition": 'attachment; filename="inventory.csv"',
                "cache-control": "no-store",
            },
        )

    # --- public pages

    @app.get("/items/{ref}")
    async def public_item(request: Request, ref: str) -> Response:
        match = _LEADING_ID.fullmatch(ref)
        if not match:
            return not_found_page(request)
        item = backend.public_item(int(match[1]))
        if ref != item.slug:  # the title changed, or a bare id: the canonical address
            return RedirectResponse(site_path(request, f"/items/{item.slug}"), status_code=301)
        return _html(pages.public_item_page(base(request), item))

    @app.get("/images/{item_id}/{name}")
    async def image(request: Request, item_id: int, name: str) -> Response:
        match = _IMAGE_NAME.fullmatch(name)
        if not match:
            return not_found_page(request)
        found = backend.image(item_id, int(match[1]))
        if found.ext != match[2]:
            return not_found_page(request)
        return Response(found.data, media_type=found.content_type, headers={"cache-control": "max-age=86400"})

    # --- control: the site's switches, seeding, the market

    @app.get("/_control/site")
    async def get_site() -> SiteSettings:
        return backend.settings

    @app.put("/_control/site")
    async def put_site(body: SiteSettingsUpdate) -> SiteSettings:
        return backend.configure(body)

    @app.post("/_control/items", status_code=201)
    async def seed_items(request: Request) -> JSONResponse:
        body = await request.json()
        rows = body.get("items") if isinstance(body, dict) else body
        if not isinstance(rows, list) or not all(isinstance(row, dict) for row in rows):
            return JSONResponse({"message": 'send a list of items (or {"items": [...]})'}, status_code=422)
        dealer = body.get("dealer") if isinstance(body, dict) else None
        try:
            items = backend.seed_items(rows, **({"dealer": dealer} if dealer else {}))
        except ValueError as error:
            return JSONResponse({"message": str(error)}, status_code=422)
        return JSONResponse(
            {"items": [{"item_id": i.id, "external_id": i.reference, "title": i.title} for i in items]},
            status_code=201,
        )

    # the shared shape every listing channel's simulator takes (`shop_inventory`'s items); answers item ids
    add_existing_listings_route(app, backend.seed_existing)

    @app.post("/_control/buy", status_code=201)
    async def buy(body: BuyRequest) -> JSONResponse:
        try:
            sale = backend.buy(body.sku, body.quantity, body.buyer)
        except NotBuyable as error:
            return JSONResponse({"message": str(error)}, status_code=409)
        return JSONResponse(
            {"order_id": sale.order_id, "item_id": sale.item_id, "sku": sale.sku, "quantity": sale.quantity},
            status_code=201,
        )

    @app.get("/_control/live_skus")
    async def live_skus() -> dict[str, int]:
        return backend.live_skus()

    return app

"""Our Reverb shop's API at `/api/…`, as Reverb answers it.

Every API call must carry what Reverb's guide calls required: `Authorization: Bearer <token>`,
`Accept-Version: 3.0` and `Accept: application/hal+json`; a body must be JSON
(`Content-Type: application/hal+json`). Collections page with `page`/`per_page` and HAL
`_links.next`/`_links.prev`, absent where there is no such page.

Market hooks for code outside the process sit under `/_control`: `buy`, `foreign_listings`, `live_skus`,
`customer_messages` (a buyer writes to the shop).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any, TypeVar
from urllib.parse import urlencode

from fastapi import FastAPI, Request, Response
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from starlette.exceptions import HTTPException as StarletteHTTPException

from ..buyers import Buyer, BuyRequest, ForeignListingRequest, NotBuyable
from ..existing_listings import add_existing_listings_route
from ..storefront import paginate, query_int, site_url
from . import responses, taxonomy
from .exceptions import HAL_JSON, ReverbError, invalid, not_found, reverb_error_handler
from .models import LISTING_STATES, ReverbBackend, ReverbSimulatorConfig

if TYPE_CHECKING:
    from ..app import Simulator

T = TypeVar("T")
API_VERSION = "3.0"
PER_PAGE_DEFAULT, PER_PAGE_MAX = 24, 50
_JSON_TYPES = ("application/hal+json", "application/json")


def _path(request: Request) -> str:
    return request.scope["path"][len(request.scope.get("root_path", "")) :]


def _gate(request: Request, backend: ReverbBackend) -> ReverbError | None:
    """What Reverb refuses before looking at a request, or None."""
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not backend.accepts(token.strip()):
        return ReverbError(401, "Unauthorized. Please log in and obtain a new authorization token.")
    version = request.headers.get("accept-version")
    if version != API_VERSION:
        return ReverbError(
            400,
            f"Accept-Version must be {API_VERSION}"
            + (f"; {version!r} is not served" if version else " (missing)"),
        )
    if HAL_JSON not in request.headers.get("accept", ""):
        return ReverbError(406, f"Accept must be {HAL_JSON}")
    if (
        request.method in ("POST", "PUT")
        and request.headers.get("content-type", "").split(";")[0].strip() not in _JSON_TYPES
    ):
        return ReverbError(415, f"Content-Type must be {HAL_JSON} with a JSON body")
    return None


async def _body(request: Request) -> dict[str, Any]:
    try:
        data = json.loads(await request.body() or b"{}")
    except (json.JSONDecodeError, UnicodeDecodeError):
        raise ReverbError(400, "The request body is not valid JSON.") from None
    if not isinstance(data, dict):
        raise ReverbError(400, "The request body must be a JSON object.")
    return data


def _time(request: Request, name: str) -> datetime | None:
    value = request.query_params.get(name)
    if value is None:
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        moment = None
    if moment is None or moment.tzinfo is None:
        raise invalid({name: ["must be an ISO 8601 time with an offset, e.g. 2015-04-09T10:52:23-00:00"]})
    return moment


def _hal(body: Any, status: int = 200) -> JSONResponse:
    return JSONResponse(body, status_code=status, media_type=HAL_JSON)


def _paged(
    request: Request, items: Sequence[T], key: str, render: Callable[[T], dict[str, Any]]
) -> JSONResponse:
    page = paginate(
        items,
        query_int(request, "page", 1),
        query_int(request, "per_page", PER_PAGE_DEFAULT, maximum=PER_PAGE_MAX),
    )
    base = site_url(request, _path(request))
    params = {k: v for k, v in request.query_params.items() if k not in ("page", "per_page")}

    def href(number: int) -> dict[str, str]:
        return {"href": f"{base}?{urlencode(params | {'page': number, 'per_page': page.per_page})}"}

    links = {"self": href(page.number)}
    if page.has_next:
        links["next"] = href(page.number + 1)
    if 1 < page.number <= page.count:
        links["prev"] = href(page.number - 1)
    return _hal(
        {
            "total": page.total,
            "current_page": page.number,
            "total_pages": page.count,
            key: [render(item) for item in page.items],
            "_links": links,
        }
    )


class CustomerMessageRequest(BaseModel):
    """The body of `POST /_control/customer_messages`: an order number, or a listing id, slug or SKU."""

    ref: str
    body: str
    buyer: Buyer | None = None


def build(sim: Simulator) -> FastAPI:
    backend = ReverbBackend(sim, ReverbSimulatorConfig.from_env())
    app = FastAPI(docs_url=None, redoc_url=None, openapi_url=None)
    app.state.backend = backend
    app.add_exception_handler(ReverbError, reverb_error_handler)

    async def unknown_route(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        error = not_found() if exc.status_code == 404 else ReverbError(exc.status_code, str(exc.detail))
        return await reverb_error_handler(request, error)

    app.add_exception_handler(StarletteHTTPException, unknown_route)

    @app.middleware("http")
    async def api_gate(request: Request, call_next: Callable[[Request], Any]) -> Response:
        if _path(request).startswith("/api/") and (error := _gate(request, backend)):
            return await reverb_error_handler(request, error)
        return await call_next(request)

    def api(request: Request) -> str:
        return site_url(request, "/api")

    def listing_json(request: Request, listing: Any) -> dict[str, Any]:
        return responses.listing_json(listing, api(request), site_url(request, ""), backend.config.shop_name)

    # --- categories

    @app.get("/api/categories/flat")
    async def categories_flat(request: Request) -> JSONResponse:
        return _hal(taxonomy.flat(api(request)))

    # --- listings

    @app.post("/api/listings")
    async def create_listing(request: Request) -> JSONResponse:
        listing = backend.create_listing(await _body(request))
        return _hal({"message": "Listing created.", "listing": listing_json(request, listing)}, 201)

    @app.get("/api/listings/{ref}")
    async def get_listing(request: Request, ref: str) -> JSONResponse:
        return _hal(listing_json(request, backend.listing(ref)))

    @app.put("/api/listings/{ref}")
    async def update_listing(request: Request, ref: str) -> JSONResponse:
        listing = backend.update_listing(ref, await _body(request))
        return _hal({"message": "Listing updated.", "listing": listing_json(request, listing)})

    @app.get("/api/my/listings")
    async def my_listings(request: Request) -> JSONResponse:
        state = request.query_params.get("state", "live")
        if state not in LISTING_STATES:
            raise invalid({"state": [f"must be one of {', '.join(LISTING_STATES)}"]})
        listings = backend.list_listings(state=state, sku=request.query_params.get("sku"))
        return _paged(request, listings, "listings", lambda item: listing_json(request, item))

    @app.put("/api/my/listings/{ref}/state/end")
    async def end_listing(request: Request, ref: str) -> JSONResponse:
        listing = backend.end_listing(ref, (await _body(request)).get("reason"))
        return _hal({"message": "Listing ended.", "listing": listing_json(request, listing)})

    # --- orders

    @app.get("/api/my/orders/selling/{kind}")
    async def my_orders(request: Request, kind: str) -> JSONResponse:
        if kind.isdigit():
            return _hal(responses.order_json(backend.order(int(kind)), api(request)))
        if kind not in ("all", "awaiting_shipment", "unpaid"):
            raise not_found()
        orders = backend.list_orders(
            kind,
            created_start=_time(request, "created_start_date"),
            created_end=_time(request, "created_end_date"),
            updated_start=_time(request, "updated_start_date"),
            updated_end=_time(request, "updated_end_date"),
        )
        return _paged(request, orders, "orders", lambda order: responses.order_json(order, api(request)))

    @app.post("/api/my/orders/selling/{order_number:int}/ship")
    async def ship_order(request: Request, order_number: int) -> JSONResponse:
        order = backend.ship(order_number, await _body(request))
        return _hal(responses.order_json(order, api(request)))

    # --- conversations (paths verified from Reverb's guide; the JSON shape is not: see responses.py)

    def conversation_json(request: Request, conv: Any, with_messages: bool) -> dict[str, Any]:
        return responses.conversation_json(
            conv, api(request), site_url(request, ""), with_messages=with_messages
        )

    @app.get("/api/my/conversations")
    async def my_conversations(request: Request) -> JSONResponse:
        unread_only = request.query_params.get("unread_only", "false").lower() in ("true", "1")
        items = backend.list_conversations(unread_only=unread_only)
        return _paged(request, items, "conversations", lambda c: conversation_json(request, c, False))

    @app.get("/api/my/conversations/{conversation_id:int}")
    async def get_conversation(request: Request, conversation_id: int) -> JSONResponse:
        return _hal(conversation_json(request, backend.conversation(conversation_id), True))

    @app.put("/api/my/conversations/{conversation_id:int}")
    async def mark_conversation(request: Request, conversation_id: int) -> JSONResponse:
        conv = backend.mark_read(conversation_id, await _body(request))
        return _hal(conversation_json(request, conv, False))

    @app.post("/api/my/conversations/{conversation_id:int}/messages")
    async def reply_to_conversation(request: Request, conversation_id: int) -> JSONResponse:
        message = backend.reply(conversation_id, await _body(request))
        return _hal(responses.message_json(message), 201)

    # --- market hooks

    @app.post("/_control/buy", status_code=201)
    async def buy(request: Request, body: BuyRequest) -> JSONResponse:
        try:
            order = backend.buy(body.sku, body.quantity, body.buyer)
        except NotBuyable as error:
            return JSONResponse({"message": str(error)}, status_code=409)
        return JSONResponse({"order": responses.order_json(order, api(request))}, status_code=201)

    @app.post("/_control/foreign_listings", status_code=201)
    async def foreign_listing(request: Request, body: ForeignListingRequest) -> JSONResponse:
        listing = backend.create_foreign_listing(body.title, body.sku, body.price, body.quantity)
        return JSONResponse({"listing": listing_json(request, listing)}, status_code=201)

    add_existing_listings_route(app, backend.seed_existing)

    @app.post("/_control/customer_messages", status_code=201)
    async def customer_message(request: Request, body: CustomerMessageRequest) -> JSONResponse:
        try:
            conv = backend.customer_message(body.ref, body.body, body.buyer)
        except ReverbError as error:
            return JSONResponse({"message": error.message}, status_code=error.status)
        return JSONResponse({"conversation": conversation_json(request, conv, True)}, status_code=201)

    @app.get("/_control/live_skus")
    async def live_skus() -> dict[str, int]:
        return backend.live_skus()

    return app

"""eBay's routes at their real paths (base `{SIMULATOR_URL}/ebay` stands for `https://api.ebay.com`):

- `POST /identity/v1/oauth2/token` (refresh-token grant, client credentials in Basic auth);
- Sell Inventory: `PUT|GET /sell/inventory/v1/inventory_item/{sku}`, `POST|GET /sell/inventory/v1/offer`,
  `GET|PUT /sell/inventory/v1/offer/{offerId}`, `POST .../offer/{offerId}/publish` and `/withdraw`,
  `POST /sell/inventory/v1/bulk_update_price_quantity`;
- Commerce Taxonomy: the default tree id, category suggestions, item aspects (taxonomy.py);
- Sell Fulfillment: `GET /sell/fulfillment/v1/order` (filter, limit, offset, orderIds),
  `GET .../order/{orderId}`, `POST|GET .../order/{orderId}/shipping_fulfillment`,
  `GET .../shipping_fulfillment/{fulfillmentId}`.

Other documented Sell operations answer 501 (said, not faked); undocumented URLs 404. The gateway
(auth, quota, spec checks) runs before any of these. `/_control/buy`, `/_control/foreign_listings` and
`/_control/live_skus` drive the model hooks over HTTP for the demo's simulated market.
"""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl

from fastapi import FastAPI, Request, Response
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from ..buyers import BuyRequest, ForeignListingRequest, NotBuyable
from ..existing_listings import add_existing_listings_route
from . import responses, taxonomy
from .exceptions import (
    EbayError,
    OAuthError,
    ebay_error_handler,
    fulfillment_error,
    inventory_error,
    not_implemented,
    oauth_error_handler,
    resource_not_found,
)
from .gateway import OPERATION_KEY, Gateway
from .models import EbayBackend, EbaySimulatorConfig

if TYPE_CHECKING:
    from ..app import Simulator

INVENTORY, FULFILLMENT = "/sell/inventory/v1", "/sell/fulfillment/v1"
LOCALE = re.compile(r"[a-z]{2}-[A-Z]{2}")
DEFAULT_OFFERS_LIMIT, DEFAULT_ORDERS_LIMIT, MAX_ORDERS_LIMIT, MAX_ORDER_IDS = 100, 50, 200, 50
DEFAULT_ITEMS_LIMIT, MAX_ITEMS_LIMIT = 25, 200  # getInventoryItems: limit 1 to 200
CRITERION = re.compile(r"(?P<name>[A-Za-z]+):(?P<value>\[[^\]]*\]|\{[^}]*\})")
EBAY_TIME = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,3})?Z")
FULFILLMENT_FILTERS = {"{NOT_STARTED|IN_PROGRESS}", "{FULFILLED|IN_PROGRESS}"}  # the only supported pairs


def _json(request_body: bytes) -> Any:
    """The gateway has already checked the body against the spec."""
    return json.loads(request_body)


def _locale(request: Request) -> str:
    """Content-Language (en-US) as the locale eBay stores (en_US)."""
    value = request.headers.get("content-language", "")
    if not LOCALE.fullmatch(value):
        raise inventory_error(25709, fieldName="header Content-Language")
    return value.replace("-", "_")


def _int(value: str | None, default: int, *, low: int, high: int | None = None) -> int | None:
    """A query integer within [low, high]; None when it is not one."""
    if value is None:
        return default
    if not value.isdigit() or int(value) < low or (high is not None and int(value) > high):
        return None
    return int(value)


def _system_url(request: Request, path: str) -> str:
    """An absolute URL under this system's mount (https://api.ebay.com on the real thing)."""
    return f"{request.url.scheme}://{request.url.netloc}{request.scope.get('root_path', '')}{path}"


def _parse_time(text: str) -> datetime:
    if not EBAY_TIME.fullmatch(text):
        raise fulfillment_error(30810)
    return datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(UTC)


def _date_range(name: str, value: str) -> tuple[datetime, datetime | None]:
    start, separator, end = value[1:-1].partition("..")
    if not value.startswith("[") or not separator:
        raise fulfillment_error(30800, fieldvalue=value, fieldname=name)
    if not start:
        raise fulfillment_error(30820)
    window = (_parse_time(start), _parse_time(end) if end else None)
    if window[1] is not None:
        if window[0] > window[1]:
            raise fulfillment_error(30840)
        if window[1] - window[0] > timedelta(days=2 * 365):
            raise fulfillment_error(30830, allowedTime="2")
    return window


def _order_filter(text: str) -> dict[str, Any]:
    """`creationdate:[a..b],lastmodifieddate:[a..],orderfulfillmentstatus:{NOT_STARTED|IN_PROGRESS}`."""
    criteria: dict[str, Any] = {}
    position = 0
    while position < len(text):
        match = CRITERION.match(text, position)
        if match is None:
            name = text[position:].split(":", 1)[0]
            raise fulfillment_error(30700, fieldname=name)
        name, value = match["name"], match["value"]
        if name == "creationdate":
            criteria["created"] = _date_range(name, value)
        elif name == "lastmodifieddate":
            criteria["modified"] = _date_range(name, value)
        elif name == "orderfulfillmentstatus":
            if value not in FULFILLMENT_FILTERS:
                raise fulfillment_error(30800, fieldvalue=value, fieldname=name)
            criteria["fulfillment_statuses"] = frozenset(value[1:-1].split("|"))
        else:
            raise fulfillment_error(30700, fieldname=name)
        position = match.end()
        if position < len(text):
            if text[position] != ",":
                raise fulfillment_error(30800, fieldvalue=text[position:], fieldname=name)
            position += 1
    return criteria


def build(sim: Simulator) -> FastAPI:
    backend = EbayBackend(EbaySimulatorConfig.from_env(), sim.clock, sim.config.seed)
    app = FastAPI(docs_url=None, redoc_url=None, openapi_url=None)
    app.state.backend = backend
    app.add_exception_handler(EbayError, ebay_error_handler)
    app.add_exception_handler(OAuthError, oauth_error_handler)
    app.add_middleware(Gateway, backend=backend)

    async def unknown_route(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        operation = request.scope.get(OPERATION_KEY)
        if operation is not None:  # documented by eBay, not built here
            error = not_implemented(operation.api.name, operation.operation_id)
        else:
            path = request.scope["path"][len(request.scope.get("root_path", "")) :]
            error = resource_not_found(request.method, path)
        return await ebay_error_handler(request, error)

    app.add_exception_handler(StarletteHTTPException, unknown_route)

    # --- OAuth ------------------------------------------------------------------------------------

    @app.post("/identity/v1/oauth2/token")
    async def token(request: Request) -> JSONResponse:
        if (
            request.headers.get("content-type", "").split(";")[0].strip()
            != "application/x-www-form-urlencoded"
        ):
            raise OAuthError(400, "invalid_request", "request is missing a required parameter or malformed.")
        form = dict(parse_qsl((await request.body()).decode("utf-8", "replace")))
        access_token, expires_in = backend.issue_token(request.headers.get("authorization", ""), form)
        return JSONResponse(responses.token(access_token, expires_in), headers={"Cache-Control": "no-store"})

    # --- Sell Inventory ---------------------------------------------------------------------------

    @app.put(INVENTORY + "/inventory_item/{sku}")
    async def put_inventory_item(sku: str, request: Request) -> Response:
        backend.put_inventory_item(sku, _locale(request), _json(await request.body()))
        # The spec allows 200/201/204; eBay's own samples answer 204, for a new item too.
        return Response(status_code=204)

    @app.get(INVENTORY + "/inventory_item")
    async def get_inventory_items(request: Request) -> JSONResponse:
        """getInventoryItems: the seller's items, `limit` (1-200, default 25) a page, `offset` the page."""
        query = request.query_params
        limit = _int(query.get("limit"), DEFAULT_ITEMS_LIMIT, low=1, high=MAX_ITEMS_LIMIT)
        page = _int(query.get("offset"), 0, low=0)
        if limit is None or page is None:
            raise inventory_error(
                25706, additionalInfo=f"limit must be 1 to {MAX_ITEMS_LIMIT}, offset 0 or more"
            )
        items = list(backend.items.values())
        links = responses.page_links(
            _system_url(request, INVENTORY + "/inventory_item"),
            {"limit": str(limit)},
            key="offset",
            current=page,
            step=1,
            more=(page + 1) * limit < len(items),
        )
        shown = items[page * limit : (page + 1) * limit]
        return JSONResponse(responses.inventory_items_page(shown, links=links, limit=limit, total=len(items)))

    @app.get(INVENTORY + "/inventory_item/{sku}")
    async def get_inventory_item(sku: str) -> JSONResponse:
        return JSONResponse(responses.inventory_item(backend.get_inventory_item(sku)))

    @app.post(INVENTORY + "/offer")
    async def create_offer(request: Request) -> JSONResponse:
        _locale(request)
        offer_id = backend.create_offer(_json(await request.body()))
        return JSONResponse({"offerId": offer_id}, status_code=201)

    @app.get(INVENTORY + "/offer")
    async def get_offers(request: Request) -> JSONResponse:
        query = request.query_params
        limit = _int(query.get("limit"), DEFAULT_OFFERS_LIMIT, low=1)
        page = _int(query.get("offset"), 0, low=0)  # the spec: offset is the page number, from 0
        if limit is None or page is None:
            raise inventory_error(25706, additionalInfo="limit must be 1 or more, offset 0 or more")
        sku = query.get("sku")
        found = backend.find_offers(sku, query.get("marketplace_id"), query.get("format"))
        if sku is not None and not found:
            raise inventory_error(25713, 404, additionalInfo=f"no offer for SKU {sku}")
        shown = found[page * limit : (page + 1) * limit]
        params = {k: v for k, v in query.items() if k != "offset"} | {"limit": str(limit)}
        links = responses.page_links(
            _system_url(request, INVENTORY + "/offer"),
            params,
            key="offset",
            current=page,
            step=1,
            more=(page + 1) * limit < len(found),
        )
        return JSONResponse(responses.offers_page(shown, links=links, limit=limit, total=len(found)))

    @app.get(INVENTORY + "/offer/{offer_id}")
    async def get_offer(offer_id: str) -> JSONResponse:
        return JSONResponse(responses.offer(backend.get_offer(offer_id)))

    @app.put(INVENTORY + "/offer/{offer_id}")
    async def update_offer(offer_id: str, request: Request) -> Response:
        _locale(request)
        backend.update_offer(offer_id, _json(await request.body()))
        return Response(status_code=204)

    @app.post(INVENTORY + "/offer/{offer_id}/publish")
    async def publish_offer(offer_id: str) -> JSONResponse:
        return JSONResponse({"listingId": backend.publish_offer(offer_id)})

    @app.post(INVENTORY + "/offer/{offer_id}/withdraw")
    async def withdraw_offer(offer_id: str) -> JSONResponse:
        return JSONResponse({"listingId": backend.withdraw_offer(offer_id)})

    @app.post(INVENTORY + "/bulk_update_price_quantity")
    async def bulk_update_price_quantity(request: Request) -> JSONResponse:
        results = backend.bulk_update_price_quantity(_json(await request.body()).get("requests", []))
        status = 200 if all(r["statusCode"] == 200 for r in results) else 207
        return JSONResponse({"responses": results}, status_code=status)

    # --- Sell Fulfillment -------------------------------------------------------------------------

    def render(order: Any, request: Request) -> dict[str, Any]:
        url = _system_url(request, f"{FULFILLMENT}/order/{order.order_id}/shipping_fulfillment")
        return responses.order(order, seller=backend.config.seller_username, fulfillment_url=url)

    @app.get(FULFILLMENT + "/order")
    async def get_orders(request: Request) -> JSONResponse:
        query = request.query_params
        if query.get("fieldGroups") not in (None, "TAX_BREAKDOWN"):
            raise fulfillment_error(32800, fieldGroup=query["fieldGroups"])
        limit = _int(query.get("limit"), DEFAULT_ORDERS_LIMIT, low=1, high=MAX_ORDERS_LIMIT)
        if limit is None:
            raise fulfillment_error(31100, limitvalue=query["limit"])
        offset = _int(query.get("offset"), 0, low=0)
        if offset is None:
            raise fulfillment_error(31000, offsetvalue=query["offset"])
        if order_ids := query.get("orderIds"):
            wanted = [i for i in order_ids.split(",") if i]
            if len(wanted) > MAX_ORDER_IDS:
                raise fulfillment_error(30900)
            found = backend.find_orders(order_ids=wanted)
        else:
            found = backend.find_orders(**_order_filter(query.get("filter", "")))
        shown = found[offset : offset + limit]
        params = {k: v for k, v in query.items() if k != "offset"} | {"limit": str(limit)}
        links = responses.page_links(
            _system_url(request, FULFILLMENT + "/order"),
            params,
            key="offset",
            current=offset,
            step=limit,
            more=offset + limit < len(found),
        )
        orders = [render(o, request) for o in shown]
        return JSONResponse(
            responses.orders_page(orders, links=links, limit=limit, offset=offset, total=len(found))
        )

    @app.get(FULFILLMENT + "/order/{order_id}")
    async def get_order(order_id: str, request: Request) -> JSONResponse:
        return JSONResponse(render(backend.get_order(order_id), request))

    @app.post(FULFILLMENT + "/order/{order_id}/shipping_fulfillment")
    async def create_shipping_fulfillment(order_id: str, request: Request) -> JSONResponse:
        fulfillment = backend.create_shipping_fulfillment(order_id, _json(await request.body()))
        location = _system_url(
            request, f"{FULFILLMENT}/order/{order_id}/shipping_fulfillment/{fulfillment.fulfillment_id}"
        )
        return JSONResponse({}, status_code=201, headers={"Location": location})

    @app.get(FULFILLMENT + "/order/{order_id}/shipping_fulfillment")
    async def get_shipping_fulfillments(order_id: str) -> JSONResponse:
        fulfillments = backend.get_order(order_id).fulfillments
        return JSONResponse(
            {
                "fulfillments": [responses.shipping_fulfillment(f) for f in fulfillments],
                "total": len(fulfillments),
            }
        )

    @app.get(FULFILLMENT + "/order/{order_id}/shipping_fulfillment/{fulfillment_id}")
    async def get_shipping_fulfillment(order_id: str, fulfillment_id: str) -> JSONResponse:
        return JSONResponse(
            responses.shipping_fulfillment(backend.get_shipping_fulfillment(order_id, fulfillment_id))
        )

    taxonomy.add_routes(app)

    # --- hooks over HTTP --------------------------------------------------------------------------

    @app.post("/_control/buy")
    async def control_buy(body: BuyRequest, request: Request) -> JSONResponse:
        try:
            order = backend.buy(body.sku, body.quantity, body.buyer)
        except NotBuyable as error:
            return JSONResponse({"detail": str(error)}, status_code=409)
        return JSONResponse(render(order, request), status_code=201)

    @app.post("/_control/foreign_listings")
    async def control_foreign_listing(body: ForeignListingRequest) -> JSONResponse:
        listing_id = backend.create_foreign_listing(body.title, body.sku, body.price, body.quantity)
        return JSONResponse({"listingId": listing_id}, status_code=201)

    add_existing_listings_route(app, backend.seed_existing)

    @app.get("/_control/live_skus")
    async def control_live_skus() -> dict[str, int]:
        return backend.live_skus()

    return app

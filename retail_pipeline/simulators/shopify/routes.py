"""Our Shopify store's Admin REST API, at `/admin/api/{YYYY-MM}/…json`, as Shopify answers it.

Every Admin call passes one gate first: the API version (an unsupported old one is served as the
oldest supported, as Shopify does; a version that never existed is a 404), the
`X-Shopify-Access-Token`, and the leaky bucket, whose level every answer reports in
`X-Shopify-Shop-Api-Call-Limit: n/40` (429 with Retry-After when full). Lists page with cursors:
`page_info` in the `Link` header, and a `page_info` request may carry only `limit` and `fields`.

Market hooks for code outside the process sit under `/_control` (no token, no bucket): `buy`,
`foreign_listings`, `live_skus`, `webhook_deliveries`, `deliver_webhooks`.
"""

from __future__ import annotations

import base64
import binascii
import json
import math
import re
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any, TypeVar
from urllib.parse import urlencode

from fastapi import BackgroundTasks, FastAPI, Request, Response
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from ..buyers import BuyRequest, ForeignListingRequest, NotBuyable
from ..existing_listings import add_existing_listings_route
from ..storefront import site_url
from . import responses
from .exceptions import (
    THROTTLED,
    ShopifyError,
    missing_parameter,
    not_found,
    shopify_error_handler,
    unauthorized,
)
from .graphql import AdminGraphQL
from .models import SUPPORTED_VERSIONS, Order, Product, ShopifyBackend, ShopifySimulatorConfig

if TYPE_CHECKING:
    from ..app import Simulator

T = TypeVar("T")

_VERSION = re.compile(r"\d{4}-(01|04|07|10)")
_ADMIN_PATH = re.compile(r"^/admin/api/(?P<version>[^/]+)/")
LIMIT_DEFAULT, LIMIT_MAX = 50, 250
CURSOR_COMPANIONS = {"limit", "fields", "page_info"}  # all a page_info request may carry


def served_version(requested: str) -> str | None:
    if requested in SUPPORTED_VERSIONS or requested == "unstable":
        return requested
    if _VERSION.fullmatch(requested) and requested < SUPPORTED_VERSIONS[0]:
        return SUPPORTED_VERSIONS[0]  # Shopify falls forward to the oldest supported version
    return None


def _path(request: Request) -> str:
    """The path as this system sees it, without the mount prefix."""
    return request.scope["path"][len(request.scope.get("root_path", "")) :]


async def _body(request: Request, root: str) -> dict[str, Any]:
    """The object under the body's root key ({"product": {...}}), or Shopify's 400 for it."""
    try:
        data = json.loads(await request.body() or b"null")
    except (json.JSONDecodeError, UnicodeDecodeError):
        data = None
    inner = data.get(root) if isinstance(data, dict) else None
    if not isinstance(inner, dict):
        raise missing_parameter(root)
    return inner


def _int(value: Any, name: str) -> int:
    if isinstance(value, bool):
        raise missing_parameter(name)
    try:
        return int(value)
    except (TypeError, ValueError):
        raise missing_parameter(name) from None


def _ids(value: str | None, name: str) -> set[int] | None:
    return None if value is None else {_int(part, name) for part in value.split(",") if part.strip()}


def _names(value: str | None) -> set[str] | None:
    return None if value is None else {part.strip() for part in value.split(",") if part.strip()}


def _time(value: str | None, name: str) -> datetime | None:
    if value is None:
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        moment = None
    if moment is None or moment.tzinfo is None:
        raise ShopifyError(400, {name: "Invalid value"})
    return moment


def _choice(value: str, name: str, allowed: tuple[str, ...]) -> str:
    if value not in allowed:
        raise ShopifyError(400, {name: "Invalid value"})
    return value


# --- cursor paging


def _encode_cursor(query: dict[str, str], **position: int) -> str:
    raw = json.dumps({"q": query, **position}, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _decode_cursor(token: str) -> dict[str, Any]:
    try:
        data = json.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
    except (binascii.Error, json.JSONDecodeError, UnicodeDecodeError):
        data = None
    if not isinstance(data, dict) or not isinstance(data.get("q"), dict):
        raise ShopifyError(400, {"page_info": "Invalid value."})
    return data


def _filters(request: Request) -> tuple[dict[str, str], dict[str, Any] | None]:
    """The list's filters (from the request, or from inside its page_info) and the cursor, if any."""
    params = dict(request.query_params)
    token = params.get("page_info")
    if token is None:
        return {k: v for k, v in params.items() if k not in CURSOR_COMPANIONS}, None
    if set(params) - CURSOR_COMPANIONS:
        raise ShopifyError(400, {"page_info": "A page_info request can only carry limit and fields."})
    cursor = _decode_cursor(token)
    return cursor["q"], cursor


def _limit(request: Request) -> int:
    raw = request.query_params.get("limit")
    if raw is None:
        return LIMIT_DEFAULT
    if not raw.isdigit() or int(raw) < 1:
        raise ShopifyError(400, {"limit": "Invalid value"})
    return min(int(raw), LIMIT_MAX)


def _page(
    request: Request,
    items: Sequence[T],
    query: dict[str, str],
    cursor: dict[str, Any] | None,
    rank: Callable[[T], int],
) -> tuple[Sequence[T], dict[str, str]]:
    """One page of `items` (in list order, i.e. ascending by `rank`) and its Link header; cursors
    hold the rank of a page's first or last item, so records added meanwhile do not shift pages."""
    limit = _limit(request)
    if cursor and "after" in cursor:
        items = [i for i in items if rank(i) > cursor["after"]]
        page = items[:limit]
        before, after = True, len(items) > limit
    elif cursor and "before" in cursor:
        items = [i for i in items if rank(i) < cursor["before"]]
        page = items[-limit:]
        before, after = len(items) > limit, True
    else:
        page, before, after = items[:limit], False, len(items) > limit
    extra = {"limit": str(limit)} | (
        {"fields": request.query_params["fields"]} if "fields" in request.query_params else {}
    )
    base = site_url(request, _path(request))

    def link(rel: str, **position: int) -> str:
        return f'<{base}?{urlencode(extra | {"page_info": _encode_cursor(query, **position)})}>; rel="{rel}"'

    links = []
    if page and before:
        links.append(link("previous", before=rank(page[0])))
    if page and after:
        links.append(link("next", after=rank(page[-1])))
    return page, ({"Link": ", ".join(links)} if links else {})


def _fields(request: Request, record: dict[str, Any]) -> dict[str, Any]:
    wanted = _names(request.query_params.get("fields"))
    return record if not wanted else {k: v for k, v in record.items() if k in wanted}


def build(sim: Simulator) -> FastAPI:
    backend = ShopifyBackend(sim, ShopifySimulatorConfig.from_env())
    app = FastAPI(docs_url=None, redoc_url=None, openapi_url=None)
    app.state.backend = backend
    app.add_exception_handler(ShopifyError, shopify_error_handler)

    async def unknown_route(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        if exc.status_code in (404, 405):
            return await shopify_error_handler(request, not_found())
        return await shopify_error_handler(request, ShopifyError(exc.status_code, str(exc.detail)))

    app.add_exception_handler(StarletteHTTPException, unknown_route)

    @app.middleware("http")
    async def admin_gate(request: Request, call_next: Callable[[Request], Any]) -> Response:
        match = _ADMIN_PATH.match(_path(request))
        if match is None:
            return await call_next(request)
        version = served_version(match["version"])
        if version is None:
            return await shopify_error_handler(request, not_found())
        token = request.headers.get("x-shopify-access-token")
        if not backend.accepts(token):
            return await shopify_error_handler(request, unauthorized())
        if _path(request).endswith("/graphql.json"):  # GraphQL has its own cost-based limit
            response = await call_next(request)
            response.headers["X-Shopify-API-Version"] = version
            return response
        bucket = backend.bucket(token)
        allowed, level, wait = bucket.take()
        headers = {
            "X-Shopify-Shop-Api-Call-Limit": f"{math.ceil(level)}/{bucket.size}",
            "X-Shopify-API-Version": version,
        }
        if not allowed:
            throttled = ShopifyError(429, THROTTLED, headers | {"Retry-After": f"{max(wait, 0.1):.1f}"})
            return await shopify_error_handler(request, throttled)
        response = await call_next(request)
        response.headers.update(headers)
        return response

    def product_json(request: Request, product: Product) -> dict[str, Any]:
        # Attachments are served from the shop's own CDN path, beside the API.
        return _fields(request, responses.product_json(product, backend, site_url(request, "")))

    def order_json(request: Request, order: Order) -> dict[str, Any]:
        return _fields(request, responses.order_json(order, backend.shop_domain))

    admin = "/admin/api/{version}"
    graphql = AdminGraphQL(backend)
    app.state.graphql = graphql

    @app.post(admin + "/graphql.json")
    async def admin_graphql(request: Request) -> JSONResponse:
        try:
            body = json.loads(await request.body() or b"null")
        except (json.JSONDecodeError, UnicodeDecodeError):
            body = None
        return JSONResponse(graphql.execute(request.headers.get("x-shopify-access-token", ""), body))

    # --- products and variants

    @app.get(admin + "/products.json")
    async def list_products(request: Request) -> JSONResponse:
        query, cursor = _filters(request)
        products = backend.list_products(
            ids=_ids(query.get("ids"), "ids"),
            handles=_names(query.get("handle")),
            statuses=_names(query.get("status")),
            product_type=query.get("product_type"),
            vendor=query.get("vendor"),
            title=query.get("title"),
            since_id=_int(query["since_id"], "since_id") if "since_id" in query else None,
            updated_at_min=_time(query.get("updated_at_min"), "updated_at_min"),
        )
        page, link = _page(request, products, query, cursor, lambda p: p.id)
        return JSONResponse({"products": [product_json(request, p) for p in page]}, headers=link)

    @app.get(admin + "/products/{product_id:int}.json")
    async def get_product(request: Request, product_id: int) -> JSONResponse:
        return JSONResponse({"product": product_json(request, backend.product(product_id))})

    @app.post(admin + "/products.json")
    async def create_product(request: Request) -> JSONResponse:
        product = backend.create_product(await _body(request, "product"))
        return JSONResponse({"product": product_json(request, product)}, status_code=201)

    @app.put(admin + "/products/{product_id:int}.json")
    async def update_product(request: Request, product_id: int) -> JSONResponse:
        product = backend.update_product(product_id, await _body(request, "product"))
        return JSONResponse({"product": product_json(request, product)})

    @app.get(admin + "/variants/{variant_id:int}.json")
    async def get_variant(variant_id: int) -> JSONResponse:
        _, variant = backend.variant(variant_id)
        return JSONResponse({"variant": responses.variant_json(variant, backend)})

    @app.put(admin + "/variants/{variant_id:int}.json")
    async def update_variant(request: Request, variant_id: int) -> JSONResponse:
        _, variant = backend.update_variant(variant_id, await _body(request, "variant"))
        return JSONResponse({"variant": responses.variant_json(variant, backend)})

    # --- locations and inventory

    @app.get(admin + "/locations.json")
    async def list_locations() -> JSONResponse:
        return JSONResponse({"locations": [responses.location_json(loc) for loc in backend.locations]})

    async def inventory_body(request: Request, amount: str) -> tuple[int, int, int]:
        try:
            data = json.loads(await request.body() or b"{}")
        except (json.JSONDecodeError, UnicodeDecodeError):
            data = {}
        data = data if isinstance(data, dict) else {}
        item, location, value = (
            _int(data.get(name), name) for name in ("inventory_item_id", "location_id", amount)
        )
        return item, location, value

    @app.post(admin + "/inventory_levels/set.json")
    async def set_inventory(request: Request) -> JSONResponse:
        level = backend.set_inventory(*await inventory_body(request, "available"))
        return JSONResponse({"inventory_level": responses.inventory_level_json(level)})

    @app.post(admin + "/inventory_levels/adjust.json")
    async def adjust_inventory(request: Request) -> JSONResponse:
        level = backend.adjust_inventory(*await inventory_body(request, "available_adjustment"))
        return JSONResponse({"inventory_level": responses.inventory_level_json(level)})

    # --- orders and fulfilment

    @app.get(admin + "/orders.json")
    async def list_orders(request: Request) -> JSONResponse:
        query, cursor = _filters(request)
        orders = backend.list_orders(
            ids=_ids(query.get("ids"), "ids"),
            status=_choice(query.get("status", "open"), "status", ("open", "closed", "cancelled", "any")),
            financial_status=query.get("financial_status", "any"),
            fulfillment_status=_choice(
                query.get("fulfillment_status", "any"),
                "fulfillment_status",
                ("any", "shipped", "partial", "unshipped", "unfulfilled"),
            ),
            since_id=_int(query["since_id"], "since_id") if "since_id" in query else None,
            created_at_min=_time(query.get("created_at_min"), "created_at_min"),
            created_at_max=_time(query.get("created_at_max"), "created_at_max"),
            updated_at_min=_time(query.get("updated_at_min"), "updated_at_min"),
            updated_at_max=_time(query.get("updated_at_max"), "updated_at_max"),
        )
        # Newest first: rank by negated id so "after" still means "further down the list".
        page, link = _page(request, orders, query, cursor, lambda o: -o.id)
        return JSONResponse({"orders": [order_json(request, o) for o in page]}, headers=link)

    @app.get(admin + "/orders/{order_id:int}.json")
    async def get_order(request: Request, order_id: int) -> JSONResponse:
        return JSONResponse({"order": order_json(request, backend.order(order_id))})

    @app.get(admin + "/orders/{order_id:int}/fulfillment_orders.json")
    async def list_fulfillment_orders(order_id: int) -> JSONResponse:
        order = backend.order(order_id)
        return JSONResponse(
            {
                "fulfillment_orders": [
                    responses.fulfillment_order_json(fo, order) for fo in order.fulfillment_orders
                ]
            }
        )

    @app.get(admin + "/orders/{order_id:int}/fulfillments.json")
    async def list_fulfillments(order_id: int) -> JSONResponse:
        order = backend.order(order_id)
        return JSONResponse(
            {"fulfillments": [responses.fulfillment_json(f, order) for f in order.fulfillments]}
        )

    @app.post(admin + "/fulfillments.json")
    async def create_fulfillment(request: Request) -> JSONResponse:
        data = await _body(request, "fulfillment")
        requested = data.get("line_items_by_fulfillment_order")
        if (
            not isinstance(requested, list)
            or not requested
            or not all(isinstance(r, dict) for r in requested)
        ):
            raise missing_parameter("line_items_by_fulfillment_order")
        tracking = data.get("tracking_info") or {}
        if not isinstance(tracking, dict):
            raise missing_parameter("tracking_info")
        fulfillment = backend.fulfill(
            requested,
            tracking_number=tracking.get("number"),
            tracking_company=tracking.get("company"),
            tracking_url=tracking.get("url"),
            notify_customer=bool(data.get("notify_customer", False)),
        )
        order = backend.order(fulfillment.order_id)
        return JSONResponse({"fulfillment": responses.fulfillment_json(fulfillment, order)}, status_code=201)

    # --- webhook subscriptions

    @app.get(admin + "/webhooks.json")
    async def list_webhooks(request: Request) -> JSONResponse:
        topic, address = request.query_params.get("topic"), request.query_params.get("address")
        found = [
            s
            for s in backend.subscriptions.values()
            if (topic is None or s.topic == topic) and (address is None or s.address == address)
        ]
        return JSONResponse({"webhooks": [responses.webhook_json(s) for s in found]})

    @app.post(admin + "/webhooks.json")
    async def create_webhook(request: Request, version: str) -> JSONResponse:
        data = await _body(request, "webhook")
        if data.get("format", "json") != "json":
            raise ShopifyError(422, {"format": ["The simulator delivers json only"]})
        subscription = backend.subscribe(
            str(data.get("topic") or ""), str(data.get("address") or ""), served_version(version) or version
        )
        return JSONResponse({"webhook": responses.webhook_json(subscription)}, status_code=201)

    @app.delete(admin + "/webhooks/{webhook_id:int}.json")
    async def delete_webhook(webhook_id: int) -> JSONResponse:
        backend.unsubscribe(webhook_id)
        return JSONResponse({})

    # --- the shop's CDN: images uploaded as attachments

    @app.get("/cdn/shop/files/{filename}")
    async def cdn_file(filename: str) -> Response:
        image = next(
            (i for p in backend.products.values() for i in p.images if i.filename == filename and i.content),
            None,
        )
        if image is None or image.content is None:
            raise not_found()
        kind = filename.rsplit(".", 1)[-1].replace("jpg", "jpeg")
        return Response(image.content, media_type=f"image/{kind}")

    # --- market hooks

    @app.post("/_control/buy", status_code=201)
    async def buy(body: BuyRequest, tasks: BackgroundTasks) -> JSONResponse:
        try:
            order = backend.buy(body.sku, body.quantity, body.buyer)
        except NotBuyable as error:
            return JSONResponse({"errors": str(error)}, status_code=409)
        tasks.add_task(backend.deliver_webhooks)  # after answering, as Shopify sends webhooks asynchronously
        return JSONResponse({"order": responses.order_json(order, backend.shop_domain)}, status_code=201)

    add_existing_listings_route(app, backend.seed_existing)

    @app.post("/_control/foreign_listings", status_code=201)
    async def foreign_listing(request: Request, body: ForeignListingRequest) -> JSONResponse:
        product = backend.create_foreign_listing(body.title, body.sku, body.price, body.quantity)
        return JSONResponse({"product": product_json(request, product)}, status_code=201)

    @app.get("/_control/live_skus")
    async def live_skus() -> dict[str, int]:
        return backend.live_skus()

    @app.get("/_control/webhook_deliveries")
    async def webhook_deliveries() -> list[dict[str, Any]]:
        return [
            {
                "webhook_id": d.webhook_id,
                "topic": d.topic,
                "address": d.address,
                "headers": d.headers,
                "body": d.body.decode(),
                "attempts": d.attempts,
                "response_status": d.response_status,
                "error": d.error,
                "delivered": d.delivered,
            }
            for d in backend.webhook_deliveries
        ]

    @app.post("/_control/deliver_webhooks")
    async def deliver_webhooks() -> dict[str, int]:
        attempted = await backend.deliver_webhooks()
        return {"attempted": len(attempted), "delivered": sum(d.delivered for d in attempted)}

    return app

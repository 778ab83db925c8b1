"""Our Kaufland seller account's API at `/v2/…`, as Kaufland answers it.

The gate in front of every API call, in Kaufland's order: the four signature headers present
(`Shop-Client-Key`, `Shop-Timestamp`, `Shop-Signature`, and a `User-Agent`), a known client key, the
rate limit (111 a second per key, then 429), a timestamp within five minutes of the server's clock, the
signature recomputed over "METHOD\\nURI\\nBODY\\nTIMESTAMP" with the key's secret (URI: the full URL
received, with its query string; BODY: the exact bytes), then the request against the OpenAPI document
(a missing storefront, a wrong type, an undefined field: 400 with one error per field).

Market hooks under `/_control`: `buy`, `live_skus`, `customer_messages` (a buyer writes in a ticket).
"""

from __future__ import annotations

import hmac
import json
from collections.abc import Callable
from datetime import datetime
from hashlib import sha256
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from fastapi import FastAPI, Request, Response
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from starlette.exceptions import HTTPException as StarletteHTTPException

from ..buyers import Buyer, BuyRequest, NotBuyable
from ..existing_listings import add_existing_listings_route
from . import conformance, responses
from .exceptions import KauflandError, invalid, kaufland_error_handler, not_found, unauthorized
from .models import CARRIERS, KauflandBackend, KauflandSimulatorConfig

if TYPE_CHECKING:
    from ..app import Simulator


def _path(request: Request) -> str:
    return request.scope["path"][len(request.scope.get("root_path", "")) :]


def received_uri(request: Request) -> str:
    """The full URL as the client addressed it (what it signed): scheme, Host, raw path and query."""
    raw = request.scope.get("raw_path")
    path = raw.decode("latin-1").split("?", 1)[0] if raw else quote(request.scope["path"])
    query = request.scope.get("query_string", b"").decode("latin-1")
    host = request.headers.get("host") or request.url.netloc
    return f"{request.url.scheme}://{host}{path}" + (f"?{query}" if query else "")


def expected_signature(secret: str, method: str, uri: str, body: bytes, timestamp: str) -> str:
    message = b"\n".join((method.upper().encode(), uri.encode(), body, timestamp.encode()))
    return hmac.new(secret.encode(), message, sha256).hexdigest()


async def _gate(request: Request, backend: KauflandBackend) -> KauflandError | None:
    headers = request.headers
    missing = [
        h for h in ("Shop-Client-Key", "Shop-Timestamp", "Shop-Signature", "User-Agent") if not headers.get(h)
    ]
    if missing:
        return KauflandError(
            401,
            f"Missing request header(s): {', '.join(missing)}",
            errors=[{"field": h, "message": "is required"} for h in missing],
            problem="/problems/missing-or-invalid-request-header",
        )
    key = headers["Shop-Client-Key"]
    secret = backend.secret_for(key)
    if secret is None:
        return unauthorized("Invalid client key", "/problems/invalid-credentials")
    wait = backend.limiter.admit(key)
    if wait is not None:
        return KauflandError(
            429,
            f"Too many requests: at most {backend.config.requests_per_second} a second",
            headers={"Retry-After": f"{max(wait, 0.001):.3f}"},
        )
    stamp = headers["Shop-Timestamp"]
    if not stamp.isdigit() or abs(backend.wall_clock() - int(stamp)) > backend.config.max_skew_seconds:
        return KauflandError(
            401,
            f"Shop-Timestamp {stamp!r} is not a unix time within {backend.config.max_skew_seconds} s of the server's",
            errors=[{"field": "Shop-Timestamp", "message": "stale or invalid"}],
            problem="/problems/missing-or-invalid-request-header",
        )
    body = await request.body()
    wanted = expected_signature(secret, request.method, received_uri(request), body, stamp)
    if not hmac.compare_digest(wanted, headers["Shop-Signature"].strip().lower()):
        return unauthorized("The signature does not match the request", "/problems/corrupted-signature")
    if "application/json" not in headers.get("accept", "") and "*/*" not in headers.get("accept", ""):
        return KauflandError(406, "Accept must be application/json", problem="/problems/bad-request")
    judged = conformance.spec_request(
        request.method,
        _path(request),
        query=request.scope.get("query_string", b"").decode("latin-1"),
        headers=headers.items(),
        body=body,
    )
    if conformance.find_operation(request.method, _path(request)) is None:
        return not_found("Resource")
    problems = conformance.request_problems(judged)
    if problems:
        return invalid([{"field": p.name or "body", "message": p.detail[:300]} for p in problems])
    return None


async def _body(request: Request) -> dict[str, Any]:
    try:
        data = json.loads(await request.body() or b"{}")
    except (json.JSONDecodeError, UnicodeDecodeError):
        raise KauflandError(
            400, "The request body is not valid JSON", problem="/problems/bad-request"
        ) from None
    if not isinstance(data, dict):
        raise KauflandError(400, "The request body must be a JSON object", problem="/problems/bad-request")
    return data


def _int(request: Request, name: str, default: int) -> int:
    try:
        return int(request.query_params.get(name, default))
    except ValueError:
        return default


def _time(request: Request, name: str) -> datetime | None:
    value = request.query_params.get(name)
    return datetime.fromisoformat(value.replace("Z", "+00:00")) if value else None


def _page(
    request: Request, items: list[Any], render: Callable[[Any], dict], default_limit: int = 30
) -> JSONResponse:
    offset, limit = _int(request, "offset", 0), _int(request, "limit", default_limit)
    chosen = items[offset : offset + limit]
    return JSONResponse(responses.collection([render(i) for i in chosen], offset, limit, len(items)))


def _data(body: Any, status: int = 200) -> JSONResponse:
    return JSONResponse({"data": body}, status_code=status)


class CustomerMessageRequest(BaseModel):
    """The body of `POST /_control/customer_messages`: an order id, order-unit id, or SKU bought."""

    ref: str
    body: str
    buyer: Buyer | None = None


def build(sim: Simulator) -> FastAPI:
    backend = KauflandBackend(sim, KauflandSimulatorConfig.from_env())
    app = FastAPI(docs_url=None, redoc_url=None, openapi_url=None)
    app.state.backend = backend
    app.add_exception_handler(KauflandError, kaufland_error_handler)

    async def unknown_route(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        error = (
            not_found("Resource")
            if exc.status_code == 404
            else KauflandError(exc.status_code, str(exc.detail))
        )
        return await kaufland_error_handler(request, error)

    app.add_exception_handler(StarletteHTTPException, unknown_route)

    @app.middleware("http")
    async def api_gate(request: Request, call_next: Callable[[Request], Any]) -> Response:
        if _path(request).startswith("/v2/") and (error := await _gate(request, backend)):
            return await kaufland_error_handler(request, error)
        return await call_next(request)

    def front(request: Request) -> str:
        return request.query_params.get("storefront", "de")

    def embedded(request: Request) -> list[str]:
        return request.query_params.getlist("embedded")

    # --- categories and attributes

    @app.get("/v2/categories/tree")
    async def category_tree() -> JSONResponse:
        return _data(responses.tree_json())

    @app.post("/v2/categories/decide")
    async def decide(request: Request) -> JSONResponse:
        item = (await _body(request))["item"]
        found = backend.decide(item["title"], item["description"], item["manufacturer"])
        return JSONResponse(
            responses.collection([responses.category_json(c) for c in found], 0, 5, len(found))
        )

    @app.get("/v2/categories/{id_category}")
    async def get_category(request: Request, id_category: int) -> JSONResponse:
        category = backend.category(id_category)
        return _data(responses.category_with_embedded(category, embedded(request)))

    @app.get("/v2/attributes/{id_attribute}")
    async def get_attribute(id_attribute: int) -> JSONResponse:
        return _data(responses.attribute_json(backend.attribute(id_attribute)))

    @app.get("/v2/attributes/{id_attribute}/shared-set")
    async def shared_set(request: Request, id_attribute: int) -> JSONResponse:
        attribute = backend.attribute(id_attribute)
        q = (request.query_params.get("q") or "").lower()
        values = [v for v in attribute.values if q in v.lower()]
        return _page(request, values, lambda v: {"label": v, "value": v}, default_limit=100)

    # --- product data

    @app.put("/v2/product-data")
    async def put_product_data(request: Request) -> JSONResponse:
        backend.put_product_data(await _body(request), replace=True)
        return _data({})

    @app.patch("/v2/product-data")
    async def patch_product_data(request: Request) -> JSONResponse:
        backend.put_product_data(await _body(request), replace=False)
        return _data({})

    @app.get("/v2/product-data/status/{ean}")
    async def product_data_status(ean: str) -> JSONResponse:
        return _data(responses.product_data_status_json(backend.get_product_data(ean)))

    @app.get("/v2/product-data/{ean}")
    async def get_product_data(ean: str) -> JSONResponse:
        return _data(responses.product_data_json(backend.get_product_data(ean)))

    # --- units

    @app.get("/v2/units")
    async def list_units(request: Request) -> JSONResponse:
        units = backend.list_units(
            front(request), id_offer=request.query_params.get("id_offer"), ean=request.query_params.get("ean")
        )
        return _page(request, units, lambda u: responses.unit_json(backend, u, embedded(request)))

    @app.post("/v2/units")
    async def create_unit(request: Request) -> JSONResponse:
        unit = backend.create_unit(front(request), await _body(request))
        return _data(responses.unit_json(backend, unit, embedded(request)))

    @app.get("/v2/units/{id_unit}")
    async def get_unit(request: Request, id_unit: int) -> JSONResponse:
        return _data(responses.unit_json(backend, backend.unit(id_unit, front(request)), embedded(request)))

    @app.patch("/v2/units/{id_unit}")
    async def patch_unit(request: Request, id_unit: int) -> JSONResponse:
        unit = backend.patch_unit(id_unit, front(request), await _body(request))
        return _data(responses.unit_json(backend, unit, embedded(request)))

    @app.delete("/v2/units/{id_unit}")
    async def delete_unit(request: Request, id_unit: int) -> Response:
        backend.delete_unit(id_unit, front(request))
        return Response(status_code=204)

    # --- order units

    @app.get("/v2/order-units")
    async def list_order_units(request: Request) -> JSONResponse:
        units = backend.list_order_units(
            storefront=request.query_params.get("storefront"),
            statuses=request.query_params.getlist("status"),
            id_offer=request.query_params.get("id_offer"),
            created_from=_time(request, "ts_created_from_iso"),
            updated_from=_time(request, "ts_updated_from_iso"),
            sort=request.query_params.get("sort", "ts_created:desc"),
        )
        return _page(request, units, lambda u: responses.order_unit_json(backend, u))

    @app.get("/v2/order-units/{id_order_unit}")
    async def get_order_unit(id_order_unit: int) -> JSONResponse:
        return _data(responses.order_unit_json(backend, backend.order_unit(id_order_unit)))

    @app.patch("/v2/order-units/{id_order_unit}/send")
    async def send(request: Request, id_order_unit: int) -> Response:
        backend.send(id_order_unit, await _body(request))
        return Response(status_code=204)

    @app.patch("/v2/order-units/{id_order_unit}/cancel")
    async def cancel(request: Request, id_order_unit: int) -> Response:
        backend.cancel(id_order_unit, await _body(request))
        return Response(status_code=204)

    @app.get("/v2/carriers")
    async def carriers() -> JSONResponse:
        return _data({"carriers": [{"name": name, "isHauler": hauler} for name, hauler in CARRIERS]})

    # --- tickets

    @app.get("/v2/tickets")
    async def list_tickets(request: Request) -> JSONResponse:
        tickets = backend.list_tickets(
            statuses=request.query_params.getlist("status"),
            updated_from=_time(request, "ts_updated_from_iso"),
            sort=request.query_params.get("sort", "ts_created_iso:desc"),
        )
        return _page(request, tickets, responses.ticket_json)

    @app.get("/v2/tickets/{id_ticket}")
    async def get_ticket(request: Request, id_ticket: str) -> JSONResponse:
        ticket = backend.ticket(id_ticket)
        return _data(responses.ticket_with_embedded(backend, ticket, embedded(request)))

    @app.post("/v2/tickets/{id_ticket}/messages")
    async def post_message(request: Request, id_ticket: str) -> Response:
        backend.post_message(id_ticket, await _body(request))
        return Response(status_code=201)

    @app.get("/v2/status/ping")
    async def ping() -> JSONResponse:
        return _data({"status": "ok"})

    # --- market hooks

    @app.post("/_control/buy", status_code=201)
    async def buy(body: BuyRequest) -> JSONResponse:
        try:
            order = backend.buy(body.sku, body.quantity, body.buyer)
        except NotBuyable as error:
            return JSONResponse({"message": str(error)}, status_code=409)
        units = [responses.order_unit_json(backend, u) for u in order.units]
        return JSONResponse({"id_order": order.order_id, "order_units": units}, status_code=201)

    @app.post("/_control/customer_messages", status_code=201)
    async def customer_message(body: CustomerMessageRequest) -> JSONResponse:
        try:
            ticket = backend.customer_message(body.ref, body.body, body.buyer)
        except KauflandError as error:
            return JSONResponse({"message": error.message}, status_code=error.status)
        return JSONResponse(
            {"ticket": responses.ticket_with_embedded(backend, ticket, ["messages"])}, status_code=201
        )

    add_existing_listings_route(app, backend.seed_existing)

    @app.get("/_control/live_skus")
    async def live_skus() -> dict[str, int]:
        return backend.live_skus()

    return app

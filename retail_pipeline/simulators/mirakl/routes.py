"""Best Buy's Mirakl seller API as Mirakl answers it (under /mirakl in the simulator).

- OR11 `GET /api/orders` (order_ids, order_state_codes, start_date/end_date, start_update_date/
  end_update_date; offset paging with `max` ≤ 100 and `offset`, or `paginate=false`) → `{orders, total_count}`
- OR21 `PUT /api/orders/{order_id}/accept` `{"order_lines": [{"id", "accepted"}]}` → 204
- OR23 `PUT /api/orders/{order_id}/tracking` → 204; OR24 `PUT /api/orders/{order_id}/ship` → 204
- M11 `GET /api/inbox/threads` (entity_type, entity_id, updated_since, with_messages, limit,
  page_token) → `{data, next_page_token}`; M10 `GET /api/inbox/threads/{thread_id}`;
  M12 `POST /api/inbox/threads/{thread_id}/message` (multipart, a `message_input` JSON part) → 201

Every call needs `Authorization: <shop API key>` (no scheme word; 401 otherwise). JSON bodies need
`Content-Type: application/json` (415). Market hooks under `/_control`: `buy`, `live_skus`, `offers`,
`customer_messages`, `operator_messages`.
"""

from __future__ import annotations

import base64
import json
from datetime import datetime
from typing import TYPE_CHECKING, Any

from fastapi import FastAPI, Request, Response
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from starlette.exceptions import HTTPException as StarletteHTTPException

from ..buyers import BuyRequest, NotBuyable
from .models import MiraklBackend, MiraklError, MiraklSimulatorConfig, invalid
from .responses import order_json, thread_json

if TYPE_CHECKING:
    from ..app import Simulator

MAX_PAGE = 100
DEFAULT_PAGE = 10
THREADS_PAGE = 50


def _path(request: Request) -> str:
    return request.scope["path"][len(request.scope.get("root_path", "")) :]


def _time(request: Request, name: str) -> datetime | None:
    value = request.query_params.get(name)
    if value is None:
        return None
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        moment = None
    if moment is None or moment.tzinfo is None:
        raise invalid("VALIDATION_ERROR", f"{name} must be an ISO 8601 date-time with a zone", name)
    return moment


def _int(request: Request, name: str, default: int, maximum: int | None = None) -> int:
    raw = request.query_params.get(name)
    if raw is None:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise invalid("VALIDATION_ERROR", f"{name} must be an integer", name) from None
    if value < 0 or (maximum is not None and value > maximum):
        raise invalid("VALIDATION_ERROR", f"{name} must be between 0 and {maximum}", name)
    return value


def _list(request: Request, name: str) -> list[str] | None:
    values = [v for raw in request.query_params.getlist(name) for v in raw.split(",") if v.strip()]
    return [v.strip() for v in values] if values else None


async def _json_body(request: Request) -> Any:
    if request.headers.get("content-type", "").split(";")[0].strip() != "application/json":
        raise MiraklError(415, "Content-Type must be application/json")
    try:
        return json.loads(await request.body() or b"null")
    except (json.JSONDecodeError, UnicodeDecodeError):
        raise invalid("VALIDATION_ERROR", "The request body is not valid JSON") from None


class CustomerMessageRequest(BaseModel):
    order_id: str
    body: str = Field(min_length=1)
    topic: str = "Question about my order"


class OperatorMessageRequest(BaseModel):
    thread_id: str
    body: str = Field(min_length=1)


class OfferRequest(BaseModel):
    sku: str
    quantity: int = Field(ge=0)
    price: str = "49.00"
    title: str | None = None


def build(sim: Simulator) -> FastAPI:
    backend = MiraklBackend(sim, MiraklSimulatorConfig.from_env())
    app = FastAPI(title="Mirakl seller API (Best Buy Canada simulator)", docs_url=None, redoc_url=None)
    app.state.backend = backend

    @app.exception_handler(MiraklError)
    async def mirakl_error(request: Request, exc: MiraklError) -> JSONResponse:
        return JSONResponse(exc.body(), status_code=exc.status)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        return JSONResponse(
            {"status": exc.status_code, "message": str(exc.detail)}, status_code=exc.status_code
        )

    @app.middleware("http")
    async def gate(request: Request, call_next):
        if _path(request).startswith("/api/") and not backend.accepts(
            request.headers.get("authorization", "")
        ):
            return JSONResponse({"status": 401, "message": "Unauthorized"}, status_code=401)
        return await call_next(request)

    # --- orders

    @app.get("/api/orders")
    async def list_orders(request: Request) -> JSONResponse:
        orders = backend.list_orders(
            order_ids=_list(request, "order_ids"),
            states=_list(request, "order_state_codes"),
            start=_time(request, "start_date"),
            end=_time(request, "end_date"),
            start_update=_time(request, "start_update_date"),
            end_update=_time(request, "end_update_date"),
        )
        total = len(orders)
        if request.query_params.get("paginate", "true").lower() != "false":
            offset = _int(request, "offset", 0)
            orders = orders[offset : offset + _int(request, "max", DEFAULT_PAGE, MAX_PAGE)]
        return JSONResponse({"orders": [order_json(o) for o in orders], "total_count": total})

    @app.put("/api/orders/{order_id}/accept", status_code=204)
    async def accept(request: Request, order_id: str) -> Response:
        body = await _json_body(request)
        if not isinstance(body, dict):
            raise invalid("VALIDATION_ERROR", "The body must be a JSON object")
        backend.accept(order_id, body.get("order_lines"))
        return Response(status_code=204)

    @app.put("/api/orders/{order_id}/tracking", status_code=204)
    async def tracking(request: Request, order_id: str) -> Response:
        backend.set_tracking(order_id, await _json_body(request))
        return Response(status_code=204)

    @app.put("/api/orders/{order_id}/ship", status_code=204)
    async def ship(order_id: str) -> Response:
        backend.ship(order_id)
        return Response(status_code=204)

    # --- inbox

    @app.get("/api/inbox/threads")
    async def list_threads(request: Request) -> JSONResponse:
        threads = backend.list_threads(
            entity_type=request.query_params.get("entity_type"),
            entity_ids=_list(request, "entity_id") or [],
            updated_since=_time(request, "updated_since"),
        )
        with_messages = request.query_params.get("with_messages", "false").lower() == "true"
        limit = max(1, _int(request, "limit", THREADS_PAGE, THREADS_PAGE))
        start = 0
        if token := request.query_params.get("page_token"):
            try:
                start = int(base64.urlsafe_b64decode(token.encode()).decode().removeprefix("offset="))
            except (ValueError, UnicodeDecodeError):
                raise invalid(
                    "VALIDATION_ERROR", "page_token is not one this API issued", "page_token"
                ) from None
        page = threads[start : start + limit]
        body: dict[str, Any] = {"data": [thread_json(t, with_messages=with_messages) for t in page]}
        if start + limit < len(threads):
            body["next_page_token"] = base64.urlsafe_b64encode(f"offset={start + limit}".encode()).decode()
        return JSONResponse(body)

    @app.get("/api/inbox/threads/{thread_id}")
    async def get_thread(thread_id: str) -> JSONResponse:
        return JSONResponse(thread_json(backend.thread(thread_id), with_messages=True))

    @app.post("/api/inbox/threads/{thread_id}/message", status_code=201)
    async def reply(request: Request, thread_id: str) -> JSONResponse:
        if not request.headers.get("content-type", "").startswith("multipart/form-data"):
            raise MiraklError(415, "Content-Type must be multipart/form-data")
        form = await request.form()
        raw = form.get("message_input")
        if raw is None:
            raise invalid("VALIDATION_ERROR", "message_input is required", "message_input")
        if not isinstance(raw, str):
            raw = (await raw.read()).decode()
        try:
            message_input = json.loads(raw)
        except json.JSONDecodeError:
            raise invalid("VALIDATION_ERROR", "message_input is not valid JSON", "message_input") from None
        message = backend.reply(thread_id, message_input)
        return JSONResponse({"message_id": message.message_id, "thread_id": thread_id}, status_code=201)

    # --- market hooks

    @app.post("/_control/buy", status_code=201)
    async def buy(body: BuyRequest) -> JSONResponse:
        try:
            order = backend.buy(body.sku, body.quantity, body.buyer)
        except NotBuyable as error:
            return JSONResponse({"message": str(error)}, status_code=409)
        return JSONResponse({"order": order_json(order)}, status_code=201)

    @app.get("/_control/live_skus")
    async def live_skus() -> dict[str, int]:
        return backend.live_skus()

    @app.post("/_control/offers", status_code=201)
    async def add_offer(body: OfferRequest) -> dict[str, Any]:
        offer = backend.add_offer(body.sku, body.quantity, body.price, body.title)
        return {"sku": offer.sku, "quantity": offer.quantity, "price": str(offer.price)}

    @app.post("/_control/customer_messages", status_code=201)
    async def customer_message(body: CustomerMessageRequest) -> JSONResponse:
        thread = backend.customer_message(body.order_id, body.body, body.topic)
        return JSONResponse({"thread": thread_json(thread, with_messages=True)}, status_code=201)

    @app.post("/_control/operator_messages", status_code=201)
    async def operator_message(body: OperatorMessageRequest) -> JSONResponse:
        backend.operator_message(body.thread_id, body.body)
        return JSONResponse(
            {"thread": thread_json(backend.thread(body.thread_id), with_messages=True)}, status_code=201
        )

    return app

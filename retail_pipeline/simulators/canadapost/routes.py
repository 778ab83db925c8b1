"""Canada Post's REST endpoints as it answers them (under /canadapost in the simulator).

- `POST /rs/{customer}/ncshipment` (ncshipment-v4 XML, validated against ncshipment.xsd) → 200 info
- `GET  /rs/{customer}/ncshipment?from=YYYYMMDDhhmm[&to=…]` or `?trackingPIN=…` → shipments list
- `GET  /rs/{customer}/ncshipment/{id}` → info; `…/{id}/details` → details
- `GET  /ers/artifact/{user}/{artifact}/{page}` (`Accept: application/pdf`) → the label PDF
- `GET  /vis/track/pin/{pin}/summary` → tracking summary (404 `004` while the PIN has no events)
- `POST /rs/ship/price` (ship.rate-v4 XML, validated against rating.xsd) → 200 `<price-quotes>`

Every call needs HTTP Basic with the account's key pair (401 `<messages>` otherwise); `/rs/{customer}`
must be the account's own customer number. Content-Type and Accept must name the resource's media
type (415 / 406). Test hooks under `/_control`: `corrupt_next_label`, `throttle_next`, `tracking_event`.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Callable
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from fastapi import FastAPI, Request, Response
from fastapi.responses import JSONResponse
from lxml import etree
from pydantic import BaseModel
from starlette.exceptions import HTTPException as StarletteHTTPException

from retail_pipeline.integrations.carriers.xsd import schema

from ..storefront import site_url
from . import responses
from .exceptions import CanadaPostError, canadapost_error_handler, invalid_body, not_found, unauthorized
from .models import CanadaPostBackend, CanadaPostSimulatorConfig

if TYPE_CHECKING:
    from ..app import Simulator

NCSHIPMENT_TYPE = responses.NCSHIPMENT_TYPE
RATE_TYPE = responses.RATE_TYPE
TRACK_TYPES = ("application/vnd.cpc.track-v2+xml", "application/vnd.cpc.track+xml")
_CVC = {  # lxml's error types in the words Canada Post's (Xerces) validator uses
    "SCHEMAV_CVC_PATTERN_VALID": "cvc-pattern-valid",
    "SCHEMAV_CVC_DATATYPE_VALID_1_2_1": "cvc-datatype-valid.1.2.1",
    "SCHEMAV_CVC_MAXLENGTH_VALID": "cvc-maxLength-valid",
    "SCHEMAV_CVC_MINLENGTH_VALID": "cvc-minLength-valid",
    "SCHEMAV_CVC_ENUMERATION_VALID": "cvc-enumeration-valid",
    "SCHEMAV_CVC_COMPLEX_TYPE_2_4": "cvc-complex-type.2.4.a",
    "SCHEMAV_ELEMENT_CONTENT": "cvc-complex-type.2.4.a",
    "SCHEMAV_CVC_ELT_1": "cvc-elt.1",
}


def _path(request: Request) -> str:
    return request.scope["path"][len(request.scope.get("root_path", "")) :]


def _credentials(request: Request) -> tuple[str, str] | None:
    scheme, _, value = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        user, sep, password = base64.b64decode(value.strip(), validate=True).decode().partition(":")
    except (binascii.Error, UnicodeDecodeError):
        return None
    return (user, password) if sep else None


def _accepts(request: Request, *types: str) -> bool:
    accept = request.headers.get("accept", "")
    return any(t in accept for t in types)


def _parse_time(value: str, name: str) -> datetime:
    try:
        return datetime.strptime(value, "%Y%m%d%H%M").replace(tzinfo=UTC)
    except ValueError:
        raise CanadaPostError(
            400, [("Server", f"{name}: '{value}' is not a date-time in the format YYYYMMDDhhmm")]
        ) from None


def _validated(
    body: bytes,
    resource: str,
    schema_name: str = "ncshipment",
    root: str = f"{{{responses.NS}}}non-contract-shipment",
) -> etree._Element:
    """The request document, or Canada Post's 400 saying why the schema refuses it."""
    try:
        document = etree.fromstring(body)
    except etree.XMLSyntaxError as error:
        raise invalid_body(resource, [f"cvc-elt.1: the body is not well-formed XML ({error})"]) from None
    validator = schema(schema_name)
    if not validator.validate(document):
        raise invalid_body(
            resource,
            [f"{_CVC.get(e.type_name, 'cvc-complex-type')}: {e.message}" for e in validator.error_log],
        )
    if document.tag != root:
        raise invalid_body(resource, [f"cvc-elt.1: Cannot find the declaration of element '{document.tag}'."])
    return document


def _xml(body: bytes, media_type: str = NCSHIPMENT_TYPE, status: int = 200) -> Response:
    return Response(body, status, media_type=media_type)


class LabelFaultRequest(BaseModel):
    mode: str = "broken"
    count: int = 1


class ThrottleRequest(BaseModel):
    count: int = 1


class TrackingEventRequest(BaseModel):
    pin: str
    kind: str


def build(sim: Simulator) -> FastAPI:
    backend = CanadaPostBackend(sim, CanadaPostSimulatorConfig.from_env())
    app = FastAPI(docs_url=None, redoc_url=None, openapi_url=None)
    app.state.backend = backend
    app.add_exception_handler(CanadaPostError, canadapost_error_handler)

    async def unknown_route(request: Request, exc: StarletteHTTPException) -> Response:
        error = (
            not_found()
            if exc.status_code == 404
            else CanadaPostError(exc.status_code, [("Server", str(exc.detail))])
        )
        return await canadapost_error_handler(request, error)

    app.add_exception_handler(StarletteHTTPException, unknown_route)

    @app.middleware("http")
    async def gate(request: Request, call_next: Callable[[Request], Any]) -> Response:
        path = _path(request)
        if path.startswith(("/rs/", "/ers/", "/vis/")):
            media = (
                TRACK_TYPES[0]
                if path.startswith("/vis/")
                else RATE_TYPE
                if path == "/rs/ship/price"
                else NCSHIPMENT_TYPE
            )
            try:
                credentials = _credentials(request)
                if credentials is None or not backend.accepts(*credentials):
                    raise unauthorized("AA001: The API key (username and password) was not accepted.")
                backend.count_request()
            except CanadaPostError as error:
                error.media_type = media
                return await canadapost_error_handler(request, error)
        return await call_next(request)

    def api(request: Request) -> str:
        return site_url(request, "").rstrip("/")

    def own(customer: str) -> None:
        if not backend.may_mail_for(customer):
            raise unauthorized("AA004: You cannot mail on behalf of the requested customer.")

    def negotiate(request: Request) -> None:
        if not _accepts(request, NCSHIPMENT_TYPE):
            raise CanadaPostError(406, [("Server", f"Accept must be {NCSHIPMENT_TYPE}")])

    # --- shipments

    @app.post("/rs/{customer}/ncshipment")
    async def create_shipment(request: Request, customer: str) -> Response:
        own(customer)
        content_type = request.headers.get("content-type", "").split(";")[0].strip()
        if content_type != NCSHIPMENT_TYPE:
            raise CanadaPostError(
                415,
                [("Server", f"Unsupported media type {content_type or '(none)'}; send {NCSHIPMENT_TYPE}")],
            )
        negotiate(request)
        document = _validated(await request.body(), f"/rs/{customer}/ncshipment")
        shipment = backend.create(customer, document)
        return _xml(responses.shipment_info(shipment, api(request), backend.config.username))

    @app.get("/rs/{customer}/ncshipment")
    async def list_shipments(request: Request, customer: str) -> Response:
        own(customer)
        negotiate(request)
        params = request.query_params
        pin = params.get("trackingPIN")
        if pin is None and "from" not in params:
            raise CanadaPostError(400, [("Server", "Either 'from' or 'trackingPIN' is required.")])
        start = _parse_time(params["from"], "from") if "from" in params else None
        end = _parse_time(params["to"], "to") if "to" in params else None
        shipments = backend.list_shipments(customer, start, end, pin)
        return _xml(responses.shipments_list(shipments, api(request)))

    @app.get("/rs/{customer}/ncshipment/{shipment_id}")
    async def get_shipment(request: Request, customer: str, shipment_id: str) -> Response:
        own(customer)
        negotiate(request)
        shipment = backend.shipment(customer, shipment_id)
        return _xml(responses.shipment_info(shipment, api(request), backend.config.username))

    @app.get("/rs/{customer}/ncshipment/{shipment_id}/details")
    async def get_details(request: Request, customer: str, shipment_id: str) -> Response:
        own(customer)
        negotiate(request)
        return _xml(responses.shipment_details(backend.shipment(customer, shipment_id)))

    @app.get("/ers/artifact/{user}/{artifact_id}/{page}")
    async def get_label(request: Request, user: str, artifact_id: str, page: int) -> Response:
        if user != backend.config.username:
            raise unauthorized("AA004: The artifact belongs to another API key.")
        if not _accepts(request, "application/pdf"):
            raise CanadaPostError(406, [("Server", "Accept must be application/pdf")])
        if page != 0:
            raise not_found(f"Artifact {artifact_id} has no page {page}.")
        shipment, fault = backend.label(artifact_id)
        return Response(responses.label_pdf(shipment, fault), media_type="application/pdf")

    # --- rating

    @app.post("/rs/ship/price")
    async def get_rates(request: Request) -> Response:
        content_type = request.headers.get("content-type", "").split(";")[0].strip()
        if content_type != RATE_TYPE:
            raise CanadaPostError(
                415,
                [("Server", f"Unsupported media type {content_type or '(none)'}; send {RATE_TYPE}")],
                media_type=RATE_TYPE,
            )
        if not _accepts(request, RATE_TYPE):
            raise CanadaPostError(406, [("Server", f"Accept must be {RATE_TYPE}")], media_type=RATE_TYPE)
        try:
            document = _validated(
                await request.body(), "/rs/ship/price", "rating", f"{{{responses.RATE_NS}}}mailing-scenario"
            )
            quotes = backend.rate(document)
        except CanadaPostError as error:
            error.media_type = RATE_TYPE
            raise
        return _xml(responses.price_quotes(quotes, api(request)), RATE_TYPE)

    # --- tracking

    @app.get("/vis/track/pin/{pin}/summary")
    async def track_summary(request: Request, pin: str) -> Response:
        media = TRACK_TYPES[0]
        if not _accepts(request, *TRACK_TYPES):
            raise CanadaPostError(406, [("Server", f"Accept must be {media}")], media_type=media)
        shipment = backend.by_pin(pin)
        if shipment is None or not shipment.events:
            raise CanadaPostError(404, [("004", "No Pin History")], media_type=media)
        return _xml(responses.tracking_summary(shipment), media)

    # --- test hooks

    @app.post("/_control/corrupt_next_label")
    async def corrupt_next_label(body: LabelFaultRequest) -> JSONResponse:
        try:
            backend.corrupt_next_label(body.mode, body.count)  # type: ignore[arg-type]
        except ValueError as error:
            return JSONResponse({"message": str(error)}, status_code=422)
        return JSONResponse({"mode": body.mode, "count": body.count})

    @app.post("/_control/throttle_next")
    async def throttle_next(body: ThrottleRequest) -> JSONResponse:
        backend.throttle_next(body.count)
        return JSONResponse({"count": body.count})

    @app.post("/_control/tracking_event")
    async def tracking_event(body: TrackingEventRequest) -> JSONResponse:
        try:
            event = backend.add_tracking_event(body.pin, body.kind)
        except ValueError as error:
            return JSONResponse({"message": str(error)}, status_code=422)
        return JSONResponse({"pin": body.pin, "event_type": event.event_type, "at": event.at.isoformat()})

    @app.get("/_control/shipments")
    async def shipments() -> JSONResponse:
        return JSONResponse(
            [
                {"id": s.id, "tracking_pin": s.tracking_pin, "reference": s.reference_1,
                 "label_downloads": s.label_downloads, "created_at": s.created_at.isoformat()}
                for s in backend.shipments.values()
            ]
        )  # fmt: skip

    return app

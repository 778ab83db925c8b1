"""The Selling Partner API of our seller account, as Amazon answers it, and Login with Amazon.

Every SP-API call needs `x-amz-access-token` (a live LWA access token: 403 Unauthorized otherwise, an
expired one named as such) and passes its operation's token bucket (429 QuotaExceeded past it). Every
response carries `x-amzn-RequestId`, and `x-amzn-RateLimit-Limit` where the operation has a usage plan.
Pre-signed document URLs (feed upload and download, product type schemas) take no token, as S3's do.

Market hooks under `/_control`: `buy`, `live_skus`.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime
from typing import TYPE_CHECKING, Any

from fastapi import FastAPI, Request, Response
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from ..buyers import BuyRequest, NotBuyable
from ..existing_listings import add_existing_listings_route
from ..storefront import site_url
from . import product_types as types
from . import responses
from .conformance import usage_plans
from .exceptions import AmazonError, amazon_error_handler, denied, invalid_input, not_found, request_id
from .models import (
    MARKETPLACES,
    AmazonBackend,
    AmazonSimulatorConfig,
    OAuthError,
    page_token,
    read_page_token,
)

if TYPE_CHECKING:
    from ..app import Simulator

LISTINGS = "/listings/2021-08-01/items"
DEFINITIONS = "/definitions/2020-09-01/productTypes"
FEEDS = "/feeds/2021-06-30"
ORDERS = "/orders/2026-01-01/orders"
ITEM_DATA = ("summaries", "attributes", "issues", "offers", "fulfillmentAvailability", "procurement",
             "relationships", "productTypes")  # fmt: skip
ORDER_DATA = ("BUYER", "RECIPIENT", "PROCEEDS", "EXPENSE", "PROMOTION", "CANCELLATION", "FULFILLMENT",
              "PACKAGES", "TAX", "PAYMENT", "FULFILLMENT_ORDERS")  # fmt: skip


def _path(request: Request) -> str:
    return request.scope["path"][len(request.scope.get("root_path", "")) :]


def _list(
    request: Request, name: str, allowed: tuple[str, ...] | None = None, *, required: bool = False
) -> list[str]:
    raw = request.query_params.getlist(name)
    values = [v for item in raw for v in item.split(",") if v]
    if required and not values:
        raise invalid_input(f"Missing required parameter {name}.")
    if allowed is not None:
        wrong = [v for v in values if v not in allowed]
        if wrong:
            raise invalid_input(f"Invalid {name}: {', '.join(wrong)}.")
    return values


def _marketplace(request: Request) -> str:
    values = _list(request, "marketplaceIds", required=True)
    if len(values) != 1 or values[0] not in MARKETPLACES:
        raise invalid_input(f"Invalid marketplaceIds: {','.join(values)}.")
    return values[0]


def _int(request: Request, name: str, default: int, low: int, high: int) -> int:
    value = request.query_params.get(name)
    if value is None:
        return default
    if not value.isdigit() or not low <= int(value) <= high:
        raise invalid_input(f"{name} must be an integer from {low} to {high}.")
    return int(value)


async def _json(request: Request) -> dict[str, Any]:
    if request.headers.get("content-type", "").split(";")[0].strip() != "application/json":
        raise AmazonError(415, "UnsupportedMediaType", "The request body must be application/json.")
    try:
        data = json.loads(await request.body() or b"null")
    except (ValueError, UnicodeDecodeError):
        raise invalid_input("The request body is not valid JSON.") from None
    if not isinstance(data, dict):
        raise invalid_input("The request body must be a JSON object.")
    return data


def _require(body: dict[str, Any], *names: str) -> None:
    missing = [n for n in names if n not in body]
    if missing:
        raise invalid_input(f"Missing required field(s): {', '.join(missing)}.")


def build(sim: Simulator) -> FastAPI:
    backend = AmazonBackend(sim, AmazonSimulatorConfig.from_env())
    app = FastAPI(docs_url=None, redoc_url=None, openapi_url=None)
    app.state.backend = backend
    app.add_exception_handler(AmazonError, amazon_error_handler)

    async def unknown_route(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        error = (
            not_found("Resource not found.")
            if exc.status_code == 404
            else AmazonError(exc.status_code, "InvalidInput", str(exc.detail))
        )
        return await amazon_error_handler(request, error)

    app.add_exception_handler(StarletteHTTPException, unknown_route)

    @app.exception_handler(OAuthError)
    async def oauth_error(request: Request, exc: OAuthError) -> JSONResponse:
        return JSONResponse({"error": exc.error, "error_description": exc.description}, status_code=400)

    @app.middleware("http")
    async def headers(request: Request, call_next: Callable[[Request], Any]) -> Response:
        response = await call_next(request)
        response.headers.setdefault("x-amzn-RequestId", request_id())
        operation = getattr(request.state, "operation", None)
        if operation:
            response.headers["x-amzn-RateLimit-Limit"] = str(
                usage_plans()[operation][0] * backend.config.rate_scale
            )
        return response

    def gate(request: Request, operation: str) -> str:
        """The seller the call acts for, once its token and its operation's bucket allow it."""
        request.state.operation = operation
        token = request.headers.get("x-amz-access-token")
        reason = backend.check_token(token)
        if reason:
            raise denied(reason)
        backend.limit(operation, token or "")
        return backend.tokens[token][0] or backend.default_seller

    def same_seller(acting: str, seller: str) -> None:
        if backend.config.seller_id and seller != acting:
            raise denied("The sellerId does not match the access token's seller.")

    def ok(body: Any, status: int = 200) -> JSONResponse:
        return JSONResponse(body, status_code=status)

    # --- Login with Amazon

    @app.post("/auth/o2/token")
    async def token(request: Request) -> JSONResponse:
        form = dict((await request.form()).items())
        return JSONResponse(backend.grant({k: str(v) for k, v in form.items()}))

    # --- Listings Items 2021-08-01

    def submission(data: dict[str, Any], request: Request, marketplace: str) -> JSONResponse:
        included = set(_list(request, "includedData", ("identifiers", "issues")))
        body = {k: v for k, v in data.items() if k in ("sku", "status", "submissionId")}
        body["issues"] = (
            [{**i, "marketplaceIds": [marketplace]} for i in data["issues"]]
            if ("issues" in included or not included)
            else []
        )
        if "identifiers" in included and request.query_params.get("mode") == "VALIDATION_PREVIEW":
            listing = backend.listings.get((request.path_params["sellerId"], data["sku"]))
            body["identifiers"] = [{"marketplaceId": marketplace, "asin": listing.asin}] if listing else []
        return ok(body)

    def preview(request: Request) -> bool:
        mode = request.query_params.get("mode")
        if mode not in (None, "VALIDATION_PREVIEW"):
            raise invalid_input(f"Invalid mode: {mode}.")
        return mode == "VALIDATION_PREVIEW"

    @app.put(LISTINGS + "/{sellerId}/{sku}")
    async def put_listings_item(request: Request, sellerId: str, sku: str) -> JSONResponse:  # noqa: N803
        same_seller(gate(request, "putListingsItem"), sellerId)
        marketplace = _marketplace(request)
        body = await _json(request)
        _require(body, "productType", "attributes")
        if body.get("requirements", "LISTING") not in (
            "LISTING",
            "LISTING_PRODUCT_ONLY",
            "LISTING_OFFER_ONLY",
        ):
            raise invalid_input("Invalid requirements.")
        data = backend.put(sellerId, sku, marketplace, body, preview=preview(request))
        return submission(data, request, marketplace)

    @app.patch(LISTINGS + "/{sellerId}/{sku}")
    async def patch_listings_item(request: Request, sellerId: str, sku: str) -> JSONResponse:  # noqa: N803
        same_seller(gate(request, "patchListingsItem"), sellerId)
        marketplace = _marketplace(request)
        body = await _json(request)
        _require(body, "productType", "patches")
        for patch in body["patches"]:
            if patch.get("op") not in ("add", "replace", "merge", "delete") or not str(
                patch.get("path", "")
            ).startswith("/attributes/"):
                raise invalid_input(
                    "Each patch needs op add|replace|merge|delete and a path /attributes/<name>."
                )
        data = backend.patch(sellerId, sku, marketplace, body, preview=preview(request))
        return submission(data, request, marketplace)

    @app.delete(LISTINGS + "/{sellerId}/{sku}")
    async def delete_listings_item(request: Request, sellerId: str, sku: str) -> JSONResponse:  # noqa: N803
        same_seller(gate(request, "deleteListingsItem"), sellerId)
        marketplace = _marketplace(request)
        return submission(backend.delete(sellerId, sku), request, marketplace)

    @app.get(LISTINGS + "/{sellerId}/{sku}")
    async def get_listings_item(request: Request, sellerId: str, sku: str) -> JSONResponse:  # noqa: N803
        same_seller(gate(request, "getListingsItem"), sellerId)
        marketplace = _marketplace(request)
        included = set(_list(request, "includedData", ITEM_DATA) or ["summaries"])
        listing = backend.listing(sellerId, sku)
        if listing.marketplace_id != marketplace:
            raise not_found(f"SKU '{sku}' not found in marketplace {marketplace}.")
        return ok(responses.item_json(listing, included, backend.clock.now()))

    @app.get(LISTINGS + "/{sellerId}")
    async def search_listings_items(request: Request, sellerId: str) -> JSONResponse:  # noqa: N803
        same_seller(gate(request, "searchListingsItems"), sellerId)
        marketplace = _marketplace(request)
        included = set(_list(request, "includedData", ITEM_DATA) or ["summaries"])
        size = _int(request, "pageSize", 10, 1, 20)
        offset = read_page_token(request.query_params.get("pageToken"))
        wanted = set(_list(request, "identifiers"))
        if wanted and request.query_params.get("identifiersType") not in ("SKU", None):
            raise invalid_input("Only identifiersType SKU is supported by this seller account.")
        found = [
            x
            for x in backend.seller_listings(sellerId)
            if x.marketplace_id == marketplace and (not wanted or x.sku in wanted)
        ]
        page = found[offset : offset + size]
        now = backend.clock.now()
        body: dict[str, Any] = {
            "numberOfResults": len(found),
            "items": [responses.item_json(x, included, now) for x in page],
        }
        pagination = {}
        if offset + size < len(found):
            pagination["nextToken"] = page_token(offset + size)
        if offset > 0:
            pagination["previousToken"] = page_token(max(0, offset - size))
        if pagination:
            body["pagination"] = pagination
        return ok(body)

    # --- Product Type Definitions 2020-09-01

    @app.get(DEFINITIONS)
    async def search_definitions_product_types(request: Request) -> JSONResponse:
        gate(request, "searchDefinitionsProductTypes")
        marketplace = _marketplace(request)
        found = backend.search_product_types(
            request.query_params.get("keywords"), request.query_params.get("itemName")
        )
        return ok(
            {
                "productTypes": [
                    {"name": name, "displayName": path, "marketplaceIds": [marketplace]}
                    for name, path in found
                ],
                "productTypeVersion": "LATEST",
            }
        )

    @app.get(DEFINITIONS + "/{productType}")
    async def get_definitions_product_type(request: Request, productType: str) -> JSONResponse:  # noqa: N803
        gate(request, "getDefinitionsProductType")
        marketplace = _marketplace(request)
        requirements = request.query_params.get("requirements", "LISTING")
        if requirements not in ("LISTING", "LISTING_PRODUCT_ONLY", "LISTING_OFFER_ONLY"):
            raise invalid_input("Invalid requirements.")
        schema = backend.product_type(productType)
        leaf = types.product_types()[productType]
        locale = request.query_params.get("locale", "DEFAULT")
        return ok(
            {
                "metaSchema": {
                    "link": {"resource": site_url(request, "/_schemas/meta-schema.json"), "verb": "GET"},
                    "checksum": "meta",
                },
                "schema": {
                    "link": {"resource": site_url(request, f"/_schemas/{productType}.json"), "verb": "GET"},
                    "checksum": _checksum(schema),
                },
                "requirements": requirements,
                "requirementsEnforced": request.query_params.get("requirementsEnforced", "ENFORCED"),
                "propertyGroups": types.property_groups(productType),
                "locale": MARKETPLACES[marketplace][2] if locale == "DEFAULT" else locale,
                "marketplaceIds": [marketplace],
                "productType": productType,
                "displayName": " > ".join(leaf.path),
                "productTypeVersion": {"version": "LATEST", "latest": True, "releaseCandidate": False},
            }
        )

    @app.get("/_schemas/{name}.json")
    async def schema_document(name: str) -> JSONResponse:
        if name == "meta-schema":
            return ok({"$schema": "https://json-schema.org/draft/2019-09/schema", "$id": types.META_SCHEMA})
        return ok(backend.product_type(name))

    # --- Feeds 2021-06-30

    @app.post(FEEDS + "/documents")
    async def create_feed_document(request: Request) -> JSONResponse:
        gate(request, "createFeedDocument")
        body = await _json(request)
        _require(body, "contentType")
        document = backend.create_document(body["contentType"])
        url = site_url(request, f"/_documents/{document.document_id}")
        return ok({"feedDocumentId": document.document_id, "url": url}, 201)

    @app.put("/_documents/{document_id}")
    async def upload_document(request: Request, document_id: str) -> Response:
        document = backend.documents.get(document_id)
        if document is None:
            raise not_found("No such document.")
        if request.headers.get("content-type") != document.content_type:
            raise AmazonError(
                403, "SignatureDoesNotMatch", "The Content-Type is not the one the URL was made for."
            )
        backend.upload(document_id, await request.body())
        return Response(status_code=200)

    @app.get("/_documents/{document_id}")
    async def download_document(document_id: str) -> Response:
        document = backend.documents.get(document_id)
        if document is None or document.content is None:
            raise not_found("No such document.")
        return Response(document.content, media_type=document.content_type)

    def feed_json(feed: Any) -> dict[str, Any]:
        body = {
            "feedId": feed.feed_id,
            "feedType": feed.feed_type,
            "marketplaceIds": feed.marketplace_ids,
            "createdTime": responses.iso(feed.created),
            "processingStatus": feed.status,
        }
        if feed.started:
            body["processingStartTime"] = responses.iso(feed.started)
        if feed.ended:
            body["processingEndTime"] = responses.iso(feed.ended)
        if feed.result_document_id:
            body["resultFeedDocumentId"] = feed.result_document_id
        return body

    @app.post(FEEDS + "/feeds")
    async def create_feed(request: Request) -> JSONResponse:
        seller = gate(request, "createFeed")
        body = await _json(request)
        _require(body, "feedType", "marketplaceIds", "inputFeedDocumentId")
        return ok({"feedId": backend.create_feed(seller, body).feed_id}, 202)

    @app.get(FEEDS + "/feeds/{feed_id}")
    async def get_feed(request: Request, feed_id: str) -> JSONResponse:
        gate(request, "getFeed")
        return ok(feed_json(backend.feed(feed_id)))

    @app.get(FEEDS + "/documents/{document_id}")
    async def get_feed_document(request: Request, document_id: str) -> JSONResponse:
        gate(request, "getFeedDocument")
        document = backend.documents.get(document_id)
        if document is None:
            raise not_found("No such feed document.")
        return ok({"feedDocumentId": document_id, "url": site_url(request, f"/_documents/{document_id}")})

    # --- Orders 2026-01-01 and v0 confirmShipment

    @app.get(ORDERS)
    async def search_orders(request: Request) -> JSONResponse:
        gate(request, "searchOrders")
        token = request.query_params.get("paginationToken")
        included = set(_list(request, "includedData", ORDER_DATA))
        if token:
            offset, criteria = _decode_orders_token(token)
        else:
            offset, criteria = (
                0,
                {k: v for k, v in request.query_params.items() if k not in ("includedData",)},
            )
        created_after = _time_of(criteria, "createdAfter")
        updated_after = _time_of(criteria, "lastUpdatedAfter")
        if (created_after is None) == (updated_after is None):
            raise invalid_input("Exactly one of createdAfter and lastUpdatedAfter is required.")
        size = int(criteria.get("maxResultsPerPage", 100))
        if not 1 <= size <= 100:
            raise invalid_input("maxResultsPerPage must be from 1 to 100.")
        found = backend.search_orders(
            created_after=created_after,
            created_before=_time_of(criteria, "createdBefore"),
            updated_after=updated_after,
            updated_before=_time_of(criteria, "lastUpdatedBefore"),
            statuses=[s for s in criteria.get("fulfillmentStatuses", "").split(",") if s],
            marketplaces=[s for s in criteria.get("marketplaceIds", "").split(",") if s],
        )
        page = found[offset : offset + size]
        body: dict[str, Any] = {"orders": [responses.order_json(o, included) for o in page]}
        if offset + size < len(found):
            body["pagination"] = {"nextToken": _encode_orders_token(offset + size, criteria)}
        if created_after is not None:
            body["createdBefore"] = responses.iso(backend.clock.now())
        else:
            body["lastUpdatedBefore"] = responses.iso(backend.clock.now())
        return ok(body)

    @app.get(ORDERS + "/{order_id}")
    async def get_order(request: Request, order_id: str) -> JSONResponse:
        gate(request, "getOrder")
        included = set(_list(request, "includedData", ORDER_DATA))
        return ok({"order": responses.order_json(backend.order(order_id), included)})

    @app.post("/orders/v0/orders/{order_id}/shipmentConfirmation")
    async def confirm_shipment(request: Request, order_id: str) -> Response:
        gate(request, "confirmShipment")
        body = await _json(request)
        _require(body, "marketplaceId", "packageDetail")
        _require(
            body["packageDetail"],
            "packageReferenceId",
            "carrierCode",
            "trackingNumber",
            "shipDate",
            "orderItems",
        )
        backend.confirm_shipment(order_id, body)
        return Response(status_code=204)

    # --- market hooks

    @app.post("/_control/buy", status_code=201)
    async def buy(body: BuyRequest) -> JSONResponse:
        try:
            order = backend.buy(body.sku, body.quantity, body.buyer)
        except NotBuyable as error:
            return JSONResponse({"message": str(error)}, status_code=409)
        return JSONResponse({"order": responses.order_json(order, set(ORDER_DATA))}, status_code=201)

    add_existing_listings_route(app, backend.seed_existing)

    @app.get("/_control/live_skus")
    async def live_skus() -> dict[str, int]:
        return backend.live_skus()

    return app


def _checksum(schema: dict[str, Any]) -> str:
    import base64
    import hashlib

    return base64.b64encode(hashlib.md5(json.dumps(schema, sort_keys=True).encode()).digest()).decode()


def _encode_orders_token(offset: int, criteria: dict[str, str]) -> str:
    import base64

    return base64.urlsafe_b64encode(json.dumps({"o": offset, "c": criteria}).encode()).decode()


def _decode_orders_token(token: str) -> tuple[int, dict[str, str]]:
    import base64

    try:
        data = json.loads(base64.urlsafe_b64decode(token.encode()))
        return int(data["o"]), dict(data["c"])
    except (ValueError, KeyError, TypeError):
        raise invalid_input("Invalid paginationToken.") from None


def _time_of(criteria: dict[str, str], name: str) -> datetime | None:
    value = criteria.get(name)
    if value is None:
        return None
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        moment = None
    if moment is None or moment.tzinfo is None:
        raise invalid_input(f"{name} must be an ISO 8601 date-time with an offset.")
    return moment

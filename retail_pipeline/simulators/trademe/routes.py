"""Trade Me's routes under ``/v1`` (paths match case-insensitively, as on the real API), its photo
server, and ``/_control`` for the demo and tests (call limit, a buyer's purchase, a foreign listing).

Every ``/v1`` call is OAuth-verified, then counted against the member's hourly call budget on the
simulated clock: past it, 429 with no Retry-After (Trade Me documents none).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from fastapi import Depends, FastAPI, Request, Response
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Route

from ..existing_listings import add_existing_listings_route
from ..images import listing_photo
from . import responses, taxonomy
from .auth import verify
from .exceptions import TradeMeHTTPError, bad_request, rate_limited, trademe_error_handler
from .models import (
    SALE_STATUSES,
    BusinessFailure,
    Listing,
    ParcelRejected,
    TradeMeBackend,
    TradeMeSimulatorConfig,
)

if TYPE_CHECKING:
    from ..app import Simulator

SELLING_FILTERS = (
    "All",
    "ClosingToday",
    "ListingsWithBids",
    "ReserveMet",
    "ReserveNotMet",
    "UnansweredQuestions",
)
SOLD_FILTERS = (
    "Last45Days", "Last30Days", "Last7Days", "Last3Days", "Last24Hours", "LastHour",
    "PaymentInstructionsToSend", "FeedbackToPlace", *SALE_STATUSES,
)  # fmt: skip
SORT_ORDERS = ("ExpiryAsc", "ExpiryDesc")
PHOTO_MEDIA_TYPES = {"JPG": "image/jpeg", "PNG": "image/png", "GIF": "image/gif", "BMP": "image/bmp"}


def _choose(value: str, allowed: tuple[str, ...], what: str) -> str:
    found = {a.lower(): a for a in allowed}.get(value.lower())
    if found is None:
        raise bad_request(f"'{value}' is not a valid {what}: use one of {', '.join(allowed)}.")
    return found


def _site(request: Request) -> str:
    return f"{request.url.scheme}://{request.url.netloc}{request.scope.get('root_path', '')}"


def _failure(failure: BusinessFailure, **extra: Any) -> dict[str, Any]:
    return {"Success": False, "Description": " ".join(failure.messages), **extra}


def _listing_outcome(run: Callable[[], Listing]) -> dict[str, Any]:
    try:
        listing = run()
    except BusinessFailure as failure:
        return _failure(failure, ListingId=0)
    return {"Success": True, "Description": None, "ListingId": listing.listing_id}


class LimitsBody(BaseModel):
    hourly_call_limit: int = Field(ge=1)


class BuyBody(BaseModel):
    ListingId: int
    Quantity: int = Field(1, ge=1)


class ForeignListingBody(BaseModel):
    Title: str
    Price: Decimal = Field(gt=0)
    Quantity: int | None = Field(1, ge=1)
    SKU: str | None = None
    ExternalReferenceId: str | None = None


def build(sim: Simulator) -> FastAPI:
    backend = TradeMeBackend(TradeMeSimulatorConfig.from_env(), sim.clock.now, sim.config.seed)
    app = FastAPI(docs_url=None, redoc_url=None, openapi_url=None)
    app.state.backend = backend
    app.add_exception_handler(TradeMeHTTPError, trademe_error_handler)

    async def unknown_route(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        return JSONResponse({"ErrorDescription": str(exc.detail)}, status_code=exc.status_code)

    app.add_exception_handler(StarletteHTTPException, unknown_route)

    async def authorized(request: Request) -> None:
        key = verify(backend, request.method, str(request.url), dict(request.headers), await request.body())
        if not backend.admit_call(*key):
            raise rate_limited()

    def api(method: str, path: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
        return app.api_route(f"/v1{path}", methods=[method], dependencies=[Depends(authorized)])

    async def body_of(request: Request) -> responses.RequestBody:
        return responses.read_json_object(await request.body())

    # --- catalogue (public, not counted) and category suggestions (authenticated)

    def _depth(request: Request) -> int | None:
        raw = request.query_params.get("depth")
        if raw is None:
            return None
        if not raw.isdigit():
            raise bad_request(f"'{raw}' is not a valid depth.")
        return int(raw)

    @app.get("/v1/Categories.json")
    async def categories(request: Request) -> dict[str, Any]:
        return taxonomy.category(None, _depth(request))

    @app.get("/v1/Categories/{category}/Details.json")
    async def category_details(category: str) -> dict[str, Any]:
        node = taxonomy.find(category)
        if node is None:
            raise TradeMeHTTPError(404, f"Category '{category}' does not exist.")
        return taxonomy.details(node)

    @app.get("/v1/Categories/{category}.json")
    async def category_tree(category: str, request: Request) -> dict[str, Any]:
        node = taxonomy.find(category)
        if node is None:
            raise TradeMeHTTPError(404, f"Category '{category}' does not exist.")
        return taxonomy.category(node, _depth(request))

    @api("GET", "/Search/Suggestions.json")
    async def search_suggestions(request: Request) -> dict[str, Any]:
        raw = request.query_params.get("max_category_suggestions", "12")
        if not raw.isdigit():
            raise bad_request(f"'{raw}' is not a valid max_category_suggestions.")
        return taxonomy.suggestions(request.query_params.get("search_string", ""), int(raw))

    # --- selling

    @api("POST", "/Selling.json")
    async def list_item(request: Request) -> dict[str, Any]:
        form = responses.read_listing(await body_of(request))
        return _listing_outcome(lambda: backend.create_listing(form))

    @api("POST", "/Selling/Validate.json")
    async def validate(request: Request) -> dict[str, Any]:
        errors = backend.check(responses.read_listing(await body_of(request)))
        return {
            "Success": not errors,
            "Description": " ".join(errors) or None,
            "ValidationErrors": [{"Message": message} for message in errors],
        }

    @api("GET", "/Selling/Listings/{listing_id:int}.json")
    async def listing_details(listing_id: int) -> dict[str, Any]:
        try:
            listing = backend.own_listing(listing_id)
        except BusinessFailure as failure:
            raise TradeMeHTTPError(404, failure.messages[0]) from None
        return responses.listing_form(listing)

    @api("POST", "/Selling/Edit.json")
    async def edit(request: Request) -> dict[str, Any]:
        body = await body_of(request)
        listing_id = responses.required_listing_id(body)
        form = responses.read_listing(body)
        return _listing_outcome(lambda: backend.edit_listing(listing_id, form))

    @api("POST", "/Selling/Withdraw.json")
    async def withdraw(request: Request) -> dict[str, Any]:
        listing_id, withdraw_type, reason, sale_price = responses.read_withdraw(await body_of(request))
        outcome = _listing_outcome(lambda: backend.withdraw(listing_id, withdraw_type, reason, sale_price))
        return {**outcome, "ListingId": listing_id}

    @api("POST", "/Selling/Relist.json")
    async def relist(request: Request) -> dict[str, Any]:
        listing_id = responses.required_listing_id(await body_of(request))
        return _listing_outcome(lambda: backend.relist(listing_id))

    # --- photos

    @api("POST", "/Photos/Add.json")
    async def upload_photo(request: Request) -> dict[str, Any]:
        photo = backend.add_photo(*responses.read_photo(await body_of(request)))
        return {
            "Status": 1,
            "PhotoId": photo.photo_id,
            "PhotoUrls": responses.photo_urls(_site(request), photo),
        }

    @api("POST", "/Photos/{photo_id:int}/Add/{listing_id:int}.json")
    async def add_photo_to_listing(photo_id: int, listing_id: int) -> dict[str, Any]:
        status = backend.attach_photo(photo_id, listing_id)
        descriptions = {
            0: "The listing cannot take this photo.",
            2: "The photo is not owned by the member.",
            3: "The auction is not owned by the member.",
            4: "The auction was not found.",
        }
        return {"Status": status, "PhotoId": photo_id, "Description": descriptions.get(status)}

    # --- My Trade Me

    @api("GET", "/MyTradeMe/SellingItems/{which}.json")
    async def selling_items(request: Request, which: str) -> dict[str, Any]:
        query = request.query_params
        page, rows = responses.page_params(dict(query))
        order = _choose(query.get("sort_order", "ExpiryAsc"), SORT_ORDERS, "sort_order")
        size = _choose(query.get("photo_size", "Thumbnail"), responses.PHOTO_SIZES, "photo_size")
        listings = backend.selling_items(_choose(which, SELLING_FILTERS, "filter"))
        listings.sort(key=lambda x: (x.end_date, x.listing_id), reverse=order == "ExpiryDesc")
        site = _site(request)
        items = [responses.selling_item(backend, listing, site, size) for listing in listings]
        return responses.paged(items, page, rows)

    @api("GET", "/MyTradeMe/SoldItems/{which}.json")
    async def sold_items(request: Request, which: str) -> dict[str, Any]:
        query = request.query_params
        page, rows = responses.page_params(dict(query))
        size = _choose(query.get("photo_size", "Thumbnail"), responses.PHOTO_SIZES, "photo_size")
        site = _site(request)
        sales = backend.sold_items(_choose(which, SOLD_FILTERS, "filter"))
        return responses.paged([responses.sold_item(backend, s, site, size) for s in sales], page, rows)

    @api("GET", "/MyTradeMe/Summary.json")
    async def summary() -> dict[str, Any]:
        return responses.summary(backend)

    @api("POST", "/MyTradeMe/Status/{purchase_id:int}/{status}.json")
    async def set_status(purchase_id: int, status: str) -> dict[str, Any]:
        name = _choose(status, tuple(SALE_STATUSES), "status")
        try:
            backend.set_sale_status(purchase_id, name)
        except BusinessFailure as failure:
            return _failure(failure, Status=None)
        return {"Success": True, "Description": None, "Status": name}

    @api("POST", "/MyTradeMe/CourierParcels.json")
    async def courier_parcel(request: Request) -> dict[str, Any]:
        courier, tracking, purchase_ids, account = responses.read_parcel(await body_of(request))
        try:
            parcel = backend.add_parcel(courier, tracking, purchase_ids, account)
        except ParcelRejected as rejected:
            return _failure(rejected, Code=rejected.code, CourierParcelId=0)
        return {"Success": True, "Description": None, "Code": 0, "CourierParcelId": parcel.parcel_id}

    # --- the photo server (public, like Trade Me's image CDN)

    @app.get("/photoserver/{size}/{photo_id:int}.{extension}")
    async def photo(size: str, photo_id: int, extension: str) -> Response:
        found = backend.photos.get(photo_id)
        if found is None or size.lower() not in {s.lower() for s in responses.PHOTO_SIZES}:
            raise TradeMeHTTPError(404, "Photo not found.")
        # a seeded listing's photo (existing_listings.py) is drawn when first asked for
        return Response(
            found.data or listing_photo(found.file_name), media_type=PHOTO_MEDIA_TYPES[found.file_type]
        )

    # --- control

    def limits_json() -> dict[str, int]:
        config = backend.config
        return {
            "hourly_call_limit": backend.hourly_call_limit,
            "calls_this_hour": backend.calls_this_hour(config.consumer_key, config.oauth_token),
        }

    @app.get("/_control/limits")
    async def get_limits() -> dict[str, int]:
        return limits_json()

    @app.put("/_control/limits")
    async def put_limits(body: LimitsBody) -> dict[str, int]:
        backend.hourly_call_limit = body.hourly_call_limit
        return limits_json()

    @app.post("/_control/buy")
    async def buy(request: Request, body: BuyBody) -> dict[str, Any]:
        """A buyer purchases a listing (the simulated market's hook); answers the sold item."""
        try:
            sale = backend.buy(body.ListingId, body.Quantity)
        except BusinessFailure as failure:
            raise TradeMeHTTPError(409, failure.messages[0]) from None
        return responses.sold_item(backend, sale, _site(request), "Thumbnail")

    @app.post("/_control/foreign_listings")
    async def foreign_listing(body: ForeignListingBody) -> dict[str, int]:
        listing = backend.create_foreign_listing(
            body.Title,
            body.Price,
            quantity=body.Quantity,
            sku=body.SKU,
            external_reference_id=body.ExternalReferenceId,
        )
        return {"ListingId": listing.listing_id}

    add_existing_listings_route(app, backend.seed_existing)

    for route in app.routes:
        if isinstance(route, Route):  # Trade Me's paths are case-insensitive
            route.path_regex = re.compile(route.path_regex.pattern, re.IGNORECASE)
    return app

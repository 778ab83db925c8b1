"""Trade Me (New Zealand): listings and stock, sold items as orders, tracking (CourierParcels).

Trade Me: the selling API (REST v1, OAuth 1.0a) behind `ChannelClient`, plus the My Trade Me calls
the orders work needs (sold items, sale status, courier parcels, the account summary).

Categories: `GET /v1/Search/Suggestions.json?search_string=` (its CategorySuggestions, ranked without a
score: confidence is the rank plus how much of the path the product names) and
`GET /v1/Categories/{id}/Details.json` (the category's Attributes: IsRequiredForSell, Options), sent
as the listing's `Category` and `Attributes` [{Name, Value}].

Calls are a budget: Trade Me allows 1,000 authenticated calls per clock hour per app+member. Every
HTTP request (retries included) is taken from the hour's budget before it is sent, and a call that
would exceed the budget raises `BudgetExhausted` without sending. The budget is shared by every process
through PostgreSQL (`integrations.budgets`), so runs, sensors and the sidecar draw on one count. A 429 with no Retry-After is Trade Me saying the hour is
used up (it documents no Retry-After), so the budget is marked spent until the next hour.

Retries (`integrations.retrying`: exponential backoff with jitter) cover 5xx, timeouts, dropped connections,
unreadable bodies and 429s that do carry a Retry-After; never business failures (`Success: false`)
or other 4xx, which raise `ChannelError(retryable=False)` with the response as `details`. A retry
after an attempt that may have reached Trade Me (a 5xx, a read timeout, a cut-off body) first asks
Trade Me whether it did: `create` looks the SKU up before listing again, `withdraw` checks the listing
is still live before calling a refusal a failure.

Configuration (`TradeMeSettings`, TRADEME_* variables): TRADEME_BASE_URL (default: the simulator at
{SIMULATOR_URL}/trademe when USE_SIMULATORS, else https://api.trademe.co.nz; the sandbox is
https://api.tmsandbox.co.nz), TRADEME_CONSUMER_KEY, TRADEME_CONSUMER_SECRET, TRADEME_OAUTH_TOKEN,
TRADEME_OAUTH_TOKEN_SECRET (against the simulator they default to its own), TRADEME_SIGNATURE_METHOD
(PLAINTEXT or HMAC-SHA1), TRADEME_HOURLY_CALL_LIMIT, and the timeout/retry knobs below.
"""

from __future__ import annotations

import asyncio
import base64
import re
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any, ClassVar, Literal, TypeVar
from urllib.parse import urlsplit

import httpx
from oauthlib.oauth1 import Client as OAuth1Client
from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict
from sqlalchemy import Engine

from retail_pipeline.channels.plugin import (
    CategoryAttributes,
    CategoryQuery,
    CategorySuggestion,
    Channel,
    ChannelCarrier,
    Taxonomy,
)
from retail_pipeline.domain.channel_categories import search_text, suggestion_confidence
from retail_pipeline.domain.listings import ListingPolicy, ProductForListing
from retail_pipeline.domain.order_sources import (
    OutOfReach,
    Window,
    clean,
    country,
    utc,
)
from retail_pipeline.domain.orders import Address, ChannelOrder, Customer, OrderLine
from retail_pipeline.domain.pricing import PricingPolicy
from retail_pipeline.integrations.budgets import HOUR, WindowedCallBudget, shared_engine
from retail_pipeline.integrations.http import retry_after_seconds, tls_context
from retail_pipeline.integrations.marketplaces.base import (
    BudgetExhausted,
    CallBudget,
    ChannelClient,
    ChannelError,
    ListingDraft,
    Photo,
    RemoteListing,
    retried,
)
from retail_pipeline.integrations.retrying import Transient, exponential_backoff
from retail_pipeline.media.storage import get_storage
from retail_pipeline.settings import get_settings

TRADEME_API = "https://api.trademe.co.nz"
TRADEME_SANDBOX_API = "https://api.tmsandbox.co.nz"
# The simulator's default app and member (retail_pipeline/simulators/trademe/models.py).
SIMULATOR_CREDENTIALS = (
    "sim-trademe-consumer-key",
    "sim-trademe-consumer-secret",
    "sim-trademe-oauth-token",
    "sim-trademe-oauth-token-secret",
)
FILE_TYPES = {"image/jpeg": "JPG", "image/png": "PNG", "image/gif": "GIF", "image/bmp": "BMP"}
CURRENCY = "NZD"  # Trade Me sells in NZD only
WITHDRAW_NOT_SOLD = 2
MAX_WITHDRAW_REASON = 255
SoldPeriod = Literal[
    "Last45Days", "Last30Days", "Last7Days", "Last3Days", "Last24Hours", "LastHour",
    "EmailSent", "PaymentReceived", "GoodsShipped", "SaleCompleted",
]  # fmt: skip
SaleStatus = Literal["EmailSent", "PaymentReceived", "GoodsShipped", "SaleCompleted"]
T = TypeVar("T")
_DATE = re.compile(r"/Date\((-?\d+)([+-]\d{4})?\)/")


class TradeMeSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="TRADEME_", env_file=".env", extra="ignore")

    base_url: str | None = Field(default=None, description="Unset: the simulator when simulating, else live.")
    consumer_key: str | None = None
    consumer_secret: SecretStr | None = None
    oauth_token: str | None = None
    oauth_token_secret: SecretStr | None = None
    signature_method: Literal["PLAINTEXT", "HMAC-SHA1"] = "PLAINTEXT"
    hourly_call_limit: int = Field(default=1_000, ge=1)
    timeout_seconds: float = Field(default=30.0, gt=0)
    max_attempts: int = Field(default=5, ge=1, description="Requests per call, retries included.")
    backoff_initial_seconds: float = Field(default=0.5, ge=0)
    backoff_max_seconds: float = Field(default=10.0, ge=0)
    max_retry_after_seconds: float = Field(
        default=60.0, ge=0, description="A longer Retry-After is a failure."
    )
    page_size: int = Field(default=500, ge=1, le=500, description="rows per My Trade Me page.")

    def endpoint(self) -> tuple[str, tuple[str, str, str, str]]:
        """(base URL, (consumer key, consumer secret, token, token secret)) to use."""
        settings = get_settings()
        simulated = self.base_url is None and settings.use_simulators
        if self.base_url:
            base = self.base_url
        elif simulated:
            base = f"{settings.simulator_url.rstrip('/')}/trademe"
        else:
            base = TRADEME_API
        given = (
            self.consumer_key,
            self.consumer_secret.get_secret_value() if self.consumer_secret else None,
            self.oauth_token,
            self.oauth_token_secret.get_secret_value() if self.oauth_token_secret else None,
        )
        if simulated:
            given = tuple(g or d for g, d in zip(given, SIMULATOR_CREDENTIALS, strict=True))
        key, secret, token, token_secret = given
        if not (key and secret and token and token_secret):
            raise ValueError(
                "Trade Me needs TRADEME_CONSUMER_KEY, TRADEME_CONSUMER_SECRET, TRADEME_OAUTH_TOKEN and "
                "TRADEME_OAUTH_TOKEN_SECRET"
            )
        return base.rstrip("/"), (key, secret, token, token_secret)


def _utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class AccountSummary:
    member_id: int
    nickname: str
    balance: Decimal
    pay_now_balance: Decimal
    selling_count: int
    sold_count: int
    unsold_count: int


@dataclass(frozen=True)
class SoldItem:
    """One purchase (a PurchaseId) from MyTradeMe/SoldItems; `raw` keeps every field Trade Me sent."""

    purchase_id: int
    listing_id: int
    sku: str | None
    title: str | None
    quantity: int
    unit_price: Decimal
    subtotal: Decimal
    shipping_total: Decimal
    total: Decimal
    sold_at: datetime
    status: int  # 0 none, 10 email sent, 20 payment received, 30 goods shipped, 40 sale completed
    buyer_id: int | None
    buyer_nickname: str | None
    buyer_email: str | None
    delivery_address: dict[str, Any] | None
    raw: dict[str, Any]


def parse_tm_date(value: str) -> datetime:
    """Trade Me's ``/Date(ms)/`` (an optional ``+hhmm`` offset is for display only) or ISO 8601."""
    if match := _DATE.fullmatch(value):
        return datetime.fromtimestamp(int(match[1]) / 1000, UTC)
    moment = datetime.fromisoformat(value)
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _amount(value: Decimal) -> float:
    return float(value.quantize(Decimal("0.01")))


def _decimal(value: Any) -> Decimal | None:
    return None if value is None else Decimal(str(value))


def _jsonable(value: Any) -> Any:
    """Mapped fields may carry Decimals (shipping prices); JSON has numbers."""
    if isinstance(value, Decimal):
        return _amount(value)
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    return value


def listing_request(draft: ListingDraft, photo_ids: list[int] | None = None) -> dict[str, Any]:
    """The ListingRequest for a draft (also what a dry run shows). `draft.fields` supplies Trade Me's
    own fields (Category, Duration, Pickup, PaymentMethods, ShippingOptions, ...); the draft's core
    values win over them. A Quantity makes it Buy Now only, at the draft's price."""
    price = _amount(draft.price)
    request: dict[str, Any] = {
        **_jsonable(draft.fields),
        "Title": draft.title,
        "Description": draft.description.splitlines(),
        "StartPrice": price,
        "BuyNowPrice": price,
        "Quantity": draft.quantity,
        "IsBrandNew": draft.condition == "new",
        "SKU": draft.sku,
        "ExternalReferenceId": draft.sku,  # searchable on Trade Me: the crash-recovery key
    }
    if photo_ids:
        request["PhotoIds"] = photo_ids
    spec = {"GTIN": draft.gtin, "Brand": draft.brand, "ManufacturerCode": draft.mpn}
    if any(spec.values()):
        request["ProductSpecification"] = {k: v for k, v in spec.items() if v}
    return request


class TradeMeClient(ChannelClient):
    channel: ClassVar[str] = "trademe"

    def __init__(
        self,
        settings: TradeMeSettings | None = None,
        *,
        transport: httpx.AsyncBaseTransport | None = None,
        budget: WindowedCallBudget | None = None,
        clock: Callable[[], datetime] = _utc_now,
        budget_engine: Engine | None = None,
    ):
        """`transport` lets tests run in-process; `budget` is the hourly budget to draw on, else one
        kept in `budget_engine` (default: the configured database; none configured: this process
        only) whose hour is `clock`'s, e.g. the simulated clock."""
        self.settings = settings or TradeMeSettings()
        base_url, (consumer_key, consumer_secret, token, token_secret) = self.settings.endpoint()
        self.base_url = base_url
        self._oauth = OAuth1Client(
            consumer_key,
            client_secret=consumer_secret,
            resource_owner_key=token,
            resource_owner_secret=token_secret,
            signature_method=self.settings.signature_method,
        )
        self._budget = budget or WindowedCallBudget(
            self.channel,
            self.settings.hourly_call_limit,
            HOUR,
            clock=clock,
            engine=budget_engine or shared_engine(),
        )
        self._http = httpx.AsyncClient(
            base_url=base_url,
            timeout=self.settings.timeout_seconds,
            transport=transport,
            verify=tls_context(),
        )
        host = urlsplit(base_url).hostname or ""
        # Listing pages live on the www host beside the API host; the simulator has none.
        self._site = f"https://www.{host.removeprefix('api.')}" if host.startswith("api.") else None

    async def aclose(self) -> None:
        await self._http.aclose()

    def budget(self) -> CallBudget:
        return self._budget.snapshot()

    # --- the wire

    async def _send(
        self, method: str, path: str, *, json: Any = None, params: dict[str, Any] | None = None
    ) -> Any:
        """One HTTP request, counted and freshly signed (a new nonce each time), its outcome classified."""
        if not await self._budget.spend():
            raise BudgetExhausted(self.channel, self._budget.snapshot())
        request = self._http.build_request(method, path, json=json, params=params)
        _, signed, _ = self._oauth.sign(str(request.url), method)
        request.headers["Authorization"] = signed["Authorization"]
        try:
            response = await self._http.send(request)
        except (httpx.ConnectError, httpx.ConnectTimeout) as error:  # never reached Trade Me
            raise Transient(type(error).__name__, ambiguous=False) from error
        except httpx.TransportError as error:
            raise Transient(type(error).__name__, ambiguous=True) from error
        status = response.status_code
        if status == 429:
            wait = retry_after_seconds(response)
            if wait is None:  # Trade Me's own limit: the rest of this hour is gone
                self._budget.exhaust()
                raise BudgetExhausted(self.channel, self._budget.snapshot())
            if wait > self.settings.max_retry_after_seconds:
                raise ChannelError(
                    self.channel, f"HTTP 429, Retry-After {wait:.0f}s is too long", status=429, retryable=True
                )
            raise Transient("HTTP 429", ambiguous=False, status=429, wait=wait)
        if status == 408 or status >= 500:
            raise Transient(f"HTTP {status}", ambiguous=True, status=status)
        body = self._json(response)
        if status >= 400:
            described = body.get("ErrorDescription") if isinstance(body, dict) else None
            raise ChannelError(
                self.channel,
                f"HTTP {status} {method} {path}: {described or response.reason_phrase}",
                status=status,
                details=body,
            )
        return body

    @staticmethod
    def _json(response: httpx.Response) -> Any:
        try:
            return response.json()
        except ValueError:
            if response.status_code >= 400:
                return None
            raise Transient("unreadable response body", ambiguous=True, status=response.status_code) from None

    async def _retrying(self, attempt: Callable[[bool], Awaitable[T]]) -> T:
        """Runs `attempt(after_ambiguous)` until it succeeds; `after_ambiguous` tells it an earlier
        attempt may have been carried out, so it can ask before acting again."""
        settings = self.settings
        return await retried(
            self.channel,
            attempt,
            max_attempts=settings.max_attempts,
            backoff=exponential_backoff(settings.backoff_initial_seconds, settings.backoff_max_seconds),
        )

    async def _call(
        self, method: str, path: str, *, json: Any = None, params: dict[str, Any] | None = None
    ) -> Any:
        """A request that is safe to repeat (or, for photo uploads and parcels, harmless to)."""
        return await self._retrying(lambda _: self._send(method, path, json=json, params=params))

    def _refused(self, what: str, body: dict[str, Any]) -> ChannelError:
        return ChannelError(self.channel, f"{what} refused: {body.get('Description')}", details=body)

    async def _pages(self, path: str, **params: Any) -> AsyncIterator[dict[str, Any]]:
        page = 1
        while True:
            body = await self._call(
                "GET", path, params={**params, "page": page, "rows": self.settings.page_size}
            )
            items = body.get("List") or []
            for item in items:
                yield item
            if not items or page * (body.get("PageSize") or len(items)) >= body.get("TotalCount", 0):
                return
            page += 1

    # --- categories (catalogue methods)

    async def category_suggestions(self, search_string: str, limit: int = 10) -> list[dict[str, Any]]:
        """Search/Suggestions' CategorySuggestions for the words, Trade Me's best first."""
        body = await self._call(
            "GET",
            "/v1/Search/Suggestions.json",
            params={
                "search_string": search_string,
                "max_category_suggestions": limit,
                "max_auto_suggestions": 0,
                "max_recent_searches": 0,
            },
        )
        return list(body.get("CategorySuggestions") or [])

    async def category_details(self, category: str) -> dict[str, Any]:
        """Categories/{category}/Details: the category's attributes (IsRequiredForSell, Options…)."""
        return await self._call("GET", f"/v1/Categories/{category}/Details.json")

    # --- listings

    def listing_url(self, listing_id: int) -> str | None:
        """The listing's page on the Trade Me site (none for the simulator)."""
        return f"{self._site}/Browse/Listing.aspx?id={listing_id}" if self._site else None

    def _remote(self, item: dict[str, Any]) -> RemoteListing:
        """A SellingItems item (every one is live: the list holds only current listings)."""
        listing_id = item["ListingId"]
        price = item.get("BuyNowPrice") or item.get("StartPrice")
        picture = item.get("PictureHref")
        return RemoteListing(
            external_id=str(listing_id),
            sku=item.get("SKU") or item.get("ExternalReferenceId"),
            price=_decimal(price),
            quantity=item.get("Quantity"),
            state="live",
            title=item.get("Title"),
            url=self.listing_url(listing_id),
            remote_ids={"ListingId": listing_id, "PhotoId": item.get("PhotoId")},
            currency=CURRENCY,
            photos=(picture,) if picture else (),  # the primary photo; describe() reads them all
        )

    # The list shows the primary photo only, and neither the description nor whether the item is new;
    # Trade Me keeps no brand, GTIN or part number for a general listing.
    selling_lacks = frozenset({"description", "condition", "gtin", "brand", "mpn"})
    described = frozenset({"description", "condition", "photos"})

    async def describe(self, listing: RemoteListing) -> RemoteListing:
        """The listing's edit form (one call): its description, whether it is brand new, and every
        photo, at the photo server address the list gave for the primary one (only the id differs)."""
        form = await self._call("GET", f"/v1/Selling/Listings/{int(listing.external_id)}.json")
        photos = listing.photos
        primary = listing.remote_ids.get("PhotoId")
        if photos and primary and f"/{primary}." in photos[0]:
            head, tail = photos[0].rsplit(f"/{primary}.", 1)
            photos = tuple(f"{head}/{photo_id}.{tail}" for photo_id in form.get("PhotoIds") or [])
        return replace(
            listing,
            description="\n".join(form.get("Description") or ()) or None,
            condition="new" if form.get("IsBrandNew") else "used",
            photos=photos,
        )

    def create_requests(self, draft: ListingDraft, photo_refs: dict[str, str]) -> dict[str, Any]:
        ids = [int(photo_refs[p.sha256]) for p in draft.photos if p.sha256 in photo_refs]
        return {"POST /v1/Selling.json": listing_request(draft, ids or None),
                "photos_to_upload": [p.sha256 for p in draft.photos if p.sha256 not in photo_refs]}  # fmt: skip

    async def validate(self, draft: ListingDraft) -> list[str]:
        """Selling/Validate without photos (they are uploaded only once a draft is valid)."""
        if problem := _local_problem(draft):
            return [problem]
        body = await self._call("POST", "/v1/Selling/Validate.json", json=listing_request(draft))
        if body.get("Success"):
            return []
        return [e["Message"] for e in body.get("ValidationErrors") or []] or [
            body.get("Description") or "invalid"
        ]

    async def find_by_sku(self, sku: str) -> RemoteListing | None:
        """Our live listing with this SKU (or ExternalReferenceId), paging through SellingItems."""
        async for item in self._pages("/v1/MyTradeMe/SellingItems/All.json"):
            if sku in (item.get("SKU"), item.get("ExternalReferenceId")):
                return self._remote(item)
        return None

    async def selling(self) -> AsyncIterator[RemoteListing]:
        async for item in self._pages("/v1/MyTradeMe/SellingItems/All.json", photo_size="FullSize"):
            yield self._remote(item)

    async def upload_photo(self, photo: Photo) -> str:
        """Photos/Add. A retry after a lost answer may leave an unused duplicate photo: harmless."""
        file_type = FILE_TYPES.get(photo.content_type)
        if file_type is None:
            raise ChannelError(
                self.channel, f"Trade Me takes JPG, PNG, GIF or BMP photos, not {photo.content_type}"
            )
        data = await asyncio.to_thread(get_storage().read, photo.path)
        request = {
            "PhotoData": base64.b64encode(data).decode("ascii"),
            "FileName": photo.path.rsplit("/", 1)[-1],
            "FileType": file_type,
        }
        body = await self._call("POST", "/v1/Photos/Add.json", json=request)
        if body.get("Status") != 1 or not body.get("PhotoId"):
            raise ChannelError(
                self.channel, f"photo upload refused (Status {body.get('Status')})", details=body
            )
        return str(body["PhotoId"])

    async def create(self, draft: ListingDraft, *, photo_refs: dict[str, str] | None = None) -> RemoteListing:
        """Uploads the photos not in `photo_refs` (all of them as `remote_ids["photo_refs"]`), then lists
        with SKU = ExternalReferenceId = draft.sku."""
        if problem := _local_problem(draft):
            raise ChannelError(self.channel, problem, details={"sku": draft.sku})
        refs = dict(photo_refs or {})
        missing = list({p.sha256: p for p in draft.photos if p.sha256 not in refs}.values())
        # Concurrently, and every upload finished before a failure is raised: no stray tasks.
        uploaded = await asyncio.gather(*map(self.upload_photo, missing), return_exceptions=True)
        if failure := next((u for u in uploaded if isinstance(u, BaseException)), None):
            raise failure
        refs |= {photo.sha256: str(ref) for photo, ref in zip(missing, uploaded, strict=True)}
        request = listing_request(draft, [int(refs[p.sha256]) for p in draft.photos])

        async def attempt(after_ambiguous: bool) -> RemoteListing:
            if after_ambiguous and (existing := await self.find_by_sku(draft.sku)):
                return existing  # the earlier attempt did list it
            body = await self._send("POST", "/v1/Selling.json", json=request)
            if not body.get("Success"):
                raise self._refused(f"listing {draft.sku}", body)
            listing_id = body["ListingId"]
            return RemoteListing(
                external_id=str(listing_id),
                sku=draft.sku,
                price=draft.price,
                quantity=draft.quantity,
                state="live",
                title=draft.title,
                url=self.listing_url(listing_id),
                remote_ids={"ListingId": listing_id, "photo_refs": refs},  # for the caller to reuse
            )

        return await self._retrying(attempt)

    async def _edit(self, listing: RemoteListing, changes: dict[str, Any]) -> dict[str, Any]:
        """Edit replaces the whole listing (omitted fields are reset), so read the form and send it
        all back with the changes."""
        listing_id = int(listing.external_id)
        form = await self._call("GET", f"/v1/Selling/Listings/{listing_id}.json")
        form = {**form, **changes, "ListingId": listing_id}
        body = await self._call("POST", "/v1/Selling/Edit.json", json=form)
        if not body.get("Success"):
            raise self._refused(f"edit of listing {listing_id}", body)
        return form

    async def update_price(self, listing: RemoteListing, price: Decimal) -> RemoteListing:
        amount = _amount(price)
        form = await self._edit(listing, {"StartPrice": amount, "BuyNowPrice": amount})
        return replace(listing, price=price, quantity=form.get("Quantity"), state="live")

    async def update_quantity(self, listing: RemoteListing, quantity: int) -> RemoteListing:
        """A Buy Now quantity is 1-1000; none left means withdrawing the listing."""
        if quantity < 1:
            return await self.withdraw(listing, "Out of stock")
        form = await self._edit(listing, {"Quantity": quantity})
        return replace(listing, quantity=quantity, price=_decimal(form.get("BuyNowPrice")), state="live")

    async def withdraw(self, listing: RemoteListing, reason: str) -> RemoteListing:
        listing_id = int(listing.external_id)
        request = {"ListingId": listing_id, "Type": WITHDRAW_NOT_SOLD, "Reason": reason[:MAX_WITHDRAW_REASON]}

        async def attempt(after_ambiguous: bool) -> RemoteListing:
            body = await self._send("POST", "/v1/Selling/Withdraw.json", json=request)
            # A refusal after a lost answer may just mean the earlier attempt withdrew it.
            if not body.get("Success") and not (after_ambiguous and not await self._is_live(listing_id)):
                raise self._refused(f"withdrawal of listing {listing_id}", body)
            return replace(listing, state="withdrawn")

        return await self._retrying(attempt)

    async def _is_live(self, listing_id: int) -> bool:
        async for remote in self.selling():
            if remote.external_id == str(listing_id):
                return True
        return False

    # --- My Trade Me (account and orders)

    async def account_summary(self) -> AccountSummary:
        body = await self._call("GET", "/v1/MyTradeMe/Summary.json")
        return AccountSummary(
            member_id=body["MemberId"],
            nickname=body.get("Nickname") or "",
            balance=_decimal(body.get("Balance")) or Decimal("0"),
            pay_now_balance=_decimal(body.get("PayNowBalance")) or Decimal("0"),
            selling_count=body.get("SellingCount") or 0,
            sold_count=body.get("SoldCount") or 0,
            unsold_count=body.get("UnsoldCount") or 0,
        )

    async def sold_items(self, period: SoldPeriod = "Last24Hours") -> AsyncIterator[SoldItem]:
        """Purchases in the period (or with that status), newest first, paging handled."""
        async for item in self._pages(f"/v1/MyTradeMe/SoldItems/{period}.json"):
            buyer = item.get("Buyer") or {}
            yield SoldItem(
                purchase_id=item["PurchaseId"],
                listing_id=item["ListingId"],
                sku=item.get("SKU") or item.get("ExternalReferenceId"),
                title=item.get("Title"),
                quantity=item.get("QuantitySold") or 1,
                unit_price=_decimal(item.get("Price")) or Decimal("0"),
                subtotal=_decimal(item.get("SubtotalPrice") or item.get("SalePrice")) or Decimal("0"),
                shipping_total=_decimal(item.get("TotalShippingPrice")) or Decimal("0"),
                total=_decimal(item.get("TotalSalePrice")) or Decimal("0"),
                sold_at=parse_tm_date(item["SoldDate"]),
                status=item.get("Status") or 0,
                buyer_id=buyer.get("MemberId"),
                buyer_nickname=buyer.get("Nickname"),
                buyer_email=buyer.get("Email"),
                delivery_address=item.get("DeliveryAddress"),
                raw=item,
            )

    async def set_status(self, purchase_id: int, status: SaleStatus) -> None:
        """The seller's own note on a sale (Trade Me never sets it); repeating it is harmless."""
        body = await self._call("POST", f"/v1/MyTradeMe/Status/{purchase_id}/{status}.json")
        if not body.get("Success"):
            raise self._refused(f"status {status} for purchase {purchase_id}", body)

    async def add_courier_parcel(
        self,
        purchase_ids: list[int],
        courier_company: str,
        tracking_reference: str,
        account_number: str | None = None,
    ) -> int | None:
        """Tracks a parcel for purchases by one buyer; its CourierParcelId, or None if Trade Me
        already has this parcel (code 1: e.g. an earlier attempt whose answer was lost)."""
        parcel: dict[str, Any] = {
            "CourierCompany": courier_company,
            "TrackingReference": tracking_reference,
            "AuctionSoldIds": purchase_ids,
        }
        if account_number:
            parcel["AccountNumber"] = account_number
        body = await self._call("POST", "/v1/MyTradeMe/CourierParcels.json", json={"Parcel": parcel})
        if body.get("Success"):
            return body["CourierParcelId"]
        if body.get("Code") == 1:
            return None
        raise self._refused(f"courier parcel {tracking_reference}", body)


def _local_problem(draft: ListingDraft) -> str | None:
    """What Trade Me cannot take whatever the fields say: it sells in NZD only."""
    return None if draft.currency == "NZD" else f"Trade Me lists in NZD, not {draft.currency}"


# --- its orders: Trade Me's sold items as our orders (MyTradeMe/SoldItems), and the look-back window that
# reaches a day


TRADEME_STATUS = {0: "None", 10: "EmailSent", 20: "PaymentReceived", 30: "GoodsShipped", 40: "SaleCompleted"}
TRADEME_PAYMENT_RECEIVED = 20


def order_from_trademe(item: SoldItem) -> ChannelOrder:
    """One purchase (PurchaseId) is one order with one line. Paid = a Pay Now purchase whose payment is
    not pending, or a sale the seller marked PaymentReceived (bank deposits)."""
    raw = item.raw
    paid = (bool(raw.get("IsPayNowPurchase")) and not raw.get("IsPaymentPending")) or (
        item.status >= TRADEME_PAYMENT_RECEIVED
    )
    address = item.delivery_address or {}
    customer = None
    if item.buyer_id is not None:
        customer = Customer(
            external_customer_id=str(item.buyer_id),
            name=clean(address.get("Name")) or item.buyer_nickname,
            email=item.buyer_email,
            phone=clean(address.get("PhoneNumber")),
        )
    shipping_address = None
    if address:
        shipping_address = Address(
            name=clean(address.get("Name")),
            street_1=clean(address.get("Address1")),
            street_2=clean(address.get("Address2")) or clean(address.get("Suburb")),
            city=clean(address.get("City")),
            zip_code=clean(address.get("Postcode")),
            country_iso_code=country(clean(address.get("Country"))) or "NZ",
            phone=clean(address.get("PhoneNumber")),
        )
    return ChannelOrder(
        channel="trademe",
        external_order_id=str(item.purchase_id),
        placed_at=utc(item.sold_at),
        currency="NZD",  # Trade Me sells in NZD only
        total=item.total or item.subtotal + item.shipping_total,
        subtotal=item.subtotal,
        shipping_total=item.shipping_total,
        lines=(
            OrderLine(
                external_line_id=str(item.purchase_id),
                sku=item.sku,
                title=item.title,
                quantity=item.quantity,
                unit_price=item.unit_price,
                remote_state=TRADEME_STATUS.get(item.status, str(item.status)),
            ),
        ),
        initial_status="accepted" if paid else "pending_payment",
        remote_state="paid" if paid else "payment_pending",
        customer=customer,
        shipping_address=shipping_address,
        raw=raw,
    )


TRADEME_PERIODS: tuple[tuple[str, float], ...] = (
    ("LastHour", 1), ("Last24Hours", 24), ("Last3Days", 72), ("Last7Days", 168),
    ("Last30Days", 720), ("Last45Days", 1080),
)  # fmt: skip


def trademe_period(since: datetime, now: datetime) -> str | None:
    """The shortest SoldItems window reaching back to `since` from Trade Me's `now` (None: older than
    45 days, beyond what Trade Me lists)."""
    hours = (now - since).total_seconds() / 3600
    return next((name for name, span in TRADEME_PERIODS if hours <= span), None)


async def trademe_orders(client: Any, window: Window) -> AsyncIterator[ChannelOrder]:
    period = trademe_period(window.start, window.now)
    if period is None:
        raise OutOfReach(f"Trade Me lists sold items of the last 45 days only, not {window.start.date()}")
    async for item in client.sold_items(period):  # one call per 500 sales
        yield order_from_trademe(item)


# --- the plug-in: what the channel can do, for the registry


async def suggest_categories(client: Any, query: CategoryQuery) -> list[CategorySuggestion]:
    """Trade Me's category suggestions for the title (and our category): ranked, unscored, so
    confidence is the rank plus how much of the path the product names."""
    found = await client.category_suggestions(search_text(query))
    if not found and (wider := search_text(query, with_category=True)) != search_text(query):
        found = await client.category_suggestions(wider)  # a model name alone found nothing
    return [
        CategorySuggestion(
            str(raw["Id"]),
            " > ".join(path := [*(raw.get("AncestorsNames") or []), raw["Name"]]),
            suggestion_confidence(rank, path, query),
        )
        for rank, raw in enumerate(found)
    ]


def attributes_schema(details: dict[str, Any]) -> dict[str, Any]:
    """CategoryDetails' Attributes as a JSON Schema keyed by attribute Name (Options as an enum,
    IsRequiredForSell as `required`)."""
    properties: dict[str, Any] = {}
    required = []
    kinds = {1: "boolean", 2: "integer", 3: "number"}
    for attribute in details.get("Attributes") or []:
        name = attribute["Name"]
        prop: dict[str, Any] = {"type": kinds.get(attribute.get("Type"), "string")}
        if attribute.get("DisplayName") and attribute["DisplayName"] != name:
            prop["description"] = attribute["DisplayName"] + "."
        if options := attribute.get("Options"):
            prop["enum"] = [o["Value"] for o in options]
        elif attribute.get("MaxStringLength"):
            prop["description"] = (
                f"{prop.get('description', '')} At most {attribute['MaxStringLength']} characters.".strip()
            )
        properties[name] = prop
        if attribute.get("IsRequiredForSell"):
            required.append(name)
    return {"type": "object", "properties": properties, "required": required}


async def category_attributes(client: Any, category_id: str) -> CategoryAttributes:
    return CategoryAttributes(category_id, attributes_schema(await client.category_details(category_id)))


def listing_fields(product: ProductForListing) -> dict[str, Any]:
    """Category and Attributes from the chosen category (`channel_categories`)."""
    return {
        "Category": product.channel_category,
        "Attributes": [
            {"Name": name, "Value": ", ".join(map(str, value)) if isinstance(value, list) else str(value)}
            for name, value in product.channel_attributes.items()
        ],
        "Duration": 7,
        "Pickup": 1,  # pick-up allowed
        "PaymentMethods": [1, 2],  # bank deposit, credit card
        "ShippingOptions": [{"Type": 3}],  # free shipping (the price includes it)
    }


LISTING = ListingPolicy(
    "trademe",
    "NZD",
    PricingPolicy(
        fee_rate=Decimal("0.079"), fixed_fee=Decimal("0"), shipping_cost=Decimal("0"), rounding="charm_99"
    ),
    listing_fields,
    max_title=80,
    max_photos=20,
    max_description=2048 * 10,
)


async def push_tracking(client: Any, order, lines: list, shipment, carrier: ChannelCarrier) -> dict[str, Any]:
    """CourierParcels, then Status/GoodsShipped (a plain setter: repeating it is harmless)."""
    purchase_id = int(order.external_order_id)
    parcel_id = await client.add_courier_parcel([purchase_id], carrier.name, shipment.tracking_pin)
    await client.set_status(purchase_id, "GoodsShipped")
    return {"purchase_id": purchase_id, "courier_parcel_id": parcel_id, "already": parcel_id is None}


CHANNEL = Channel(
    name="trademe",
    title="Trade Me",
    client=f"{__name__}:TradeMeClient",
    listing=LISTING,
    orders=trademe_orders,
    taxonomy=Taxonomy(suggest=suggest_categories, attributes=category_attributes),
    push_tracking=push_tracking,  # CourierCompany is free text; a repeated parcel is recognised
    carrier_names={"canada_post": "Canada Post", "nz_post": "NZ Post"},  # CourierCompany: free text
)

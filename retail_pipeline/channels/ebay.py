"""eBay: listings and stock (Inventory API), orders (Fulfillment API), tracking (shipping fulfillments).

eBay: the Sell Inventory API (inventory item -> offer -> publish) behind `ChannelClient`, plus the
Sell Fulfillment calls the orders work needs (getOrders, createShippingFulfillment).

Auth is an OAuth2 user token minted from the seller's refresh token (client id and secret in Basic
auth, `POST /identity/v1/oauth2/token`); it lives two hours and is renewed a minute early, or at once
if eBay answers 401 (a token can die early), once per request.

Calls are a budget: eBay caps calls per app per day (a new production app: 5,000). Every HTTP request
(retries and token renewals included) is taken from the day's budget, shared by every process through
PostgreSQL (`integrations.budgets`), before it is sent; one that would exceed it raises
`BudgetExhausted` without sending, and so does a 429 whose Retry-After is too long to wait out
(eBay saying the day's quota is gone). Retries (`integrations.retrying`: exponential backoff with jitter, honouring
Retry-After) cover 429, 5xx, timeouts, dropped connections and unreadable bodies; any other error is
eBay's `{"errors": [...]}` turned into `ChannelError(retryable=False)` with the errors as `details`.

Idempotency: our SKU is eBay's SKU. `create` replaces the inventory item, creates the offer (eBay keeps
one per SKU, marketplace and format, and names the existing one when asked for a second: that offer is
updated and reused), then publishes (publishing a published offer returns its listing). So a re-run
after a crash anywhere in `create` ends with one listing. Withdrawing a listing that is no longer live
is a success; so is recording a shipment eBay already has.

Categories (the Taxonomy API, `commerce/taxonomy/v1`, with an application token: the client-credentials
grant, scope `https://api.ebay.com/oauth/api_scope`, minted and kept beside the seller's token):
getDefaultCategoryTreeId once per client, getCategorySuggestions for a product's title, and
getItemAspectsForCategory for the chosen leaf, turned into a JSON Schema (SELECTION_ONLY values as an
enum, MULTI as an array, aspectRequired as `required`). eBay's suggestions carry no score: confidence is
their rank plus how much of the category path the product names (`domain.channel_categories`).

`ListingDraft.fields` for eBay: `categoryId` (required), `aspects` ({name: value or [values]}), and
optionally `condition` (a ConditionEnum value; else new -> NEW, used -> USED_EXCELLENT, refurbished ->
SELLER_REFURBISHED) and `conditionDescription`.

Configuration (`EbaySettings`, EBAY_* variables): EBAY_BASE_URL (default: the simulator at
{SIMULATOR_URL}/ebay when USE_SIMULATORS, else https://api.ebay.com, or https://api.sandbox.ebay.com
with EBAY_ENVIRONMENT=sandbox), EBAY_CLIENT_ID, EBAY_CLIENT_SECRET, EBAY_REFRESH_TOKEN,
EBAY_MARKETPLACE_ID (EBAY_US), EBAY_CONTENT_LANGUAGE (the marketplace's), EBAY_MERCHANT_LOCATION_KEY,
EBAY_FULFILLMENT_POLICY_ID, EBAY_PAYMENT_POLICY_ID, EBAY_RETURN_POLICY_ID (against the simulator all
of these default to its seeded seller account), EBAY_DAILY_CALL_LIMIT, and the timeout/retry knobs.
"""

from __future__ import annotations

import asyncio
import base64
import re
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any, ClassVar, Literal, TypeVar
from urllib.parse import quote

import httpx
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
    Window,
    clean,
    money,
    parse_time,
)
from retail_pipeline.domain.orders import Address, ChannelOrder, Customer, OrderLine, OrderStatus
from retail_pipeline.domain.pricing import PricingPolicy
from retail_pipeline.domain.products import gtin_digits, is_valid_gtin
from retail_pipeline.integrations.budgets import DAY, WindowedCallBudget, shared_engine
from retail_pipeline.integrations.http import retry_after_seconds, tls_context
from retail_pipeline.integrations.marketplaces.base import (
    NO_PUBLIC_URL,
    BudgetExhausted,
    CallBudget,
    ChannelClient,
    ChannelError,
    ListingDraft,
    Photo,
    RemoteListing,
    RemoteState,
    retried,
)
from retail_pipeline.integrations.retrying import Transient, exponential_backoff
from retail_pipeline.settings import get_settings

EBAY_API = "https://api.ebay.com"
EBAY_SANDBOX_API = "https://api.sandbox.ebay.com"
INVENTORY, FULFILLMENT = "/sell/inventory/v1", "/sell/fulfillment/v1"
TAXONOMY = "/commerce/taxonomy/v1"
APP_SCOPE = "https://api.ebay.com/oauth/api_scope"  # an application token's: the Taxonomy API takes it
SCOPES = " ".join(f"https://api.ebay.com/oauth/api_scope/sell.{api}" for api in ("inventory", "fulfillment"))
# The simulator's seeded seller (retail_pipeline/simulators/ebay/models.py, EbaySimulatorConfig); it
# takes any client credentials and refresh token.
SIMULATOR_CREDENTIALS = ("sim-ebay-client-id", "sim-ebay-client-secret", "sim-ebay-refresh-token")
SIMULATOR_ACCOUNT = {
    "merchant_location_key": "default",
    "fulfillment_policy_id": "6196932000",
    "payment_policy_id": "6196933000",
    "return_policy_id": "6196934000",
}
# Marketplace -> (currency, language, site host).
MARKETPLACES = {
    "EBAY_US": ("USD", "en-US", "www.ebay.com"),
    "EBAY_MOTORS": ("USD", "en-US", "www.ebay.com"),
    "EBAY_CA": ("CAD", "en-CA", "www.ebay.ca"),
    "EBAY_GB": ("GBP", "en-GB", "www.ebay.co.uk"),
    "EBAY_AU": ("AUD", "en-AU", "www.ebay.com.au"),
    "EBAY_IE": ("EUR", "en-IE", "www.ebay.ie"),
    "EBAY_DE": ("EUR", "de-DE", "www.ebay.de"),
    "EBAY_AT": ("EUR", "de-AT", "www.ebay.at"),
    "EBAY_CH": ("CHF", "de-CH", "www.ebay.ch"),
    "EBAY_FR": ("EUR", "fr-FR", "www.ebay.fr"),
    "EBAY_BE": ("EUR", "nl-BE", "www.benl.ebay.be"),
    "EBAY_NL": ("EUR", "nl-NL", "www.ebay.nl"),
    "EBAY_IT": ("EUR", "it-IT", "www.ebay.it"),
    "EBAY_ES": ("EUR", "es-ES", "www.ebay.es"),
    "EBAY_PL": ("PLN", "pl-PL", "www.ebay.pl"),
}
CONDITIONS = {"new": "NEW", "used": "USED_EXCELLENT", "refurbished": "SELLER_REFURBISHED"}
CONDITION_ENUM = frozenset(
    {
        "NEW", "LIKE_NEW", "NEW_OTHER", "NEW_WITH_DEFECTS", "CERTIFIED_REFURBISHED", "EXCELLENT_REFURBISHED",
        "VERY_GOOD_REFURBISHED", "GOOD_REFURBISHED", "SELLER_REFURBISHED", "USED_EXCELLENT", "USED_VERY_GOOD",
        "USED_GOOD", "USED_ACCEPTABLE", "FOR_PARTS_OR_NOT_WORKING",
    }
)  # fmt: skip
# Limits from the Inventory API spec.
MAX_SKU, MAX_TITLE, MAX_DESCRIPTION, MAX_IMAGES, MAX_BRAND_MPN = 50, 80, 4000, 24, 65
MAX_ASPECT_NAME, MAX_ASPECT_VALUE = 40, 50
REQUIRED_ASPECTS = ("Brand",)  # most eBay categories require it; the category decides (Taxonomy API)
LISTING_STATES: dict[str, RemoteState] = {"ACTIVE": "live"}  # every other ListingStatusEnum: not live
MAX_ITEMS_PAGE = 200  # getInventoryItems' largest page
TOKEN_MARGIN = timedelta(seconds=60)
OFFER_EXISTS, OFFER_NOT_AVAILABLE, FULFILLMENT_EXISTS = 25002, 25713, 34500
T = TypeVar("T")


class EbaySettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="EBAY_", env_file=".env", extra="ignore")

    environment: Literal["production", "sandbox"] = "production"
    base_url: str | None = Field(default=None, description="Unset: the simulator when simulating, else eBay.")
    client_id: str | None = None
    client_secret: SecretStr | None = None
    refresh_token: SecretStr | None = None
    marketplace_id: str = "EBAY_US"
    content_language: str | None = Field(default=None, description="Unset: the marketplace's language.")
    merchant_location_key: str | None = None
    fulfillment_policy_id: str | None = None
    payment_policy_id: str | None = None
    return_policy_id: str | None = None
    daily_call_limit: int = Field(default=5_000, ge=1, description="A new production app's daily quota.")
    timeout_seconds: float = Field(default=30.0, gt=0)
    max_attempts: int = Field(default=5, ge=1, description="Requests per call, retries included.")
    backoff_initial_seconds: float = Field(default=0.5, ge=0)
    backoff_max_seconds: float = Field(default=10.0, ge=0)
    max_retry_after_seconds: float = Field(
        default=60.0, ge=0, description="A longer Retry-After is not waited."
    )
    page_size: int = Field(default=100, ge=1, le=200, description="Offers or orders per page.")

    def endpoint(self) -> tuple[str, tuple[str, str, str], dict[str, str | None]]:
        """(base URL, (client id, client secret, refresh token), seller account ids) to use."""
        settings = get_settings()
        simulated = self.base_url is None and settings.use_simulators
        if self.base_url:
            base = self.base_url
        elif simulated:
            base = f"{settings.simulator_url.rstrip('/')}/ebay"
        else:
            base = EBAY_SANDBOX_API if self.environment == "sandbox" else EBAY_API
        credentials = (
            self.client_id,
            self.client_secret.get_secret_value() if self.client_secret else None,
            self.refresh_token.get_secret_value() if self.refresh_token else None,
        )
        account: dict[str, str | None] = {key: getattr(self, key) for key in SIMULATOR_ACCOUNT}
        if simulated:
            credentials = tuple(c or d for c, d in zip(credentials, SIMULATOR_CREDENTIALS, strict=True))
            account = {key: value or SIMULATOR_ACCOUNT[key] for key, value in account.items()}
        if not all(credentials):
            raise ValueError("eBay needs EBAY_CLIENT_ID, EBAY_CLIENT_SECRET and EBAY_REFRESH_TOKEN")
        if self.marketplace_id not in MARKETPLACES:
            raise ValueError(
                f"EBAY_MARKETPLACE_ID {self.marketplace_id!r} is not one of {sorted(MARKETPLACES)}"
            )
        return base.rstrip("/"), credentials, account  # type: ignore[return-value]


def _utc_now() -> datetime:
    return datetime.now(UTC)


def _maybe_sent(error: httpx.TransportError) -> bool:
    """Whether a request that failed in transit may have reached eBay (not for a failed connect)."""
    return not isinstance(error, httpx.ConnectError | httpx.ConnectTimeout)


@dataclass(frozen=True)
class _Token:
    value: str
    expires_at: datetime


def _error_ids(error: ChannelError) -> set[int]:
    """The errorIds of an eBay error response carried by a ChannelError."""
    return {e.get("errorId") for e in error.details or [] if isinstance(e, dict)}


def _error_parameter(error: ChannelError, name: str) -> str | None:
    for detail in error.details or []:
        for parameter in detail.get("parameters") or []:
            if parameter.get("name") == name:
                return parameter.get("value")
    return None


def _brand(product: dict[str, Any]) -> str | None:
    """The product's brand, else its Brand item specific ("Unbranded" is eBay's word for none)."""
    brand = product.get("brand") or next(iter((product.get("aspects") or {}).get("Brand") or ()), None)
    return None if brand == "Unbranded" else brand


def _our_condition(condition: str | None) -> str | None:
    """new | used | refurbished for an eBay ConditionEnum value."""
    if not condition:
        return None
    if "REFURBISHED" in condition:
        return "refurbished"
    return "new" if condition.startswith("NEW") or condition == "LIKE_NEW" else "used"


def _money(value: Decimal, currency: str) -> dict[str, str]:
    return {"value": f"{value:.2f}", "currency": currency}


def _aspects(draft: ListingDraft) -> dict[str, list[str]]:
    raw = draft.fields.get("aspects") or {}
    aspects = {
        str(k): [str(v) for v in (vs if isinstance(vs, list | tuple) else [vs])] for k, vs in raw.items()
    }
    if draft.brand and "Brand" not in aspects:
        aspects["Brand"] = [draft.brand]
    if draft.mpn and "MPN" not in aspects:
        aspects["MPN"] = [draft.mpn]
    return aspects


def _gtin_code(gtin: str) -> str:
    """A GTIN in eBay's terms: leading zeros past 12 digits dropped (GTIN-14/13 padding of a UPC-A)."""
    code = gtin_digits(gtin)
    while len(code) > 12 and code.startswith("0"):
        code = code[1:]
    return code


def _gtin(draft: ListingDraft) -> dict[str, list[str]]:
    """eBay's upc (12 digits) or ean (8 or 13)."""
    if not draft.gtin:
        return {}
    code = _gtin_code(draft.gtin)
    return {"upc": [code]} if len(code) == 12 else {"ean": [code]}


def inventory_item(draft: ListingDraft, image_urls: list[str]) -> dict[str, Any]:
    """The InventoryItem for a draft (also what a dry run shows)."""
    product: dict[str, Any] = {
        "title": draft.title,
        "description": draft.description,
        "aspects": _aspects(draft),
        "imageUrls": image_urls,
        **_gtin(draft),
    }
    if draft.brand:
        product["brand"] = draft.brand
    if draft.mpn:
        product["mpn"] = draft.mpn
    item: dict[str, Any] = {
        "availability": {"shipToLocationAvailability": {"quantity": draft.quantity}},
        "condition": draft.fields.get("condition") or CONDITIONS.get(draft.condition, draft.condition),
        "product": product,
    }
    if description := draft.fields.get("conditionDescription"):
        item["conditionDescription"] = description
    return item


class EbayClient(ChannelClient):
    channel: ClassVar[str] = "ebay"

    def __init__(
        self,
        settings: EbaySettings | None = None,
        *,
        transport: httpx.AsyncBaseTransport | None = None,
        budget: WindowedCallBudget | None = None,
        clock: Callable[[], datetime] = _utc_now,
        budget_engine: Engine | None = None,
    ):
        """`transport` lets tests run in-process; `budget` is the daily budget to draw on, else one
        kept in `budget_engine` (default: the configured database; none configured: this process
        only); `clock` decides token expiry and that budget's day, e.g. the simulated clock."""
        self.settings = settings or EbaySettings()
        base_url, credentials, account = self.settings.endpoint()
        self.base_url, self.account, self.clock = base_url, account, clock
        client_id, client_secret, self._refresh_token = credentials
        self._basic = "Basic " + base64.b64encode(f"{client_id}:{client_secret}".encode()).decode()
        self.marketplace_id = self.settings.marketplace_id
        self.currency, language, self._site = MARKETPLACES[self.marketplace_id]
        self.content_language = self.settings.content_language or language
        self._budget = budget or WindowedCallBudget(
            self.channel,
            self.settings.daily_call_limit,
            DAY,
            clock=clock,
            engine=budget_engine or shared_engine(),
        )
        self._http = httpx.AsyncClient(
            base_url=base_url,
            timeout=self.settings.timeout_seconds,
            transport=transport,
            verify=tls_context(),
        )
        self._token: _Token | None = None
        self._token_lock = asyncio.Lock()
        self._app_token: _Token | None = None
        self._app_token_lock = asyncio.Lock()
        self._tree_id: str | None = None

    async def aclose(self) -> None:
        await self._http.aclose()

    def budget(self) -> CallBudget:
        return self._budget.snapshot()

    # --- the wire

    async def _spend(self) -> None:
        if not await self._budget.spend():
            raise BudgetExhausted(self.channel, self._budget.snapshot())

    async def _access_token(self, refused: str | None = None) -> str:
        """A live access token. `refused`: a token eBay just turned down, to be replaced unless another
        call already has; so concurrent calls renew once, not once each."""
        async with self._token_lock:
            token = self._token
            if token is None or token.value == refused or self.clock() >= token.expires_at - TOKEN_MARGIN:
                token = self._token = await self._mint_token()
            return token.value

    async def _application_token(self, refused: str | None = None) -> str:
        """The client-credentials token the Taxonomy API takes (no seller involved), kept like the other."""
        async with self._app_token_lock:
            token = self._app_token
            if token is None or token.value == refused or self.clock() >= token.expires_at - TOKEN_MARGIN:
                form = {"grant_type": "client_credentials", "scope": APP_SCOPE}
                token = self._app_token = await self._mint_token(form)
            return token.value

    async def _mint_token(self, form: dict[str, str] | None = None) -> _Token:
        form = form or {"grant_type": "refresh_token", "refresh_token": self._refresh_token, "scope": SCOPES}

        async def attempt() -> _Token:
            await self._spend()
            try:
                response = await self._http.post(
                    "/identity/v1/oauth2/token", data=form, headers={"Authorization": self._basic}
                )
            except httpx.TransportError as error:
                raise Transient(type(error).__name__, ambiguous=_maybe_sent(error)) from error
            self._raise_for_transient(response)
            body = self._json(response)
            if response.status_code != 200:
                described = body.get("error_description") if isinstance(body, dict) else None
                raise ChannelError(
                    self.channel,
                    f"token refresh refused: HTTP {response.status_code} {described or ''}".rstrip(),
                    status=response.status_code,
                    details=body,
                )
            return _Token(body["access_token"], self.clock() + timedelta(seconds=body["expires_in"]))

        return await self._retrying(attempt)

    def _raise_for_transient(self, response: httpx.Response) -> None:
        status = response.status_code
        if status == 429:
            wait = retry_after_seconds(response)
            if wait is not None and wait > self.settings.max_retry_after_seconds:
                self._budget.exhaust()  # eBay's daily quota: nothing to gain by waiting here
                raise BudgetExhausted(self.channel, self._budget.snapshot())
            raise Transient("HTTP 429", ambiguous=False, status=429, wait=wait)
        if status == 408 or status >= 500:
            raise Transient(
                f"HTTP {status}", ambiguous=True, status=status, wait=retry_after_seconds(response)
            )

    @staticmethod
    def _json(response: httpx.Response) -> Any:
        if response.status_code == 204 or not response.content:
            return None
        try:
            return response.json()
        except ValueError:
            if response.status_code >= 400:
                return None
            raise Transient("unreadable response body", ambiguous=True, status=response.status_code) from None

    async def _send(
        self,
        method: str,
        url: str,
        *,
        json: Any = None,
        params: Mapping[str, str] | None = None,
        app: bool = False,
    ) -> httpx.Response:
        """One request with a live token (`app`: the application token); a 401 renews the token and
        sends once more."""
        token = None
        for _ in range(2):
            token = await (self._application_token if app else self._access_token)(refused=token)
            headers = {"Authorization": f"Bearer {token}", "Accept": "application/json"}
            if json is not None:
                headers["Content-Language"] = self.content_language
            await self._spend()
            try:
                response = await self._http.request(method, url, json=json, params=params, headers=headers)
            except httpx.TransportError as error:
                raise Transient(type(error).__name__, ambiguous=_maybe_sent(error)) from error
            if response.status_code != 401:
                break
        self._raise_for_transient(response)
        return response

    async def _retrying(self, attempt: Callable[[], Awaitable[T]]) -> T:
        """Every eBay call here is safe to repeat as it stands (see the module docstring), so attempts
        need not know whether an earlier one may have acted."""
        settings = self.settings
        return await retried(
            self.channel,
            lambda _after_ambiguous: attempt(),
            max_attempts=settings.max_attempts,
            backoff=exponential_backoff(settings.backoff_initial_seconds, settings.backoff_max_seconds),
        )

    async def _call(
        self,
        method: str,
        url: str,
        *,
        json: Any = None,
        params: Mapping[str, str] | None = None,
        app: bool = False,
    ) -> tuple[httpx.Response, Any]:
        """A request with retries: (response, parsed body); eBay's errors raise ChannelError. Where a
        repeat is not harmless by itself, the caller reads the error it gets (an offer that exists)."""

        async def attempt() -> tuple[httpx.Response, Any]:
            response = await self._send(method, url, json=json, params=params, app=app)
            return response, self._json(response)

        response, body = await self._retrying(attempt)
        if response.status_code >= 400:
            errors = body.get("errors") if isinstance(body, dict) else None
            described = "; ".join(
                f"{e.get('errorId')} {e.get('longMessage') or e.get('message')}" for e in errors or []
            )
            raise ChannelError(
                self.channel,
                f"HTTP {response.status_code} {method} {url}: {described or response.reason_phrase}",
                status=response.status_code,
                details=errors,
            )
        return response, body

    async def _pages(self, path: str, params: dict[str, str], key: str) -> AsyncIterator[dict[str, Any]]:
        """Every `key` item of a paged collection, following eBay's `next` links."""
        url: str | None = path
        query: dict[str, str] | None = params
        while url:
            _, body = await self._call("GET", url, params=query)
            for item in body.get(key) or []:
                yield item
            url, query = body.get("next"), None  # `next` carries its own query

    # --- categories (Taxonomy API, application token)

    async def category_tree_id(self) -> str:
        """getDefaultCategoryTreeId for our marketplace, asked once per client."""
        if self._tree_id is None:
            _, body = await self._call(
                "GET",
                f"{TAXONOMY}/get_default_category_tree_id",
                params={"marketplace_id": self.marketplace_id},
                app=True,
            )
            self._tree_id = str(body["categoryTreeId"])
        return self._tree_id

    async def category_suggestions(self, q: str) -> list[dict[str, Any]]:
        """getCategorySuggestions: leaf categories for the words, eBay's best first (204: none)."""
        tree_id = await self.category_tree_id()
        _, body = await self._call(
            "GET", f"{TAXONOMY}/category_tree/{tree_id}/get_category_suggestions", params={"q": q}, app=True
        )
        return list((body or {}).get("categorySuggestions") or [])

    async def item_aspects(self, category_id: str) -> list[dict[str, Any]]:
        """getItemAspectsForCategory: the leaf category's aspects with their constraints and values."""
        tree_id = await self.category_tree_id()
        _, body = await self._call(
            "GET",
            f"{TAXONOMY}/category_tree/{tree_id}/get_item_aspects_for_category",
            params={"category_id": category_id},
            app=True,
        )
        return list((body or {}).get("aspects") or [])

    # --- listings

    def _url(self, listing_id: str) -> str:
        return f"https://{self._site}/itm/{listing_id}"

    def _remote(self, offer: dict[str, Any], item: dict[str, Any] | None = None) -> RemoteListing | None:
        """The listing behind a published offer, with what its inventory `item` says of the product
        where given; None for an unpublished offer (no listing)."""
        listing = offer.get("listing")
        if offer.get("status") != "PUBLISHED" or not listing:
            return None
        status = listing.get("listingStatus")
        state = LISTING_STATES.get(status, "ended")
        if status == "OUT_OF_STOCK" and listing.get("soldQuantity"):
            state = "sold"
        price = offer.get("pricingSummary", {}).get("price")
        product = (item or {}).get("product") or {}
        codes = [*(product.get("ean") or ()), *(product.get("upc") or ())]
        return RemoteListing(
            external_id=listing["listingId"],
            sku=offer.get("sku"),
            price=Decimal(price["value"]) if price else None,
            quantity=offer.get("availableQuantity"),
            state=state,
            title=product.get("title"),
            url=self._url(listing["listingId"]),
            remote_ids={"offer_id": offer["offerId"], "marketplace_id": offer.get("marketplaceId")},
            gtin=codes[0] if codes else None,
            brand=_brand(product),
            mpn=product.get("mpn"),
            description=offer.get("listingDescription") or product.get("description"),
            currency=price["currency"] if price else None,
            condition=_our_condition((item or {}).get("condition")),
            photos=tuple(product.get("imageUrls") or ()),
        )

    def _problems(self, draft: ListingDraft) -> list[str]:
        """What eBay would refuse at publish, checked here (eBay has no validate-only call)."""
        problems = []
        if not 1 <= len(draft.sku) <= MAX_SKU:
            problems.append(f"SKU must be 1 to {MAX_SKU} characters")
        if not draft.title.strip():
            problems.append("title is required")
        elif len(draft.title) > MAX_TITLE:
            problems.append(f"title is {len(draft.title)} characters; eBay allows {MAX_TITLE}")
        if not draft.description.strip():
            problems.append("description is required")
        elif len(draft.description) > MAX_DESCRIPTION:
            problems.append(
                f"description is {len(draft.description)} characters; eBay allows {MAX_DESCRIPTION}"
            )
        if draft.currency != self.currency:
            problems.append(f"{self.marketplace_id} lists in {self.currency}, not {draft.currency}")
        if draft.price <= 0 or draft.price != draft.price.quantize(Decimal("0.01")):
            problems.append(f"price {draft.price} must be above 0 with at most two decimals")
        if draft.quantity < 1:
            problems.append("quantity must be at least 1")
        condition = draft.fields.get("condition") or CONDITIONS.get(draft.condition)
        if condition not in CONDITION_ENUM:
            problems.append(f"condition {condition or draft.condition!r} is not an eBay condition")
        if not str(draft.fields.get("categoryId", "")).isdigit():
            problems.append("fields['categoryId'] (an eBay leaf category id) is required")
        if not draft.photos:
            problems.append("at least one photo is required")
        elif len(draft.photos) > MAX_IMAGES:
            problems.append(f"{len(draft.photos)} photos; eBay allows {MAX_IMAGES}")
        aspects = _aspects(draft)
        problems += [
            f"item specific {name} is required" for name in REQUIRED_ASPECTS if not aspects.get(name)
        ]
        for name, values in aspects.items():
            if len(name) > MAX_ASPECT_NAME or any(len(v) > MAX_ASPECT_VALUE for v in values):
                problems.append(
                    f"item specific {name!r}: names up to {MAX_ASPECT_NAME}, values up to {MAX_ASPECT_VALUE} characters"
                )
        for name, value in (("brand", draft.brand), ("mpn", draft.mpn)):
            if value and len(value) > MAX_BRAND_MPN:
                problems.append(f"{name} is longer than {MAX_BRAND_MPN} characters")
        if draft.gtin and not is_valid_gtin(draft.gtin):
            problems.append(f"GTIN {draft.gtin} has a bad check digit or length")
        elif draft.gtin and len(_gtin_code(draft.gtin)) == 14:
            problems.append(f"GTIN {draft.gtin} is a GTIN-14; eBay takes a UPC or an EAN")
        missing = [f"EBAY_{key.upper()}" for key, value in self.account.items() if not value]
        if missing:
            problems.append(f"eBay account settings missing: {', '.join(missing)}")
        return problems

    def create_requests(self, draft: ListingDraft, photo_refs: dict[str, str]) -> dict[str, Any]:
        refs = [photo_refs.get(p.sha256) or p.public_url for p in draft.photos]
        return {
            f"PUT {INVENTORY}/inventory_item/{quote(draft.sku, safe='')}": inventory_item(draft, refs),
            f"POST {INVENTORY}/offer": {"sku": draft.sku, "marketplaceId": self.marketplace_id,
                                        "format": "FIXED_PRICE", **self._offer(draft)},
            f"POST {INVENTORY}/offer/{{offerId}}/publish": None,
        }  # fmt: skip

    async def validate(self, draft: ListingDraft) -> list[str]:
        """eBay's publish rules, checked locally: no call is made."""
        return self._problems(draft)

    async def find_by_sku(self, sku: str) -> RemoteListing | None:
        """Our listing for this SKU: the published fixed-price offer on our marketplace, if any."""
        try:
            _, body = await self._call(
                "GET", f"{INVENTORY}/offer", params={"sku": sku, "marketplace_id": self.marketplace_id}
            )
        except ChannelError as error:
            if error.status == 404:  # eBay: no offer for this SKU
                return None
            raise
        for offer in body.get("offers") or []:
            if offer.get("format") == "FIXED_PRICE" and (remote := self._remote(offer)):
                return remote
        return None

    async def selling(self) -> AsyncIterator[RemoteListing]:
        """Every listing behind our offers on this marketplace (withdrawn offers have none), with its
        inventory item's product: the items first (getInventoryItems, 200 a page), then the offers."""
        items = {}
        async for item in self._pages(
            f"{INVENTORY}/inventory_item", {"limit": str(MAX_ITEMS_PAGE)}, "inventoryItems"
        ):
            items[item["sku"]] = item
        params = {"marketplace_id": self.marketplace_id, "limit": str(self.settings.page_size)}
        async for offer in self._pages(f"{INVENTORY}/offer", params, "offers"):
            if remote := self._remote(offer, items.get(offer.get("sku"))):
                yield remote

    async def upload_photo(self, photo: Photo) -> str:
        """eBay fetches pictures from their URLs itself: the reference is the photo's public URL."""
        if not photo.public_url:
            raise ChannelError(self.channel, f"photo {photo.sha256[:12]} has {NO_PUBLIC_URL}")
        return photo.public_url

    def _offer(self, draft: ListingDraft) -> dict[str, Any]:
        """The offer's fields that updateOffer also takes (createOffer adds sku, marketplace, format)."""
        account = self.account
        return {
            "availableQuantity": draft.quantity,
            "categoryId": str(draft.fields["categoryId"]),
            "listingDescription": draft.description,
            "listingDuration": "GTC",
            "pricingSummary": {"price": _money(draft.price, draft.currency)},
            "listingPolicies": {
                "fulfillmentPolicyId": account["fulfillment_policy_id"],
                "paymentPolicyId": account["payment_policy_id"],
                "returnPolicyId": account["return_policy_id"],
            },
            "merchantLocationKey": account["merchant_location_key"],
        }

    async def create(self, draft: ListingDraft, *, photo_refs: dict[str, str] | None = None) -> RemoteListing:
        """Inventory item, offer, publish: three calls, safe to repeat (see the module docstring)."""
        if problems := self._problems(draft):
            raise ChannelError(self.channel, "; ".join(problems), details={"sku": draft.sku})
        known = photo_refs or {}
        refs = {p.sha256: known.get(p.sha256) or await self.upload_photo(p) for p in draft.photos}
        image_urls = [refs[p.sha256] for p in draft.photos]
        sku = quote(draft.sku, safe="")
        await self._call("PUT", f"{INVENTORY}/inventory_item/{sku}", json=inventory_item(draft, image_urls))
        offer = self._offer(draft)
        create = {"sku": draft.sku, "marketplaceId": self.marketplace_id, "format": "FIXED_PRICE", **offer}
        try:
            _, body = await self._call("POST", f"{INVENTORY}/offer", json=create)
            offer_id = body["offerId"]
        except ChannelError as error:
            offer_id = _error_parameter(error, "offerId") if OFFER_EXISTS in _error_ids(error) else None
            if offer_id is None:
                raise
            # An earlier run made the offer: bring it up to date with this draft and reuse it.
            await self._call("PUT", f"{INVENTORY}/offer/{offer_id}", json=offer)
        _, published = await self._call("POST", f"{INVENTORY}/offer/{offer_id}/publish")
        listing_id = published["listingId"]
        return RemoteListing(
            external_id=listing_id,
            sku=draft.sku,
            price=draft.price,
            quantity=draft.quantity,
            state="live",
            title=draft.title,
            url=self._url(listing_id),
            remote_ids={
                "offer_id": offer_id,
                "marketplace_id": self.marketplace_id,
                "photo_refs": refs,  # sha256 -> picture URL, for the caller to reuse
            },
        )

    async def _offer_id(self, listing: RemoteListing) -> str:
        if offer_id := listing.remote_ids.get("offer_id"):
            return offer_id
        found = await self.find_by_sku(listing.sku or "")
        if found is None or found.external_id != listing.external_id:
            raise ChannelError(
                self.channel, f"listing {listing.external_id} has no published offer for {listing.sku}"
            )
        return found.remote_ids["offer_id"]

    async def _bulk_update(self, request: dict[str, Any]) -> None:
        """bulkUpdatePriceQuantity for one SKU: one call revises the live listing."""
        _, body = await self._call(
            "POST", f"{INVENTORY}/bulk_update_price_quantity", json={"requests": [request]}
        )
        failed = [r for r in body.get("responses") or [] if r.get("statusCode") != 200]
        if failed:
            described = "; ".join(
                f"{e.get('errorId')} {e.get('longMessage') or e.get('message')}"
                for r in failed
                for e in r.get("errors") or []
            )
            raise ChannelError(self.channel, f"price/quantity update refused: {described}", details=failed)

    async def update_price(self, listing: RemoteListing, price: Decimal) -> RemoteListing:
        offer_id = await self._offer_id(listing)
        await self._bulk_update(
            {"sku": listing.sku, "offers": [{"offerId": offer_id, "price": _money(price, self.currency)}]}
        )
        return replace(listing, price=price, remote_ids={**listing.remote_ids, "offer_id": offer_id})

    async def update_quantity(self, listing: RemoteListing, quantity: int) -> RemoteListing:
        """Sets the item's stock and the offer's available quantity; at 0 the listing stays, out of
        stock and hidden, and comes back when stock returns."""
        offer_id = await self._offer_id(listing)
        await self._bulk_update(
            {
                "sku": listing.sku,
                "shipToLocationAvailability": {"quantity": quantity},
                "offers": [{"offerId": offer_id, "availableQuantity": quantity}],
            }
        )
        state: RemoteState = "live" if quantity > 0 else "ended"
        return replace(
            listing, quantity=quantity, state=state, remote_ids={**listing.remote_ids, "offer_id": offer_id}
        )

    async def withdraw(self, listing: RemoteListing, reason: str) -> RemoteListing:
        """Ends the listing; the offer stays, unpublished. eBay takes no reason. A listing that is not
        live any more (an earlier attempt ended it) counts as withdrawn."""
        offer_id = await self._offer_id(listing)
        try:
            await self._call("POST", f"{INVENTORY}/offer/{offer_id}/withdraw")
        except ChannelError as error:
            if not (error.status == 400 and OFFER_NOT_AVAILABLE in _error_ids(error)):
                raise
        return replace(listing, state="withdrawn", remote_ids={**listing.remote_ids, "offer_id": offer_id})

    # --- orders and fulfilment

    async def orders(
        self, created_from: datetime, created_to: datetime | None = None
    ) -> AsyncIterator[dict[str, Any]]:
        """getOrders created in [created_from, created_to] (open-ended without an end), oldest first,
        as eBay's Order objects."""
        end = _ebay_time(created_to) if created_to else ""
        params = {
            "filter": f"creationdate:[{_ebay_time(created_from)}..{end}]",
            "limit": str(self.settings.page_size),
        }
        async for order in self._pages(f"{FULFILLMENT}/order", params, "orders"):
            yield order

    async def shipping_fulfillments(self, order_id: str) -> list[dict[str, Any]]:
        """The order's shipping fulfillments (packages) as eBay has them, e.g. to see whether an earlier
        attempt already shipped it."""
        _, body = await self._call(
            "GET", f"{FULFILLMENT}/order/{quote(order_id, safe='')}/shipping_fulfillment"
        )
        return list(body.get("fulfillments") or [])

    async def create_shipping_fulfillment(
        self,
        order_id: str,
        line_items: Mapping[str, int],
        carrier: str,
        tracking_number: str,
        shipped_at: datetime | None = None,
    ) -> str:
        """Marks `line_items` ({lineItemId: quantity}) shipped in one package; returns the fulfillment
        id (eBay uses the tracking number). Repeating it for a package eBay already has is harmless."""
        tracking = re.sub(r"[^A-Za-z0-9]", "", tracking_number)  # eBay takes letters and digits only
        body: dict[str, Any] = {
            "lineItems": [
                {"lineItemId": line_id, "quantity": quantity} for line_id, quantity in line_items.items()
            ],
            "shippingCarrierCode": carrier,
            "trackingNumber": tracking,
        }
        if shipped_at is not None:
            body["shippedDate"] = _ebay_time(shipped_at)
        try:
            response, _ = await self._call(
                "POST", f"{FULFILLMENT}/order/{quote(order_id, safe='')}/shipping_fulfillment", json=body
            )
        except ChannelError as error:
            if FULFILLMENT_EXISTS in _error_ids(error):
                return tracking
            raise
        return response.headers["location"].rstrip("/").rsplit("/", 1)[-1]


def _ebay_time(moment: datetime) -> str:
    moment = moment.astimezone(UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


# --- its orders: eBay orders (Fulfillment API getOrders) as our orders


def _ebay_status(raw: Mapping[str, Any]) -> OrderStatus:
    if (raw.get("cancelStatus") or {}).get("cancelState") == "CANCELED":
        return "cancelled"
    payment = raw.get("orderPaymentStatus")
    if payment == "FULLY_REFUNDED":
        return "refunded"
    return "accepted" if payment in ("PAID", "PARTIALLY_REFUNDED") else "pending_payment"


def order_from_ebay(raw: Mapping[str, Any]) -> ChannelOrder:
    """A Fulfillment API Order. `lineItemCost` is the line's price times its quantity."""
    pricing = raw.get("pricingSummary") or {}
    total = pricing.get("total") or {}
    steps = [i.get("shippingStep") or {} for i in raw.get("fulfillmentStartInstructions") or []]
    ship_to = next((s["shipTo"] for s in steps if s.get("shipTo")), {})
    contact = ship_to.get("contactAddress") or {}
    buyer = raw.get("buyer") or {}
    registration = buyer.get("buyerRegistrationAddress") or {}
    phone = (ship_to.get("primaryPhone") or {}).get("phoneNumber")
    lines, deadlines = [], []
    for line in raw.get("lineItems") or []:
        quantity = int(line.get("quantity") or 1)
        lines.append(
            OrderLine(
                external_line_id=str(line["lineItemId"]),
                sku=clean(line.get("sku")),
                title=line.get("title"),
                quantity=quantity,
                unit_price=(money(line.get("lineItemCost")) / quantity).quantize(Decimal("0.01")),
                remote_state=line.get("lineItemFulfillmentStatus"),
            )
        )
        if ship_by := (line.get("lineItemFulfillmentInstructions") or {}).get("shipByDate"):
            deadlines.append(parse_time(ship_by))
    customer = None
    if buyer.get("username"):
        customer = Customer(
            external_customer_id=buyer["username"],
            name=clean(ship_to.get("fullName")) or clean(registration.get("fullName")),
            email=clean(registration.get("email")) or clean(ship_to.get("email")),
            phone=clean(phone),
        )
    address = None
    if ship_to:
        address = Address(
            name=clean(ship_to.get("fullName")),
            company=clean(ship_to.get("companyName")),
            street_1=clean(contact.get("addressLine1")),
            street_2=clean(contact.get("addressLine2")),
            city=clean(contact.get("city")),
            state=clean(contact.get("stateOrProvince")),
            zip_code=clean(contact.get("postalCode")),
            country_iso_code=clean(contact.get("countryCode")),
            phone=clean(phone),
        )
    return ChannelOrder(
        channel="ebay",
        external_order_id=str(raw["orderId"]),
        placed_at=parse_time(raw["creationDate"]),
        currency=total.get("currency") or (pricing.get("priceSubtotal") or {}).get("currency") or "USD",
        total=money(total),
        subtotal=money(pricing.get("priceSubtotal")),
        shipping_total=money(pricing.get("deliveryCost")),
        tax_total=money(pricing.get("tax")),
        lines=tuple(lines),
        initial_status=_ebay_status(raw),
        remote_state=f"{raw.get('orderPaymentStatus')}/{raw.get('orderFulfillmentStatus')}",
        customer=customer,
        shipping_address=address,
        shipping_deadline=min(deadlines) if deadlines else None,
        raw=dict(raw),
    )


async def ebay_orders(client: Any, window: Window) -> AsyncIterator[ChannelOrder]:
    last = window.end - timedelta(milliseconds=1)  # eBay's creationdate range includes both ends
    async for raw in client.orders(window.start, last):
        yield order_from_ebay(raw)


# --- the plug-in: what the channel can do, for the registry


def _suggestion_path(raw: Mapping[str, Any]) -> list[str]:
    """Top level first: the ancestors come from the immediate parent up (the tree's root, level 0, left out)."""
    ancestors = [
        a for a in raw.get("categoryTreeNodeAncestors") or [] if a.get("categoryTreeNodeLevel", 1) > 0
    ]
    return [a["categoryName"] for a in reversed(ancestors)] + [raw["category"]["categoryName"]]


async def suggest_categories(client: Any, query: CategoryQuery) -> list[CategorySuggestion]:
    """getCategorySuggestions on the title (and our category). eBay ranks but gives no score
    (`relevancy` is reserved), so confidence is its rank plus how much of the path the product names
    (`domain.channel_categories.suggestion_confidence`)."""
    found = await client.category_suggestions(search_text(query))
    if not found and (wider := search_text(query, with_category=True)) != search_text(query):
        found = await client.category_suggestions(wider)  # a model name alone found nothing
    return [
        CategorySuggestion(
            str(raw["category"]["categoryId"]),
            " > ".join(path := _suggestion_path(raw)),
            suggestion_confidence(rank, path, query),
        )
        for rank, raw in enumerate(found)
    ]


def aspects_schema(aspects: list[Mapping[str, Any]]) -> dict[str, Any]:
    """eBay's aspects as a JSON Schema: SELECTION_ONLY values as an enum, MULTI as an array,
    aspectRequired as `required`."""
    properties: dict[str, Any] = {}
    required = []
    for raw in aspects:
        name = raw["localizedAspectName"]
        constraint = raw.get("aspectConstraint") or {}
        values = [v["localizedValue"] for v in raw.get("aspectValues") or []]
        single: dict[str, Any] = {"type": "string"}
        if values and constraint.get("aspectMode") == "SELECTION_ONLY":
            single["enum"] = values
        elif constraint.get("aspectMaxLength"):
            single["description"] = f"at most {constraint['aspectMaxLength']} characters."
        if constraint.get("itemToAspectCardinality") == "MULTI":
            properties[name] = {"type": "array", "items": single}
        else:
            properties[name] = single
        if constraint.get("aspectRequired"):
            required.append(name)
    return {"type": "object", "properties": properties, "required": required}


async def category_aspects(client: Any, category_id: str) -> CategoryAttributes:
    return CategoryAttributes(category_id, aspects_schema(await client.item_aspects(category_id)))


def listing_fields(product: ProductForListing) -> dict[str, Any]:
    """categoryId and aspects from the chosen category (`channel_categories`); Brand and MPN from the
    supplier where the filled aspects lack them."""
    aspects: dict[str, Any] = {}
    for name, value in product.channel_attributes.items():
        values = value if isinstance(value, list) else [value]
        aspects[name] = [str(v)[:MAX_ASPECT_VALUE] for v in values]
    if product.brand and "Brand" not in aspects:
        aspects["Brand"] = [product.brand]
    if product.mpn and "MPN" not in aspects:
        aspects["MPN"] = [product.mpn]
    return {"categoryId": product.channel_category, "aspects": aspects}


def listing_checks(values: Mapping[str, Any]) -> list[str]:
    errors = []
    if not values["fields"]["aspects"].get("Brand"):
        errors.append("item specific Brand is required")
    if len(values["sku"]) > 50:
        errors.append("SKU must be 1 to 50 characters")
    return errors


LISTING = ListingPolicy(
    "ebay",
    "USD",
    PricingPolicy(
        fee_rate=Decimal("0.1325"), fixed_fee=Decimal("0.30"), shipping_cost=Decimal("0"), rounding="charm_99"
    ),
    listing_fields,
    max_title=80,
    max_photos=24,
    checks=listing_checks,
)
TAXONOMY_PLUGIN = Taxonomy(suggest=suggest_categories, attributes=category_aspects)


async def push_tracking(client: Any, order, lines: list, shipment, carrier: ChannelCarrier) -> dict[str, Any]:
    """createShippingFulfillment for the order's lines."""
    items = {line.external_line_id: line.quantity for line in lines}
    fulfillment_id = await client.create_shipping_fulfillment(
        order.external_order_id, items, carrier.name, shipment.tracking_pin
    )
    return {"order_id": order.external_order_id, "fulfillment_id": fulfillment_id}


async def find_tracking(client: Any, order, lines: list, shipment) -> dict[str, Any] | None:
    pin = re.sub(r"[^A-Za-z0-9]", "", shipment.tracking_pin)
    for package in await client.shipping_fulfillments(order.external_order_id):
        if package.get("shipmentTrackingNumber") == pin:
            return {"order_id": order.external_order_id, "fulfillment_id": package.get("fulfillmentId")}
    return None


CHANNEL = Channel(
    name="ebay",
    title="eBay",
    client=f"{__name__}:EbayClient",
    listing=LISTING,
    orders=ebay_orders,
    taxonomy=TAXONOMY_PLUGIN,
    push_tracking=push_tracking,
    find_tracking=find_tracking,
    carrier_names={
        "canada_post": "CanadaPost",
        "nz_post": "NZPost",
    },  # shippingCarrierCode (GeteBayDetails ShippingCarrier)
)

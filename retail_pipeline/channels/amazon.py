"""Amazon (Selling Partner API): listings and stock, bulk feeds, orders, ship confirmation, product types.

`AmazonClient` behind `ChannelClient`, on the official models (`simulators/amazon/specs/`):

- Auth: Login with Amazon (LWA) turns the refresh token into an access token (`grant_type=refresh_token`,
  1 h), cached until `token_margin_seconds` before it expires and sent as `x-amz-access-token` (no SigV4
  since 2023-10-02). A 401/403 on a cached token is answered once with a fresh token.
- Listings Items 2021-08-01, keyed by seller id + our SKU: `putListingsItem` (productType, requirements
  LISTING, attributes in Amazon's shape `[{value, language_tag, marketplace_id}]`), `patchListingsItem`
  for price (`purchasable_offer`) and quantity (`fulfillment_availability`), `deleteListingsItem`,
  `getListingsItem` with summaries, issues, offers and fulfillment availability (`find_by_sku`; 404 is
  None), `searchListingsItems` paged by `pageToken` (`selling`). A PUT by SKU replaces the listing, so a
  repeated create cannot list twice; after an ambiguous failure the client still looks first.
  `ACCEPTED` is not live: Amazon checks the listing afterwards and issues can appear later on GET; the
  remote listing carries them (`remote_ids["issues"]`) and one with an ERROR issue is not BUYABLE.
- Product Type Definitions 2020-09-01: `searchDefinitionsProductTypes` (the taxonomy's suggestions),
  `getDefinitionsProductType` → `schema.link.resource` → the product type's JSON Schema, cached per
  product type for the process; our attributes are validated against it locally (jsonschema; Amazon's own
  vocabulary — editable, hidden, enumNames, selectors… — is ignored as unknown keywords), so a listing
  costs one PUT (photos go by URL: no upload calls) plus, per product type and process, two schema calls.
  `validate(draft)` runs the local check, then `putListingsItem` with `mode=VALIDATION_PREVIEW`, which
  saves nothing (the operator's "validate"). The product type is the draft's channel category.
- Feeds 2021-06-30: price and quantity changes for at least `feed_threshold` SKUs go as one
  `JSON_LISTINGS_FEED` (createFeedDocument → upload to the pre-signed URL → createFeed → getFeed until
  DONE → getFeedDocument → the processing report, read per SKU): `apply_bulk`.
- Orders 2026-01-01 (`searchOrders` by createdAfter/lastUpdatedAfter, paged by `paginationToken`;
  `getOrder` with includedData), not the deprecated v0 reads; ship confirmation through v0
  `confirmShipment`. `find_tracking` reads the order's packages (includedData=PACKAGES).
- Rate limits: a token bucket per operation (the usage plans the models document: rate per second and
  burst), waited on before each call; a 429 is retried with backoff (Amazon sends no Retry-After). Every
  ChannelError carries the `x-amzn-RequestId` of the failed call. Error bodies are
  `{"errors": [{code, message, details}]}`.

Configuration (`AmazonSettings`, AMAZON_* variables): AMAZON_BASE_URL (the SP-API host; default: the
simulator at {SIMULATOR_URL}/amazon when USE_SIMULATORS, else the region's host: AMAZON_REGION na|eu|fe),
AMAZON_LWA_URL (default: the simulator's token endpoint, else https://api.amazon.com/auth/o2/token),
AMAZON_CLIENT_ID, AMAZON_CLIENT_SECRET, AMAZON_REFRESH_TOKEN (stand-ins against the simulator),
AMAZON_SELLER_ID, AMAZON_MARKETPLACE_ID (default A2EUQ1WTGCTBG2, Amazon.ca: we ship with Canada Post to
Canadian buyers, so the listing currency is CAD), AMAZON_CURRENCY, AMAZON_LANGUAGE_TAG (en_CA),
AMAZON_FEED_THRESHOLD, AMAZON_FULFILLMENT_CHANNEL_CODE (DEFAULT: merchant-fulfilled).
"""

from __future__ import annotations

import asyncio
import itertools
import json
import re
import time
from collections.abc import AsyncIterator, Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any, ClassVar
from urllib.parse import quote

import httpx
from jsonschema import Draft202012Validator
from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

from retail_pipeline.channels.plugin import (
    CategoryAttributes,
    CategoryQuery,
    CategorySuggestion,
    Channel,
    ChannelCarrier,
    Taxonomy,
)
from retail_pipeline.domain.listings import ListingPolicy, ProductForListing
from retail_pipeline.domain.order_sources import Window, clean, money, parse_time
from retail_pipeline.domain.orders import Address, ChannelOrder, Customer, OrderLine, OrderStatus
from retail_pipeline.domain.pricing import PricingPolicy
from retail_pipeline.integrations.http import retry_after_seconds
from retail_pipeline.integrations.marketplaces.base import (
    BulkChange,
    BulkResult,
    CallBudget,
    ChannelClient,
    ChannelError,
    ListingDraft,
    Photo,
    RemoteListing,
)
from retail_pipeline.integrations.marketplaces.rest import ChannelHTTP, RetryPolicy, photo_problems, photo_url
from retail_pipeline.settings import get_settings

HOSTS = {
    "na": "https://sellingpartnerapi-na.amazon.com",
    "eu": "https://sellingpartnerapi-eu.amazon.com",
    "fe": "https://sellingpartnerapi-fe.amazon.com",
}
LWA_URL = "https://api.amazon.com/auth/o2/token"
AMAZON_CA = "A2EUQ1WTGCTBG2"
REQUEST_ID = "x-amzn-RequestId"
LISTINGS = "/listings/2021-08-01/items"
DEFINITIONS = "/definitions/2020-09-01/productTypes"
FEEDS = "/feeds/2021-06-30"
ORDERS = "/orders/2026-01-01/orders"
SIMULATOR_CREDENTIALS = ("amzn1.application-oa2-client.simulator", "simulator-secret", "Atzr|simulator")
SIMULATOR_SELLER = "A1SIMULATEDSELLER"
ITEM_DATA = "summaries,issues,offers,fulfillmentAvailability"
SEARCH_PAGE_SIZE = 20  # searchListingsItems' largest page
ORDER_DATA = ("BUYER", "RECIPIENT", "PROCEEDS", "FULFILLMENT", "PACKAGES")
FEED_CONTENT_TYPE = "application/json; charset=UTF-8"

# The usage plans in the models (requests per second, burst), per operation and selling partner.
RATES: dict[str, tuple[float, int]] = {
    "putListingsItem": (5, 10),
    "patchListingsItem": (5, 5),
    "deleteListingsItem": (5, 5),
    "getListingsItem": (5, 10),
    "searchListingsItems": (5, 5),
    "searchDefinitionsProductTypes": (5, 10),
    "getDefinitionsProductType": (5, 10),
    "createFeedDocument": (0.5, 15),
    "createFeed": (0.0083, 15),
    "getFeed": (2, 15),
    "getFeedDocument": (0.0222, 10),
    "searchOrders": (0.0056, 20),
    "getOrder": (0.5, 30),
    "confirmShipment": (2, 10),
}
# Amazon's condition_type values for ours.
CONDITIONS = {"new": "new_new", "refurbished": "refurbished_refurbished", "used": "used_good"}
# Attributes the client fills from the draft itself; the rest of a product type's schema is the
# taxonomy's (filled by the channel_categories asset).
OWN_ATTRIBUTES = frozenset(
    {
        "item_name",
        "product_description",
        "bullet_point",
        "condition_type",
        "purchasable_offer",
        "list_price",
        "fulfillment_availability",
        "externally_assigned_product_identifier",
        "supplier_declared_has_product_identifier_exemption",
        "main_product_image_locator",
        *(f"other_product_image_locator_{n}" for n in range(1, 9)),
        "merchant_suggested_asin",
        "skip_offer",
    }
)
# Attributes whose values are text in a language (carry language_tag).
PLAIN = frozenset({"condition_type", "merchant_suggested_asin"})


def _value(attributes: dict[str, Any], name: str, key: str = "value") -> Any:
    """The first value of a listing attribute (attributes are lists of {value, marketplace_id…})."""
    entries = attributes.get(name) or ()
    return entries[0].get(key) if entries else None


def _our_condition(condition_type: str | None) -> str | None:
    """new | used | refurbished for an Amazon condition_type (new_new, used_good, refurbished_…)."""
    if not condition_type:
        return None
    return next((ours for ours in ("new", "used", "refurbished") if condition_type.startswith(ours)), "used")


class AmazonSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="AMAZON_", env_file=".env", extra="ignore")

    base_url: str | None = Field(default=None, description="Unset: the simulator when simulating, else live.")
    region: str = Field(default="na", pattern="^(na|eu|fe)$")
    lwa_url: str | None = None
    client_id: str | None = None
    client_secret: SecretStr | None = None
    refresh_token: SecretStr | None = None
    seller_id: str | None = None
    marketplace_id: str = AMAZON_CA
    currency: str = "CAD"
    language_tag: str = "en_CA"
    fulfillment_channel_code: str = "DEFAULT"
    feed_threshold: int = Field(
        default=25, ge=2, description="Bulk changes from this many SKUs go as a feed."
    )
    feed_poll_seconds: float = Field(default=30.0, ge=0)
    feed_max_polls: int = Field(default=60, ge=1)
    token_margin_seconds: float = Field(default=60.0, ge=0)
    rate_scale: float = Field(default=1.0, gt=0, description="Multiplies the documented rates (tests).")
    timeout_seconds: float = Field(default=30.0, gt=0)
    max_attempts: int = Field(default=5, ge=1)

    def base(self) -> str:
        return get_settings().service_base(self.base_url, "amazon", HOSTS[self.region])

    def lwa(self) -> str:
        return get_settings().service_base(self.lwa_url, "amazon/auth/o2/token", LWA_URL)

    def simulated(self) -> bool:
        return get_settings().at_simulator(self.base(), "amazon")

    def credentials(self) -> tuple[str, str, str]:
        if self.client_id and self.client_secret and self.refresh_token:
            return (
                self.client_id,
                self.client_secret.get_secret_value(),
                self.refresh_token.get_secret_value(),
            )
        if self.simulated():
            return SIMULATOR_CREDENTIALS
        raise ChannelError(
            "amazon", "set AMAZON_CLIENT_ID, AMAZON_CLIENT_SECRET and AMAZON_REFRESH_TOKEN (LWA credentials)"
        )

    def seller(self) -> str:
        if self.seller_id:
            return self.seller_id
        if self.simulated():
            return SIMULATOR_SELLER
        raise ChannelError("amazon", "set AMAZON_SELLER_ID (the merchant token)")


def describe_error(body: Any) -> str:
    """`{"errors": [{code, message, details}]}` as one line."""
    errors = body.get("errors") if isinstance(body, dict) else body if isinstance(body, list) else None
    if not errors:
        return str(body)
    return "; ".join(
        f"{e.get('code')}: {e.get('message')}" + (f" ({e['details']})" if e.get("details") else "")
        for e in errors
        if isinstance(e, dict)
    )


def describe_issues(issues: list[dict[str, Any]]) -> str:
    return "; ".join(
        f"{i.get('code')} {i.get('message')}"
        + (f" [{', '.join(i['attributeNames'])}]" if i.get("attributeNames") else "")
        for i in issues
        if i.get("severity") == "ERROR"
    )


def quota_wait(response: httpx.Response) -> float | None:
    """How long a 429 asks to wait: Amazon sends no Retry-After, but `x-amzn-RateLimit-Limit` (the
    operation's rate per second): the next call can pass one token later, 1/rate seconds. An operation
    whose token is further away than the retry policy waits (searchOrders: 180 s) is not retried at once
    into more 429s: the caller (a sensor's next tick, a run's retry) comes back later."""
    if response.status_code != 429:
        return retry_after_seconds(response)
    try:
        rate = float(response.headers.get("x-amzn-RateLimit-Limit", ""))
    except ValueError:
        return None
    return 1 / rate if rate > 0 else None


class TokenBucket:
    """Amazon's usage plan on our side: `rate` tokens a second up to `burst`; a call takes one."""

    def __init__(self, rate: float, burst: int, clock: Callable[[], float] = time.monotonic):
        self.rate, self.burst, self.clock = rate, burst, clock
        self.tokens, self.at = float(burst), clock()
        self._lock = asyncio.Lock()

    async def take(self) -> None:
        async with self._lock:
            while True:
                now = self.clock()
                self.tokens = min(self.burst, self.tokens + (now - self.at) * self.rate)
                self.at = now
                if self.tokens >= 1:
                    self.tokens -= 1
                    return
                await asyncio.sleep((1 - self.tokens) / self.rate)


@dataclass
class _Token:
    value: str
    expires: datetime


class AmazonClient(ChannelClient):
    channel: ClassVar[str] = "amazon"

    def __init__(
        self,
        settings: AmazonSettings | None = None,
        *,
        transport: httpx.AsyncBaseTransport | None = None,
        policy: RetryPolicy | None = None,
        clock: Callable[[], datetime] | None = None,
    ):
        self.settings = settings or AmazonSettings()
        self._api, self._seller = self.settings.base(), self.settings.seller()
        self._marketplace = self.settings.marketplace_id
        self._clock = clock or (lambda: datetime.now(UTC))
        self._http = ChannelHTTP(
            self.channel,
            headers={"Accept": "application/json", "User-Agent": "retail_pipeline/1.0 (Language=Python)"},
            describe=describe_error,
            transport=transport,
            timeout=self.settings.timeout_seconds,
            policy=policy or RetryPolicy(max_attempts=self.settings.max_attempts),
            request_id_header=REQUEST_ID,
            retry_after=quota_wait,
        )
        self._token: _Token | None = None
        self._token_lock = asyncio.Lock()
        scale = self.settings.rate_scale
        self._buckets = {op: TokenBucket(rate * scale, burst) for op, (rate, burst) in RATES.items()}
        self._schemas: dict[str, dict[str, Any]] = {}  # product type → its JSON Schema
        self._schema_locks: dict[str, asyncio.Lock] = {}  # one fetch per product type, however many wait
        self.issues: dict[str, list[dict[str, Any]]] = {}  # sku → the issues of its last submission

    async def aclose(self) -> None:
        await self._http.aclose()

    def budget(self) -> CallBudget:
        return CallBudget(limit=None, used=self._http.calls)

    # --- auth and the one way every SP-API call is sent

    async def access_token(self) -> str:
        async with self._token_lock:
            if self._token and self._clock() < self._token.expires:
                return self._token.value
            client_id, secret, refresh = self.settings.credentials()
            form = {
                "grant_type": "refresh_token",
                "refresh_token": refresh,
                "client_id": client_id,
                "client_secret": secret,
            }

            async def attempt(_ambiguous: bool) -> Any:
                return await self._http.send(
                    "POST",
                    self.settings.lwa(),
                    content=_form(form),
                    headers={"Content-Type": "application/x-www-form-urlencoded;charset=UTF-8"},
                )

            try:
                reply = await self._http.retrying(attempt)
            except ChannelError as error:
                detail = error.details if isinstance(error.details, dict) else {}
                raise ChannelError(
                    self.channel,
                    f"LWA refused the refresh token: {detail.get('error_description') or error.message}",
                    status=error.status,
                    retryable=error.retryable,
                    details=error.details,
                ) from error
            data = reply.data
            margin = timedelta(seconds=self.settings.token_margin_seconds)
            expires = self._clock() + timedelta(seconds=int(data.get("expires_in", 3600))) - margin
            self._token = _Token(data["access_token"], expires)
            return self._token.value

    async def _send(
        self, operation: str, method: str, path_or_url: str, *, params: Any = None, json_body: Any = None
    ) -> Any:
        """One attempt at an SP-API operation: paced by its bucket, with the current access token; a
        401/403 on a cached token gets one fresh token."""
        url = path_or_url if path_or_url.startswith("http") else f"{self._api}{path_or_url}"
        for fresh in (False, True):
            token = await self.access_token()
            await self._buckets[operation].take()
            try:
                return await self._http.send(
                    method, url, params=params, json_body=json_body, headers={"x-amz-access-token": token}
                )
            except ChannelError as error:
                if error.status not in (401, 403) or fresh:
                    raise
                async with self._token_lock:
                    if self._token and self._token.value == token:
                        self._token = None
        raise AssertionError("unreachable")

    async def _call(self, operation: str, method: str, path: str, **kwargs: Any) -> Any:
        """A call that is safe to repeat, with retries."""
        return await self._http.retrying(lambda _ambiguous: self._send(operation, method, path, **kwargs))

    # --- product types

    async def search_product_types(self, keywords: list[str] | None = None, item_name: str | None = None):
        params: dict[str, Any] = {"marketplaceIds": self._marketplace}
        if item_name:
            params["itemName"] = item_name
        elif keywords:
            params["keywords"] = ",".join(keywords)
        reply = await self._call("searchDefinitionsProductTypes", "GET", DEFINITIONS, params=params)
        return reply.data["productTypes"]

    async def product_type(self, product_type: str) -> dict[str, Any]:
        params = {
            "marketplaceIds": self._marketplace,
            "sellerId": self._seller,
            "requirements": "LISTING",
            "locale": "DEFAULT",
        }
        path = f"{DEFINITIONS}/{quote(product_type, safe='')}"
        return (await self._call("getDefinitionsProductType", "GET", path, params=params)).data

    async def schema(self, product_type: str) -> dict[str, Any]:
        """The product type's JSON Schema (from `schema.link.resource`), once per client: listings
        published at once wait for the one fetch of their product type instead of each making it."""
        if product_type not in self._schemas:
            async with self._schema_locks.setdefault(product_type, asyncio.Lock()):
                if product_type not in self._schemas:
                    definition = await self.product_type(product_type)
                    link = definition["schema"]["link"]["resource"]
                    # A pre-signed link: no SP-API token, but the same pacing and retries.
                    reply = await self._http.call("GET", link)
                    self._schemas[product_type] = reply.data
        return self._schemas[product_type]

    # --- listings

    def _wrap(self, name: str, value: Any) -> list[dict[str, Any]]:
        """A plain value (or list of them) in Amazon's attribute shape."""
        if isinstance(value, list) and value and isinstance(value[0], dict):
            return value  # already Amazon's shape
        values = value if isinstance(value, list) else [value]
        out = []
        for v in values:
            entry: dict[str, Any] = {"value": v}
            if isinstance(v, str) and name not in PLAIN:
                entry["language_tag"] = self.settings.language_tag
            entry["marketplace_id"] = self._marketplace
            out.append(entry)
        return out

    def _offer(self, price: Decimal) -> list[dict[str, Any]]:
        return [
            {
                "marketplace_id": self._marketplace,
                "currency": self.settings.currency,
                "our_price": [{"schedule": [{"value_with_tax": float(price)}]}],
            }
        ]

    def _availability(self, quantity: int) -> list[dict[str, Any]]:
        return [{"fulfillment_channel_code": self.settings.fulfillment_channel_code, "quantity": quantity}]

    def attributes(self, draft: ListingDraft, photo_urls: list[str]) -> dict[str, Any]:
        """The listing's `attributes`: the draft's own (title, description, condition, identifiers,
        price, stock, photos) and the product type's, filled for it (`fields["attributes"]`)."""
        fields = draft.fields
        attrs: dict[str, Any] = {}
        for name, value in (fields.get("attributes") or {}).items():
            if value not in (None, "", []):
                attrs[name] = self._wrap(name, value)
        # the product's own facts, for the product type's attributes the filling left out (only those
        # the product type has: its schema refuses any other; all of them while it is not yet known)
        known = (self._schemas.get(fields.get("product_type") or "") or {}).get("properties")
        for name, value in (fields.get("defaults") or {}).items():
            if value not in (None, "") and name not in attrs and (known is None or name in known):
                attrs[name] = self._wrap(name, value)
        attrs["item_name"] = self._wrap("item_name", draft.title)
        attrs["product_description"] = self._wrap("product_description", draft.description)
        if draft.brand and "brand" not in attrs:
            attrs["brand"] = self._wrap("brand", draft.brand)
        bullets = fields.get("bullet_points") or []
        if bullets:
            attrs["bullet_point"] = self._wrap("bullet_point", list(bullets)[:5])
        attrs["condition_type"] = self._wrap("condition_type", CONDITIONS.get(draft.condition, "new_new"))
        if draft.gtin:
            kind = "upc" if len(draft.gtin) == 12 else "ean"
            attrs["externally_assigned_product_identifier"] = [
                {"type": kind, "value": draft.gtin, "marketplace_id": self._marketplace}
            ]
        else:
            attrs["supplier_declared_has_product_identifier_exemption"] = self._wrap(
                "supplier_declared_has_product_identifier_exemption", True
            )
        attrs["purchasable_offer"] = self._offer(draft.price)
        attrs["fulfillment_availability"] = self._availability(draft.quantity)
        for n, url in enumerate(photo_urls[:9]):
            name = "main_product_image_locator" if n == 0 else f"other_product_image_locator_{n}"
            attrs[name] = [{"media_location": url, "marketplace_id": self._marketplace}]
        return attrs

    def put_body(self, draft: ListingDraft, photo_urls: list[str]) -> dict[str, Any]:
        return {
            "productType": draft.fields.get("product_type") or "",
            "requirements": "LISTING",
            "attributes": self.attributes(draft, photo_urls),
        }

    def _item(self, sku: str) -> str:
        return f"{LISTINGS}/{self._seller}/{quote(sku, safe='')}"

    def create_requests(self, draft: ListingDraft, photo_refs: dict[str, str]) -> dict[str, Any]:
        urls = [photo_refs.get(p.sha256) or p.public_url or "" for p in draft.photos]
        return {f"PUT {self._item(draft.sku)}": self.put_body(draft, urls)}

    async def validate(self, draft: ListingDraft) -> list[str]:
        """Local checks, the product type's schema, then Amazon's own VALIDATION_PREVIEW (saves nothing).
        Photos not yet signed (the operator's check runs before publishing) are left out of the preview."""
        problems = self.local_problems(draft, urls_needed=False)
        if problems:
            return problems
        schema = await self.schema(draft.fields["product_type"])
        body = self.put_body(draft, [p.public_url for p in draft.photos if p.public_url])
        problems = schema_problems(schema, body["attributes"])
        if problems:
            return problems
        params = {"marketplaceIds": self._marketplace, "mode": "VALIDATION_PREVIEW", "includedData": "issues"}
        reply = await self._call(
            "putListingsItem", "PUT", self._item(draft.sku), params=params, json_body=body
        )
        return [
            f"{i['code']}: {i['message']}"
            for i in reply.data.get("issues") or []
            if i.get("severity") == "ERROR"
        ]

    def local_problems(self, draft: ListingDraft, *, urls_needed: bool = True) -> list[str]:
        problems = []
        if not draft.fields.get("product_type"):
            problems.append("no Amazon product type chosen for this product (its channel category)")
        if draft.currency != self.settings.currency:
            problems.append(
                f"price is in {draft.currency}; the marketplace lists in {self.settings.currency}"
            )
        if draft.price <= 0:
            problems.append("price must be above 0")
        if not draft.photos:
            problems.append("Amazon needs a main image")
        return problems + (photo_problems(draft) if urls_needed else [])

    async def upload_photo(self, photo: Photo) -> str:
        return photo_url(self.channel, photo)  # Amazon fetches media_location itself

    async def find_by_sku(self, sku: str) -> RemoteListing | None:
        params = {"marketplaceIds": self._marketplace, "includedData": ITEM_DATA}
        try:
            reply = await self._call("getListingsItem", "GET", self._item(sku), params=params)
        except ChannelError as error:
            if error.status == 404:
                return None
            raise
        return self._remote(reply.data)

    async def create(self, draft: ListingDraft, *, photo_refs: dict[str, str] | None = None) -> RemoteListing:
        problems = self.local_problems(draft)
        if problems:
            raise ChannelError(self.channel, "; ".join(problems))
        schema = await self.schema(draft.fields["product_type"])
        body = self.put_body(draft, [photo_url(self.channel, p, photo_refs) for p in draft.photos])
        problems = schema_problems(schema, body["attributes"])
        if problems:
            raise ChannelError(
                self.channel, f"{body['productType']} schema: " + "; ".join(problems), details=problems
            )
        params = {"marketplaceIds": self._marketplace, "includedData": "issues"}

        async def attempt(after_ambiguous: bool) -> RemoteListing:
            # The PUT replaces by SKU (no duplicate possible); still, what an earlier attempt did wins.
            if after_ambiguous and (existing := await self.find_by_sku(draft.sku)):
                return existing
            reply = await self._send(
                "putListingsItem", "PUT", self._item(draft.sku), params=params, json_body=body
            )
            return self._submitted(reply, body["productType"], draft.price, draft.quantity, draft.title)

        return await self._http.retrying(attempt)

    def _submitted(
        self,
        reply: Any,
        product_type: str,
        price: Decimal | None,
        quantity: int | None,
        title: str | None = None,
    ) -> RemoteListing:
        data = reply.data
        issues = data.get("issues") or []
        self.issues[data["sku"]] = issues
        if data["status"] == "INVALID":
            raise ChannelError(
                self.channel,
                f"{data['sku']} refused: {describe_issues(issues) or 'INVALID'}",
                status=reply.status,
                details={"issues": issues, "submissionId": data.get("submissionId")},
                request_id=reply.headers.get(REQUEST_ID),
            )
        return RemoteListing(
            external_id=data["sku"],
            sku=data["sku"],
            price=price,
            quantity=quantity,
            state="live",
            title=title,
            url=None,
            remote_ids={
                "productType": product_type,
                "submissionId": data["submissionId"],
                "status": data["status"],
                "issues": issues,
            },
        )

    async def _product_type_of(self, listing: RemoteListing) -> str:
        product_type = listing.remote_ids.get("productType")
        if not product_type:
            found = await self.find_by_sku(listing.sku or listing.external_id)
            if found is None:
                raise ChannelError(self.channel, f"no listing with SKU {listing.sku}", status=404)
            product_type = found.remote_ids["productType"]
        return product_type

    async def patch(self, listing: RemoteListing, patches: list[dict[str, Any]]) -> RemoteListing:
        sku = listing.sku or listing.external_id
        product_type = await self._product_type_of(listing)
        body = {"productType": product_type, "patches": patches}
        params = {"marketplaceIds": self._marketplace, "includedData": "issues"}
        reply = await self._call("patchListingsItem", "PATCH", self._item(sku), params=params, json_body=body)
        submitted = self._submitted(reply, product_type, listing.price, listing.quantity, listing.title)
        return RemoteListing(
            **{**submitted.__dict__, "remote_ids": {**listing.remote_ids, **submitted.remote_ids}}
        )

    async def update_price(self, listing: RemoteListing, price: Decimal) -> RemoteListing:
        patches = [{"op": "replace", "path": "/attributes/purchasable_offer", "value": self._offer(price)}]
        updated = await self.patch(listing, patches)
        return RemoteListing(**{**updated.__dict__, "price": price})

    async def update_quantity(self, listing: RemoteListing, quantity: int) -> RemoteListing:
        patches = [
            {
                "op": "replace",
                "path": "/attributes/fulfillment_availability",
                "value": self._availability(quantity),
            }
        ]
        updated = await self.patch(listing, patches)
        return RemoteListing(**{**updated.__dict__, "quantity": quantity})

    async def withdraw(self, listing: RemoteListing, reason: str) -> RemoteListing:
        """Deletes the SKU from the marketplace (one already gone counts as withdrawn)."""
        sku = listing.sku or listing.external_id
        try:
            await self._call(
                "deleteListingsItem", "DELETE", self._item(sku), params={"marketplaceIds": self._marketplace}
            )
        except ChannelError as error:  # 400 for a SKU it does not have: gone already is withdrawn
            if error.status != 400 or await self.find_by_sku(sku) is not None:
                raise
        return RemoteListing(**{**listing.__dict__, "state": "withdrawn", "quantity": 0})

    async def selling(self) -> AsyncIterator[RemoteListing]:
        params: dict[str, Any] = {
            "marketplaceIds": self._marketplace,
            # the attributes too: the item's title, brand, identifiers and photos in the same call
            "includedData": f"{ITEM_DATA},attributes",
            "pageSize": SEARCH_PAGE_SIZE,
        }
        path = f"{LISTINGS}/{self._seller}"
        while True:
            data = (await self._call("searchListingsItems", "GET", path, params=params)).data
            for item in data.get("items") or []:
                yield self._remote(item)
            token = (data.get("pagination") or {}).get("nextToken")
            if not token:
                return
            params = {**params, "pageToken": token}

    def _remote(self, item: dict[str, Any]) -> RemoteListing:
        summary = next(
            (s for s in item.get("summaries") or [] if s.get("marketplaceId") == self._marketplace),
            (item.get("summaries") or [{}])[0],
        )
        offer = next(
            (o for o in item.get("offers") or [] if o.get("marketplaceId") == self._marketplace), None
        )
        availability = next(
            (
                a
                for a in item.get("fulfillmentAvailability") or []
                if a.get("fulfillmentChannelCode") == self.settings.fulfillment_channel_code
            ),
            None,
        )
        quantity = availability.get("quantity") if availability else None
        issues = item.get("issues") or []
        status = summary.get("status") or []
        if "BUYABLE" in status:
            state = "live"
        elif quantity == 0 and not any(i.get("severity") == "ERROR" for i in issues):
            state = "sold"
        else:
            state = "ended"
        asin = summary.get("asin")
        errors = [i for i in issues if i.get("severity") == "ERROR"]
        attributes = item.get("attributes") or {}
        codes = attributes.get("externally_assigned_product_identifier") or ()
        return RemoteListing(
            external_id=item["sku"],
            sku=item["sku"],
            price=Decimal(str(offer["price"]["amount"])) if offer else None,
            quantity=quantity,
            state=state,
            title=summary.get("itemName"),
            url=f"https://www.amazon.ca/dp/{asin}" if asin else None,
            remote_ids={
                "productType": summary.get("productType"),
                "asin": asin,
                "status": status,
                "issues": [
                    {k: i.get(k) for k in ("code", "message", "severity", "attributeNames") if i.get(k)}
                    for i in issues
                ],
            },
            problems=tuple(f"{i.get('code')}: {i.get('message')}" for i in errors),
            gtin=next((c.get("value") for c in codes if c.get("type") in ("ean", "upc", "gtin")), None),
            brand=_value(attributes, "brand"),
            mpn=_value(attributes, "part_number"),
            description=_value(attributes, "product_description"),
            currency=offer["price"].get("currencyCode") if offer else None,
            condition=_our_condition(summary.get("conditionType") or _value(attributes, "condition_type")),
            photos=tuple(
                url
                for name in (
                    "main_product_image_locator",
                    *(f"other_product_image_locator_{n}" for n in range(1, 9)),
                )
                if (url := _value(attributes, name, "media_location"))
            ),
        )

    # --- bulk: JSON_LISTINGS_FEED

    async def apply_bulk(self, changes: list[BulkChange]) -> dict[str, BulkResult] | None:
        if len(changes) < self.settings.feed_threshold:
            return None
        messages, by_id = [], {}
        for n, change in enumerate(changes, start=1):
            sku = change.listing.sku or change.listing.external_id
            patches = []
            if change.price is not None:
                patches.append(
                    {
                        "op": "replace",
                        "path": "/attributes/purchasable_offer",
                        "value": self._offer(change.price),
                    }
                )
            if change.quantity is not None:
                patches.append(
                    {
                        "op": "replace",
                        "path": "/attributes/fulfillment_availability",
                        "value": self._availability(change.quantity),
                    }
                )
            product_type = await self._product_type_of(change.listing)
            messages.append(
                {
                    "messageId": n,
                    "sku": sku,
                    "operationType": "PATCH",
                    "productType": product_type,
                    "patches": patches,
                }
            )
            by_id[n] = sku
        feed = {
            "header": {"sellerId": self._seller, "version": "2.0", "issueLocale": "en_US"},
            "messages": messages,
        }
        report = await self.submit_feed(feed)
        results = {}
        for n, sku in by_id.items():
            errors = [
                i
                for i in report.get("issues") or []
                if i.get("messageId") == n and i.get("severity") == "ERROR"
            ]
            if errors:
                text = "; ".join(f"{i.get('code')} {i.get('message')}" for i in errors)
                results[sku] = BulkResult(
                    sku, False, f"{sku} refused in feed: {text}", details={"issues": errors}
                )
            else:
                results[sku] = BulkResult(sku, True)
        return results

    async def submit_feed(self, feed: dict[str, Any]) -> dict[str, Any]:
        """A JSON_LISTINGS_FEED from upload to processing report."""
        document = (
            await self._call(
                "createFeedDocument",
                "POST",
                f"{FEEDS}/documents",
                json_body={"contentType": FEED_CONTENT_TYPE},
            )
        ).data
        await self._http.call(
            "PUT",
            document["url"],
            content=json.dumps(feed).encode(),
            headers={"Content-Type": FEED_CONTENT_TYPE},
        )
        spec = {
            "feedType": "JSON_LISTINGS_FEED",
            "marketplaceIds": [self._marketplace],
            "inputFeedDocumentId": document["feedDocumentId"],
        }
        # createFeed is not idempotent, but a second feed of the same PATCHes is harmless.
        feed_id = (await self._call("createFeed", "POST", f"{FEEDS}/feeds", json_body=spec)).data["feedId"]
        for poll in itertools.count():
            state = (await self._call("getFeed", "GET", f"{FEEDS}/feeds/{feed_id}")).data
            if state["processingStatus"] in ("DONE", "FATAL", "CANCELLED"):
                break
            if poll + 1 >= self.settings.feed_max_polls:
                raise ChannelError(
                    self.channel, f"feed {feed_id} still {state['processingStatus']}", retryable=True
                )
            await asyncio.sleep(self.settings.feed_poll_seconds)
        if state["processingStatus"] == "CANCELLED" or not state.get("resultFeedDocumentId"):
            raise ChannelError(self.channel, f"feed {feed_id} {state['processingStatus']} without a report")
        result = (
            await self._call("getFeedDocument", "GET", f"{FEEDS}/documents/{state['resultFeedDocumentId']}")
        ).data
        if result.get("compressionAlgorithm") == "GZIP":
            raise ChannelError(self.channel, f"feed {feed_id}: a GZIP report is not read")
        report = (await self._http.call("GET", result["url"])).data
        if state["processingStatus"] == "FATAL":
            raise ChannelError(
                self.channel, f"feed {feed_id} FATAL: {describe_error(report)}", details=report
            )
        return report

    # --- orders

    async def orders(
        self,
        *,
        created_after: datetime | None = None,
        updated_after: datetime | None = None,
        included: tuple[str, ...] = ORDER_DATA,
    ) -> AsyncIterator[dict[str, Any]]:
        """Orders 2026-01-01 searchOrders, every page."""
        params: dict[str, Any] = {
            "marketplaceIds": self._marketplace,
            "includedData": ",".join(included),
            "maxResultsPerPage": 100,
        }
        if created_after:
            params["createdAfter"] = _iso(created_after)
        if updated_after:
            params["lastUpdatedAfter"] = _iso(updated_after)
        if not (created_after or updated_after):
            raise ValueError("searchOrders needs createdAfter or lastUpdatedAfter")
        while True:
            data = (await self._call("searchOrders", "GET", ORDERS, params=params)).data
            for order in data.get("orders") or []:
                yield order
            token = (data.get("pagination") or {}).get("nextToken")
            if not token:
                return
            params = {"paginationToken": token, "includedData": params["includedData"]}

    async def order(self, order_id: str, included: tuple[str, ...] = ORDER_DATA) -> dict[str, Any]:
        params = {"includedData": ",".join(included)}
        return (await self._call("getOrder", "GET", f"{ORDERS}/{order_id}", params=params)).data["order"]

    async def confirm_shipment(
        self, order_id: str, items: Mapping[str, int], carrier: str, tracking: str, *, package: str = "1"
    ) -> None:
        """v0 confirmShipment. Amazon refuses a second confirmation of a shipped package, so after an
        ambiguous failure the order's packages are read first."""
        body = {
            "marketplaceId": self._marketplace,
            "packageDetail": {
                "packageReferenceId": package,
                "carrierCode": carrier,
                "trackingNumber": tracking,
                "shipDate": _iso(self._clock()),
                "orderItems": [{"orderItemId": i, "quantity": q} for i, q in items.items()],
            },
        }
        url = f"/orders/v0/orders/{order_id}/shipmentConfirmation"

        async def attempt(after_ambiguous: bool) -> None:
            if after_ambiguous and await self.shipped_with(order_id, tracking):
                return
            await self._send("confirmShipment", "POST", url, json_body=body)

        await self._http.retrying(attempt)

    async def shipped_with(self, order_id: str, tracking: str) -> dict[str, Any] | None:
        order = await self.order(order_id, ("PACKAGES",))
        return next((p for p in order.get("packages") or [] if p.get("trackingNumber") == tracking), None)


def _form(form: Mapping[str, str]) -> bytes:
    return str(httpx.QueryParams(form)).encode()


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def schema_problems(schema: dict[str, Any], attributes: dict[str, Any]) -> list[str]:
    """Where `attributes` break a product type's JSON Schema (Amazon's vocabulary ignored)."""
    validator = Draft202012Validator({k: v for k, v in schema.items() if k not in ("$schema", "$id")})
    return sorted(
        f"{'/'.join(map(str, e.absolute_path)) or 'attributes'}: {e.message}"
        for e in validator.iter_errors(attributes)
    )


# --- orders as ours

_STATUS: dict[str, OrderStatus] = {
    "PENDING_AVAILABILITY": "pending_payment",
    "PENDING": "pending_payment",
    "UNSHIPPED": "accepted",
    "PARTIALLY_SHIPPED": "accepted",
    "SHIPPED": "shipped",
    "CANCELLED": "cancelled",
    "UNFULFILLABLE": "cancelled",
}


def order_from_amazon(raw: Mapping[str, Any]) -> ChannelOrder:
    """An Orders 2026-01-01 order (with BUYER, RECIPIENT, PROCEEDS, FULFILLMENT)."""
    proceeds = raw.get("proceeds") or {}
    grand = proceeds.get("grandTotal") or {}
    breakdown = {b.get("type"): money(b.get("subtotal")) for b in proceeds.get("breakdowns") or []}
    fulfillment = raw.get("fulfillment") or {}
    status = fulfillment.get("fulfillmentStatus")
    buyer = raw.get("buyer") or {}
    customer = None
    if buyer.get("buyerEmail") or buyer.get("buyerName"):
        customer = Customer(
            external_customer_id=buyer.get("buyerEmail") or buyer.get("buyerName"),
            name=clean(buyer.get("buyerName")),
            email=clean(buyer.get("buyerEmail")),
        )
    delivery = (raw.get("recipient") or {}).get("deliveryAddress") or {}
    address = None
    if delivery:
        address = Address(
            name=clean(delivery.get("name")),
            street_1=clean(delivery.get("addressLine1")),
            street_2=clean(delivery.get("addressLine2")),
            city=clean(delivery.get("city")),
            state=clean(delivery.get("stateOrRegion")),
            zip_code=clean(delivery.get("postalCode")),
            country_iso_code=clean(delivery.get("countryCode")),
            phone=clean(delivery.get("phone")),
            company=clean(delivery.get("companyName")),
        )
    lines = []
    for item in raw.get("orderItems") or []:
        product = item.get("product") or {}
        lines.append(
            OrderLine(
                external_line_id=item["orderItemId"],
                sku=clean(product.get("sellerSku")),
                title=product.get("title"),
                quantity=int(item.get("quantityOrdered") or 0),
                unit_price=money((product.get("price") or {}).get("unitPrice")),
                remote_state=status,
            )
        )
    ship_by = (fulfillment.get("shipByWindow") or {}).get("latestDateTime")
    initial = _STATUS.get(status or "", "pending_payment")
    return ChannelOrder(
        channel="amazon",
        external_order_id=raw["orderId"],
        placed_at=parse_time(raw["createdTime"]),
        currency=grand.get("currencyCode") or "CAD",
        total=money(grand),
        subtotal=breakdown.get("ITEM", Decimal(0)),
        shipping_total=breakdown.get("SHIPPING", Decimal(0)),
        tax_total=breakdown.get("TAX", Decimal(0)),
        lines=tuple(lines),
        initial_status="accepted" if initial == "shipped" else initial,
        remote_state=status,
        customer=customer,
        shipping_address=address,
        shipping_deadline=parse_time(ship_by) if ship_by else None,
        raw=dict(raw),
    )


async def amazon_orders(client: Any, window: Window) -> AsyncIterator[ChannelOrder]:
    async for raw in client.orders(created_after=window.start):
        yield order_from_amazon(raw)


async def push_tracking(client: Any, order, lines: list, shipment, carrier: ChannelCarrier) -> dict[str, Any]:
    items = {line.external_line_id: line.quantity for line in lines}
    await client.confirm_shipment(order.external_order_id, items, carrier.name, shipment.tracking_pin)
    return {"order_id": order.external_order_id, "tracking": shipment.tracking_pin}


async def find_tracking(client: Any, order, lines: list, shipment) -> dict[str, Any] | None:
    if await client.shipped_with(order.external_order_id, shipment.tracking_pin):
        return {"order_id": order.external_order_id, "tracking": shipment.tracking_pin}
    return None


# --- the taxonomy: product types


async def suggest(client: Any, query: CategoryQuery) -> list[CategorySuggestion]:
    """searchDefinitionsProductTypes by the item's name. Amazon gives no score, only an order (best
    match first); confidence is 1/(1 + rank) scaled by how many of the product type's name words the
    title holds, so a first hit whose name the title does not mention stays below an operator's threshold."""
    text = " ".join(p for p in (query.title, query.brand or "", query.category or "") if p)
    found = await client.search_product_types(item_name=text)
    words = set(re.findall(r"[a-z0-9]+", text.lower()))
    suggestions = []
    for rank, item in enumerate(found[:10]):
        name_words = set(re.findall(r"[a-z0-9]+", item["displayName"].lower()))
        overlap = len(name_words & words) / len(name_words) if name_words else 0.0
        confidence = round((0.5 + 0.5 * overlap) / (1 + rank), 3)
        suggestions.append(CategorySuggestion(item["name"], item["displayName"], confidence))
    return suggestions


def plain_schema(schema: dict[str, Any]) -> dict[str, Any]:
    """A product type's schema as plain values for an LLM: one property per attribute we do not fill
    ourselves, its `value`'s type and enum (several values: an array), required ones named."""
    properties, required = {}, []
    for name, prop in (schema.get("properties") or {}).items():
        if name in OWN_ATTRIBUTES:
            continue
        value = (((prop.get("items") or {}).get("properties") or {}).get("value")) or {}
        if not value:
            continue
        plain: dict[str, Any] = {"type": value.get("type", "string")}
        if value.get("enum"):
            plain["enum"] = list(value["enum"])
        if prop.get("maxItems", 1) > 1:
            plain = {"type": "array", "items": plain}
        plain["description"] = prop.get("title") or name
        properties[name] = plain
        if name in (schema.get("required") or []):
            required.append(name)
    return {"type": "object", "properties": properties, "required": required, "additionalProperties": False}


async def attributes(client: Any, product_type: str) -> CategoryAttributes:
    return CategoryAttributes(product_type, plain_schema(await client.schema(product_type)))


TAXONOMY = Taxonomy(suggest=suggest, attributes=attributes)


# --- the plug-in


def listing_fields(product: ProductForListing) -> dict[str, Any]:
    """The product type (the chosen channel category) and the attributes filled for it, as plain values;
    the product's own brand, model and part number as defaults for the attributes of those names the
    filling left out. The client adds title, description, condition, identifiers, price, stock and
    photos, and puts every value in Amazon's shape."""
    return {
        "product_type": product.channel_category,
        "attributes": dict(product.channel_attributes or {}),
        "defaults": {
            "brand": product.brand,
            "model_number": (product.attributes or {}).get("model") or product.mpn,
            "part_number": product.mpn,
        },
        "bullet_points": list(product.keywords)[:5],
    }


LISTING = ListingPolicy(
    "amazon",
    "CAD",
    # Amazon.ca: a 15% referral fee on most categories, no per-item fee on a Professional plan.
    PricingPolicy(
        fee_rate=Decimal("0.15"), fixed_fee=Decimal("0"), shipping_cost=Decimal("0"), rounding="charm_99"
    ),
    listing_fields,
    max_title=200,
    max_photos=9,
    max_description=2000,
)

CHANNEL = Channel(
    name="amazon",
    title="Amazon",
    client=f"{__name__}:AmazonClient",
    listing=LISTING,
    orders=amazon_orders,
    push_tracking=push_tracking,
    find_tracking=find_tracking,
    taxonomy=TAXONOMY,
    carrier_names={
        "canada_post": "Canada Post",
        "nz_post": "NZ Post",
    },  # carrierCode, from Amazon's carrier list
)

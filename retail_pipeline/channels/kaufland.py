"""Kaufland (Seller API v2): listings by EAN (product data + units), orders (order units), tracking,
buyers' tickets, and Kaufland's own categories.

Every call is signed as Kaufland's REST guide says: `Shop-Client-Key`, `Shop-Timestamp` (unix
seconds) and `Shop-Signature` = hex HMAC-SHA256 with the secret key over "METHOD\\nURI\\nBODY\\nTIMESTAMP",
URI being the full URL with its query string and BODY the bytes sent (empty for a GET); `Accept:
application/json` and a `User-Agent` naming us. The signature is made per attempt, over the request as
httpx sends it (`KauflandSigner`). Every call on a storefront carries `storefront` (KAUFLAND_STOREFRONT).

A listing is two things on Kaufland: the product data for its EAN (`PUT /product-data?locale=…`: title,
description, pictures, manufacturer, category and the category's attributes; shared by every seller
of that EAN) and our unit (offer) on it (`POST /units`: ean, condition, listing_price in cents,
amount, handling_time, our SKU as `id_offer`). So a listing costs two calls (photos go by URL).
`find_by_sku` is `GET /units?id_offer=<sku>` (the spec's filter on the seller's own offer id). A price
or stock change is `PATCH /units/{id_unit}`; withdrawing deletes the unit (a unit already gone counts
as withdrawn). A unit whose product data is not ready stays INCOMPLETE: create reads the import
status then and reports the missing attributes by name.

Orders are order units (one per item bought; an order groups them): `GET /order-units` by
`ts_created_from_iso`, paged by offset/limit (100 a page). Shipping: `PATCH /order-units/{id}/send`
with tracking numbers and a carrier code per unit (Canada Post is not one of Kaufland's carriers:
it goes as "Other", which Kaufland's order-files guide gives for carriers outside its list).
Buyers' messages are tickets: `GET /tickets` (by update time), `GET /tickets/{id}?embedded=messages`,
`POST /tickets/{id}/messages` (answers 201 with no body: the message id is read back from the ticket).

Categories (`Taxonomy`): `POST /categories/decide` suggests categories for a title, description and
manufacturer, most likely first, without a score: the confidence is half Kaufland's order, half how
well each category's path matches the product's words (`path_confidence`). Paths come from
`GET /categories/tree` (read once per client). A category's attributes: `GET /categories/{id}` with
`embedded=required_attributes,optional_attributes`, values of shared-set attributes from
`GET /attributes/{id}/shared-set`; turned into a plain JSON Schema.

Rate limit: 111 requests a second per seller; the client never sends more in any second (a sliding
window), and a 429 is retried after its Retry-After. Errors `{message, errors[{field, message}], type}`
become a ChannelError with all three in its message.

Configuration (`KauflandSettings`, KAUFLAND_* variables): KAUFLAND_BASE_URL (default: the simulator at
{SIMULATOR_URL}/kaufland/v2 when USE_SIMULATORS, else https://sellerapi.kaufland.com/v2),
KAUFLAND_CLIENT_KEY and KAUFLAND_SECRET_KEY (the seller's API keys; against the simulator its own
stand-ins unless set), KAUFLAND_STOREFRONT (de), KAUFLAND_LOCALE (default: the storefront's),
KAUFLAND_CURRENCY (EUR), KAUFLAND_HANDLING_TIME (days, 1), KAUFLAND_SHIPPING_GROUP and
KAUFLAND_WAREHOUSE (ids; unset: the account's defaults), KAUFLAND_USER_AGENT,
KAUFLAND_REQUESTS_PER_SECOND (111).
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import re
import time
from collections import deque
from collections.abc import AsyncIterator, Callable, Generator, Mapping
from dataclasses import replace
from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal
from typing import Any, ClassVar

import httpx
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
from retail_pipeline.domain.buyer_messages import RemoteMessage, RemoteThread, message_time
from retail_pipeline.domain.listings import ListingPolicy, ProductForListing, listing_condition
from retail_pipeline.domain.order_sources import Window, clean, country, parse_time
from retail_pipeline.domain.orders import Address, ChannelOrder, Customer, OrderLine, OrderStatus
from retail_pipeline.domain.pricing import PricingPolicy
from retail_pipeline.integrations.marketplaces.base import (
    CallBudget,
    ChannelClient,
    ChannelError,
    ListingDraft,
    Photo,
    RemoteListing,
)
from retail_pipeline.integrations.marketplaces.rest import ChannelHTTP, RetryPolicy, photo_problems, photo_url
from retail_pipeline.settings import get_settings

KAUFLAND_API = "https://sellerapi.kaufland.com/v2"
# The simulator's stand-in keys (it recomputes signatures with its secret, so it needs the pair).
SIMULATOR_CLIENT_KEY = "kaufland-simulator-client-key"
SIMULATOR_SECRET_KEY = "kaufland-simulator-secret-key"
USER_AGENT = "retail_pipeline/1.0 (Kaufland Seller API integration)"
LOCALES = {
    "de": "de-DE",
    "at": "de-AT",
    "cz": "cs-CZ",
    "sk": "sk-SK",
    "pl": "pl-PL",
    "fr": "fr-FR",
    "it": "it-IT",
}
CURRENCIES = {"de": "EUR", "at": "EUR", "sk": "EUR", "fr": "EUR", "it": "EUR", "cz": "CZK", "pl": "PLN"}
CONDITIONS = (
    "NEW", "USED___AS_NEW", "USED___VERY_GOOD", "USED___GOOD", "USED___ACCEPTABLE",
    "REFURBISHED___AS_NEW", "REFURBISHED___VERY_GOOD", "REFURBISHED___GOOD", "REFURBISHED___ACCEPTABLE",
)  # fmt: skip
OUR_CONDITIONS = {"new": "NEW", "refurbished": "REFURBISHED___GOOD", "used": "USED___GOOD"}
PAGE = 100  # units and order units: at most 100 a page
TICKET_PAGE = 30  # tickets: at most 30
MAX_PRICE_CENTS = {"EUR": 100_000_000, "CZK": 2_500_000_000, "PLN": 450_000_000}
# Product-data attributes the listing itself fills (not the category's attributes).
OWN_ATTRIBUTES = frozenset({"ean", "title", "description", "picture", "manufacturer", "category"})


class KauflandSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="KAUFLAND_", env_file=".env", extra="ignore")

    base_url: str | None = Field(default=None, description="Unset: the simulator when simulating, else live.")
    client_key: SecretStr | None = None
    secret_key: SecretStr | None = None
    storefront: str = Field(default="de", pattern="^(de|at|cz|sk|pl|fr|it)$")
    locale: str | None = Field(default=None, description="Product data's language; unset: the storefront's.")
    currency: str = Field(default="EUR", description="The storefront's currency (EUR, CZK or PLN).")
    handling_time: int = Field(default=1, ge=0, le=100, description="Days before an order ships.")
    shipping_group: int | None = Field(default=None, ge=1)
    warehouse: int | None = Field(default=None, ge=1)
    user_agent: str = USER_AGENT
    requests_per_second: int = Field(default=111, ge=1)
    timeout_seconds: float = Field(default=30.0, gt=0)
    max_attempts: int = Field(default=5, ge=1)

    def base(self) -> str:
        return get_settings().service_base(self.base_url, "kaufland/v2", KAUFLAND_API)

    def product_locale(self) -> str:
        return self.locale or LOCALES[self.storefront]

    def keys(self) -> tuple[str, str]:
        if self.client_key and self.secret_key:
            return self.client_key.get_secret_value(), self.secret_key.get_secret_value()
        if get_settings().at_simulator(self.base(), "kaufland"):
            return SIMULATOR_CLIENT_KEY, SIMULATOR_SECRET_KEY
        raise ChannelError(
            "kaufland", "set KAUFLAND_CLIENT_KEY and KAUFLAND_SECRET_KEY (the seller's API keys)"
        )


def signature(secret: str, method: str, uri: str, body: bytes, timestamp: str) -> str:
    """Kaufland's Shop-Signature: hex HMAC-SHA256 of "METHOD\\nURI\\nBODY\\nTIMESTAMP"."""
    message = b"\n".join((method.upper().encode(), uri.encode(), body, timestamp.encode()))
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


class KauflandSigner(httpx.Auth):
    """Signs each request as sent (every retry is signed afresh, with its own timestamp)."""

    requires_request_body = True

    def __init__(self, client_key: str, secret_key: str, clock: Callable[[], float] = time.time):
        self.client_key, self.secret_key, self.clock = client_key, secret_key, clock

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        stamp = str(int(self.clock()))
        request.headers["Shop-Client-Key"] = self.client_key
        request.headers["Shop-Timestamp"] = stamp
        request.headers["Shop-Signature"] = signature(
            self.secret_key, request.method, str(request.url), request.content, stamp
        )
        yield request


class RateWindow:
    """At most `limit` sends in any `period` seconds: waits only when the window is full."""

    def __init__(self, limit: int, period: float = 1.0, clock: Callable[[], float] = time.monotonic):
        self.limit, self.period, self.clock = limit, period, clock
        self._sent: deque[float] = deque()
        self._lock = asyncio.Lock()

    async def __call__(self) -> None:
        async with self._lock:
            while True:
                now = self.clock()
                while self._sent and now - self._sent[0] >= self.period:
                    self._sent.popleft()
                if len(self._sent) < self.limit:
                    self._sent.append(now)
                    return
                await asyncio.sleep(self.period - (now - self._sent[0]))


def describe_error(body: Any) -> str:
    """Kaufland's `{message, errors: [{field, message}], type}` as one line."""
    if not isinstance(body, dict):
        return str(body)
    details = "; ".join(
        f"{e.get('field')}: {e.get('message')}" if e.get("field") else str(e.get("message"))
        for e in body.get("errors") or ()
        if isinstance(e, dict)
    )
    kind = body.get("type")
    head = str(body.get("message", "")) + (f" ({kind})" if kind and kind != "about:blank" else "")
    return " | ".join(part for part in (head, details) if part)


def _our_condition(condition: str | None) -> str | None:
    """new | used | refurbished for a Kaufland unit condition (NEW, USED___GOOD, REFURBISHED___…)."""
    return condition.split("___")[0].lower() if condition else None


def cents(amount: Decimal) -> int:
    return int((amount * 100).quantize(Decimal("1"), rounding=ROUND_HALF_UP))


def from_cents(value: Any) -> Decimal:
    return (Decimal(int(value or 0)) / 100).quantize(Decimal("0.01"))


def ean(gtin: str | None) -> str | None:
    """Kaufland takes EANs of 13 or 14 digits; a 12-digit UPC is an EAN-13 with a leading 0."""
    digits = re.sub(r"\D", "", gtin or "")
    if len(digits) == 12:
        digits = "0" + digits
    return digits if len(digits) in (13, 14) else None


class KauflandClient(ChannelClient):
    channel: ClassVar[str] = "kaufland"

    def __init__(
        self,
        settings: KauflandSettings | None = None,
        *,
        transport: httpx.AsyncBaseTransport | None = None,
        policy: RetryPolicy | None = None,
        clock: Callable[[], float] = time.time,
    ):
        """`clock`: unix seconds for Shop-Timestamp (the wall clock; Kaufland refuses stale stamps)."""
        self.settings = settings or KauflandSettings()
        self._api = self.settings.base()
        client_key, secret_key = self.settings.keys()
        self._pace = RateWindow(self.settings.requests_per_second)
        self._http = ChannelHTTP(
            self.channel,
            headers={"Accept": "application/json", "User-Agent": self.settings.user_agent},
            describe=describe_error,
            transport=transport,
            timeout=self.settings.timeout_seconds,
            policy=policy or RetryPolicy(max_attempts=self.settings.max_attempts),
            before_send=self._pace,
            auth=KauflandSigner(client_key, secret_key, clock),
        )
        self._tree: dict[int, dict[str, Any]] | None = None

    async def aclose(self) -> None:
        await self._http.aclose()

    def budget(self) -> CallBudget:
        return CallBudget(limit=None, used=self._http.calls)

    def _url(self, path: str) -> str:
        return f"{self._api}{path}"

    def _front(self, **params: Any) -> dict[str, Any]:
        return {"storefront": self.settings.storefront} | {k: v for k, v in params.items() if v is not None}

    async def _pages(
        self, path: str, params: dict[str, Any], limit: int = PAGE
    ) -> AsyncIterator[dict[str, Any]]:
        offset = 0
        while True:
            reply = await self._http.call(
                "GET", self._url(path), params=params | {"limit": limit, "offset": offset}
            )
            items = reply.data.get("data") or []
            for item in items:
                yield item
            total = (reply.data.get("pagination") or {}).get("total", 0)
            offset += len(items)
            if not items or offset >= total:
                return

    # --- listings: product data by EAN + our unit

    def product_data_request(self, draft: ListingDraft, picture_urls: list[str]) -> dict[str, Any]:
        """The PUT /product-data body: every value is a list, as Kaufland takes them."""
        fields = draft.fields
        attributes: dict[str, Any] = {
            "title": [draft.title],
            "description": [draft.description],
            "picture": picture_urls,
            "manufacturer": [fields.get("manufacturer") or draft.brand or ""],
            "category": [str(fields.get("category") or "")],
        }
        if draft.mpn:
            attributes["mpn"] = [draft.mpn]
        for name, value in (fields.get("attributes") or {}).items():
            if name not in OWN_ATTRIBUTES and value not in (None, "", []):
                attributes[name] = [str(v) for v in value] if isinstance(value, list) else [str(value)]
        return {"ean": [ean(fields.get("ean") or draft.gtin) or ""], "attributes": attributes}

    def unit_request(self, draft: ListingDraft) -> dict[str, Any]:
        """The POST /units body."""
        fields = draft.fields
        body: dict[str, Any] = {
            "ean": ean(fields.get("ean") or draft.gtin) or "",
            "id_offer": draft.sku,
            "condition": fields.get("condition") or OUR_CONDITIONS.get(draft.condition, "NEW"),
            "listing_price": cents(draft.price),
            "amount": draft.quantity,
            "handling_time": int(fields.get("handling_time", self.settings.handling_time)),
        }
        if self.settings.shipping_group:
            body["id_shipping_group"] = self.settings.shipping_group
        if self.settings.warehouse:
            body["id_warehouse"] = self.settings.warehouse
        return body

    def create_requests(self, draft: ListingDraft, photo_refs: dict[str, str]) -> dict[str, Any]:
        urls = [photo_refs.get(p.sha256) or p.public_url for p in draft.photos]
        return {
            f"PUT /product-data?locale={self.settings.product_locale()}": self.product_data_request(
                draft, urls
            ),
            f"POST /units?storefront={self.settings.storefront}": self.unit_request(draft),
        }

    async def validate(self, draft: ListingDraft) -> list[str]:
        fields, problems = draft.fields, []
        if not draft.title.strip():
            problems.append("title is required")
        if not ean(fields.get("ean") or draft.gtin):
            problems.append("Kaufland lists by EAN: a GTIN of 12 to 14 digits is required")
        if not fields.get("category"):
            problems.append("no Kaufland category chosen for this product (fields.category)")
        if not (fields.get("manufacturer") or draft.brand):
            problems.append("manufacturer is required (the brand)")
        condition = fields.get("condition") or OUR_CONDITIONS.get(draft.condition)
        if condition not in CONDITIONS:
            problems.append(f"condition {condition or draft.condition!r} is not one of Kaufland's")
        if draft.currency != self.settings.currency:
            problems.append(
                f"price is in {draft.currency}; the {self.settings.storefront} storefront sells in "
                f"{self.settings.currency}"
            )
        if draft.price <= 0:
            problems.append("price must be above 0")
        elif cents(draft.price) > MAX_PRICE_CENTS.get(self.settings.currency, MAX_PRICE_CENTS["EUR"]):
            problems.append("price is above Kaufland's maximum for the storefront")
        if draft.quantity < 0:
            problems.append("amount cannot be negative")
        if not draft.photos:
            problems.append("Kaufland needs at least one picture")
        return problems + photo_problems(draft)

    async def upload_photo(self, photo: Photo) -> str:
        return photo_url(self.channel, photo)  # Kaufland fetches pictures by URL

    async def find_by_sku(self, sku: str) -> RemoteListing | None:
        reply = await self._http.call(
            "GET", self._url("/units"), params=self._front(id_offer=sku, limit=PAGE)
        )
        found = next((u for u in reply.data.get("data") or () if u.get("id_offer") == sku), None)
        return None if found is None else self._remote(found)

    async def put_product_data(self, body: dict[str, Any]) -> None:
        """Adds or replaces our product data for the EAN (safe to repeat)."""
        await self._http.call(
            "PUT",
            self._url("/product-data"),
            params={"locale": self.settings.product_locale()},
            json_body=body,
        )

    async def patch_product_data(self, ean_code: str, attributes: dict[str, list[Any]]) -> None:
        """Overwrites the given attributes of our product data for the EAN, keeping the rest."""
        await self._http.call(
            "PATCH",
            self._url("/product-data"),
            params={"locale": self.settings.product_locale()},
            json_body={"ean": [ean_code], "attributes": attributes},
        )

    async def product_data(self, ean_code: str) -> dict[str, Any]:
        url = self._url(f"/product-data/{ean_code}")
        return (await self._http.call("GET", url, params={"locale": self.settings.product_locale()})).data[
            "data"
        ]

    async def product_data_status(self, ean_code: str) -> dict[str, Any]:
        url = self._url(f"/product-data/status/{ean_code}")
        return (await self._http.call("GET", url, params={"locale": self.settings.product_locale()})).data[
            "data"
        ]

    async def create(self, draft: ListingDraft, *, photo_refs: dict[str, str] | None = None) -> RemoteListing:
        urls = [photo_url(self.channel, p, photo_refs) for p in draft.photos]
        await self.put_product_data(self.product_data_request(draft, urls))
        body = self.unit_request(draft)

        async def attempt(after_ambiguous: bool) -> RemoteListing:
            # A failed attempt may still have made the unit: look for our SKU before making another.
            if after_ambiguous and (existing := await self.find_by_sku(draft.sku)):
                return existing
            reply = await self._http.send("POST", self._url("/units"), params=self._front(), json_body=body)
            return self._remote(reply.data["data"])

        listing = await self._http.retrying(attempt)
        if listing.remote_ids.get("status") == "INCOMPLETE":
            # Not on sale until the EAN's product data is ready: say why, and leave no unit behind (a
            # corrected draft creates it again).
            status = await self.product_data_status(body["ean"])
            await self.withdraw(listing, "product data not ready")
            missing = ", ".join(status.get("missing_attributes") or ()) or "?"
            reason = status.get("product_not_ready_reason") or status.get("update_fail_reason") or "not ready"
            raise ChannelError(
                self.channel,
                f"unit {listing.external_id} is INCOMPLETE: product data for EAN {body['ean']} {reason}"
                + (f" (missing attributes: {missing})" if status.get("missing_attributes") else ""),
                status=422,
                details=status,
            )
        return listing

    async def _patch(self, listing: RemoteListing, changes: dict[str, Any]) -> RemoteListing:
        url = self._url(f"/units/{listing.external_id}")
        reply = await self._http.call("PATCH", url, params=self._front(), json_body=changes)
        return self._remote(reply.data["data"])

    async def update_price(self, listing: RemoteListing, price: Decimal) -> RemoteListing:
        return await self._patch(listing, {"listing_price": cents(price)})

    async def update_quantity(self, listing: RemoteListing, quantity: int) -> RemoteListing:
        return await self._patch(listing, {"amount": quantity})

    async def withdraw(self, listing: RemoteListing, reason: str) -> RemoteListing:
        """Deletes the unit (Kaufland takes no reason: `reason` stays ours); one already gone is withdrawn."""
        url = self._url(f"/units/{listing.external_id}")
        try:
            await self._http.call("DELETE", url, params=self._front())
        except ChannelError as error:
            if error.status != 404:
                raise
        return RemoteListing(
            external_id=listing.external_id,
            sku=listing.sku,
            price=listing.price,
            quantity=0,
            state="withdrawn",
            title=listing.title,
            remote_ids=dict(listing.remote_ids),
        )

    async def unit(self, id_unit: str | int) -> RemoteListing:
        url = self._url(f"/units/{id_unit}")
        return self._remote((await self._http.call("GET", url, params=self._front())).data["data"])

    # The units list (with each unit's product) shows the title, EAN, maker and main picture; the
    # description, part number and every picture are in the EAN's product data (`describe`).
    selling_lacks = frozenset({"description", "mpn"})
    described = frozenset({"description", "mpn", "photos"})

    async def selling(self) -> AsyncIterator[RemoteListing]:
        async for item in self._pages("/units", self._front(embedded="products")):
            yield self._remote(item)

    async def describe(self, listing: RemoteListing) -> RemoteListing:
        """The product data of the listing's EAN (one call): description, part number, pictures."""
        if not listing.gtin:
            return listing
        attributes = (await self.product_data(listing.gtin)).get("attributes") or {}

        def first(name: str) -> str | None:
            return next((str(v) for v in attributes.get(name) or () if str(v).strip()), None)

        return replace(
            listing,
            description=first("description"),
            mpn=first("mpn"),
            photos=tuple(str(p) for p in attributes.get("picture") or () if p) or listing.photos,
        )

    def _remote(self, unit: Mapping[str, Any]) -> RemoteListing:
        status, amount = unit.get("status"), int(unit.get("amount") or 0)
        # INCOMPLETE (product data not ready) and ONHOLD (paused) are not on sale
        state = "live" if status == "AVAILABLE" and amount > 0 else "ended"
        product = unit.get("product") or {}
        return RemoteListing(
            external_id=str(unit["id_unit"]),
            sku=unit.get("id_offer") or None,  # a unit made in the seller portal may have none
            price=from_cents(unit["listing_price"]) if unit.get("listing_price") is not None else None,
            quantity=amount,
            state=state,
            title=product.get("title"),
            url=product.get("url"),
            remote_ids={"id_product": unit.get("id_product"), "status": status},
            gtin=next(iter(product.get("eans") or ()), None),
            brand=product.get("manufacturer") or None,
            currency=unit.get("currency"),
            condition=_our_condition(unit.get("condition")),
            photos=(product["main_picture"],) if product.get("main_picture") else (),
        )

    # --- orders: order units

    async def order_units(
        self,
        *,
        created_from: datetime | None = None,
        updated_from: datetime | None = None,
        status: list[str] | None = None,
    ) -> AsyncIterator[dict[str, Any]]:
        params = self._front(
            ts_created_from_iso=created_from.isoformat() if created_from else None,
            ts_updated_from_iso=updated_from.isoformat() if updated_from else None,
            status=status,
        )
        async for unit in self._pages("/order-units", params):
            yield unit

    async def order_unit(self, id_order_unit: str | int) -> dict[str, Any]:
        return (await self._http.call("GET", self._url(f"/order-units/{id_order_unit}"))).data["data"]

    async def send_order_unit(
        self, id_order_unit: str | int, tracking_numbers: list[str], carrier_code: str
    ) -> None:
        """Marks the unit sent. Repeating it for a unit already sent is harmless: it is read first."""
        url = self._url(f"/order-units/{id_order_unit}/send")
        body = {"tracking_numbers": ",".join(tracking_numbers), "carrier_code": carrier_code}

        async def attempt(after_ambiguous: bool) -> None:
            if after_ambiguous and (await self.order_unit(id_order_unit)).get("status") in SENT:
                return
            await self._http.send("PATCH", url, json_body=body)

        await self._http.retrying(attempt)

    # --- tickets (buyers' messages)

    async def tickets(self, *, updated_from: datetime | None = None) -> AsyncIterator[dict[str, Any]]:
        params: dict[str, Any] = {"sort": "ts_updated_iso:desc", "storefront": [self.settings.storefront]}
        if updated_from:
            params["ts_updated_from_iso"] = updated_from.isoformat()
        async for ticket in self._pages("/tickets", params, limit=TICKET_PAGE):
            yield ticket

    async def ticket(self, id_ticket: str) -> dict[str, Any]:
        url = self._url(f"/tickets/{id_ticket}")
        params = {"embedded": ["messages", "buyer", "order_units"]}
        return (await self._http.call("GET", url, params=params)).data["data"]

    async def post_ticket_message(self, id_ticket: str, text: str) -> dict[str, Any]:
        """Posts our message; returns it as the ticket now shows it (the POST answers with no body).
        After an answer that never came whole, the ticket is read first and the post not repeated."""
        url = self._url(f"/tickets/{id_ticket}/messages")

        async def ours() -> dict[str, Any] | None:
            messages = (await self.ticket(id_ticket)).get("messages") or []
            mine = [
                m
                for m in messages
                if (m.get("author") or {}).get("role") == "seller" and m.get("text") == text
            ]
            return mine[-1] if mine else None

        async def attempt(after_ambiguous: bool) -> dict[str, Any]:
            if after_ambiguous and (found := await ours()):
                return found
            await self._http.send("POST", url, json_body={"text": text})
            found = await ours()
            if found is None:
                raise ChannelError(
                    self.channel, f"ticket {id_ticket}: the message posted is not on the ticket"
                )
            return found

        return await self._http.retrying(attempt)

    # --- categories

    async def category_tree(self) -> dict[int, dict[str, Any]]:
        """Every category by id, with `path` (names from the top); read once per client."""
        if self._tree is None:
            url = self._url("/categories/tree")
            root = (await self._http.call("GET", url, params=self._front())).data["data"]
            tree: dict[int, dict[str, Any]] = {}

            def walk(node: dict[str, Any], path: tuple[str, ...]) -> None:
                here = (*path, node["name"]) if node.get("level", 0) else path  # the root is no category
                if node.get("level", 0):
                    tree[int(node["id_category"])] = {"name": node["name"], "path": here}
                for child in node.get("children") or ():
                    walk(child, here)

            walk(root, ())
            self._tree = tree
        return self._tree

    async def decide_category(
        self, title: str, description: str, manufacturer: str, price: Decimal
    ) -> list[dict]:
        body = {
            "item": {"title": title, "description": description, "manufacturer": manufacturer},
            "price": float(price),
        }
        url = self._url("/categories/decide")
        return (await self._http.call("POST", url, params=self._front(), json_body=body)).data["data"]

    async def category(self, id_category: str | int) -> dict[str, Any]:
        url = self._url(f"/categories/{id_category}")
        params = self._front(embedded=["required_attributes", "optional_attributes"])
        return (await self._http.call("GET", url, params=params)).data["data"]

    async def shared_set(self, id_attribute: int) -> list[str]:
        values = []
        params = {"locale": self.settings.product_locale()}
        async for item in self._pages(f"/attributes/{id_attribute}/shared-set", params):
            values.append(item["value"])
        return values


SENT = frozenset({"sent", "sent_and_autopaid", "received"})


# --- its orders: order units grouped into our orders

UNIT_STATUS: dict[str, OrderStatus] = {
    "open": "pending_payment",  # not yet paid
    "need_to_be_sent": "accepted",
    "sent": "accepted",
    "sent_and_autopaid": "accepted",
    "received": "accepted",
    "cancelled": "cancelled",
    "returned": "refunded",
    "returned_paid": "refunded",
}


def _order_status(statuses: list[str]) -> OrderStatus:
    mapped = [UNIT_STATUS.get(s, "pending_payment") for s in statuses]
    for status in ("cancelled", "refunded"):
        if all(m == status for m in mapped):
            return status
    live = [m for m in mapped if m not in ("cancelled", "refunded")] or mapped
    return "pending_payment" if "pending_payment" in live else "accepted"


def _address(raw: Mapping[str, Any] | None) -> Address | None:
    if not raw:
        return None
    name = " ".join(p for p in (clean(raw.get("first_name")), clean(raw.get("last_name"))) if p)
    street = " ".join(p for p in (clean(raw.get("street")), clean(raw.get("house_number"))) if p)
    return Address(
        name=name or None,
        street_1=street or None,
        street_2=clean(raw.get("additional_field")),
        city=clean(raw.get("city")),
        zip_code=clean(raw.get("postcode")),
        country_iso_code=country(raw.get("country")),
        phone=clean(raw.get("phone")),
        company=clean(raw.get("company_name")),
    )


def order_from_kaufland(units: list[Mapping[str, Any]]) -> ChannelOrder:
    """One Kaufland order from its order units (one per item bought); money in cents."""
    units = sorted(units, key=lambda u: (u["ts_created_iso"], u["id_order_unit"]))
    first = units[0]
    statuses = [u["status"] for u in units]
    subtotal = sum((from_cents(u.get("price")) for u in units), Decimal("0"))
    shipping = sum((from_cents(u.get("shipping_rate")) for u in units), Decimal("0"))
    buyer = first.get("buyer") or {}
    shipping_address = _address(first.get("shipping_address"))
    customer = None
    if buyer.get("id_buyer") is not None:
        customer = Customer(
            external_customer_id=str(buyer["id_buyer"]),  # as the tickets sync keys buyers
            name=shipping_address.name if shipping_address else None,
            email=clean(buyer.get("email")),
            phone=shipping_address.phone if shipping_address else None,
        )
    remote = ",".join(sorted(set(statuses)))
    return ChannelOrder(
        channel="kaufland",
        external_order_id=str(first["id_order"]),
        placed_at=parse_time(first["ts_created_iso"]),
        currency=first.get("currency") or "EUR",
        total=subtotal + shipping,
        subtotal=subtotal,
        shipping_total=shipping,
        lines=tuple(
            OrderLine(
                external_line_id=str(u["id_order_unit"]),
                sku=clean(u.get("id_offer")),
                title=(u.get("product") or {}).get("title"),
                quantity=1,
                unit_price=from_cents(u.get("price")),
                remote_state=u.get("status"),
            )
            for u in units
        ),
        initial_status=_order_status(statuses),
        remote_state=remote,
        customer=customer,
        shipping_address=shipping_address,
        raw={"order_units": [dict(u) for u in units]},
    )


async def kaufland_orders(client: Any, window: Window) -> AsyncIterator[ChannelOrder]:
    # Order units created since the window's start, grouped by order (an order's units may fall on
    # different pages, so all are read first).
    orders: dict[str, list[dict[str, Any]]] = {}
    async for unit in client.order_units(created_from=window.start):
        orders.setdefault(str(unit["id_order"]), []).append(unit)
    for units in orders.values():
        yield order_from_kaufland(units)


# --- its buyers' messages: tickets as buyer threads

AUTHORS = {"seller": "shop", "buyer": "customer", "customer_service": "operator", "system": "operator"}


class KauflandInbox:
    channel = "kaufland"

    def __init__(self, client: Any):
        self.client = client  # a KauflandClient

    @staticmethod
    def _message(item: dict[str, Any]) -> RemoteMessage:
        author = item.get("author") or {}
        return RemoteMessage(
            external_message_id=str(item["id_ticket_message"]),
            author_type=AUTHORS.get(author.get("role"), "operator"),
            author_name=author.get("name"),
            body=item.get("text") or "",
            created_at=message_time(item["ts_created_iso"]),
            raw=item,
        )

    def _thread(self, item: dict[str, Any]) -> RemoteThread:
        units = item.get("order_units") or []
        address = (units[0].get("shipping_address") or {}) if units else {}
        name = " ".join(p for p in (address.get("first_name"), address.get("last_name")) if p) or None
        messages = sorted(
            item.get("messages") or (), key=lambda m: (m["ts_created_iso"], m["id_ticket_message"])
        )
        subject = (item.get("topic") or item.get("open_reason") or "").replace("_", " ") or None
        return RemoteThread(
            external_thread_id=str(item["id_ticket"]),
            updated_at=message_time(item["ts_updated_iso"]),
            messages=tuple(self._message(m) for m in messages),
            subject=subject.capitalize() if subject else None,
            customer_id=str(item["id_buyer"]) if item.get("id_buyer") is not None else None,
            customer_name=name or (item.get("buyer") or {}).get("email"),
            order_ref=str(units[0]["id_order"]) if units else None,
        )

    async def threads(self, updated_since: datetime | None) -> AsyncIterator[RemoteThread]:
        listed = [t async for t in self.client.tickets(updated_from=updated_since)]
        for item in sorted(listed, key=lambda t: message_time(t["ts_updated_iso"])):
            try:
                yield await self.thread(str(item["id_ticket"]))
            except ChannelError as error:
                if error.status != 404:
                    raise

    async def thread(self, external_thread_id: str) -> RemoteThread:
        return self._thread(await self.client.ticket(external_thread_id))

    async def reply(self, external_thread_id: str, body: str) -> str:
        return str((await self.client.post_ticket_message(external_thread_id, body))["id_ticket_message"])

    async def aclose(self) -> None:
        await self.client.aclose()


# --- its categories


def _words(text: str) -> set[str]:
    """Lower-case words of two letters or more, plurals folded ("guitars" is "guitar")."""
    words = re.findall(r"[a-z0-9]+", text.lower())
    return {
        w[:-1] if len(w) > 3 and w.endswith("s") and not w.endswith("ss") else w for w in words if len(w) > 1
    }


def path_confidence(text: str, path: tuple[str, ...], position: int) -> float:
    """Kaufland gives no score, only its order ("the first result is the category the product is most
    likely in"): half the confidence is that order (1, 1/2, 1/4… of 0.5), the rest how well the
    category's path matches the product's words (its own name 0.35, its branch 0.15)."""
    words = _words(text)
    own = _words(path[-1]) if path else set()
    branch = set().union(*(_words(p) for p in path[:-1])) if len(path) > 1 else set()
    score = 0.5 / 2**position
    score += 0.35 * (len(own & words) / len(own) if own else 0.0)
    score += 0.15 * (len(branch & words) / len(branch) if branch else 0.0)
    return round(min(score, 1.0), 3)


async def suggest_categories(client: Any, query: CategoryQuery) -> list[CategorySuggestion]:
    text = " ".join(
        p for p in (query.title, query.category, " ".join(query.keywords), query.description) if p
    )
    description = query.description or query.title
    found = await client.decide_category(query.title, description, query.brand or "", Decimal("0"))
    tree = await client.category_tree()
    suggestions = []
    for position, category in enumerate(found):
        known = tree.get(int(category["id_category"]))
        path = known["path"] if known else (category["name"],)
        suggestions.append(
            CategorySuggestion(
                category_id=str(category["id_category"]),
                path=" > ".join(path),
                confidence=path_confidence(text, path, position),
            )
        )
    return sorted(suggestions, key=lambda s: -s.confidence)


async def category_attributes(client: Any, category_id: str) -> CategoryAttributes:
    category = await client.category(category_id)
    properties: dict[str, Any] = {}
    required: list[str] = []
    for attributes, is_required in (
        (category.get("required_attributes") or (), True),
        (category.get("optional_attributes") or (), False),
    ):
        for attribute in attributes:
            name = attribute["name"]
            if name in OWN_ATTRIBUTES or name in properties:
                continue
            value: dict[str, Any] = {"type": "number" if attribute.get("type") == "number" else "string"}
            if attribute.get("is_sharedset"):
                value["enum"] = await client.shared_set(attribute["id"])
            schema: dict[str, Any] = (
                {"type": "array", "items": value} if attribute.get("is_multiple") else value
            )
            described = (
                attribute.get("explanation") or attribute.get("seller_instructions") or attribute["title"]
            )
            properties[name] = schema | {"title": attribute["title"], "description": described}
            if is_required:
                required.append(name)
    schema = {"type": "object", "properties": properties, "required": required, "additionalProperties": False}
    return CategoryAttributes(category_id=str(category_id), schema=schema)


# --- the plug-in: what the channel can do, for the registry


def listing_fields(product: ProductForListing) -> dict[str, Any]:
    return {
        "ean": ean(product.gtin),
        "category": product.channel_category,
        "attributes": dict(product.channel_attributes),
        "manufacturer": product.brand,
        "condition": OUR_CONDITIONS[listing_condition(product)],
    }


def listing_checks(values: Mapping[str, Any]) -> list[str]:
    fields, errors = values["fields"], []  # no category chosen: the draft's category_problems say so
    if not fields.get("ean"):
        errors.append("Kaufland lists by EAN: the product needs a GTIN of 12 to 14 digits")
    if not fields.get("manufacturer"):
        errors.append("manufacturer is required (the brand)")
    return errors


LISTING = ListingPolicy(
    "kaufland",
    "EUR",
    # Kaufland's commission is per category (7–15 % of the gross price, most electronics 7–10 %);
    # no fixed fee per sale (a monthly subscription instead).
    PricingPolicy(
        fee_rate=Decimal("0.12"), fixed_fee=Decimal("0"), shipping_cost=Decimal("0"), rounding="charm_99"
    ),
    listing_fields,
    max_title=250,
    max_photos=25,
    checks=listing_checks,
)


async def push_tracking(client: Any, order, lines: list, shipment, carrier: ChannelCarrier) -> dict[str, Any]:
    """PATCH order-units/{id}/send for each of the order's units in this shipment."""
    code = carrier.code or carrier.name
    for line in lines:
        await client.send_order_unit(line.external_line_id, [shipment.tracking_pin], code)
    return {"id_order": order.external_order_id, "order_units": [line.external_line_id for line in lines]}


async def find_tracking(client: Any, order, lines: list, shipment) -> dict[str, Any] | None:
    """The units already sent (Kaufland does not show the tracking number back on an order unit)."""
    for line in lines:
        if (await client.order_unit(line.external_line_id)).get("status") not in SENT:
            return None
    return {"id_order": order.external_order_id, "order_units": [line.external_line_id for line in lines]}


TAXONOMY = Taxonomy(suggest=suggest_categories, attributes=category_attributes)

CHANNEL = Channel(
    name="kaufland",
    title="Kaufland",
    client=f"{__name__}:KauflandClient",
    listing=LISTING,
    orders=kaufland_orders,
    push_tracking=push_tracking,
    find_tracking=find_tracking,
    inbox=KauflandInbox,
    taxonomy=TAXONOMY,
    carrier_names={"canada_post": "Canada Post", "nz_post": "NZ Post"},
    # Kaufland's carrier codes are German and European carriers; others go as "Other" (order-files
    # guide: "Other" or "Other Hauler" for a carrier outside the list; the tracking number still goes).
    carrier_codes={"canada_post": "Other", "nz_post": "Other"},
)

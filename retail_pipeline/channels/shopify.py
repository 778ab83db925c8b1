"""Shopify (our own shop): listings and stock, orders (polled and pushed by orders/* webhooks), tracking
(fulfillments).

Shopify (Admin REST API) behind `ChannelClient`, plus orders, fulfilment and webhook checks.

A listing is one product with one variant carrying our SKU. The product's handle is made from the
SKU, so `find_by_sku` is one `GET /products.json?handle=…` (the REST API cannot search variants by
SKU). A listing is created with ONE call, the Admin GraphQL `productSet` mutation: product, variant
(SKU, price, barcode, tracked stock), its photos by URL (`files[].originalSource`; Shopify fetches
them) and its units at our location (`inventoryQuantities`), so `upload_photo` makes no call. Over
REST the same takes two (the product, then `inventory_levels/set`: a variant's `inventory_quantity`
is read-only) from a bucket that drains 2 calls a second, which capped publishing at one listing a
second. Reads, price and stock changes and withdrawals stay on REST. Withdrawing archives the product
(status `archived`): it leaves every sales channel but keeps its history and orders, and can be made
active again; Shopify records no reason.

Rate limits: REST's leaky bucket (40 calls, draining 2 per second on standard plans): the client
keeps its own model of the bucket, corrected by each `X-Shopify-Shop-Api-Call-Limit: n/40`, and
waits before a call that would overflow it, so bursts are paced instead of refused; a 429 (say,
another process using the same app) is retried after its Retry-After. GraphQL's limit is separate
and counted in query cost (`productSet` costs 10 of a 1,000-point bucket restoring 50 a second): a
THROTTLED answer is retried after the wait its `extensions.cost.throttleStatus` implies.

Configuration (`ShopifySettings`, SHOPIFY_* variables): SHOPIFY_SHOP (my-store for
https://my-store.myshopify.com) or SHOPIFY_BASE_URL; unset, the simulator at {SIMULATOR_URL}/shopify
when USE_SIMULATORS. SHOPIFY_ACCESS_TOKEN, SHOPIFY_API_VERSION, SHOPIFY_LOCATION_ID (default: the
first active location), SHOPIFY_WEBHOOK_SECRET (the app's client secret), SHOPIFY_CURRENCY (the
shop's), SHOPIFY_LEAK_RATE (default bucket size / 20, as Shopify's plans have it). Against the
simulator, token and secret default to the simulator's own.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import html
import math
import re
import time
from collections.abc import AsyncIterator, Mapping
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any, ClassVar

import httpx
from bs4 import BeautifulSoup
from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

from retail_pipeline.channels.plugin import Channel, ChannelCarrier, OrderWebhook
from retail_pipeline.domain.listings import ListingPolicy, ProductForListing
from retail_pipeline.domain.order_sources import (
    Window,
    clean,
    money,
    parse_time,
)
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
from retail_pipeline.integrations.retrying import Transient
from retail_pipeline.settings import get_settings

SIMULATOR_ACCESS_TOKEN = "shpat_simulator"  # the simulator takes any token unless configured otherwise
SIMULATOR_WEBHOOK_SECRET = (
    "shpss_simulator_app_secret"  # the simulator's default app secret (ShopifySimulatorConfig)
)
ALL_STATUSES = "active,archived,draft"
STATES = {"active": "live", "archived": "withdrawn", "draft": "ended"}
PRODUCT_FIELDS = "id,title,handle,status,variants,body_html,vendor,images"
_NEXT_LINK = re.compile(r'<([^>]*)>\s*;\s*rel="next"')


class ShopifySettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="SHOPIFY_", env_file=".env", extra="ignore")

    shop: str | None = Field(default=None, description="The shop's name, as in {shop}.myshopify.com.")
    base_url: str | None = Field(default=None, description="Overrides shop; e.g. the simulator's URL.")
    access_token: SecretStr | None = None
    api_version: str = "2025-07"
    location_id: int | None = Field(default=None, description="Where stock is set; unset: first active one.")
    webhook_secret: SecretStr | None = Field(default=None, description="The app's client secret.")
    currency: str = Field(default="NZD", description="The shop's currency; Shopify prices carry none.")
    leak_rate: float | None = Field(default=None, gt=0, description="Calls/s; unset: bucket size / 20.")
    timeout_seconds: float = Field(default=30.0, gt=0)
    max_attempts: int = Field(default=5, ge=1)

    def base(self) -> str:
        if self.base_url or self.shop:
            return (self.base_url or f"https://{self.shop}.myshopify.com").rstrip("/")
        if get_settings().use_simulators:
            return f"{get_settings().simulator_url.rstrip('/')}/shopify"
        raise ChannelError("shopify", "set SHOPIFY_SHOP or SHOPIFY_BASE_URL (or USE_SIMULATORS=true)")

    def _at_simulator(self) -> bool:
        return self.base().startswith(get_settings().simulator_url.rstrip("/"))

    def token(self) -> str:
        if self.access_token:
            return self.access_token.get_secret_value()
        if self._at_simulator():
            return SIMULATOR_ACCESS_TOKEN
        raise ChannelError("shopify", "set SHOPIFY_ACCESS_TOKEN")

    def secret(self) -> str:
        """The key `orders/create` webhooks are signed with: the app's client secret."""
        if self.webhook_secret:
            return self.webhook_secret.get_secret_value()
        if self._at_simulator():
            return SIMULATOR_WEBHOOK_SECRET
        raise ChannelError("shopify", "set SHOPIFY_WEBHOOK_SECRET (the app's client secret)")


def verify_webhook(raw_body: bytes, header_hmac: str | None, secret: str) -> bool:
    """Whether X-Shopify-Hmac-Sha256 is the base64 HMAC-SHA256 of the raw body under the app's secret
    (compared in constant time). Verify the bytes as received, before any JSON parsing."""
    if not header_hmac:
        return False
    expected = base64.b64encode(hmac.new(secret.encode(), raw_body, hashlib.sha256).digest()).decode()
    return hmac.compare_digest(expected.encode(), header_hmac.strip().encode())


def handle_for(sku: str) -> str:
    """The product handle our SKU becomes; Shopify normalises handles the same way."""
    return re.sub(r"[^\w]+|_+", "-", sku.lower()).strip("-")


def next_link(link_header: str | None) -> str | None:
    """The rel="next" URL of a Link header (RFC 8288), where Shopify puts the next page_info."""
    match = _NEXT_LINK.search(link_header or "")
    return match[1] if match else None


def describe_error(body: Any) -> str:
    """Shopify's `{"errors": …}` as one line: a string, a list, or field -> messages."""
    errors = body.get("errors", body) if isinstance(body, dict) else body
    if isinstance(errors, dict):
        return "; ".join(
            f"{field}: {', '.join(map(str, m)) if isinstance(m, list) else m}" for field, m in errors.items()
        )
    if isinstance(errors, list):
        return "; ".join(map(str, errors))
    return str(errors)


class CallBucket:
    """Our model of Shopify's leaky bucket. Each call reserves a place before it is sent (waiting
    until the model has drained enough); the level drains at the leak rate; every response's
    `X-Shopify-Shop-Api-Call-Limit` raises the model to at least what Shopify counted. A little
    headroom absorbs clock skew and requests still in flight."""

    def __init__(self, leak_rate: float | None = None, size: int = 40, headroom: int = 2, now=time.monotonic):
        self._configured_rate, self.size, self.headroom, self._now = leak_rate, size, headroom, now
        self._level, self._stamp = 0.0, now()
        self._lock = asyncio.Lock()

    @property
    def leak_rate(self) -> float:
        return self._configured_rate or self.size / 20  # 40 -> 2/s, 80 -> 4/s, Plus 400 -> 20/s

    def _drain(self) -> float:
        now = self._now()
        self._level = max(0.0, self._level - (now - self._stamp) * self.leak_rate)
        self._stamp = now
        return self._level

    async def reserve(self) -> None:
        async with self._lock:  # waiting inside the lock keeps callers in order
            wait = (self._drain() + 1 - (self.size - self.headroom)) / self.leak_rate
            if wait > 0:
                await asyncio.sleep(wait)
                self._drain()
            self._level += 1

    def observe(self, response: httpx.Response) -> None:
        used, _, size = response.headers.get("x-shopify-shop-api-call-limit", "").partition("/")
        if used.isdigit() and size.isdigit():
            self.size = int(size)
            self._level = max(self._drain(), float(used))

    def snapshot(self) -> CallBudget:
        level = self._drain()
        empty_at = datetime.now(UTC) + timedelta(seconds=level / self.leak_rate)
        return CallBudget(limit=self.size, used=math.ceil(level), resets_at=empty_at.isoformat())


def _body_html(description: str) -> str:
    paragraphs = [p.strip() for p in description.split("\n\n") if p.strip()]
    return "".join(f"<p>{html.escape(p).replace(chr(10), '<br>')}</p>" for p in paragraphs)


PRODUCT_SET = """
mutation createListing($input: ProductSetInput!) {
  productSet(input: $input, synchronous: true) {
    product {
      id handle title status
      variants(first: 1) { nodes { id sku price inventoryQuantity inventoryItem { id } } }
    }
    userErrors { field message code }
  }
}
"""


def product_set_input(draft: ListingDraft, image_urls: list[str], location_id: int) -> dict[str, Any]:
    """productSet's input for a draft: the REST request's fields under their GraphQL names."""
    rest = product_request(draft, image_urls)["product"]
    variant: dict[str, Any] = {
        "optionValues": [{"optionName": "Title", "name": "Default Title"}],
        "price": rest["variants"][0]["price"],
        "inventoryPolicy": "DENY",  # stock is tracked, so a sold-out product cannot oversell
        "taxable": True,
        "inventoryItem": {"sku": draft.sku, "tracked": True, "requiresShipping": True},
        "inventoryQuantities": [
            {
                "locationId": f"gid://shopify/Location/{location_id}",
                "name": "available",
                "quantity": draft.quantity,
            }
        ],
    }
    if draft.gtin:
        variant["barcode"] = draft.gtin
    product: dict[str, Any] = {
        "title": rest["title"],
        "descriptionHtml": rest["body_html"],
        "productType": rest["product_type"],
        "tags": [t.strip() for t in rest["tags"].split(",") if t.strip()],
        "handle": rest["handle"],
        "status": "ACTIVE",
        "productOptions": [{"name": "Title", "values": [{"name": "Default Title"}]}],
        "variants": [variant],
        "files": [{"originalSource": url, "contentType": "IMAGE", "alt": draft.title} for url in image_urls],
    }
    if draft.brand:
        product["vendor"] = draft.brand
    return product


def _gid_number(value: str) -> int:
    return int(str(value).rsplit("/", 1)[-1])


def product_request(draft: ListingDraft, image_urls: list[str]) -> dict[str, Any]:
    """The POST /products.json body for a draft (`fields`: product_type, tags, body_html)."""
    fields = draft.fields
    tags = [*fields.get("tags", ()), draft.condition.capitalize()]
    variant: dict[str, Any] = {
        "sku": draft.sku,
        "price": f"{draft.price:.2f}",
        "inventory_management": "shopify",  # stock is tracked, so a sold-out product cannot oversell
        "inventory_policy": "deny",
        "requires_shipping": True,
        "taxable": True,
    }
    if draft.gtin:
        variant["barcode"] = draft.gtin
    product: dict[str, Any] = {
        "title": draft.title,
        "body_html": fields.get("body_html") or _body_html(draft.description),
        "product_type": fields.get("product_type", ""),
        "tags": ", ".join(dict.fromkeys(tags)),
        "handle": handle_for(draft.sku),
        "status": "active",
        "variants": [variant],
        "images": [{"src": url, "alt": draft.title} for url in image_urls],
    }
    if draft.brand:
        product["vendor"] = draft.brand
    return {"product": product}


class ShopifyClient(ChannelClient):
    channel: ClassVar[str] = "shopify"

    def __init__(
        self,
        settings: ShopifySettings | None = None,
        *,
        transport: httpx.AsyncBaseTransport | None = None,
        policy: RetryPolicy | None = None,
    ):
        self.settings = settings or ShopifySettings()
        base = self.settings.base()
        self._storefront = base
        self._api = f"{base}/admin/api/{self.settings.api_version}"
        self._bucket = CallBucket(self.settings.leak_rate)
        common = {
            "headers": {"X-Shopify-Access-Token": self.settings.token(), "Accept": "application/json"},
            "describe": describe_error,
            "transport": transport,
            "timeout": self.settings.timeout_seconds,
            "policy": policy or RetryPolicy(max_attempts=self.settings.max_attempts),
        }
        self._http = ChannelHTTP(
            self.channel, before_send=self._bucket.reserve, on_response=self._bucket.observe, **common
        )
        # GraphQL's cost-based limit is its own: its calls never wait on the REST bucket.
        self._graphql = ChannelHTTP(self.channel, **common)
        self._location_id = self.settings.location_id

    async def aclose(self) -> None:
        await self._http.aclose()
        await self._graphql.aclose()

    def budget(self) -> CallBudget:
        return self._bucket.snapshot()

    @property
    def calls(self) -> int:
        return self._http.calls + self._graphql.calls

    # --- listings

    def create_requests(self, draft: ListingDraft, photo_refs: dict[str, str]) -> dict[str, Any]:
        refs = [photo_refs.get(p.sha256) or p.public_url for p in draft.photos]
        return {"product": product_request(draft, refs)}

    async def validate(self, draft: ListingDraft) -> list[str]:
        problems = []
        if not draft.title.strip():
            problems.append("title is required")
        if len(draft.title) > 255:
            problems.append(f"title is {len(draft.title)} characters; Shopify allows 255")
        if not handle_for(draft.sku):
            problems.append(f"SKU {draft.sku!r} needs a letter or digit: the product handle is made from it")
        if len(draft.sku) > 255:
            problems.append("SKU is longer than 255 characters")
        if draft.currency != self.settings.currency:
            problems.append(f"price is in {draft.currency}; the shop sells in {self.settings.currency}")
        if draft.price <= 0:
            problems.append("price must be above 0")
        if draft.quantity < 0:
            problems.append("quantity cannot be negative")
        if len(str(draft.fields.get("product_type", ""))) > 255:
            problems.append("product_type is longer than 255 characters")
        tags = list(draft.fields.get("tags", ()))
        if len(tags) >= 250:
            problems.append(f"{len(tags)} tags; Shopify allows 250 (one is kept for the condition)")
        problems += [f"tag {t!r} is longer than 255 characters" for t in tags if len(str(t)) > 255]
        return problems + photo_problems(draft)

    async def upload_photo(self, photo: Photo) -> str:
        return photo_url(self.channel, photo)

    async def find_by_sku(self, sku: str) -> RemoteListing | None:
        product = await self._product_by_sku(sku)
        return None if product is None else self._remote(product, sku)

    async def create(self, draft: ListingDraft, *, photo_refs: dict[str, str] | None = None) -> RemoteListing:
        """One productSet call (after the location, read once per client)."""
        urls = [photo_url(self.channel, p, photo_refs) for p in draft.photos]
        body = {
            "query": PRODUCT_SET,
            "variables": {"input": product_set_input(draft, urls, await self._location())},
        }

        async def attempt(after_ambiguous: bool) -> RemoteListing:
            # A failed attempt may still have created the product: look before creating again.
            if after_ambiguous and (existing := await self._product_by_sku(draft.sku)):
                return self._remote(existing, draft.sku)
            reply = await self._graphql.send("POST", f"{self._api}/graphql.json", json_body=body)
            return self._created(reply.data, draft.sku)

        return await self._graphql.retrying(attempt)

    def _created(self, answer: Any, sku: str) -> RemoteListing:
        """productSet's answer as a listing; THROTTLED is worth another attempt, other errors are not."""
        answer = answer if isinstance(answer, dict) else {}
        errors = answer.get("errors") or []
        if any((e.get("extensions") or {}).get("code") == "THROTTLED" for e in errors):
            status = ((answer.get("extensions") or {}).get("cost") or {}).get("throttleStatus") or {}
            cost = ((answer.get("extensions") or {}).get("cost") or {}).get("requestedQueryCost") or 10
            shortfall = max(0.0, float(cost) - float(status.get("currentlyAvailable") or 0))
            wait = shortfall / float(status.get("restoreRate") or 50) + 0.05
            raise Transient("GraphQL THROTTLED", ambiguous=False, status=200, wait=wait)
        if errors:
            raise ChannelError(self.channel, "GraphQL: " + "; ".join(str(e.get("message")) for e in errors),
                               status=200, retryable=False, details=answer)  # fmt: skip
        payload = (answer.get("data") or {}).get("productSet") or {}
        if payload.get("userErrors"):
            described = "; ".join(
                f"{'.'.join(e.get('field') or [])}: {e.get('message')}" for e in payload["userErrors"]
            )
            raise ChannelError(self.channel, f"productSet refused: {described}", status=422, retryable=False,
                               details=payload["userErrors"])  # fmt: skip
        product = payload.get("product")
        if not product:
            raise ChannelError(
                self.channel, "productSet answered no product", status=200, retryable=False, details=answer
            )
        variant = (product.get("variants") or {}).get("nodes", [{}])[0]
        return self._remote(
            {
                "id": _gid_number(product["id"]),
                "title": product.get("title"),
                "handle": product.get("handle"),
                "status": str(product.get("status", "")).lower(),
                "variants": [{
                    "id": _gid_number(variant["id"]), "sku": variant.get("sku"), "price": variant.get("price"),
                    "inventory_quantity": variant.get("inventoryQuantity"),
                    "inventory_item_id": _gid_number(variant["inventoryItem"]["id"]),
                }],
            },
            sku,
        )  # fmt: skip

    async def update_price(self, listing: RemoteListing, price: Decimal) -> RemoteListing:
        listing = await self._with_ids(listing)
        variant_id = listing.remote_ids["variant_id"]
        reply = await self._http.call(
            "PUT",
            f"{self._api}/variants/{variant_id}.json",
            json_body={"variant": {"id": variant_id, "price": f"{price:.2f}"}},
        )
        return replace(listing, price=Decimal(reply.data["variant"]["price"]))

    async def update_quantity(self, listing: RemoteListing, quantity: int) -> RemoteListing:
        listing = await self._with_ids(listing)
        body = {
            "location_id": await self._location(),
            "inventory_item_id": listing.remote_ids["inventory_item_id"],
            "available": quantity,
        }
        reply = await self._http.call("POST", f"{self._api}/inventory_levels/set.json", json_body=body)
        return replace(listing, quantity=reply.data["inventory_level"]["available"])

    async def withdraw(self, listing: RemoteListing, reason: str) -> RemoteListing:
        """Archives the product; Shopify keeps no reason, so `reason` stays in our activity log."""
        reply = await self._http.call(
            "PUT",
            f"{self._api}/products/{listing.external_id}.json",
            json_body={"product": {"id": int(listing.external_id), "status": "archived"}},
        )
        return self._remote(reply.data["product"], listing.sku)

    # A Shopify product has no field for a part number or for the item's condition.
    selling_lacks = frozenset({"mpn", "condition"})

    async def selling(self) -> AsyncIterator[RemoteListing]:
        params = {"limit": 250, "status": ALL_STATUSES, "fields": PRODUCT_FIELDS}
        async for product in self._pages("products", params):
            yield self._remote(product)

    # --- orders and fulfilment (issue 5)

    async def orders(
        self,
        *,
        created_at_min: datetime | None = None,
        updated_at_min: datetime | None = None,
        status: str = "any",
    ) -> AsyncIterator[dict[str, Any]]:
        """Orders as Shopify lists them, newest first. `status="any"`: fulfilled orders are archived
        (closed), and the default (`open`) would hide them."""
        params: dict[str, Any] = {"limit": 250, "status": status}
        if created_at_min:
            params["created_at_min"] = created_at_min.isoformat()
        if updated_at_min:
            params["updated_at_min"] = updated_at_min.isoformat()
        async for order in self._pages("orders", params):
            yield order

    async def fulfil(
        self,
        order_id: int,
        *,
        tracking_number: str,
        tracking_company: str,
        tracking_url: str | None = None,
        notify_customer: bool = False,
    ) -> dict[str, Any]:
        """Fulfils everything still open on the order (fulfillment orders API), with tracking.
        Idempotent: once the order is fulfilled, the fulfillment with this tracking number is returned."""
        reply = await self._http.call("GET", f"{self._api}/orders/{order_id}/fulfillment_orders.json")
        open_orders = [fo for fo in reply.data["fulfillment_orders"] if fo["status"] == "open"]
        if not open_orders:
            if done := await self._fulfillment(order_id, tracking_number):
                return done
            raise ChannelError(self.channel, f"order {order_id} has nothing left to fulfil", status=422)
        body = {
            "fulfillment": {
                "line_items_by_fulfillment_order": [{"fulfillment_order_id": fo["id"]} for fo in open_orders],
                "tracking_info": {
                    "number": tracking_number,
                    "company": tracking_company,
                    "url": tracking_url,
                },
                "notify_customer": notify_customer,
            }
        }

        async def attempt(after_ambiguous: bool) -> dict[str, Any]:
            if after_ambiguous and (done := await self._fulfillment(order_id, tracking_number)):
                return done
            reply = await self._http.send("POST", f"{self._api}/fulfillments.json", json_body=body)
            return reply.data["fulfillment"]

        return await self._http.retrying(attempt)

    async def fulfillment(self, order_id: int, tracking_number: str) -> dict[str, Any] | None:
        """The order's fulfillment with this tracking number, if Shopify has one."""
        return await self._fulfillment(order_id, tracking_number)

    async def subscribe_webhook(self, topic: str, address: str) -> dict[str, Any]:
        """Subscribes `address` to `topic` (e.g. orders/create) unless it already is."""
        reply = await self._http.call(
            "GET", f"{self._api}/webhooks.json", params={"topic": topic, "address": address}
        )
        if reply.data["webhooks"]:
            return reply.data["webhooks"][0]
        body = {"webhook": {"topic": topic, "address": address, "format": "json"}}
        return (await self._http.call("POST", f"{self._api}/webhooks.json", json_body=body)).data["webhook"]

    # --- helpers

    async def _pages(self, resource: str, params: dict[str, Any]) -> AsyncIterator[dict[str, Any]]:
        url: str | None = f"{self._api}/{resource}.json"
        while url:
            reply = await self._http.call("GET", url, params=params)
            for item in reply.data[resource]:
                yield item
            url, params = next_link(reply.headers.get("link")), None  # the next URL carries its own query

    async def _product_by_sku(self, sku: str) -> dict[str, Any] | None:
        reply = await self._http.call(
            "GET",
            f"{self._api}/products.json",
            params={"handle": handle_for(sku), "status": ALL_STATUSES, "fields": PRODUCT_FIELDS},
        )
        return next(
            (p for p in reply.data["products"] if any(v.get("sku") == sku for v in p.get("variants", []))),
            None,
        )

    async def _fulfillment(self, order_id: int, tracking_number: str) -> dict[str, Any] | None:
        reply = await self._http.call("GET", f"{self._api}/orders/{order_id}/fulfillments.json")
        return next(
            (f for f in reply.data["fulfillments"] if f.get("tracking_number") == tracking_number), None
        )

    async def _with_ids(self, listing: RemoteListing) -> RemoteListing:
        """The listing with its variant and inventory item ids, read from Shopify if we lack them."""
        if listing.remote_ids.get("variant_id") and listing.remote_ids.get("inventory_item_id"):
            return listing
        reply = await self._http.call(
            "GET", f"{self._api}/products/{listing.external_id}.json", params={"fields": PRODUCT_FIELDS}
        )
        return self._remote(reply.data["product"], listing.sku)

    async def _location(self) -> int:
        if self._location_id is None:
            reply = await self._http.call("GET", f"{self._api}/locations.json")
            active = [loc for loc in reply.data["locations"] if loc.get("active")]
            if not active:
                raise ChannelError(self.channel, "the shop has no active location to hold stock")
            self._location_id = active[0]["id"]
        return self._location_id

    def _remote(self, product: dict[str, Any], sku: str | None = None) -> RemoteListing:
        variants = product.get("variants") or [{}]
        variant = next((v for v in variants if sku and v.get("sku") == sku), variants[0])
        body = product.get("body_html")
        return RemoteListing(
            external_id=str(product["id"]),
            sku=variant.get("sku"),
            price=Decimal(variant["price"]) if variant.get("price") is not None else None,
            quantity=variant.get("inventory_quantity"),
            state=STATES.get(product.get("status", ""), "ended"),
            title=product.get("title"),
            url=f"{self._storefront}/products/{product['handle']}" if product.get("handle") else None,
            remote_ids={
                "product_id": product["id"],
                "variant_id": variant.get("id"),
                "inventory_item_id": variant.get("inventory_item_id"),
                "handle": product.get("handle"),
            },
            gtin=variant.get("barcode") or None,
            brand=product.get("vendor") or None,
            description=BeautifulSoup(body, "html.parser").get_text(" ", strip=True) if body else None,
            currency=self.settings.currency,  # Shopify prices carry none: the shop's
            photos=tuple(i["src"] for i in product.get("images") or () if i.get("src")),
        )


# --- its orders: Shopify orders (Admin REST orders.json and the orders/* webhooks) as our orders


def _shopify_status(raw: Mapping[str, Any]) -> OrderStatus:
    if raw.get("cancelled_at"):
        return "cancelled"
    financial = raw.get("financial_status")
    if financial == "refunded":
        return "refunded"
    return "accepted" if financial in ("paid", "partially_refunded") else "pending_payment"


def order_from_shopify(raw: Mapping[str, Any]) -> ChannelOrder:
    """An Admin REST order (orders.json, or the orders/create webhook body: the same object)."""
    shipping = raw.get("shipping_address") or {}
    person = raw.get("customer") or {}
    customer = None
    if person.get("id") is not None:
        name = " ".join(p for p in (person.get("first_name"), person.get("last_name")) if p)
        customer = Customer(
            external_customer_id=str(person["id"]),
            name=name or clean(shipping.get("name")),
            email=clean(person.get("email")) or clean(raw.get("email")),
            phone=clean(person.get("phone")) or clean(shipping.get("phone")),
            locale=clean(raw.get("customer_locale")),
        )
    address = None
    if shipping:
        address = Address(
            name=clean(shipping.get("name")),
            company=clean(shipping.get("company")),
            street_1=clean(shipping.get("address1")),
            street_2=clean(shipping.get("address2")),
            city=clean(shipping.get("city")),
            state=clean(shipping.get("province_code")),
            zip_code=clean(shipping.get("zip")),
            country_iso_code=clean(shipping.get("country_code")),
            phone=clean(shipping.get("phone")),
        )
    lines = tuple(
        OrderLine(
            external_line_id=str(line["id"]),
            sku=clean(line.get("sku")),
            title=line.get("title"),
            quantity=int(line.get("quantity") or 1),
            unit_price=money(line.get("price")),
            remote_state=line.get("fulfillment_status"),
        )
        for line in raw.get("line_items") or []
    )
    return ChannelOrder(
        channel="shopify",
        external_order_id=str(raw["id"]),
        placed_at=parse_time(raw["created_at"]),
        currency=raw.get("currency") or "NZD",
        total=money(raw.get("total_price")),
        subtotal=money(raw.get("subtotal_price")),
        shipping_total=sum((money(s.get("price")) for s in raw.get("shipping_lines") or []), Decimal(0)),
        tax_total=money(raw.get("total_tax")),
        lines=lines,
        initial_status=_shopify_status(raw),
        remote_state=raw.get("financial_status"),
        customer=customer,
        shipping_address=address,
        raw=dict(raw),
    )


async def shopify_orders(client: Any, window: Window) -> AsyncIterator[ChannelOrder]:
    async for raw in client.orders(created_at_min=window.start, status="any"):
        yield order_from_shopify(raw)


# --- the plug-in: what the channel can do, for the registry


def listing_fields(product: ProductForListing) -> dict[str, Any]:
    """Shopify has no marketplace taxonomy to choose from: our own category goes as the free-text
    product_type (so `CHANNEL.taxonomy` is None and `channel_categories` has nothing to do here)."""
    tags = sorted({t for t in (*product.keywords, product.brand or "", product.category or "") if t})[:200]
    return {"product_type": product.category or "General", "tags": tags, "vendor": product.brand}


LISTING = ListingPolicy(
    "shopify",
    "NZD",
    PricingPolicy(
        fee_rate=Decimal("0.029"), fixed_fee=Decimal("0.30"), shipping_cost=Decimal("0"), rounding="whole"
    ),
    listing_fields,
    max_title=255,
    max_photos=250,
    min_photos=0,
)


async def push_tracking(client: Any, order, lines: list, shipment, carrier: ChannelCarrier) -> dict[str, Any]:
    """A fulfillment (fulfillment orders API) with the tracking number, company and link."""
    fulfillment = await client.fulfil(
        int(order.external_order_id),
        tracking_number=shipment.tracking_pin,
        tracking_company=carrier.name,
        tracking_url=carrier.url,
        notify_customer=True,
    )
    return {"order_id": order.external_order_id, "fulfillment_id": fulfillment.get("id")}


async def find_tracking(client: Any, order, lines: list, shipment) -> dict[str, Any] | None:
    found = await client.fulfillment(int(order.external_order_id), shipment.tracking_pin)
    return {"order_id": order.external_order_id, "fulfillment_id": found.get("id")} if found else None


def webhook_secret() -> str:
    """The app's client secret (SHOPIFY_WEBHOOK_SECRET; the simulator's own when simulating)."""
    return ShopifySettings().secret()


CHANNEL = Channel(
    name="shopify",
    title="Shopify",
    client=f"{__name__}:ShopifyClient",
    listing=LISTING,
    orders=shopify_orders,
    push_tracking=push_tracking,
    find_tracking=find_tracking,
    order_webhook=OrderWebhook(
        secret=webhook_secret,
        verify=verify_webhook,  # X-Shopify-Hmac-Sha256: base64 HMAC-SHA256 of the raw body
        signature_header="X-Shopify-Hmac-Sha256",
        signature_scheme="the base64 HMAC-SHA256 of the raw body under the app's client secret",
        topic_header="X-Shopify-Topic",
        id_header="X-Shopify-Webhook-Id",
        topic_prefix="orders/",
        to_order=order_from_shopify,
    ),
    carrier_names={
        "canada_post": "Canada Post",
        "nz_post": "NZ Post",
    },  # tracking_company (its known carriers list)
)

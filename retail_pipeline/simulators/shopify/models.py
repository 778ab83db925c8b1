"""Our Shopify store behind the Admin REST API: its state and behaviour (moto-style).

Products with variants and images, inventory levels at locations, orders with fulfillment orders and
fulfillments, webhook subscriptions with their signed deliveries, and the leaky bucket that limits
Admin API calls. Business timestamps follow the simulated clock; the bucket drains in real time,
because the rate a client can sustain is a wall-clock matter, not a simulated one.

Market hooks: `buy(sku, quantity, buyer)` checks out an order as a shopper would (and queues the
signed `orders/create` webhook), `create_foreign_listing(...)` adds a product made in the Shopify
admin rather than by us, `live_skus()` says what can be bought, `deliver_webhooks()` sends what is queued.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import io
import itertools
import json
import random
import re
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import httpx
from PIL import Image as PILImage
from PIL import UnidentifiedImageError
from pydantic import BaseModel, ConfigDict, Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from ..buyers import Buyer, NotBuyable, random_buyer
from ..existing_listings import ExistingListing, check_batch
from . import responses
from .exceptions import ShopifyError, invalid, missing_parameter, not_found, refused
from .responses import CENT

if TYPE_CHECKING:
    from ..app import Simulator

DEFAULT_API_SECRET = "shpss_simulator_app_secret"
# Stable versions Shopify still serves, oldest first; REST Admin is "legacy" but versioned as before.
SUPPORTED_VERSIONS = ("2024-10", "2025-01", "2025-04", "2025-07", "2025-10")
PRODUCT_STATUSES = ("active", "archived", "draft")
INVENTORY_POLICIES = ("deny", "continue")
WEBHOOK_TOPICS = (
    "orders/create", "orders/updated", "orders/paid", "orders/fulfilled", "orders/cancelled",
    "products/create", "products/update", "products/delete", "inventory_levels/update", "app/uninstalled",
)  # fmt: skip


class ShopifySimulatorConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    shop: str = Field("retail-pipeline-sim", description="The shop's name: {shop}.myshopify.com.")
    access_token: str | None = Field(None, description="The one accepted token; None = any non-empty token.")
    api_secret: str = Field(DEFAULT_API_SECRET, description="The app's client secret, which signs webhooks.")
    currency: str = "NZD"
    bucket_size: int = Field(40, ge=1, description="Leaky bucket size (40 on standard plans, 400 on Plus).")
    leak_rate: float = Field(2.0, gt=0, description="Calls per second that drain from the bucket.")
    webhook_url: str | None = Field(
        None, description="An orders/create subscription configured with the app (as shopify.app.toml does)."
    )

    @classmethod
    def from_env(cls) -> ShopifySimulatorConfig:
        """SIMULATOR_SHOPIFY_SHOP, _ACCESS_TOKEN, _API_SECRET, _CURRENCY, _BUCKET_SIZE, _LEAK_RATE and
        _WEBHOOK_URL, each optional."""
        return cls.model_validate(_FromEnvironment().model_dump())


class _FromEnvironment(BaseSettings, ShopifySimulatorConfig):
    model_config = SettingsConfigDict(env_prefix="SIMULATOR_SHOPIFY_", extra="ignore")


class LeakyBucket:
    """Every call adds one; the bucket drains `leak_rate` per second; a call that would overflow is refused."""

    def __init__(self, size: int, leak_rate: float, now: Callable[[], float] = time.monotonic):
        self.size, self.leak_rate, self._now = size, leak_rate, now
        self._level, self._stamp = 0.0, now()
        self._lock = threading.Lock()

    def take(self) -> tuple[bool, float, float]:
        """(allowed, level after this call, seconds until a call would fit)."""
        with self._lock:
            now = self._now()
            self._level = max(0.0, self._level - (now - self._stamp) * self.leak_rate)
            self._stamp = now
            if self._level + 1 > self.size:
                return False, self._level, (self._level + 1 - self.size) / self.leak_rate
            self._level += 1
            return True, self._level, 0.0


# --- records


@dataclass
class Variant:
    id: int
    product_id: int
    inventory_item_id: int
    title: str
    position: int
    sku: str | None
    price: Decimal
    compare_at_price: Decimal | None
    barcode: str | None
    grams: int
    inventory_management: str | None
    inventory_policy: str
    requires_shipping: bool
    taxable: bool
    created_at: datetime
    updated_at: datetime

    @property
    def tracked(self) -> bool:
        return self.inventory_management == "shopify"


@dataclass
class Image:
    id: int
    product_id: int
    position: int
    src: str | None  # the URL Shopify was given; None when uploaded as an attachment
    filename: str
    content: bytes | None  # an attachment's bytes, served from the shop's CDN path
    width: int
    height: int
    alt: str | None
    created_at: datetime


@dataclass
class Product:
    id: int
    title: str
    handle: str
    body_html: str | None
    vendor: str
    product_type: str
    tags: list[str]
    status: str
    created_at: datetime
    updated_at: datetime
    published_at: datetime | None
    variants: list[Variant] = field(default_factory=list)
    images: list[Image] = field(default_factory=list)


@dataclass
class Location:
    id: int
    name: str
    address1: str
    city: str
    zip: str
    province: str
    province_code: str
    country_code: str
    country_name: str
    created_at: datetime


@dataclass
class InventoryLevel:
    inventory_item_id: int
    location_id: int
    available: int
    updated_at: datetime


@dataclass
class LineItem:
    id: int
    variant_id: int
    product_id: int
    inventory_item_id: int
    sku: str | None
    title: str
    quantity: int
    price: Decimal
    fulfilled: int = 0


@dataclass
class FulfillmentOrder:
    id: int
    order_id: int
    location_id: int
    remaining: dict[int, int]  # line item id -> quantity still to fulfil
    line_item_ids: dict[int, int]  # line item id -> this fulfillment order's own line item id
    created_at: datetime
    updated_at: datetime

    @property
    def status(self) -> str:
        return "open" if any(self.remaining.values()) else "closed"


@dataclass
class Fulfillment:
    id: int
    order_id: int
    location_id: int
    name: str
    quantities: dict[int, int]  # line item id -> quantity
    tracking_company: str | None
    tracking_number: str | None
    tracking_url: str | None
    notify_customer: bool
    created_at: datetime


@dataclass
class Order:
    id: int
    number: int
    customer_id: int
    buyer: Buyer
    currency: str
    line_items: list[LineItem]
    created_at: datetime
    updated_at: datetime
    financial_status: str = "paid"
    closed_at: datetime | None = None
    cancelled_at: datetime | None = None
    fulfillment_orders: list[FulfillmentOrder] = field(default_factory=list)
    fulfillments: list[Fulfillment] = field(default_factory=list)

    @property
    def status(self) -> str:
        if self.cancelled_at:
            return "cancelled"
        return "closed" if self.closed_at else "open"

    @property
    def fulfillment_status(self) -> str | None:
        fulfilled = sum(item.fulfilled for item in self.line_items)
        if fulfilled == 0:
            return None
        return "fulfilled" if fulfilled == sum(item.quantity for item in self.line_items) else "partial"


@dataclass
class Subscription:
    id: int
    topic: str
    address: str
    api_version: str
    created_at: datetime


@dataclass
class WebhookDelivery:
    webhook_id: str
    topic: str
    address: str
    headers: dict[str, str]
    body: bytes
    attempts: int = 0
    response_status: int | None = None
    error: str | None = None
    sending: bool = False

    @property
    def delivered(self) -> bool:
        return self.response_status is not None and 200 <= self.response_status < 300


def sign_webhook(body: bytes, secret: str) -> str:
    """X-Shopify-Hmac-Sha256: base64 of the HMAC-SHA256 of the raw body, keyed with the app's secret."""
    return base64.b64encode(hmac.new(secret.encode(), body, hashlib.sha256).digest()).decode()


def normalize_handle(text: str) -> str:
    """Shopify's handle rules: lower case, runs of anything but letters and digits become one hyphen."""
    return re.sub(r"[^\w]+|_+", "-", text.lower()).strip("-")


# --- input parsing, with Shopify's validation messages


def _field_error(field_name: str, problem: str, nested: str | None) -> ShopifyError:
    """Rails-style: a nested record's problems are listed under its association, named in full."""
    if nested:
        return invalid(nested, f"{field_name.replace('_', ' ').capitalize()} {problem}")
    return invalid(field_name, problem)


def _money(value: Any, field_name: str, *, nested: str | None = None) -> Decimal:
    try:
        amount = Decimal(str(value))
    except (InvalidOperation, ValueError):
        amount = Decimal("NaN")
    if not amount.is_finite():
        raise _field_error(field_name, "must be a number", nested)
    if amount < 0:
        raise _field_error(field_name, "must be greater than or equal to 0", nested)
    return amount.quantize(CENT)


def _choice(
    value: Any, field_name: str, allowed: tuple[str | None, ...], *, nested: str | None = None
) -> Any:
    if value not in allowed:
        raise _field_error(field_name, "is not included in the list", nested)
    return value


def _tags(value: Any) -> list[str]:
    parts = value if isinstance(value, list) else str(value or "").split(",")
    tags = list(dict.fromkeys(str(t).strip() for t in parts if str(t).strip()))
    if len(tags) > 250:
        raise invalid("tags", "Product can't have more than 250 tags")
    if any(len(t) > 255 for t in tags):
        raise invalid("tags", "Tags must be 255 characters or fewer")
    return tags


def _grams(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int | float | str | None):
        raise invalid("variants", "Grams must be an integer")
    try:
        return int(value or 0)
    except ValueError:
        raise invalid("variants", "Grams must be an integer") from None


def _text(value: Any, field_name: str, *, limit: int = 255) -> str:
    text = "" if value is None else str(value)
    if len(text) > limit:
        raise invalid(field_name, f"is too long (maximum is {limit} characters)")
    return text


class ShopifyBackend:
    def __init__(self, sim: Simulator, config: ShopifySimulatorConfig):
        self.config = config
        self.clock = sim.clock
        self._rng = random.Random(f"{sim.config.seed}:shopify:buyers")
        self._webhook_ids = random.Random(f"{sim.config.seed}:shopify:webhooks")
        self._lock = threading.RLock()
        self._buckets: dict[str, LeakyBucket] = {}
        # Shopify ids are large integers that grow with creation; these keep that shape.
        self._ids = {
            kind: itertools.count(start)
            for kind, start in (
                ("product", 8_100_000_000_000),
                ("variant", 45_100_000_000_000),
                ("inventory_item", 47_200_000_000_000),
                ("image", 33_300_000_000_000),
                ("order", 5_600_000_000_000),
                ("customer", 7_400_000_000_000),
                ("line_item", 14_500_000_000_000),
                ("fulfillment_order", 6_300_000_000_000),
                ("fo_line_item", 13_900_000_000_000),
                ("fulfillment", 5_100_000_000_000),
                ("webhook", 1_200_000_000_000),
            )
        }
        self._order_numbers = itertools.count(1001)
        self.products: dict[int, Product] = {}
        self.inventory_levels: dict[tuple[int, int], InventoryLevel] = {}
        self.orders: dict[int, Order] = {}
        self.subscriptions: dict[int, Subscription] = {}
        self.webhook_deliveries: list[WebhookDelivery] = []
        self.webhook_transport: httpx.AsyncBaseTransport | None = None  # tests capture deliveries here
        opened = sim.config.start_time
        self.locations = [
            Location(
                73_900_000_000, "Auckland warehouse", "12 Hautu Drive", "Auckland", "2104", "Auckland",
                "AUK", "NZ", "New Zealand", opened,
            )
        ]  # fmt: skip
        if config.webhook_url:
            self.subscribe("orders/create", config.webhook_url, SUPPORTED_VERSIONS[-1])

    @property
    def shop_domain(self) -> str:
        return f"{self.config.shop}.myshopify.com"

    def _next(self, kind: str) -> int:
        return next(self._ids[kind])

    # --- auth and limits

    def accepts(self, token: str | None) -> bool:
        return bool(token) and (self.config.access_token is None or token == self.config.access_token)

    def bucket(self, token: str) -> LeakyBucket:
        """One bucket per app and shop, i.e. per access token."""
        with self._lock:
            if token not in self._buckets:
                self._buckets[token] = LeakyBucket(self.config.bucket_size, self.config.leak_rate)
            return self._buckets[token]

    def set_rate_limit(self, bucket_size: int, leak_rate: float) -> None:
        """Another plan's limits (e.g. Shopify Plus: 400 and 20/s); buckets start empty again."""
        with self._lock:
            self.config = self.config.model_copy(update={"bucket_size": bucket_size, "leak_rate": leak_rate})
            self._buckets.clear()

    # --- products

    def product(self, product_id: int) -> Product:
        product = self.products.get(product_id)
        if product is None:
            raise not_found()
        return product

    def variant(self, variant_id: int) -> tuple[Product, Variant]:
        for product in self.products.values():
            for variant in product.variants:
                if variant.id == variant_id:
                    return product, variant
        raise not_found()

    def list_products(
        self,
        *,
        ids: set[int] | None = None,
        handles: set[str] | None = None,
        statuses: set[str] | None = None,
        product_type: str | None = None,
        vendor: str | None = None,
        title: str | None = None,
        since_id: int | None = None,
        updated_at_min: datetime | None = None,
    ) -> list[Product]:
        with self._lock:
            products = sorted(self.products.values(), key=lambda p: p.id)
        return [
            p
            for p in products
            if (ids is None or p.id in ids)
            and (handles is None or p.handle in handles)
            and (statuses is None or p.status in statuses)
            and (product_type is None or p.product_type == product_type)
            and (vendor is None or p.vendor == vendor)
            and (title is None or title.lower() in p.title.lower())
            and (since_id is None or p.id > since_id)
            and (updated_at_min is None or p.updated_at >= updated_at_min)
        ]

    def create_product(self, data: dict[str, Any]) -> Product:
        title = _text(data.get("title"), "title")
        if not title.strip():
            raise invalid("title", "can't be blank")
        now = self.clock.now()
        status = _choice(data.get("status", "active"), "status", PRODUCT_STATUSES)
        with self._lock:
            product = Product(
                id=self._next("product"),
                title=title,
                handle=self._unique_handle(data.get("handle") or title),
                body_html=data.get("body_html"),
                vendor=_text(data.get("vendor") or self.config.shop, "vendor"),
                product_type=_text(data.get("product_type"), "product_type"),
                tags=_tags(data.get("tags")),
                status=status,
                created_at=now,
                updated_at=now,
                published_at=now if data.get("published", True) is not False else None,
            )
            variants = data.get("variants") or [{}]  # every product has at least its default variant
            if not isinstance(variants, list) or not all(isinstance(v, dict) for v in variants):
                raise missing_parameter("variants")
            if len(variants) > 100:
                raise invalid("variants", "Product can't have more than 100 variants")
            product.variants = [self._new_variant(product, v, n, now) for n, v in enumerate(variants, 1)]
            titles = [v.title for v in product.variants]
            if duplicate := next((t for t in titles if titles.count(t) > 1), None):
                raise invalid("base", f"The variant '{duplicate}' already exists.")
            images = data.get("images") or []
            if not isinstance(images, list) or not all(isinstance(i, dict) for i in images):
                raise missing_parameter("images")
            product.images = [self._new_image(product, i, n, now) for n, i in enumerate(images, 1)]
            self.products[product.id] = product
            for variant in product.variants:  # new tracked items are stocked at the primary location
                if variant.tracked:
                    self._level(variant.inventory_item_id, self.locations[0].id, now)
            return product

    def _new_variant(self, product: Product, data: dict[str, Any], position: int, now: datetime) -> Variant:
        management = data.get("inventory_management")
        return Variant(
            id=self._next("variant"),
            product_id=product.id,
            inventory_item_id=self._next("inventory_item"),
            title=str(data.get("option1") or "Default Title"),
            position=position,
            sku=data.get("sku") or None,
            price=_money(data.get("price", "0.00"), "price", nested="variants"),
            compare_at_price=(
                _money(data["compare_at_price"], "compare_at_price", nested="variants")
                if data.get("compare_at_price") is not None
                else None
            ),
            barcode=data.get("barcode") or None,
            grams=_grams(data.get("grams")),
            inventory_management=_choice(
                management, "inventory_management", (None, "shopify"), nested="variants"
            ),
            inventory_policy=_choice(
                data.get("inventory_policy", "deny"),
                "inventory_policy",
                INVENTORY_POLICIES,
                nested="variants",
            ),
            requires_shipping=bool(data.get("requires_shipping", True)),
            taxable=bool(data.get("taxable", True)),
            created_at=now,
            updated_at=now,
        )

    def _new_image(self, product: Product, data: dict[str, Any], position: int, now: datetime) -> Image:
        image_id = self._next("image")
        if data.get("attachment"):
            try:
                content = base64.b64decode(str(data["attachment"]), validate=True)
                with PILImage.open(io.BytesIO(content)) as picture:
                    width, height, kind = picture.width, picture.height, (picture.format or "jpeg").lower()
            except (binascii.Error, UnidentifiedImageError, ValueError):
                raise invalid("images", "Image attachment is not a valid image") from None
            stem = str(data.get("filename") or product.handle).rsplit(".", 1)[0]
            filename = f"{stem}-{image_id}.{kind.replace('jpeg', 'jpg')}"  # unique: the CDN path finds it
            return Image(
                image_id, product.id, position, None, filename, content, width, height, data.get("alt"), now
            )
        src = str(data.get("src") or "")
        parts = urlsplit(src)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise invalid(
                "images", f"Image URL is invalid: {src!r}" if src else "Image src or attachment is required"
            )
        # Shopify downloads the image later; its size is unknown until then.
        filename = parts.path.rsplit("/", 1)[-1] or f"{product.handle}-{position}.jpg"
        return Image(image_id, product.id, position, src, filename, None, 0, 0, data.get("alt"), now)

    def _unique_handle(self, wanted: str, *, exclude: int | None = None) -> str:
        base = normalize_handle(wanted) or "product"
        taken = {p.handle for p in self.products.values() if p.id != exclude}
        candidates = itertools.chain([base], (f"{base}-{n}" for n in itertools.count(1)))
        return next(h for h in candidates if h not in taken)

    def update_product(self, product_id: int, data: dict[str, Any]) -> Product:
        if "variants" in data or "images" in data:
            raise ShopifyError(
                400,
                "The simulator changes variants with PUT /variants/{id}.json; images are set at creation.",
            )
        with self._lock:
            product = self.product(product_id)
            if "title" in data:
                title = _text(data["title"], "title")
                if not title.strip():
                    raise invalid("title", "can't be blank")
                product.title = title
            if "status" in data:
                product.status = _choice(data["status"], "status", PRODUCT_STATUSES)
            if "handle" in data:
                product.handle = self._unique_handle(str(data["handle"]), exclude=product.id)
            for name in ("vendor", "product_type"):
                if name in data:
                    setattr(product, name, _text(data[name], name))
            if "body_html" in data:
                product.body_html = data["body_html"]
            if "tags" in data:
                product.tags = _tags(data["tags"])
            product.updated_at = self.clock.now()
            return product

    def update_variant(self, variant_id: int, data: dict[str, Any]) -> tuple[Product, Variant]:
        with self._lock:
            product, variant = self.variant(variant_id)
            if "price" in data:
                variant.price = _money(data["price"], "price")
            if "compare_at_price" in data:
                value = data["compare_at_price"]
                variant.compare_at_price = None if value is None else _money(value, "compare_at_price")
            if "inventory_policy" in data:
                variant.inventory_policy = _choice(
                    data["inventory_policy"], "inventory_policy", INVENTORY_POLICIES
                )
            if "inventory_management" in data:
                variant.inventory_management = _choice(
                    data["inventory_management"], "inventory_management", (None, "shopify")
                )
            for name in ("sku", "barcode"):
                if name in data:
                    setattr(variant, name, data[name] or None)
            # inventory_quantity is read-only since 2019-10: inventory levels carry stock.
            variant.updated_at = product.updated_at = self.clock.now()
            return product, variant

    # --- inventory

    def inventory_quantity(self, variant: Variant) -> int:
        # By key, location by location: a shop of 10,000 products renders in time.
        levels = (self.inventory_levels.get((variant.inventory_item_id, loc.id)) for loc in self.locations)
        return sum(level.available for level in levels if level is not None)

    def _level(self, inventory_item_id: int, location_id: int, now: datetime) -> InventoryLevel:
        key = (inventory_item_id, location_id)
        if key not in self.inventory_levels:
            self.inventory_levels[key] = InventoryLevel(inventory_item_id, location_id, 0, now)
        return self.inventory_levels[key]

    def _tracked_item(self, inventory_item_id: int, location_id: int) -> Variant:
        if all(location.id != location_id for location in self.locations):
            raise not_found()
        variant = next(
            (
                v
                for p in self.products.values()
                for v in p.variants
                if v.inventory_item_id == inventory_item_id
            ),
            None,
        )
        if variant is None:
            raise not_found()
        if not variant.tracked:
            raise refused("Inventory item does not have inventory tracking enabled")
        return variant

    def set_inventory(self, inventory_item_id: int, location_id: int, available: int) -> InventoryLevel:
        with self._lock:
            self._tracked_item(inventory_item_id, location_id)
            now = self.clock.now()
            level = self._level(inventory_item_id, location_id, now)  # set connects the location if needed
            level.available, level.updated_at = available, now
            return level

    def adjust_inventory(self, inventory_item_id: int, location_id: int, adjustment: int) -> InventoryLevel:
        with self._lock:
            self._tracked_item(inventory_item_id, location_id)
            level = self.inventory_levels.get((inventory_item_id, location_id))
            if level is None:
                raise refused("Inventory item is not stocked at the location")
            level.available += adjustment
            level.updated_at = self.clock.now()
            return level

    # --- orders and fulfilment

    def order(self, order_id: int) -> Order:
        order = self.orders.get(order_id)
        if order is None:
            raise not_found()
        return order

    def list_orders(
        self,
        *,
        ids: set[int] | None = None,
        status: str = "open",
        financial_status: str = "any",
        fulfillment_status: str = "any",
        since_id: int | None = None,
        created_at_min: datetime | None = None,
        created_at_max: datetime | None = None,
        updated_at_min: datetime | None = None,
        updated_at_max: datetime | None = None,
    ) -> list[Order]:
        def fulfilment_matches(order: Order) -> bool:
            state = order.fulfillment_status
            return {
                "any": True,
                "shipped": state == "fulfilled",
                "partial": state == "partial",
                "unshipped": state is None,
                "unfulfilled": state != "fulfilled",
            }[fulfillment_status]

        with self._lock:
            orders = sorted(self.orders.values(), key=lambda o: o.id, reverse=True)  # newest first
        return [
            o
            for o in orders
            if (ids is None or o.id in ids)
            and (status == "any" or o.status == status)
            and (financial_status == "any" or o.financial_status == financial_status)
            and fulfilment_matches(o)
            and (since_id is None or o.id > since_id)
            and (created_at_min is None or o.created_at >= created_at_min)
            and (created_at_max is None or o.created_at <= created_at_max)
            and (updated_at_min is None or o.updated_at >= updated_at_min)
            and (updated_at_max is None or o.updated_at <= updated_at_max)
        ]

    def buy(self, sku: str, quantity: int = 1, buyer: Buyer | None = None) -> Order:
        """A shopper checks out `quantity` of the active product with this SKU and pays at once."""
        if quantity < 1:
            raise ValueError("quantity must be at least 1")
        with self._lock:
            found = next(
                (
                    (p, v)
                    for p in self.products.values()
                    for v in p.variants
                    if v.sku == sku and p.status == "active"
                ),
                None,
            )
            if found is None:
                raise NotBuyable(f"no active Shopify product has SKU {sku!r}")
            product, variant = found
            now = self.clock.now()
            location_id = self.locations[0].id
            if variant.tracked and variant.inventory_policy == "deny":
                level = next(
                    (lv for (item, _), lv in self.inventory_levels.items()
                     if item == variant.inventory_item_id and lv.available >= quantity),
                    None,
                )  # fmt: skip
                if level is None:
                    raise NotBuyable(
                        f"{sku!r} has {self.inventory_quantity(variant)} in stock, not {quantity}"
                    )
                level.available -= quantity
                level.updated_at = now
                location_id = level.location_id
            item = LineItem(
                self._next("line_item"), variant.id, product.id, variant.inventory_item_id, variant.sku,
                product.title, quantity, variant.price,
            )  # fmt: skip
            order = Order(
                id=self._next("order"),
                number=next(self._order_numbers),
                customer_id=self._next("customer"),
                buyer=buyer or random_buyer(self._rng),
                currency=self.config.currency,
                line_items=[item],
                created_at=now,
                updated_at=now,
            )
            order.fulfillment_orders.append(
                FulfillmentOrder(
                    self._next("fulfillment_order"), order.id, location_id, {item.id: quantity},
                    {item.id: self._next("fo_line_item")}, now, now,
                )
            )  # fmt: skip
            self.orders[order.id] = order
            self._queue_webhook("orders/create", responses.order_json(order, self.shop_domain))
            return order

    def fulfill(
        self,
        requested: list[dict[str, Any]],
        *,
        tracking_number: str | None,
        tracking_company: str | None,
        tracking_url: str | None,
        notify_customer: bool,
    ) -> Fulfillment:
        """POST /fulfillments.json: one fulfillment over open fulfillment orders of one order."""
        with self._lock:
            targets: list[tuple[FulfillmentOrder, dict[int, int]]] = []
            for entry in requested:
                fo_id = entry.get("fulfillment_order_id")
                fo = next(
                    (f for o in self.orders.values() for f in o.fulfillment_orders if f.id == fo_id), None
                )
                if fo is None:
                    raise not_found()
                if fo.status != "open":
                    raise refused(f"Fulfillment order {fo.id} has an unfulfillable status= {fo.status}.")
                wanted = entry.get("fulfillment_order_line_items")
                by_own_id = {own: line for line, own in fo.line_item_ids.items()}
                if wanted is None:  # no line items named: everything still open on this fulfillment order
                    quantities = {line: qty for line, qty in fo.remaining.items() if qty}
                else:
                    quantities = {}
                    for line in wanted:
                        line_item_id = by_own_id.get(line.get("id"))
                        qty = line.get("quantity")
                        if (
                            line_item_id is None
                            or not isinstance(qty, int)
                            or not 0 < qty <= fo.remaining[line_item_id]
                        ):
                            raise refused("Invalid fulfillment order line item quantity requested.")
                        quantities[line_item_id] = qty
                targets.append((fo, quantities))
            order_ids = {fo.order_id for fo, _ in targets}
            if len(order_ids) != 1:
                raise refused("All fulfillment orders must belong to the same order.")
            order = self.orders[order_ids.pop()]
            now = self.clock.now()
            total: dict[int, int] = {}
            for fo, quantities in targets:
                for line_item_id, qty in quantities.items():
                    fo.remaining[line_item_id] -= qty
                    total[line_item_id] = total.get(line_item_id, 0) + qty
                fo.updated_at = now
            for item in order.line_items:
                item.fulfilled += total.get(item.id, 0)
            fulfillment = Fulfillment(
                id=self._next("fulfillment"),
                order_id=order.id,
                location_id=targets[0][0].location_id,
                name=f"#{order.number}.{len(order.fulfillments) + 1}",
                quantities=total,
                tracking_company=tracking_company,
                tracking_number=tracking_number,
                tracking_url=tracking_url,
                notify_customer=notify_customer,
                created_at=now,
            )
            order.fulfillments.append(fulfillment)
            order.updated_at = now
            if order.fulfillment_status == "fulfilled":  # the shop's default: archive fulfilled, paid orders
                order.closed_at = now
            return fulfillment

    # --- webhooks

    def subscribe(self, topic: str, address: str, api_version: str) -> Subscription:
        if topic not in WEBHOOK_TOPICS:
            raise invalid("topic", f"Invalid topic specified: {topic}")
        parts = urlsplit(address)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise invalid("address", "is invalid")
        with self._lock:
            if any(s.topic == topic and s.address == address for s in self.subscriptions.values()):
                raise invalid("address", "for this topic has already been taken")
            subscription = Subscription(self._next("webhook"), topic, address, api_version, self.clock.now())
            self.subscriptions[subscription.id] = subscription
            return subscription

    def unsubscribe(self, subscription_id: int) -> None:
        with self._lock:
            if self.subscriptions.pop(subscription_id, None) is None:
                raise not_found()

    def _queue_webhook(self, topic: str, payload: dict[str, Any]) -> None:
        body = json.dumps(payload, separators=(",", ":")).encode()
        for subscription in self.subscriptions.values():
            if subscription.topic != topic:
                continue
            webhook_id = str(uuid.UUID(int=self._webhook_ids.getrandbits(128)))
            headers = {
                "Content-Type": "application/json",
                "X-Shopify-Topic": topic,
                "X-Shopify-Hmac-Sha256": sign_webhook(body, self.config.api_secret),
                "X-Shopify-Shop-Domain": self.shop_domain,
                "X-Shopify-API-Version": subscription.api_version,
                "X-Shopify-Webhook-Id": webhook_id,
                "X-Shopify-Event-Id": webhook_id,
                "X-Shopify-Triggered-At": self.clock.now().isoformat(),
            }
            self.webhook_deliveries.append(
                WebhookDelivery(webhook_id, topic, subscription.address, headers, body)
            )

    async def deliver_webhooks(self) -> list[WebhookDelivery]:
        """POSTs every queued or failed delivery once (Shopify allows 5 s and wants a 2xx); returns
        those attempted. Failures stay queued for the next call, as Shopify retries them."""
        with self._lock:
            due = [d for d in self.webhook_deliveries if not d.delivered and not d.sending]
            for delivery in due:
                delivery.sending = True
        async with httpx.AsyncClient(transport=self.webhook_transport, timeout=5.0) as client:
            for delivery in due:
                try:
                    response = await client.post(
                        delivery.address, content=delivery.body, headers=delivery.headers
                    )
                    delivery.response_status, delivery.error = response.status_code, None
                except httpx.HTTPError as error:
                    delivery.response_status, delivery.error = None, f"{type(error).__name__}: {error}"
                finally:
                    delivery.attempts += 1
                    delivery.sending = False
        return due

    # --- market hooks

    def create_foreign_listing(
        self, title: str, sku: str | None = None, price: Decimal | str = "49.00", quantity: int = 1
    ) -> Product:
        """A product someone made in the Shopify admin, not through our client."""
        product = self.create_product(
            {
                "title": title,
                "variants": [{"sku": sku, "price": str(price), "inventory_management": "shopify"}],
            }
        )
        self.set_inventory(product.variants[0].inventory_item_id, self.locations[0].id, quantity)
        return product

    def seed_existing(self, items: list[ExistingListing]) -> list[str]:
        """Products the merchant made in the Shopify admin before us: active, one tracked variant each,
        stocked at the primary location; no call counted. Returns the product ids. Shopify has no
        field for a part number or an item's condition."""
        check_batch("Shopify", items, [self.config.currency])  # the whole batch or nothing
        ids = []
        with self._lock:
            now = self.clock.now()
            taken = {p.handle for p in self.products.values()}
            for item in items:
                handle = base = normalize_handle(item.title) or "product"
                for n in itertools.count(1):
                    if handle not in taken:
                        break
                    handle = f"{base}-{n}"
                taken.add(handle)
                product = Product(
                    id=self._next("product"),
                    title=item.title,
                    handle=handle,
                    body_html=item.description,
                    vendor=item.brand or "",  # left blank in the admin
                    product_type=item.category or "",
                    tags=[],
                    status="active",
                    created_at=now,
                    updated_at=now,
                    published_at=now,
                )
                variant = {"sku": item.sku, "price": str(item.price), "barcode": item.gtin}
                product.variants = [
                    self._new_variant(product, variant | {"inventory_management": "shopify"}, 1, now)
                ]
                product.images = [
                    self._new_image(product, {"src": src}, n, now) for n, src in enumerate(item.photos, 1)
                ]
                self.products[product.id] = product
                self._level(
                    product.variants[0].inventory_item_id, self.locations[0].id, now
                ).available = item.quantity
                ids.append(str(product.id))
        return ids

    def live_skus(self) -> dict[str, int]:
        """SKU -> units a shopper could buy now, over active products."""
        with self._lock:
            return {
                v.sku: self.inventory_quantity(v)
                for p in self.products.values()
                if p.status == "active"
                for v in p.variants
                if v.sku and v.tracked
            }

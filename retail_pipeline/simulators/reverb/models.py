"""Our Reverb shop: listings with their states, orders and shipments (moto-style).

What Reverb enforces is enforced here: known condition uuids, listing currencies (and the shop's own),
what a listing needs before it can be published (make, model, condition, price, category, a photo,
shipping), quantities above one only for Brand New, B-Stock and Mint (with inventory), reasons for
ending, shipping providers, and the states a listing moves through (draft → live → ended or
sold_out; inventory back above zero relists a multi-quantity listing). Enumerations come from
Reverb's published API spec (swagger.reverb.com, v3.0). Timestamps follow the simulated clock.

Market hooks: `buy(sku, quantity, buyer)`, `create_foreign_listing(...)` (listed on reverb.com by
hand, not by us), `live_skus()`, and for conversations `customer_message(order_number or listing, body,
buyer)` (a buyer writes to us) and `seller_message(conversation_id, body)` (we reply on reverb.com by hand).
"""

from __future__ import annotations

import itertools
import random
import re
import threading
import uuid
from dataclasses import dataclass, replace
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import TYPE_CHECKING, Any, NamedTuple
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from ..buyers import Buyer, NotBuyable, random_buyer
from ..catalogue import slugify
from ..existing_listings import ExistingListing, check_batch
from .exceptions import constraint, invalid, not_found

if TYPE_CHECKING:
    from ..app import Simulator


class Condition(NamedTuple):
    display_name: str
    slug: str
    multi_quantity: bool  # may list more than one unit (the rest are one of a kind)


CONDITIONS = {
    "fbf35668-96a0-4baa-bcde-ab18d6b1b329": Condition("Non Functioning", "non-functioning", False),
    "6a9dfcad-600b-46c8-9e08-ce6e5057921e": Condition("Poor", "poor", False),
    "98777886-76d0-44c8-865e-bb40e669e934": Condition("Fair", "fair", False),
    "f7a3f48c-972a-44c6-b01a-0cd27488d3f6": Condition("Good", "good", False),
    "ae4d9114-1bd7-4ec5-a4ba-6653af5ac84d": Condition("Very Good", "very-good", False),
    "df268ad1-c462-4ba6-b6db-e007e23922ea": Condition("Excellent", "excellent", False),
    "ac5b9c1e-dc78-466d-b0b3-7cf712967a48": Condition("Mint", "mint", False),
    "6db7df88-293b-4017-a1c1-cdb5e599fa1a": Condition("Mint (with inventory)", "mint-inventory", True),
    "9225283f-60c2-4413-ad18-1f5eba7a856f": Condition("B-Stock", "b-stock", True),
    "7c3f45de-2ae0-4c81-8400-fdb6b1d74890": Condition("Brand New", "new", True),
}
# A seeded listing's condition (existing_listings.py): Brand New, Excellent, B-Stock.
_SEEDED_CONDITIONS = {
    "new": "7c3f45de-2ae0-4c81-8400-fdb6b1d74890",
    "used": "df268ad1-c462-4ba6-b6db-e007e23922ea",
    "refurbished": "9225283f-60c2-4413-ad18-1f5eba7a856f",
}
CURRENCIES = ("USD", "CAD", "EUR", "GBP", "AUD", "JPY", "NZD", "MXN")
END_REASONS = ("not_sold", "reverb_sale")
LISTING_STATES = ("all", "draft", "ended", "live", "ordered", "sold_out", "suspended", "seller_unavailable")
SHIPPING_PROVIDERS = (
    "UPS", "USPS", "FedEx", "DHL Deutschland", "DHLExpress", "DHLGlobalMail", "DHL", "Canada Post", "CanPar",
    "Royal Mail", "PostNL", "Australia Post", "EMS", "La Poste - Colissimo", "China Post", "GLS", "Parcelforce",
    "Purolator", "Interlogistica", "Correos España", "Ukraine Post", "DPD Germany", "DPD UK", "DPD France",
    "Hermes", "TNT", "Other",
)  # fmt: skip
_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
_REGION = re.compile(r"[A-Z]{2}(_[A-Z]+)?")  # a country, a subregion (US_CON), or XX: everywhere else
_LEADING_ID = re.compile(r"(\d+)(-.*)?")
SHOP_USER_ID = 1_900_001  # our seller account's user id on Reverb (conversations)


class ReverbSimulatorConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    shop_name: str = "Retail Pipeline Sim"
    token: str | None = Field(
        None, description="The one accepted personal token; None = any non-empty token."
    )
    currency: str = Field("NZD", description="The shop's listing currency.")

    @classmethod
    def from_env(cls) -> ReverbSimulatorConfig:
        """SIMULATOR_REVERB_SHOP_NAME, SIMULATOR_REVERB_TOKEN and SIMULATOR_REVERB_CURRENCY, each optional."""
        return cls.model_validate(_FromEnvironment().model_dump())


class _FromEnvironment(BaseSettings, ReverbSimulatorConfig):
    model_config = SettingsConfigDict(env_prefix="SIMULATOR_REVERB_", extra="ignore")


@dataclass
class Listing:
    id: int
    title: str
    make: str
    model: str
    description: str
    condition_uuid: str | None
    category_uuids: list[str]
    price: Decimal | None
    currency: str
    sku: str | None
    has_inventory: bool
    inventory: int
    shipping_profile_id: str | None
    shipping_rates: list[tuple[str, Decimal]]  # (region code, rate)
    local_pickup: bool
    photos: list[str]
    state: str
    created_at: datetime
    updated_at: datetime
    finish: str = ""
    year: str = ""
    upc: str | None = None
    offers_enabled: bool = True
    published_at: datetime | None = None

    @property
    def slug(self) -> str:
        return f"{self.id}-{slugify(self.title)}"

    @property
    def available(self) -> int:
        return self.inventory if self.has_inventory else 1

    @property
    def multi_quantity(self) -> bool:
        return self.condition_uuid is not None and CONDITIONS[self.condition_uuid].multi_quantity


@dataclass
class Order:
    order_number: int
    uuid: str
    bundle_id: int
    listing_id: int
    sku: str | None
    title: str
    quantity: int
    price: Decimal
    currency: str
    buyer: Buyer
    buyer_id: int
    created_at: datetime
    updated_at: datetime
    status: str = "paid"
    shipping_provider: str | None = None
    tracking_number: str | None = None
    shipped_at: datetime | None = None
    notified_buyer: bool = False


@dataclass
class ConversationMessage:
    id: int
    body: str
    sender_id: int
    sender_name: str
    sender_role: str  # "buyer" | "seller"
    created_at: datetime


@dataclass
class Conversation:
    """A buyer's thread with our shop, about one listing or one order (issue 5, customer messages)."""

    id: int
    buyer_id: int
    buyer_name: str
    subject: str
    listing_id: int | None
    order_number: int | None
    created_at: datetime
    updated_at: datetime
    messages: list[ConversationMessage]
    read: bool = False  # by the seller


def _money(value: Any) -> Decimal | None:
    try:
        amount = Decimal(str(value))
    except (InvalidOperation, ValueError):
        return None
    return amount if amount.is_finite() else None


class _Changes:
    """A listing body checked field by field; every problem is collected, as Reverb reports them all."""

    def __init__(self, data: dict[str, Any], shop_currency: str):
        self.data, self.currency, self.errors = data, shop_currency, {}
        self.values: dict[str, Any] = {}
        for name in ("title", "make", "model", "description", "finish", "year", "sku", "upc"):
            if name in data:
                self.values[name] = "" if data[name] is None else str(data[name]).strip()
        for name in ("has_inventory", "offers_enabled", "publish"):
            if name in data:
                self._flag(name)
        if "inventory" in data:
            value = data["inventory"]
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                self.fail("inventory", "must be a whole number of 0 or more")
            else:
                self.values["inventory"] = value
        if "condition" in data:
            condition = data["condition"]
            wanted = condition.get("uuid") if isinstance(condition, dict) else None
            if wanted not in CONDITIONS:
                self.fail("condition", "is not a valid condition")
            else:
                self.values["condition_uuid"] = wanted
        if "categories" in data:
            self._categories(data["categories"])
        if "price" in data:
            self.values["price"] = self._price(data["price"], "price")
        if "photos" in data:
            photos = data["photos"]
            if not isinstance(photos, list) or not all(isinstance(p, str) and _is_url(p) for p in photos):
                self.fail("photos", "must be a list of image URLs")
            else:
                self.values["photos"] = photos
        if "shipping_profile_id" in data:
            self.values["shipping_profile_id"] = str(data["shipping_profile_id"] or "") or None
        if "shipping" in data:
            self._shipping(data["shipping"])

    def fail(self, name: str, message: str) -> None:
        self.errors.setdefault(name, []).append(message)

    def _flag(self, name: str) -> None:
        if isinstance(self.data[name], bool):
            self.values[name] = self.data[name]
        else:
            self.fail(name, "must be true or false")

    def _categories(self, categories: Any) -> None:
        uuids = (
            [c.get("uuid") for c in categories if isinstance(c, dict)]
            if isinstance(categories, list)
            else None
        )
        if (
            uuids is None
            or len(uuids) != len(categories)
            or not all(isinstance(u, str) and _UUID.fullmatch(u) for u in uuids)
        ):
            self.fail("categories", "must be a list of {uuid} objects")
        elif len(uuids) > 3:
            self.fail("categories", "can have at most one root category and two subcategories")
        else:
            self.values["category_uuids"] = uuids

    def _price(self, price: Any, name: str) -> Decimal | None:
        if not isinstance(price, dict) or "amount" not in price or "currency" not in price:
            self.fail(name, "needs an amount and a currency")
            return None
        amount = _money(price["amount"])
        if amount is None or amount < 0:
            self.fail(name, "amount must be a number of 0 or more")
        if price["currency"] not in CURRENCIES:
            self.fail(name, f"currency must be one of {', '.join(CURRENCIES)}")
        elif price["currency"] != self.currency:
            self.fail(name, f"currency must be your shop's currency ({self.currency})")
        return amount

    def _shipping(self, shipping: Any) -> None:
        if not isinstance(shipping, dict):
            self.fail("shipping", "must be an object with rates and/or local")
            return
        if "local" in shipping:
            self.values["local_pickup"] = bool(shipping["local"])
        rates = shipping.get("rates") or []
        parsed = []
        for entry in rates if isinstance(rates, list) else [None]:
            region = entry.get("region_code") if isinstance(entry, dict) else None
            if not isinstance(region, str) or not _REGION.fullmatch(region):
                self.fail("shipping", "rates need a region_code (a country code, a subregion or XX)")
                return
            rate = self._price(entry.get("rate"), "shipping")
            if rate is not None:
                parsed.append((region, rate))
        self.values["shipping_rates"] = parsed


def _is_url(value: str) -> bool:
    parts = urlsplit(value)
    return parts.scheme in ("http", "https") and bool(parts.netloc)


class ReverbBackend:
    def __init__(self, sim: Simulator, config: ReverbSimulatorConfig):
        self.config = config
        self.clock = sim.clock
        self._rng = random.Random(f"{sim.config.seed}:reverb:buyers")
        self._lock = threading.RLock()
        self._listing_ids = itertools.count(81_200_000)
        self._order_numbers = itertools.count(31_700_000)
        self._buyer_ids = itertools.count(2_400_000)
        self.listings: dict[int, Listing] = {}
        self.orders: dict[int, Order] = {}
        self._conversation_ids = itertools.count(5_600_000)
        self._message_ids = itertools.count(91_000_000)
        self.conversations: dict[int, Conversation] = {}

    def accepts(self, token: str) -> bool:
        return bool(token) and (self.config.token is None or token == self.config.token)

    # --- listings

    def listing(self, ref: str) -> Listing:
        """By id or slug: Reverb reads the id at the front of a slug."""
        match = _LEADING_ID.fullmatch(ref)
        listing = self.listings.get(int(match[1])) if match else None
        if listing is None:
            raise not_found()
        return listing

    def list_listings(self, *, state: str = "live", sku: str | None = None) -> list[Listing]:
        with self._lock:
            listings = sorted(self.listings.values(), key=lambda item: item.id, reverse=True)  # newest first
        return [
            item
            for item in listings
            if (state == "all" or item.state == state) and (sku is None or item.sku == sku)
        ]

    def create_listing(self, data: dict[str, Any]) -> Listing:
        changes = _Changes(data, self.config.currency)
        values = changes.values
        now = self.clock.now()
        title = values.get("title") or " ".join(
            part for part in (values.get("year"), values.get("make"), values.get("model")) if part
        )
        if not title:
            changes.fail("title", "can't be blank")
        # Without make and model Reverb guesses them from the title, falling back to "Unknown".
        words = title.split(maxsplit=1)
        with self._lock:
            listing = Listing(
                id=next(self._listing_ids),
                title=title,
                make=values.get("make") or (words[0] if len(words) > 1 else "Unknown"),
                model=values.get("model") or (words[1] if len(words) > 1 else "Unknown"),
                description=values.get("description", ""),
                condition_uuid=values.get("condition_uuid"),
                category_uuids=values.get("category_uuids", []),
                price=values.get("price"),
                currency=self.config.currency,
                sku=values.get("sku") or None,
                has_inventory=values.get("has_inventory", False),
                inventory=values.get("inventory", 1),
                shipping_profile_id=values.get("shipping_profile_id"),
                shipping_rates=values.get("shipping_rates", []),
                local_pickup=values.get("local_pickup", False),
                photos=values.get("photos", []),
                state="draft",
                created_at=now,
                updated_at=now,
                finish=values.get("finish", ""),
                year=values.get("year", ""),
                upc=values.get("upc") or None,
                offers_enabled=values.get("offers_enabled", True),
            )
            self._settle(listing, changes, publish=values.get("publish", False))
            self.listings[listing.id] = listing
            return listing

    def update_listing(self, ref: str, data: dict[str, Any]) -> Listing:
        """Only the fields sent change, as Reverb's PUT does."""
        with self._lock:
            current = self.listing(ref)
            changes = _Changes(data, self.config.currency)
            listing = replace(current)  # checked as a whole before it replaces the stored one
            for name, value in changes.values.items():
                if name != "publish":
                    setattr(listing, name, value)
            if "title" in changes.values and not listing.title:
                changes.fail("title", "can't be blank")
            listing.updated_at = self.clock.now()
            self._settle(listing, changes, publish=changes.values.get("publish", False), before=current.state)
            self.listings[listing.id] = listing
            return listing

    def _settle(self, listing: Listing, changes: _Changes, *, publish: bool, before: str = "draft") -> None:
        """Checks the whole listing, then moves it to the state its inventory and `publish` call for."""
        if (
            listing.has_inventory
            and listing.inventory > 1
            and listing.condition_uuid
            and not listing.multi_quantity
        ):
            changes.fail(
                "inventory",
                "can be more than 1 only for Brand New, B-Stock or Mint (with inventory) listings",
            )
        going_live = before == "live" or publish
        if going_live:
            required = {
                "make": listing.make,
                "model": listing.model,
                "condition": listing.condition_uuid,
                "price": listing.price,
                "categories": listing.category_uuids,
                "photos": listing.photos,
            }
            for name, value in required.items():
                if not value and name not in changes.errors:
                    changes.fail(name, "can't be blank")
            if listing.price is not None and listing.price <= 0 and "price" not in changes.errors:
                changes.fail("price", "must be greater than 0")
            if not (listing.shipping_profile_id or listing.shipping_rates or listing.local_pickup):
                changes.fail("shipping", "needs a shipping profile, shipping rates or local pickup")
        if changes.errors:
            raise invalid(changes.errors)
        now = self.clock.now()
        if listing.has_inventory and listing.inventory == 0 and before == "live":
            listing.state = "ended"  # Reverb ends a listing whose inventory reaches zero
        elif before in ("ended", "sold_out") and listing.has_inventory and listing.inventory > 0:
            if listing.multi_quantity:  # one-of-a-kind listings never come back
                listing.state = "live"
        elif publish and before == "draft":
            if listing.has_inventory and listing.inventory == 0:
                raise invalid({"inventory": ["must be more than 0 to publish"]})
            listing.state, listing.published_at = "live", now

    def end_listing(self, ref: str, reason: Any) -> Listing:
        if reason not in END_REASONS:
            raise invalid({"reason": [f"must be one of {', '.join(END_REASONS)}"]})
        with self._lock:
            listing = self.listing(ref)
            if listing.state != "live":
                raise constraint(f"Only live listings can be ended; this one is {listing.state}.")
            listing.state, listing.updated_at = "ended", self.clock.now()
            return listing

    # --- orders

    def order(self, order_number: int) -> Order:
        order = self.orders.get(order_number)
        if order is None:
            raise not_found()
        return order

    def list_orders(
        self,
        kind: str,
        *,
        created_start: datetime | None = None,
        created_end: datetime | None = None,
        updated_start: datetime | None = None,
        updated_end: datetime | None = None,
    ) -> list[Order]:
        with self._lock:
            orders = sorted(self.orders.values(), key=lambda o: o.order_number, reverse=True)  # newest first
        wanted = {"all": None, "awaiting_shipment": "paid", "unpaid": "unpaid"}[kind]
        return [
            o
            for o in orders
            if (wanted is None or o.status == wanted)
            and (created_start is None or o.created_at >= created_start)
            and (created_end is None or o.created_at <= created_end)
            and (updated_start is None or o.updated_at >= updated_start)
            and (updated_end is None or o.updated_at <= updated_end)
        ]

    def ship(self, order_number: int, data: dict[str, Any]) -> Order:
        errors: dict[str, list[str]] = {}
        if data.get("provider") not in SHIPPING_PROVIDERS:
            errors["provider"] = ["is not a supported shipping provider"]
        if not isinstance(data.get("tracking_number"), str) or not data["tracking_number"].strip():
            errors["tracking_number"] = ["can't be blank"]
        if not isinstance(data.get("send_notification"), bool):
            errors["send_notification"] = ["must be true or false"]
        if errors:
            raise invalid(errors)
        with self._lock:
            order = self.order(order_number)
            if order.status != "paid":
                raise constraint(f"Order {order_number} is {order.status}; only paid orders can be shipped.")
            now = self.clock.now()
            order.status, order.shipped_at, order.updated_at = "shipped", now, now
            order.shipping_provider = data["provider"]
            order.tracking_number = data["tracking_number"].strip()
            order.notified_buyer = data["send_notification"]
            return order

    # --- market hooks

    def buy(self, sku: str, quantity: int = 1, buyer: Buyer | None = None) -> Order:
        """A shopper buys `quantity` of the live listing with this SKU and pays through Reverb Payments."""
        if quantity < 1:
            raise ValueError("quantity must be at least 1")
        with self._lock:
            listing = next(
                (item for item in self.listings.values() if item.sku == sku and item.state == "live"), None
            )
            if listing is None:
                raise NotBuyable(f"no live Reverb listing has SKU {sku!r}")
            if listing.available < quantity:
                raise NotBuyable(f"{sku!r} has {listing.available} available, not {quantity}")
            now = self.clock.now()
            if listing.has_inventory:
                listing.inventory -= quantity
            if not listing.has_inventory or listing.inventory == 0:
                listing.state = "sold_out"
            listing.updated_at = now
            number = next(self._order_numbers)
            order = Order(
                order_number=number,
                uuid=str(uuid.UUID(int=self._rng.getrandbits(128))),
                bundle_id=number,
                listing_id=listing.id,
                sku=listing.sku,
                title=listing.title,
                quantity=quantity,
                price=listing.price or Decimal(0),
                currency=listing.currency,
                buyer=buyer or random_buyer(self._rng),
                buyer_id=next(self._buyer_ids),
                created_at=now,
                updated_at=now,
            )
            self.orders[number] = order
            return order

    def create_foreign_listing(
        self, title: str, sku: str | None = None, price: Decimal | str = "49.00", quantity: int = 1
    ) -> Listing:
        """A listing someone made on reverb.com by hand, not through our client."""
        return self.create_listing(
            {
                "title": title,
                "sku": sku,
                "condition": {"uuid": "7c3f45de-2ae0-4c81-8400-fdb6b1d74890"},
                "categories": [{"uuid": "62835d2e-ac92-41fc-9b8d-4aba8c1c25d5"}],
                "price": {"amount": str(price), "currency": self.config.currency},
                "photos": ["https://rvb-img.reverb.com/image/upload/foreign.jpg"],
                "shipping": {"local": True},
                "has_inventory": True,
                "inventory": quantity,
                "publish": True,
            }
        )

    def seed_existing(self, items: list[ExistingListing]) -> list[str]:
        """Listings the seller made on reverb.com before us: live, no rule checked, no call counted.
        Returns their ids. Reverb keeps a brand as the make and a part number as the model."""
        check_batch("Reverb", items, [self.config.currency])  # the whole batch or nothing
        ids = []
        with self._lock:
            now = self.clock.now()
            for item in items:
                condition = _SEEDED_CONDITIONS[item.condition]
                multi = CONDITIONS[condition].multi_quantity
                listing = Listing(
                    id=next(self._listing_ids),
                    title=item.title,
                    make=item.brand or "Unknown",
                    model=item.mpn or "Unknown",
                    description=item.description,
                    condition_uuid=condition,
                    category_uuids=["62835d2e-ac92-41fc-9b8d-4aba8c1c25d5"],
                    price=item.price,
                    currency=item.currency,
                    sku=item.sku,
                    has_inventory=multi,
                    inventory=item.quantity if multi else 1,
                    shipping_profile_id=None,
                    shipping_rates=[],
                    local_pickup=True,
                    photos=list(item.photos),
                    state="live",
                    created_at=now,
                    updated_at=now,
                    upc=item.gtin,
                    published_at=now,
                )
                self.listings[listing.id] = listing
                ids.append(str(listing.id))
        return ids

    def live_skus(self) -> dict[str, int]:
        """SKU -> units a shopper could buy now."""
        with self._lock:
            return {
                item.sku: item.available
                for item in self.listings.values()
                if item.sku and item.state == "live"
            }

    # --- conversations (issue 5, customer messages)
    #
    # Verified (reverb-api.com "Manage Messages"): GET /api/my/conversations (?unread_only=true),
    # GET /api/my/conversations/{id} (messages oldest to newest), PUT /api/my/conversations/{id}
    # {"read": true|false}, POST /api/my/conversations/{id}/messages {"body": …}. The JSON fields of a
    # conversation and a message (responses.py) are our best reading, NOT verified against Reverb.

    def conversation(self, conversation_id: int) -> Conversation:
        found = self.conversations.get(conversation_id)
        if found is None:
            raise not_found()
        return found

    def list_conversations(self, *, unread_only: bool = False) -> list[Conversation]:
        """Most recently active first, as Reverb's inbox shows them."""
        with self._lock:
            items = sorted(self.conversations.values(), key=lambda c: (c.updated_at, c.id), reverse=True)
        return [c for c in items if not unread_only or not c.read]

    def _post(self, conv: Conversation, body: str, sender: tuple[int, str, str]) -> ConversationMessage:
        now = self.clock.now()
        message = ConversationMessage(next(self._message_ids), body, *sender, now)
        conv.messages.append(message)
        conv.updated_at = now
        return message

    def reply(self, conversation_id: int, data: dict[str, Any]) -> ConversationMessage:
        """POST /my/conversations/{id}/messages: the seller's reply (answering reads the thread)."""
        body = data.get("body")
        if not isinstance(body, str) or not body.strip():
            raise invalid({"body": ["can't be blank"]})
        with self._lock:
            conv = self.conversation(conversation_id)
            message = self._post(conv, body, (SHOP_USER_ID, self.config.shop_name, "seller"))
            conv.read = True
            return message

    def mark_read(self, conversation_id: int, data: dict[str, Any]) -> Conversation:
        if not isinstance(data.get("read"), bool):
            raise invalid({"read": ["must be true or false"]})
        with self._lock:
            conv = self.conversation(conversation_id)
            conv.read = data["read"]
            return conv

    def customer_message(self, ref: int | str, body: str, buyer: Buyer | None = None) -> Conversation:
        """Market hook: a buyer writes about an order (its number) or a listing (id, slug or SKU),
        continuing their conversation about it or starting one."""
        with self._lock:
            order = self.orders.get(int(ref)) if str(ref).isdigit() else None
            if order is not None:
                listing_id, order_number, subject = order.listing_id, order.order_number, f"Order #{ref}"
                buyer_id, buyer_name = order.buyer_id, order.buyer.name
            else:
                listing = next((item for item in self.listings.values() if item.sku == str(ref)), None)
                listing = listing or self.listing(str(ref))
                listing_id, order_number, subject = listing.id, None, listing.title
                buyer_name = (buyer or random_buyer(self._rng)).name
                known = next((c for c in self.conversations.values() if c.buyer_name == buyer_name), None)
                buyer_id = known.buyer_id if known else next(self._buyer_ids)
            conv = next(
                (
                    c
                    for c in self.conversations.values()
                    if c.buyer_id == buyer_id
                    and c.order_number == order_number
                    and c.listing_id == listing_id
                ),
                None,
            )
            if conv is None:
                now = self.clock.now()
                conv = Conversation(
                    next(self._conversation_ids), buyer_id, buyer_name, subject, listing_id, order_number,
                    now, now, [],
                )  # fmt: skip
                self.conversations[conv.id] = conv
            self._post(conv, body, (buyer_id, buyer_name, "buyer"))
            conv.read = False
            return conv

    def seller_message(self, conversation_id: int, body: str) -> ConversationMessage:
        """Market hook: someone in our shop answers on reverb.com, not through our client."""
        return self.reply(conversation_id, {"body": body})

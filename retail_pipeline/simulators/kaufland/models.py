"""Our Kaufland seller account: product data by EAN, units (offers), order units, tickets (moto-style).

What Kaufland enforces is enforced here: signed requests (the signature recomputed over the exact bytes
and URL received, a timestamp within five minutes of the server's clock), 111 requests a second per
client key (then 429), EANs of 13 or 14 digits, prices in whole cents within the storefront's
maximum, the seller's offer id unique per storefront, units INCOMPLETE until the EAN's product data is
ready (title, description, picture, manufacturer, a known category and that category's required
attributes; shared-set values from their lists), the order-unit states (open → need_to_be_sent →
sent → received; cancel before sending; a unit is sent with a known carrier code, and with tracking
numbers unless the carrier is "Other"/"Other Hauler") and tickets (buyers open them about an order;
the seller answers; closed tickets take no more messages).

Categories are the simulators' shared taxonomy (`taxonomy_data`): ids from `Node.number()`, decisions
from `rank`, attributes from each node's aspects (closed value lists as shared sets).

Market hooks: `buy(sku, quantity, buyer)`, `live_skus()`, `customer_message(ref, body, buyer)`
(a buyer opens or writes in a ticket about an order), `receive(id_order_unit)` (the buyer got it).
"""

from __future__ import annotations

import hashlib
import itertools
import random
import re
import string
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from functools import cache
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict, Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from .. import taxonomy_data
from ..buyers import Buyer, NotBuyable, random_buyer
from ..existing_listings import ExistingListing, check_batch
from .exceptions import KauflandError, field_error, invalid, not_allowed, not_found

if TYPE_CHECKING:
    from ..app import Simulator

ROOT_ID = 1  # the tree's root ("Startseite"), no category of its own
CONDITIONS = (
    "NEW", "USED___AS_NEW", "USED___VERY_GOOD", "USED___GOOD", "USED___ACCEPTABLE",
    "REFURBISHED___AS_NEW", "REFURBISHED___VERY_GOOD", "REFURBISHED___GOOD", "REFURBISHED___ACCEPTABLE",
)  # fmt: skip
CONDITION_NUMBERS = {
    100: "NEW",
    200: "USED___AS_NEW",
    300: "USED___VERY_GOOD",
    400: "USED___GOOD",
    500: "USED___ACCEPTABLE",
}
CURRENCY = {"de": "EUR", "at": "EUR", "sk": "EUR", "fr": "EUR", "it": "EUR", "cz": "CZK", "pl": "PLN"}
MAX_CENTS = {"EUR": 100_000_000, "CZK": 2_500_000_000, "PLN": 450_000_000}
# GET /carriers (names as Kaufland's carrier-code list gives them); "Other" and "Other Hauler" take
# no tracking number.
CARRIERS = (
    ("Cargo International", True), ("DHL", False), ("DHL 2MH", True), ("DHL Express", False),
    ("DHL Freight", True), ("DPD", False), ("Fedex", False), ("GLS", False), ("GO! Express", False),
    ("Hermes", False), ("Hermes 2MH", True), ("Rhenus", True), ("Schenker", True), ("TNT", False),
    ("UPS", False), ("Deutsche Post", False), ("Other", False), ("Other Hauler", True),
)  # fmt: skip
UNTRACKED = frozenset({"Other", "Other Hauler"})
CANCEL_REASONS = (
    "BuyerCancelled", "ShippingAddressUndeliverable", "WrongCatalogData", "GeneralAdjustment",
    "MerchandiseNotReceived", "NoInventory", "DelayedInventory", "WrongPrice", "NoReactionBuyer",
    "UndeliverableRegion",
)  # fmt: skip
OWN_ATTRIBUTES = ("title", "description", "picture", "manufacturer", "category")
SHOP_NAME = "Retail Pipeline Sim"
_SEEDED_CONDITIONS = {"new": "NEW", "used": "USED___VERY_GOOD", "refurbished": "REFURBISHED___VERY_GOOD"}
_EAN = re.compile(r"\d{13,14}")


class KauflandSimulatorConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    client_key: str = "kaufland-simulator-client-key"
    secret_key: str = "kaufland-simulator-secret-key"
    shop_name: str = SHOP_NAME
    requests_per_second: int = Field(111, ge=1)
    max_skew_seconds: int = Field(
        300, ge=1, description="How far Shop-Timestamp may be from the server's time."
    )

    @classmethod
    def from_env(cls) -> KauflandSimulatorConfig:
        """SIMULATOR_KAUFLAND_CLIENT_KEY, …_SECRET_KEY, …_SHOP_NAME, …_REQUESTS_PER_SECOND, each optional."""
        return cls.model_validate(_FromEnvironment().model_dump())


class _FromEnvironment(BaseSettings, KauflandSimulatorConfig):
    model_config = SettingsConfigDict(env_prefix="SIMULATOR_KAUFLAND_", extra="ignore")


# --- the categories: the shared taxonomy with Kaufland's numeric ids


def attribute_name(aspect: str) -> str:
    return re.sub(r"[^a-z0-9]+", "_", aspect.lower()).strip("_")


def attribute_id(aspect: str) -> int:
    return int(hashlib.sha256(f"kaufland:{aspect}".encode()).hexdigest(), 16) % 90_000 + 10_000


@dataclass(frozen=True)
class Attribute:
    id: int
    name: str  # the technical name product data takes: "storage_capacity"
    title: str  # "Storage Capacity"
    multiple: bool
    values: tuple[str, ...]  # a shared set when not empty


@dataclass(frozen=True)
class Category:
    id: int
    parent: int
    node: taxonomy_data.Node

    @property
    def required(self) -> tuple[Attribute, ...]:
        return tuple(attribute(a) for a in self.node.aspects if a.required)

    @property
    def optional(self) -> tuple[Attribute, ...]:
        return tuple(attribute(a) for a in self.node.aspects if not a.required)


def attribute(aspect: taxonomy_data.Aspect) -> Attribute:
    return Attribute(
        attribute_id(aspect.name), attribute_name(aspect.name), aspect.name, aspect.multi, aspect.values
    )


@cache
def categories() -> dict[int, Category]:
    keyed = {node.key: node.number() for node in taxonomy_data.nodes()}
    return {
        keyed[node.key]: Category(
            keyed[node.key], keyed[node.parent_key] if node.parent_key else ROOT_ID, node
        )
        for node in taxonomy_data.nodes()
    }


@cache
def attributes() -> dict[int, Attribute]:
    return {a.id: a for c in categories().values() for a in (*c.required, *c.optional)}


# --- state


@dataclass
class ProductData:
    ean: str
    attributes: dict[str, list[Any]]
    id_product: int
    updated_at: datetime
    missing: list[str] = field(default_factory=list)
    fail_reason: str | None = None  # NO_CATEGORY, NOT_ENOUGH_DATA…

    @property
    def ready(self) -> bool:
        return not self.missing and self.fail_reason is None

    def first(self, name: str) -> str:
        values = self.attributes.get(name) or [""]
        return str(values[0])


@dataclass
class Unit:
    id_unit: int
    ean: str
    id_offer: str
    storefront: str
    condition: str
    listing_price: int
    minimum_price: int | None
    amount: int
    handling_time: int
    note: str | None
    id_shipping_group: int | None
    id_warehouse: int | None
    vat_indicator: str
    status: str  # INCOMPLETE | AVAILABLE | ONHOLD
    created_at: datetime
    updated_at: datetime


@dataclass
class OrderUnit:
    id_order_unit: int
    id_order: str
    id_offer: str
    id_unit: int
    ean: str
    storefront: str
    price: int
    shipping_rate: int
    condition: str
    buyer: Buyer
    id_buyer: int
    created_at: datetime
    updated_at: datetime
    status: str = "need_to_be_sent"
    tracking_numbers: list[str] = field(default_factory=list)
    carrier_code: str | None = None
    cancel_reason: str | None = None


@dataclass
class Order:
    """What `buy` returns: the market reads `order_id`."""

    order_id: str
    units: list[OrderUnit]


@dataclass
class TicketMessage:
    id: int
    role: str  # buyer | seller | customer_service | system
    name: str
    text: str
    created_at: datetime


@dataclass
class Ticket:
    id: str  # "001…"
    id_buyer: int
    buyer: Buyer
    order_unit_ids: list[int]
    storefront: str
    open_reason: str
    topic: str | None
    created_at: datetime
    updated_at: datetime
    messages: list[TicketMessage]
    status: str = "opened"


class RateLimiter:
    """Requests per client key in the last second, by the wall clock (as Kaufland counts them)."""

    def __init__(self, limit: int, clock: Callable[[], float] = time.monotonic):
        self.limit, self.clock = limit, clock
        self._seen: dict[str, deque[float]] = {}
        self._lock = threading.Lock()

    def __getstate__(self) -> dict[str, Any]:
        # a saved world keeps no request times: another process's monotonic clock means nothing here
        return {"limit": self.limit, "clock": self.clock, "_seen": {}, "_lock": self._lock}

    def admit(self, key: str) -> float | None:
        """None when admitted, else the seconds until the next request would be."""
        with self._lock:
            now = self.clock()
            seen = self._seen.setdefault(key, deque())
            while seen and now - seen[0] >= 1.0:
                seen.popleft()
            if len(seen) >= self.limit:
                return max(0.0, 1.0 - (now - seen[0]))
            seen.append(now)
            return None


class KauflandBackend:
    def __init__(self, sim: Simulator, config: KauflandSimulatorConfig):
        self.config = config
        self.clock = sim.clock
        self.wall_clock: Callable[[], float] = time.time  # what Shop-Timestamp is checked against
        self.limiter = RateLimiter(config.requests_per_second)
        self._rng = random.Random(f"{sim.config.seed}:kaufland:buyers")
        self._lock = threading.RLock()
        self.product_data: dict[str, ProductData] = {}
        self.units: dict[int, Unit] = {}
        self.order_units: dict[int, OrderUnit] = {}
        self.tickets: dict[str, Ticket] = {}
        self._unit_ids = itertools.count(310_000_001)
        self._order_unit_ids = itertools.count(480_000_000_001)
        self._message_ids = itertools.count(64_000_001)
        self._ticket_numbers = itertools.count(1_234_001)

    # --- authentication

    def secret_for(self, client_key: str) -> str | None:
        return self.config.secret_key if client_key == self.config.client_key else None

    # --- categories

    def category(self, id_category: int) -> Category:
        found = categories().get(id_category)
        if found is None:
            raise not_found("Category", bare=True)
        return found

    def decide(self, title: str, description: str, manufacturer: str) -> list[Category]:
        text = " ".join((title, manufacturer, description[:500]))
        by_key = {c.node.key: c for c in categories().values()}
        return [by_key[node.key] for node, _score in taxonomy_data.rank(text, limit=5)]

    def attribute(self, id_attribute: int) -> Attribute:
        found = attributes().get(id_attribute)
        if found is None:
            raise not_found("Attribute", bare=True)
        return found

    # --- product data

    def put_product_data(self, data: dict[str, Any], *, replace: bool) -> ProductData:
        eans = data.get("ean")
        if (
            not isinstance(eans, list)
            or not eans
            or not all(isinstance(e, str) and _EAN.fullmatch(e) for e in eans)
        ):
            raise field_error("ean", "must be a list of EANs of 13 or 14 digits")
        given = data.get("attributes")
        if not isinstance(given, dict):
            raise field_error("attributes", "must be an object of attribute name to values")
        values = {name: (v if isinstance(v, list) else [v]) for name, v in given.items()}
        now = self.clock.now()
        with self._lock:
            existing = self.product_data.get(eans[0])
            if existing and not replace:
                values = existing.attributes | values
            elif not replace and existing is None:
                raise not_found("Product data")
            record = ProductData(eans[0], values, _product_id(eans[0]), now)
            self._check(record)
            for code in eans:
                self.product_data[code] = record
            for unit in self.units.values():  # units waiting for this EAN's data go live (or back)
                if unit.ean in eans and unit.status in ("INCOMPLETE", "AVAILABLE"):
                    unit.status = "AVAILABLE" if record.ready else "INCOMPLETE"
        return record

    def _check(self, record: ProductData) -> None:
        missing = [
            name
            for name in OWN_ATTRIBUTES
            if not any(str(v).strip() for v in record.attributes.get(name) or ())
        ]
        category_value = record.first("category")
        category = categories().get(int(category_value)) if category_value.isdigit() else None
        if category_value and (category is None or not category.node.leaf):
            record.fail_reason = "NO_CATEGORY"
        if category is not None:
            for needed in category.required:
                found = [str(v).strip() for v in record.attributes.get(needed.name) or () if str(v).strip()]
                if not found or (needed.values and any(v not in needed.values for v in found)):
                    missing.append(needed.name)
        record.missing = missing

    def get_product_data(self, ean: str) -> ProductData:
        found = self.product_data.get(ean)
        if found is None:
            raise not_found("Product data", bare=True)
        return found

    # --- units

    def list_units(
        self, storefront: str, *, id_offer: str | None = None, ean: str | None = None
    ) -> list[Unit]:
        with self._lock:
            return [
                u
                for u in sorted(self.units.values(), key=lambda u: u.id_unit)
                if u.storefront == storefront
                and (id_offer is None or u.id_offer == id_offer)
                and (ean is None or u.ean == ean)
            ]

    def unit(self, id_unit: int, storefront: str | None = None) -> Unit:
        found = self.units.get(id_unit)
        if found is None or (storefront is not None and found.storefront != storefront):
            raise not_found("Unit")
        return found

    def create_unit(self, storefront: str, data: dict[str, Any]) -> Unit:
        errors = []
        ean = data.get("ean")
        if ean is None or not _EAN.fullmatch(str(ean)):
            errors.append({"field": "ean", "message": "an EAN of 13 or 14 digits is required"})
        condition = data.get("condition", "NEW")
        if isinstance(condition, int):
            condition = CONDITION_NUMBERS.get(condition, condition)
        if condition not in CONDITIONS:
            errors.append({"field": "condition", "message": f"unknown condition {condition!r}"})
        price = data.get("listing_price")
        currency = CURRENCY[storefront]
        if not isinstance(price, int) or not 1 <= price <= MAX_CENTS[currency]:
            errors.append(
                {
                    "field": "listing_price",
                    "message": f"whole cents of {currency}, 1 to {MAX_CENTS[currency]}",
                }
            )
        if not str(data.get("id_offer") or "").strip():
            errors.append({"field": "id_offer", "message": "is required"})
        if errors:
            raise invalid(errors)
        now = self.clock.now()
        with self._lock:
            if self.list_units(storefront, id_offer=data["id_offer"]):
                raise KauflandError(
                    400,
                    f"a unit with id_offer {data['id_offer']!r} already exists on storefront {storefront}",
                    errors=[{"field": "id_offer", "message": "already exists"}],
                    problem="/problems/already-exists",
                )
            record = self.product_data.get(str(ean))
            unit = Unit(
                id_unit=next(self._unit_ids),
                ean=str(ean),
                id_offer=str(data["id_offer"]),
                storefront=storefront,
                condition=condition,
                listing_price=price,
                minimum_price=data.get("minimum_price"),
                amount=int(data.get("amount", 1)),
                handling_time=int(data["handling_time"]),
                note=data.get("note"),
                id_shipping_group=data.get("id_shipping_group"),
                id_warehouse=data.get("id_warehouse"),
                vat_indicator=data.get("vat_indicator") or "standard_rate",
                status="AVAILABLE" if record is not None and record.ready else "INCOMPLETE",
                created_at=now,
                updated_at=now,
            )
            self.units[unit.id_unit] = unit
        return unit

    def patch_unit(self, id_unit: int, storefront: str, data: dict[str, Any]) -> Unit:
        with self._lock:
            unit = self.unit(id_unit, storefront)
            if "listing_price" in data:
                price = data["listing_price"]
                if not isinstance(price, int) or not 1 <= price <= MAX_CENTS[CURRENCY[storefront]]:
                    raise field_error("listing_price", "whole cents, at least 1")
                unit.listing_price = price
            if "amount" in data:
                unit.amount = int(data["amount"])
            if "handling_time" in data:
                unit.handling_time = int(data["handling_time"])
            if "status" in data:
                if unit.status == "INCOMPLETE" and data["status"] == "AVAILABLE":
                    raise not_allowed("the unit's product data is not ready")
                unit.status = data["status"]
            for name in ("minimum_price", "note", "id_shipping_group", "id_warehouse", "vat_indicator"):
                if name in data:
                    setattr(unit, name, data[name])
            unit.updated_at = self.clock.now()
            return unit

    def delete_unit(self, id_unit: int, storefront: str) -> None:
        with self._lock:
            self.unit(id_unit, storefront)
            del self.units[id_unit]

    def seed_existing(self, items: list[ExistingListing], storefront: str = "de") -> list[str]:
        """Units the seller made in the Kaufland seller portal before us, with the product data by EAN
        they were offered against (kept where Kaufland already has that EAN's): available, no rule
        checked, no call counted. Returns the unit ids. Kaufland lists by EAN only: an item without a
        GTIN is refused (ValueError); a 12-digit UPC is kept as its EAN-13 (a leading 0)."""
        currency = CURRENCY[storefront]
        check_batch("Kaufland", items, [currency], ean=True)  # the whole batch or nothing
        ids = []
        with self._lock:
            now = self.clock.now()
            for item in items:
                ean = item.gtin.zfill(13)
                if ean not in self.product_data:
                    values = {
                        "title": [item.title],
                        "description": [item.description],
                        "picture": list(item.photos),
                        "manufacturer": [item.brand] if item.brand else [],
                        "mpn": [item.mpn] if item.mpn else [],
                    }
                    self.product_data[ean] = ProductData(
                        ean, {k: v for k, v in values.items() if v}, _product_id(ean), now
                    )
                unit = Unit(
                    id_unit=next(self._unit_ids),
                    ean=ean,
                    id_offer=item.sku or "",
                    storefront=storefront,
                    condition=_SEEDED_CONDITIONS[item.condition],
                    listing_price=round(item.price * 100),
                    minimum_price=None,
                    amount=item.quantity,
                    handling_time=1,
                    note=None,
                    id_shipping_group=None,
                    id_warehouse=None,
                    vat_indicator="standard_rate",
                    status="AVAILABLE",
                    created_at=now,
                    updated_at=now,
                )
                self.units[unit.id_unit] = unit
                ids.append(str(unit.id_unit))
        return ids

    def live_skus(self) -> dict[str, int]:
        with self._lock:
            return {
                u.id_offer: u.amount for u in self.units.values() if u.status == "AVAILABLE" and u.amount > 0
            }

    # --- orders

    def buy(self, sku: str, quantity: int = 1, buyer: Buyer | None = None) -> Order:
        """A buyer orders `quantity` of our unit with this offer id: one order unit per item, paid."""
        buyer = buyer or random_buyer(self._rng, "DE")  # the simulated market shops on kaufland.de
        with self._lock:
            unit = next(
                (u for u in self.units.values() if u.id_offer == sku and u.status == "AVAILABLE"), None
            )
            if unit is None:
                raise NotBuyable(f"no available Kaufland unit has id_offer {sku!r}")
            if unit.amount < quantity:
                raise NotBuyable(f"only {unit.amount} of {sku!r} left on Kaufland")
            unit.amount -= quantity
            now = self.clock.now()
            id_order = _order_id(self._rng)
            units = []
            for _ in range(quantity):
                item = OrderUnit(
                    id_order_unit=next(self._order_unit_ids),
                    id_order=id_order,
                    id_offer=unit.id_offer,
                    id_unit=unit.id_unit,
                    ean=unit.ean,
                    storefront=unit.storefront,
                    price=unit.listing_price,
                    shipping_rate=0,
                    condition=unit.condition,
                    buyer=buyer,
                    id_buyer=buyer_id(buyer),
                    created_at=now,
                    updated_at=now,
                )
                self.order_units[item.id_order_unit] = item
                units.append(item)
        return Order(id_order, units)

    def list_order_units(
        self,
        *,
        storefront: str | None,
        statuses: list[str],
        id_offer: str | None,
        created_from: datetime | None,
        updated_from: datetime | None,
        sort: str,
    ) -> list[OrderUnit]:
        with self._lock:
            found = [
                u
                for u in self.order_units.values()
                if (storefront is None or u.storefront == storefront)
                and (not statuses or u.status in statuses)
                and (id_offer is None or u.id_offer == id_offer)
                and (created_from is None or u.created_at >= created_from)
                and (updated_from is None or u.updated_at >= updated_from)
            ]
        key = (
            (lambda u: (u.updated_at, u.id_order_unit))
            if sort.startswith("ts_updated")
            else (lambda u: (u.created_at, u.id_order_unit))
        )
        return sorted(found, key=key, reverse=True)

    def order_unit(self, id_order_unit: int) -> OrderUnit:
        found = self.order_units.get(id_order_unit)
        if found is None:
            raise not_found("Order unit")
        return found

    def send(self, id_order_unit: int, data: dict[str, Any]) -> OrderUnit:
        carrier = data.get("carrier_code")
        if carrier not in {name for name, _ in CARRIERS}:
            raise field_error("carrier_code", f"unknown carrier code {carrier!r} (see GET /carriers)")
        numbers = [n.strip() for n in str(data.get("tracking_numbers") or "").split(",") if n.strip()]
        if not numbers and carrier not in UNTRACKED:
            raise field_error("tracking_numbers", f"required for carrier {carrier}")
        with self._lock:
            unit = self.order_unit(id_order_unit)
            if unit.status == "open":
                raise KauflandError(
                    403, "the order unit is not paid yet", problem="/problems/order-units/missing-payment"
                )
            if unit.status != "need_to_be_sent":
                raise not_allowed(
                    f"order unit {id_order_unit} is {unit.status}: only need_to_be_sent can be sent"
                )
            unit.status, unit.tracking_numbers, unit.carrier_code = "sent", numbers, carrier
            unit.updated_at = self.clock.now()
            return unit

    def cancel(self, id_order_unit: int, data: dict[str, Any]) -> OrderUnit:
        reason = data.get("reason")
        if reason not in CANCEL_REASONS:
            raise field_error("reason", f"unknown cancellation reason {reason!r}")
        with self._lock:
            unit = self.order_unit(id_order_unit)
            if unit.status not in ("open", "need_to_be_sent"):
                raise KauflandError(
                    403,
                    f"order unit {id_order_unit} is {unit.status}",
                    problem="/problems/order-units/cancel-not-possible",
                )
            unit.status, unit.cancel_reason, unit.updated_at = "cancelled", reason, self.clock.now()
            if (offer := self.units.get(unit.id_unit)) is not None:
                offer.amount += 1
            return unit

    def receive(self, id_order_unit: int) -> OrderUnit:
        """The buyer confirmed delivery (market hook)."""
        with self._lock:
            unit = self.order_unit(id_order_unit)
            if unit.status == "sent":
                unit.status, unit.updated_at = "received", self.clock.now()
            return unit

    # --- tickets

    def list_tickets(self, *, statuses: list[str], updated_from: datetime | None, sort: str) -> list[Ticket]:
        with self._lock:
            found = [
                t
                for t in self.tickets.values()
                if (not statuses or t.status in statuses)
                and (updated_from is None or t.updated_at >= updated_from)
            ]
        key = (lambda t: t.created_at) if sort.startswith("ts_created") else (lambda t: t.updated_at)
        return sorted(found, key=lambda t: (key(t), t.id), reverse=True)

    def ticket(self, id_ticket: str) -> Ticket:
        found = self.tickets.get(id_ticket)
        if found is None:
            raise not_found("Ticket")
        return found

    def post_message(self, id_ticket: str, data: dict[str, Any]) -> TicketMessage:
        text = data.get("text")
        if not isinstance(text, str) or not text.strip():
            raise field_error("text", "must not be empty")
        with self._lock:
            ticket = self.ticket(id_ticket)
            if ticket.status == "customer_service_closed_final":
                raise KauflandError(
                    400, "the ticket is finally closed", problem="/problems/tickets/finally-closed"
                )
            return self._post(ticket, "seller", self.config.shop_name, text)

    def _post(self, ticket: Ticket, role: str, name: str, text: str) -> TicketMessage:
        now = self.clock.now()
        message = TicketMessage(next(self._message_ids), role, name, text, now)
        ticket.messages.append(message)
        ticket.updated_at = now
        return message

    def customer_message(self, ref: str, body: str, buyer: Buyer | None = None) -> Ticket:
        """A buyer writes about an order (its id, an order-unit id, or the SKU of one they bought): in
        their open ticket about it, else a new one."""
        with self._lock:
            units = [
                u
                for u in self.order_units.values()
                if ref in (u.id_order, str(u.id_order_unit), u.id_offer)
                and (buyer is None or u.buyer == buyer)
            ]
            if not units:
                raise not_found("Order")
            order_units = [u for u in self.order_units.values() if u.id_order == units[-1].id_order]
            first = order_units[0]
            ticket = next(
                (
                    t
                    for t in self.tickets.values()
                    if t.status == "opened" and set(t.order_unit_ids) & {u.id_order_unit for u in order_units}
                ),
                None,
            )
            if ticket is None:
                now = self.clock.now()
                ticket = Ticket(
                    id=f"001{next(self._ticket_numbers)}",
                    id_buyer=first.id_buyer,
                    buyer=first.buyer,
                    order_unit_ids=[u.id_order_unit for u in order_units],
                    storefront=first.storefront,
                    open_reason="contact_other",
                    topic="order_other_question",
                    created_at=now,
                    updated_at=now,
                    messages=[],
                )
                self.tickets[ticket.id] = ticket
            self._post(ticket, "buyer", ticket.buyer.first_name, body)
            return ticket


def buyer_id(buyer: Buyer) -> int:
    return int(hashlib.sha256(buyer.email.encode()).hexdigest(), 16) % 90_000_000 + 10_000_000


def _product_id(ean: str) -> int:
    return int(hashlib.sha256(f"product:{ean}".encode()).hexdigest(), 16) % 900_000_000 + 100_000_000


def _order_id(rng: random.Random) -> str:
    return "M" + "".join(rng.choice(string.ascii_uppercase + string.digits) for _ in range(6))

"""Best Buy Canada's Mirakl marketplace, from our shop's side: orders, their acceptance, tracking and
shipping, and the buyer inbox (Mirakl seller API, `mirakl-mmp-seller-openapi.json`).

What Mirakl enforces is enforced here: OR21 takes a decision for every line of an order that waits for
acceptance (ORDER_LINE_ACCEPTANCE_DECISION_MISSING, ORDER_LINE_NOT_FOUND, ORDER_LINE_DUPLICATE_ID,
ORDER_INVALID_STATE); acceptance is asynchronous, so the order stays WAITING_ACCEPTANCE for
`acceptance_lag_reads` more reads before the customer is debited and it moves to SHIPPING (all lines
refused: REFUSED); OR23 needs a carrier (code, or name for an unregistered one) and a tracking number,
and only while the order is SHIPPING; OR24 ships only a SHIPPING order that has tracking.

Offers: Best Buy sellers commonly feed their offers from their Shopify store through Mirakl's Shopify
connector, so what a buyer can order here is what the Shopify simulator has live (SKU, price, units);
`add_offer` puts an offer up directly for tests. An order here does not touch Shopify's units: keeping
stock right across channels is our pipeline's job, and acceptance is where it refuses what it cannot ship.

Market hooks: `buy(sku, quantity, buyer)`, `live_skus()`, `customer_message(order_id, body)`.
"""

from __future__ import annotations

import itertools
import random
import threading
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict, Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from ..buyers import Buyer, NotBuyable, random_buyer

if TYPE_CHECKING:
    from ..app import Simulator

ORDER_STATES = (
    "STAGING", "WAITING_ACCEPTANCE", "WAITING_DEBIT", "WAITING_DEBIT_PAYMENT", "SHIPPING", "SHIPPED",
    "TO_COLLECT", "RECEIVED", "CLOSED", "REFUSED", "CANCELED",
)  # fmt: skip
# Carriers registered on Best Buy Canada's marketplace (code → name, tracking URL pattern).
CARRIERS = {
    "CPCL": ("Canada Post", "https://www.canadapost-postescanada.ca/track-reperage/en#/search?searchFor={}"),
    "PURO": ("Purolator", "https://www.purolator.com/en/shipping/tracker?pin={}"),
    "UPS": ("UPS", "https://www.ups.com/track?tracknum={}"),
    "FEDEX": ("FedEx", "https://www.fedex.com/fedextrack/?trknbr={}"),
}
SHOP_ID = 2001
SHOP_NAME = "Retail Pipeline Sim"
ALPHA3 = {"CA": "CAN", "US": "USA", "NZ": "NZL", "AU": "AUS", "GB": "GBR"}


class MiraklError(Exception):
    """Mirakl's error body: `{"status": …, "message": …}`, with `code` and field `errors` on a 400."""

    def __init__(self, status: int, message: str, code: str | None = None, errors: list | None = None):
        super().__init__(f"{status} {code or ''}: {message}")
        self.status, self.message, self.code, self.errors = status, message, code, errors

    def body(self) -> dict[str, Any]:
        body: dict[str, Any] = {"status": self.status, "message": self.message}
        if self.code:
            body["code"] = self.code
        if self.errors is not None:
            body["errors"] = self.errors
        return body


def invalid(code: str, message: str, field_name: str | None = None) -> MiraklError:
    errors = [{"code": code, "field": field_name, "message": message}] if field_name else None
    return MiraklError(400, message, code, errors)


class MiraklSimulatorConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    api_key: str | None = Field(None, description="The one accepted shop API key; None = any non-empty key.")
    acceptance_lag_reads: int = Field(1, ge=0, description="Reads an accepted order still shows waiting.")
    currency: str = "CAD"
    shipping_price: Decimal = Decimal("9.99")
    use_shopify_offers: bool = Field(True, description="Offers fed from the Shopify simulator's live SKUs.")

    @classmethod
    def from_env(cls) -> MiraklSimulatorConfig:
        """SIMULATOR_MIRAKL_API_KEY, SIMULATOR_MIRAKL_ACCEPTANCE_LAG_READS, … each optional."""
        return cls.model_validate(_FromEnvironment().model_dump())


class _FromEnvironment(BaseSettings, MiraklSimulatorConfig):
    model_config = SettingsConfigDict(env_prefix="SIMULATOR_MIRAKL_", extra="ignore")


@dataclass
class Offer:
    sku: str
    title: str
    price: Decimal
    quantity: int


@dataclass
class OrderLine:
    line_id: str
    index: int
    offer_id: int
    offer_sku: str
    title: str
    quantity: int
    unit_price: Decimal
    shipping_price: Decimal
    state: str = "WAITING_ACCEPTANCE"
    reason: str | None = None


@dataclass
class Order:
    order_id: str
    commercial_id: str
    customer_id: str
    buyer: Buyer
    currency: str
    lines: list[OrderLine]
    created: datetime
    updated: datetime
    state: str = "WAITING_ACCEPTANCE"
    acceptance_decision_date: datetime | None = None
    customer_debited_date: datetime | None = None
    shipped_date: datetime | None = None
    reads_until_decided: int | None = None  # accepted, Mirakl still processing
    carrier_code: str | None = None
    carrier_name: str | None = None
    carrier_url: str | None = None
    tracking_number: str | None = None

    @property
    def shipping_deadline(self) -> datetime:
        return self.created + timedelta(days=2)


@dataclass
class Message:
    message_id: str
    body: str
    created: datetime
    sender_type: str  # CUSTOMER_USER | SHOP_USER | OPERATOR_USER
    sender_name: str
    to: list[dict[str, str]]


@dataclass
class Thread:
    thread_id: str
    order_id: str
    customer_id: str
    customer_name: str
    topic: str
    created: datetime
    updated: datetime
    messages: list[Message] = field(default_factory=list)


class MiraklBackend:
    def __init__(self, sim: Simulator, config: MiraklSimulatorConfig):
        self.sim, self.config, self.clock = sim, config, sim.clock
        self._rng = random.Random(f"{sim.config.seed}:mirakl:buyers")
        self._lock = threading.RLock()
        self._order_numbers = itertools.count(1001)
        self._customer_numbers = itertools.count(700001)
        self.orders: dict[str, Order] = {}
        self.threads: dict[str, Thread] = {}
        self.own_offers: dict[str, Offer] = {}
        self.sold: dict[str, int] = {}  # units ordered per SKU (offers shrink by them)

    def accepts(self, key: str) -> bool:
        return bool(key) and (self.config.api_key is None or key == self.config.api_key)

    def _uuid(self) -> str:
        return str(uuid.UUID(int=self._rng.getrandbits(128), version=4))

    # --- offers

    def add_offer(self, sku: str, quantity: int, price: Decimal | str, title: str | None = None) -> Offer:
        offer = Offer(sku, title or sku, Decimal(str(price)), quantity)
        with self._lock:
            self.own_offers[sku] = offer
            self.sold.pop(sku, None)
        return offer

    def offers(self) -> dict[str, Offer]:
        found: dict[str, Offer] = {}
        if self.config.use_shopify_offers and "shopify" in self.sim.systems:
            shopify = self.sim.backend("shopify")
            with shopify._lock:
                for product in shopify.products.values():
                    if product.status != "active":
                        continue
                    for variant in product.variants:
                        if variant.sku and variant.tracked:
                            units = shopify.inventory_quantity(variant)
                            found[variant.sku] = Offer(variant.sku, product.title, variant.price, units)
        found.update(self.own_offers)
        return {
            sku: Offer(o.sku, o.title, o.price, max(0, o.quantity - self.sold.get(sku, 0)))
            for sku, o in found.items()
        }

    def _offer_id(self, sku: str) -> int:
        """Mirakl's numeric offer id, stable per SKU."""
        return 2000 + int.from_bytes(sku.encode()[-6:].rjust(6, b"\0"), "big") % 9_000_000

    def live_skus(self) -> dict[str, int]:
        return {sku: offer.quantity for sku, offer in self.offers().items() if offer.quantity > 0}

    # --- orders

    def buy(self, sku: str, quantity: int = 1, buyer: Buyer | None = None) -> Order:
        """A Best Buy customer orders `quantity` of our offer: the order waits for our acceptance."""
        if quantity < 1:
            raise ValueError("quantity must be at least 1")
        with self._lock:
            offer = self.offers().get(sku)
            if offer is None or offer.quantity < quantity:
                raise NotBuyable(f"no Best Buy offer has {quantity} of SKU {sku!r}")
            now = self.clock.now()
            number = next(self._order_numbers)
            commercial_id = f"BB{number:07d}"
            order_id = f"{commercial_id}-A"
            self.sold[sku] = self.sold.get(sku, 0) + quantity
            order = Order(
                order_id=order_id,
                commercial_id=commercial_id,
                customer_id=f"BBC{next(self._customer_numbers)}",
                buyer=buyer or random_buyer(self._rng),
                currency=self.config.currency,
                lines=[
                    OrderLine(
                        f"{order_id}-1",
                        1,
                        self._offer_id(sku),
                        sku,
                        offer.title,
                        quantity,
                        offer.price,
                        self.config.shipping_price,
                    )
                ],
                created=now,
                updated=now,
            )
            self.orders[order_id] = order
            return order

    def order(self, order_id: str) -> Order:
        order = self.orders.get(order_id)
        if order is None:
            raise MiraklError(404, f"Order with id {order_id} not found", "ORDER_NOT_FOUND")
        return order

    def _settle(self, order: Order) -> None:
        """A read of an order Mirakl is still processing: counts down, then the decision takes effect."""
        if order.reads_until_decided is None:
            return
        if order.reads_until_decided > 0:
            order.reads_until_decided -= 1
            return
        order.reads_until_decided = None
        now = self.clock.now()
        order.acceptance_decision_date = order.updated = now
        accepted = [line for line in order.lines if line.state == "ACCEPTED"]
        for line in order.lines:
            line.state = "SHIPPING" if line.state == "ACCEPTED" else "REFUSED"
        if accepted:
            order.state, order.customer_debited_date = "SHIPPING", now
        else:
            order.state = "REFUSED"

    def list_orders(
        self,
        *,
        order_ids: list[str] | None = None,
        states: list[str] | None = None,
        start: datetime | None = None,
        end: datetime | None = None,
        start_update: datetime | None = None,
        end_update: datetime | None = None,
    ) -> list[Order]:
        unknown = sorted(set(states or ()) - set(ORDER_STATES))
        if unknown:
            raise invalid(
                "VALIDATION_ERROR", f"unknown order state codes: {', '.join(unknown)}", "order_state_codes"
            )
        with self._lock:
            chosen = []
            for order in sorted(self.orders.values(), key=lambda o: (o.created, o.order_id)):
                if order_ids is not None and order.order_id not in order_ids:
                    continue
                self._settle(order)
                if states and order.state not in states:
                    continue
                if (start and order.created < start) or (end and order.created > end):
                    continue
                if (start_update and order.updated < start_update) or (
                    end_update and order.updated > end_update
                ):
                    continue
                chosen.append(order)
            return chosen

    def accept(self, order_id: str, decisions: Any) -> None:
        """OR21: a decision for every line; Mirakl applies it asynchronously."""
        with self._lock:
            order = self.order(order_id)
            if order.state != "WAITING_ACCEPTANCE" or order.reads_until_decided is not None:
                raise invalid(
                    "ORDER_INVALID_STATE",
                    f"Order {order_id} is in state {order.state}, not WAITING_ACCEPTANCE",
                )
            if not isinstance(decisions, list) or not decisions:
                raise invalid("VALIDATION_ERROR", "order_lines must be a non-empty list", "order_lines")
            by_id = {line.line_id: line for line in order.lines}
            seen: dict[str, bool] = {}
            for item in decisions:
                if not isinstance(item, dict):
                    raise invalid(
                        "ORDER_LINE_NULL_ELEMENT",
                        "The order lines list contains a null element",
                        "order_lines",
                    )
                line_id, accepted = item.get("id"), item.get("accepted")
                if not isinstance(accepted, bool):
                    raise invalid(
                        "VALIDATION_ERROR", "accepted must be true or false", "order_lines.accepted"
                    )
                if line_id not in by_id:
                    raise invalid(
                        "ORDER_LINE_NOT_FOUND",
                        f"Order line {line_id} does not exist in order {order_id}",
                        "order_lines.id",
                    )
                if line_id in seen:
                    raise invalid(
                        "ORDER_LINE_DUPLICATE_ID", f"Order line {line_id} appears twice", "order_lines.id"
                    )
                seen[line_id] = accepted
            missing = sorted(set(by_id) - set(seen))
            if missing:
                raise invalid(
                    "ORDER_LINE_ACCEPTANCE_DECISION_MISSING",
                    f"Some order lines are missing from the acceptance decision: {', '.join(missing)}",
                    "order_lines",
                )
            for line_id, accepted in seen.items():
                by_id[line_id].state = "ACCEPTED" if accepted else "REFUSED"
                if not accepted:
                    self.sold[by_id[line_id].offer_sku] -= by_id[line_id].quantity  # back on offer
            order.updated = self.clock.now()
            order.reads_until_decided = self.config.acceptance_lag_reads
            if order.reads_until_decided == 0:
                self._settle(order)

    def set_tracking(self, order_id: str, data: Any) -> None:
        """OR23."""
        with self._lock:
            order = self.order(order_id)
            self._settle(order)
            if order.state not in ("SHIPPING", "WAITING_DEBIT", "WAITING_DEBIT_PAYMENT", "SHIPPED"):
                raise invalid(
                    "ORDER_INVALID_STATE",
                    f"Order {order_id} is in state {order.state}; tracking needs SHIPPING",
                )
            if not isinstance(data, dict):
                raise invalid("VALIDATION_ERROR", "The body must be a JSON object")
            code, name = data.get("carrier_code"), data.get("carrier_name")
            number = data.get("tracking_number")
            if code:
                if code not in CARRIERS:
                    raise invalid("CARRIER_NOT_FOUND", f"Carrier with code {code} not found", "carrier_code")
                name, url = CARRIERS[code][0], CARRIERS[code][1].format(number or "")
            elif name:
                url = data.get("carrier_url")
            else:
                raise invalid("VALIDATION_ERROR", "carrier_code or carrier_name is required", "carrier_code")
            if not number or not isinstance(number, str):
                raise invalid(
                    "VALIDATION_ERROR", "tracking_number is required for this carrier", "tracking_number"
                )
            order.carrier_code, order.carrier_name, order.carrier_url = code, name, url
            order.tracking_number, order.updated = number, self.clock.now()

    def ship(self, order_id: str) -> None:
        """OR24."""
        with self._lock:
            order = self.order(order_id)
            self._settle(order)
            if order.state != "SHIPPING":
                raise invalid(
                    "ORDER_INVALID_STATE", f"Order {order_id} is in state {order.state}, not SHIPPING"
                )
            if not order.tracking_number:
                raise invalid("ORDER_TRACKING_MISSING", f"Order {order_id} has no tracking information")
            now = self.clock.now()
            order.state, order.shipped_date, order.updated = "SHIPPED", now, now
            for line in order.lines:
                if line.state == "SHIPPING":
                    line.state = "SHIPPED"

    # --- inbox

    def customer_message(self, order_id: str, body: str, topic: str = "Question about my order") -> Thread:
        """The order's buyer writes to us (one thread per order; later messages join it)."""
        with self._lock:
            order = self.order(order_id)
            now = self.clock.now()
            thread = next((t for t in self.threads.values() if t.order_id == order_id), None)
            if thread is None:
                thread = Thread(self._uuid(), order_id, order.customer_id, order.buyer.name, topic, now, now)
                self.threads[thread.thread_id] = thread
            thread.messages.append(
                Message(self._uuid(), body, now, "CUSTOMER_USER", order.buyer.name,
                        [{"display_name": SHOP_NAME, "id": str(SHOP_ID), "type": "SHOP"}])
            )  # fmt: skip
            thread.updated = now
            return thread

    def operator_message(self, thread_id: str, body: str, name: str = "Best Buy Marketplace") -> Message:
        """Best Buy's operators write into a thread (to the shop, e.g. asking it to answer the buyer)."""
        with self._lock:
            thread = self.thread(thread_id)
            now = self.clock.now()
            message = Message(self._uuid(), body, now, "OPERATOR_USER", name,
                              [{"display_name": SHOP_NAME, "id": str(SHOP_ID), "type": "SHOP"}])  # fmt: skip
            thread.messages.append(message)
            thread.updated = now
            return message

    def thread(self, thread_id: str) -> Thread:
        thread = self.threads.get(thread_id)
        if thread is None:
            raise MiraklError(404, f"Thread with id {thread_id} not found", "THREAD_NOT_FOUND")
        return thread

    def list_threads(
        self, *, entity_type: str | None, entity_ids: list[str], updated_since: datetime | None
    ) -> list[Thread]:
        if entity_type not in (None, "MMP_ORDER"):
            return []
        with self._lock:
            found = [
                t for t in self.threads.values()
                if (not entity_ids or t.order_id in entity_ids)
                and (updated_since is None or t.updated >= updated_since)
            ]  # fmt: skip
        return sorted(found, key=lambda t: (t.updated, t.thread_id), reverse=True)

    def reply(self, thread_id: str, message_input: Any) -> Message:
        """M12: we write to the customer (or to Best Buy's operators)."""
        with self._lock:
            thread = self.thread(thread_id)
            if not isinstance(message_input, dict) or not str(message_input.get("body") or "").strip():
                raise invalid("VALIDATION_ERROR", "message_input.body is required", "message_input.body")
            to = message_input.get("to") or []
            kinds = {item.get("type") for item in to if isinstance(item, dict)}
            if not kinds or not kinds <= {"CUSTOMER", "OPERATOR"}:
                raise invalid(
                    "VALIDATION_ERROR", "message_input.to needs CUSTOMER and/or OPERATOR", "message_input.to"
                )
            now = self.clock.now()
            recipients = [
                {"display_name": thread.customer_name, "id": thread.customer_id, "type": "CUSTOMER"}
                if kind == "CUSTOMER" else {"display_name": "Best Buy Marketplace", "id": "operator", "type": "OPERATOR"}
                for kind in sorted(kinds)
            ]  # fmt: skip
            message = Message(
                self._uuid(), str(message_input["body"]), now, "SHOP_USER", "Customer Service", recipients
            )
            thread.messages.append(message)
            thread.updated = now
            return message

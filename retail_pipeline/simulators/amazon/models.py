"""Our Amazon seller account (moto-style): LWA tokens, listings by seller and SKU, product types, feeds,
orders and shipments, and the per-operation token buckets.

What Amazon does is done here: a PUT is checked against the product type's JSON Schema at once (a
listing that breaks it is INVALID, with Amazon's issue shape, and nothing is saved); an ACCEPTED
listing is checked again later, so issues can appear on GET minutes after the PUT (a product id whose
check digit is wrong, no product id and no exemption) and take the listing off sale;
`mode=VALIDATION_PREVIEW` saves nothing; feeds are processed asynchronously (IN_QUEUE → IN_PROGRESS →
DONE over the following reads or simulated minutes) and leave a processing report; orders come from the
simulated market and wait for ship confirmation. Times follow the simulated clock; rate limits follow
real time (the usage plans are per second).

Market hooks: `buy(sku, quantity, buyer)` and `live_skus()`.
"""

from __future__ import annotations

import base64
import copy
import hashlib
import itertools
import json
import random
import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from jsonschema import Draft202012Validator
from pydantic import BaseModel, ConfigDict, Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from ..buyers import Buyer, NotBuyable, random_buyer
from ..existing_listings import ExistingListing, check_batch, shop_sku
from ..taxonomy_data import rank
from . import product_types as types
from .conformance import usage_plans
from .exceptions import AmazonError, invalid_input, not_found, throttled

if TYPE_CHECKING:
    from ..app import Simulator

MARKETPLACES = {
    "A2EUQ1WTGCTBG2": ("Amazon.ca", "CAD", "en_CA"),
    "ATVPDKIKX0DER": ("Amazon.com", "USD", "en_US"),
}
ISSUE_DELAY = timedelta(minutes=5)  # how long after an ACCEPTED submission its later issues show
FEED_STEP = timedelta(minutes=1)  # a feed moves one processing step per simulated minute (or per read)
TOKEN_LIFETIME = 3600


class AmazonSimulatorConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    client_id: str | None = Field(None, description="The one accepted LWA client id; None = any.")
    client_secret: str | None = None
    refresh_token: str | None = None
    seller_id: str | None = Field(None, description="The seller whose token it is; None = any seller id.")
    rate_scale: float = Field(1.0, gt=0, description="Multiplies every documented rate.")

    @classmethod
    def from_env(cls) -> AmazonSimulatorConfig:
        """SIMULATOR_AMAZON_CLIENT_ID, _CLIENT_SECRET, _REFRESH_TOKEN, _SELLER_ID, _RATE_SCALE."""
        return cls.model_validate(_FromEnvironment().model_dump())


class _FromEnvironment(BaseSettings, AmazonSimulatorConfig):
    model_config = SettingsConfigDict(env_prefix="SIMULATOR_AMAZON_", extra="ignore")


class Bucket:
    def __init__(self, rate: float, burst: int, clock: Callable[[], float] = time.monotonic):
        self.rate, self.burst, self.clock = rate, burst, clock
        self.tokens, self.at = float(burst), clock()

    def take(self) -> bool:
        now = self.clock()
        if now < self.at:  # restored from another process's state: its clock started elsewhere
            self.at = now
        self.tokens = min(self.burst, self.tokens + (now - self.at) * self.rate)
        self.at = now
        if self.tokens < 1:
            return False
        self.tokens -= 1
        return True

    def drain(self) -> None:
        self.tokens, self.at = 0.0, self.clock()


@dataclass
class Listing:
    seller_id: str
    sku: str
    marketplace_id: str
    product_type: str
    attributes: dict[str, Any]
    asin: str
    created: datetime
    updated: datetime
    submission_id: str
    late_issues: list[dict[str, Any]] = field(default_factory=list)
    checked_at: datetime | None = None  # when the late issues show

    def issues(self, now: datetime) -> list[dict[str, Any]]:
        return list(self.late_issues) if self.checked_at and now >= self.checked_at else []

    def value(self, name: str, key: str = "value") -> Any:
        entries = self.attributes.get(name) or []
        return entries[0].get(key) if entries else None

    @property
    def quantity(self) -> int:
        return int(self.value("fulfillment_availability", "quantity") or 0)

    @property
    def price(self) -> Decimal | None:
        offer = (self.attributes.get("purchasable_offer") or [{}])[0]
        try:
            return Decimal(str(offer["our_price"][0]["schedule"][0]["value_with_tax"]))
        except (KeyError, IndexError, TypeError):
            return None

    def status(self, now: datetime) -> list[str]:
        if any(i["severity"] == "ERROR" for i in self.issues(now)):
            return []
        return ["BUYABLE", "DISCOVERABLE"] if self.quantity > 0 else ["DISCOVERABLE"]


@dataclass
class OrderItem:
    order_item_id: str
    sku: str
    title: str
    asin: str
    quantity: int
    unit_price: Decimal


@dataclass
class Order:
    order_id: str
    seller_id: str
    marketplace_id: str
    currency: str
    created: datetime
    updated: datetime
    buyer: Buyer
    items: list[OrderItem]
    status: str = "UNSHIPPED"
    packages: list[dict[str, Any]] = field(default_factory=list)

    @property
    def total(self) -> Decimal:
        return sum((i.unit_price * i.quantity for i in self.items), Decimal(0))


@dataclass
class Feed:
    feed_id: str
    seller_id: str
    feed_type: str
    marketplace_ids: list[str]
    document_id: str
    created: datetime
    reads: int = 0
    status: str = "IN_QUEUE"
    started: datetime | None = None
    ended: datetime | None = None
    result_document_id: str | None = None


@dataclass
class Document:
    document_id: str
    content_type: str
    content: bytes | None = None


def gtin_ok(value: str) -> bool:
    digits = [int(c) for c in value]
    check = sum(d * (3 if i % 2 == 0 else 1) for i, d in enumerate(reversed(digits[:-1])))
    return (10 - check % 10) % 10 == digits[-1]


def issue(code: str, message: str, names: list[str], *, severity: str = "ERROR", category: str = "") -> dict:
    return {
        "code": code,
        "message": message,
        "severity": severity,
        "attributeNames": names,
        "categories": [category] if category else [],
    }


def schema_issues(schema: dict[str, Any], attributes: dict[str, Any]) -> list[dict[str, Any]]:
    """Where the attributes break the product type's schema, as Amazon words its issues."""
    validator = Draft202012Validator({k: v for k, v in schema.items() if k not in ("$schema", "$id")})
    issues = []
    for error in sorted(validator.iter_errors(attributes), key=lambda e: list(map(str, e.absolute_path))):
        path = list(error.absolute_path)
        if error.validator == "required" and not path:
            for name in error.validator_value:
                if name not in attributes:
                    issues.append(
                        issue(
                            "90220",
                            f"'{name}' is required but not supplied.",
                            [name],
                            category="MISSING_ATTRIBUTE",
                        )
                    )
        elif error.validator == "additionalProperties" and not path:
            extra = sorted(set(attributes) - set(schema["properties"]))
            issues.append(
                issue("90000900", "The attributes are invalid.", extra, category="INVALID_ATTRIBUTE")
            )
        else:
            name = str(path[0]) if path else ""
            where = ".".join(str(p) for p in path if not isinstance(p, int))
            issues.append(
                issue(
                    "99022",
                    f"The value for '{where}' is invalid: {error.message}",
                    [name],
                    category="INVALID_ATTRIBUTE",
                )
            )
    return issues


class AmazonBackend:
    def __init__(self, sim: Simulator, config: AmazonSimulatorConfig):
        self.sim, self.config, self.clock = sim, config, sim.clock
        self._lock = threading.RLock()
        self._rng = random.Random(f"{sim.config.seed}:amazon:buyers")
        self.tokens: dict[str, tuple[str | None, datetime]] = {}  # access token → (seller, expiry)
        self.listings: dict[tuple[str, str], Listing] = {}  # (seller, sku)
        self.orders: dict[str, Order] = {}
        self.feeds: dict[str, Feed] = {}
        self.documents: dict[str, Document] = {}
        self.buckets: dict[tuple[str, str], Bucket] = {}
        # what the usage plans' seconds are: real time (a benchmark that steps a simulated clock faster
        # than real time sets its own, so that rates hold per second of that clock)
        self.rate_clock: Callable[[], float] = time.monotonic
        self._ids = itertools.count(1)
        self.default_seller = config.seller_id or "A1SIMULATEDSELLER"

    # --- auth and limits

    def grant(self, form: dict[str, str]) -> dict[str, Any]:
        """LWA's refresh-token grant."""
        if form.get("grant_type") != "refresh_token":
            raise _oauth("unsupported_grant_type", "The authorization grant type is not supported.")
        for name in ("client_id", "client_secret", "refresh_token"):
            expected = getattr(self.config, name)
            if not form.get(name) or (expected is not None and form[name] != expected):
                code = "invalid_client" if name != "refresh_token" else "invalid_grant"
                raise _oauth(code, f"The {name.replace('_', ' ')} is invalid.")
        token = "Atza|" + secrets.token_urlsafe(24)
        with self._lock:
            self.tokens[token] = (self.config.seller_id, self.clock.now() + timedelta(seconds=TOKEN_LIFETIME))
        return {
            "access_token": token,
            "refresh_token": form["refresh_token"],
            "token_type": "bearer",
            "expires_in": TOKEN_LIFETIME,
        }

    def check_token(self, token: str | None) -> str | None:
        """The reason a token is refused, or None."""
        found = self.tokens.get(token or "")
        if found is None:
            return "The access token you provided is revoked, malformed or invalid."
        if self.clock.now() >= found[1]:
            return "The access token you provided has expired."
        return None

    def expire_tokens(self) -> None:
        with self._lock:
            self.tokens = {t: (s, self.clock.now()) for t, (s, _) in self.tokens.items()}

    def limit(self, operation: str, token: str) -> None:
        rate, burst = usage_plans()[operation]
        key = (operation, (self.tokens.get(token) or (None,))[0] or "seller")
        with self._lock:
            bucket = self.buckets.setdefault(
                key, Bucket(rate * self.config.rate_scale, burst, self.rate_clock)
            )
            if not bucket.take():
                raise throttled()

    def bucket(self, operation: str) -> Bucket:
        rate, burst = usage_plans()[operation]
        return self.buckets.setdefault(
            (operation, "seller"), Bucket(rate * self.config.rate_scale, burst, self.rate_clock)
        )

    # --- product types

    def search_product_types(self, keywords: str | None, item_name: str | None) -> list[tuple[str, str]]:
        text = item_name or (keywords or "").replace(",", " ")
        if not text.strip():
            raise invalid_input("Either keywords or itemName is required.")
        found = rank(text, limit=10)
        return [(types.name_of(node), " > ".join(node.path)) for node, _ in found]

    def product_type(self, name: str) -> dict[str, Any]:
        if name not in types.product_types():
            raise not_found(f"Product type {name} not found.")
        return types.schema(name)

    # --- listings

    def _schema_for(self, product_type: str) -> dict[str, Any] | None:
        return types.schema(product_type) if product_type in types.product_types() else None

    def _late_issues(self, attributes: dict[str, Any]) -> list[dict[str, Any]]:
        """What Amazon's catalogue checks find after accepting a submission."""
        found = []
        ids = attributes.get("externally_assigned_product_identifier") or []
        exempt = any(
            e.get("value") is True
            for e in attributes.get("supplier_declared_has_product_identifier_exemption") or []
        )
        for entry in ids:
            value = str(entry.get("value", ""))
            if value.isdigit() and not gtin_ok(value):
                found.append(
                    issue(
                        "8572",
                        f"The product ID {value} you provided is not valid: its check digit does not match.",
                        ["externally_assigned_product_identifier"],
                        category="INVALID_ATTRIBUTE",
                    )
                )
        if not ids and not exempt:
            found.append(
                issue(
                    "5665",
                    "A product ID (UPC, EAN or GTIN) or a GTIN exemption is required to create a new ASIN.",
                    ["externally_assigned_product_identifier"],
                    category="MISSING_ATTRIBUTE",
                )
            )
        return found

    def submission_id(self) -> str:
        return hashlib.md5(f"{self.sim.config.seed}:{next(self._ids)}".encode()).hexdigest()

    def put(
        self, seller: str, sku: str, marketplace: str, body: dict[str, Any], *, preview: bool
    ) -> dict[str, Any]:
        if marketplace not in MARKETPLACES:
            raise invalid_input(f"Invalid marketplaceIds: {marketplace}")
        product_type = body.get("productType", "")
        schema = self._schema_for(product_type)
        submission = self.submission_id()
        if schema is None:
            issues = [
                issue(
                    "4000001",
                    f"The product type {product_type!r} is not valid.",
                    [],
                    category="INVALID_ATTRIBUTE",
                )
            ]
            return {"sku": sku, "status": "INVALID", "submissionId": submission, "issues": issues}
        attributes = body.get("attributes") or {}
        issues = schema_issues(schema, attributes)
        currency = MARKETPLACES[marketplace][1]
        for offer in attributes.get("purchasable_offer") or []:
            if offer.get("currency") not in (None, currency):
                issues.append(
                    issue(
                        "99022",
                        f"The currency must be {currency} in this marketplace.",
                        ["purchasable_offer"],
                    )
                )
        if issues:
            return {"sku": sku, "status": "INVALID", "submissionId": submission, "issues": issues}
        if preview:
            return {"sku": sku, "status": "VALID", "submissionId": submission, "issues": []}
        now = self.clock.now()
        with self._lock:
            existing = self.listings.get((seller, sku))
            listing = Listing(
                seller_id=seller,
                sku=sku,
                marketplace_id=marketplace,
                product_type=product_type,
                attributes=copy.deepcopy(attributes),
                asin=existing.asin
                if existing
                else "B0" + hashlib.sha1(f"{seller}:{sku}".encode()).hexdigest()[:8].upper(),
                created=existing.created if existing else now,
                updated=now,
                submission_id=submission,
                late_issues=self._late_issues(attributes),
                checked_at=now + ISSUE_DELAY,
            )
            self.listings[(seller, sku)] = listing
        return {"sku": sku, "status": "ACCEPTED", "submissionId": submission, "issues": []}

    def patch(
        self, seller: str, sku: str, marketplace: str, body: dict[str, Any], *, preview: bool
    ) -> dict[str, Any]:
        submission = self.submission_id()
        with self._lock:
            listing = self.listings.get((seller, sku))
            if listing is None:
                issues = [issue("4000002", f"The SKU {sku} was not found for this seller.", [])]
                return {"sku": sku, "status": "INVALID", "submissionId": submission, "issues": issues}
            if body.get("productType") != listing.product_type:
                issues = [
                    issue(
                        "4000003",
                        f"The productType does not match the listing's ({listing.product_type}).",
                        [],
                    )
                ]
                return {"sku": sku, "status": "INVALID", "submissionId": submission, "issues": issues}
            attributes = copy.deepcopy(listing.attributes)
            for patch in body.get("patches") or []:
                name = patch["path"].removeprefix("/attributes/")
                if patch["op"] == "delete":
                    attributes.pop(name, None)
                else:
                    attributes[name] = patch.get("value") or []
            issues = schema_issues(types.schema(listing.product_type), attributes)
            if issues:
                return {"sku": sku, "status": "INVALID", "submissionId": submission, "issues": issues}
            if not preview:
                listing.attributes, listing.updated, listing.submission_id = (
                    attributes,
                    self.clock.now(),
                    submission,
                )
            return {"sku": sku, "status": "ACCEPTED", "submissionId": submission, "issues": []}

    def delete(self, seller: str, sku: str) -> dict[str, Any]:
        with self._lock:
            if self.listings.pop((seller, sku), None) is None:
                raise invalid_input(f"SKU '{sku}' does not exist for this seller.")
        return {"sku": sku, "status": "ACCEPTED", "submissionId": self.submission_id(), "issues": []}

    def listing(self, seller: str, sku: str) -> Listing:
        found = self.listings.get((seller, sku))
        if found is None:
            raise not_found(f"SKU '{sku}' not found in marketplace.")
        return found

    def seller_listings(self, seller: str) -> list[Listing]:
        with self._lock:
            return sorted(
                (x for x in self.listings.values() if x.seller_id == seller), key=lambda x: (x.created, x.sku)
            )

    # --- feeds

    def create_document(self, content_type: str) -> Document:
        document = Document("amzn1.tortuga.4." + secrets.token_hex(12), content_type)
        with self._lock:
            self.documents[document.document_id] = document
        return document

    def upload(self, document_id: str, content: bytes) -> None:
        document = self.documents.get(document_id)
        if document is None:
            raise not_found("No such document.")
        document.content = content

    def create_feed(self, seller: str, body: dict[str, Any]) -> Feed:
        if body.get("feedType") != "JSON_LISTINGS_FEED":
            raise invalid_input(f"Feed type {body.get('feedType')} is not supported.")
        document = self.documents.get(body.get("inputFeedDocumentId", ""))
        if document is None or document.content is None:
            raise invalid_input("The input feed document was not found or not uploaded.")
        feed = Feed(str(50_000_000_000 + next(self._ids)), seller, body["feedType"], list(body.get("marketplaceIds") or []),
                    document.document_id, self.clock.now())  # fmt: skip
        with self._lock:
            self.feeds[feed.feed_id] = feed
        return feed

    def feed(self, feed_id: str) -> Feed:
        """The feed as it stands: each read (or simulated minute) moves it a step, DONE with a report."""
        with self._lock:
            feed = self.feeds.get(feed_id)
            if feed is None:
                raise not_found(f"Feed {feed_id} not found.")
            feed.reads += 1
            steps = max(feed.reads - 1, int((self.clock.now() - feed.created) / FEED_STEP))
            if feed.status == "IN_QUEUE" and steps >= 1:
                feed.status, feed.started = "IN_PROGRESS", self.clock.now()
            if feed.status == "IN_PROGRESS" and steps >= 2:
                self._process(feed)
            return feed

    def _process(self, feed: Feed) -> None:
        from .conformance import feed_schema_errors

        content = self.documents[feed.document_id].content or b""
        try:
            data = json.loads(content)
        except ValueError:
            data = None
        errors = feed_schema_errors(data) if data is not None else ["the document is not JSON"]
        report: dict[str, Any] = {
            "header": {"sellerId": feed.seller_id, "version": "2.0", "feedId": feed.feed_id}
        }
        if errors:
            feed.status = "FATAL"
            report["issues"] = [
                {
                    "messageId": 0,
                    "code": "100001",
                    "severity": "ERROR",
                    "message": f"The feed is not valid: {e}",
                }
                for e in errors[:10]
            ]
            report["summary"] = {"errors": len(report["issues"]), "warnings": 0, "messagesProcessed": 0,
                                 "messagesAccepted": 0, "messagesInvalid": 0}  # fmt: skip
        else:
            seller = data["header"]["sellerId"]
            marketplace = (feed.marketplace_ids or ["A2EUQ1WTGCTBG2"])[0]
            issues, accepted, invalid = [], 0, 0
            for message in data["messages"]:
                sku, kind = message["sku"], message["operationType"]
                if kind == "DELETE":
                    result = self.delete(seller, sku)
                elif kind == "PATCH":
                    result = self.patch(seller, sku, marketplace, message, preview=False)
                elif kind == "UPDATE":
                    result = self.put(seller, sku, marketplace, message, preview=False)
                else:  # PARTIAL_UPDATE: the attributes given replace theirs
                    patches = [{"op": "replace", "path": f"/attributes/{k}", "value": v}
                               for k, v in (message.get("attributes") or {}).items()]  # fmt: skip
                    result = self.patch(
                        seller, sku, marketplace, {**message, "patches": patches}, preview=False
                    )
                for found in result["issues"]:
                    entry = {"messageId": message["messageId"], "sku": sku, "code": found["code"],
                             "severity": found["severity"], "message": found["message"]}  # fmt: skip
                    if found.get("attributeNames"):
                        entry["attributeName"] = found["attributeNames"][0]
                    issues.append(entry)
                if result["status"] == "INVALID":
                    invalid += 1
                else:
                    accepted += 1
            report["issues"] = issues
            report["summary"] = {
                "errors": sum(1 for i in issues if i["severity"] == "ERROR"),
                "warnings": sum(1 for i in issues if i["severity"] == "WARNING"),
                "messagesProcessed": accepted + invalid,
                "messagesAccepted": accepted,
                "messagesInvalid": invalid,
            }
            feed.status = "DONE"
        result = self.create_document("application/json")
        result.content = json.dumps(report).encode()
        feed.result_document_id, feed.ended = result.document_id, self.clock.now()

    # --- orders

    def seed_existing(self, items: list[ExistingListing]) -> list[str]:
        """Listings the seller made in Seller Central before us, on the marketplace that sells in the
        item's currency: no rule checked, no call counted. Returns their SKUs (an item listed without
        one gets the seller's own: every Amazon listing has a SKU)."""
        currencies = {currency: marketplace for marketplace, (_, currency, _) in MARKETPLACES.items()}
        check_batch("Amazon", items, currencies)  # the whole batch or nothing
        seller, skus = self.default_seller, []
        with self._lock:
            now = self.clock.now()
            for item in items:
                marketplace = currencies[item.currency]
                sku = shop_sku(item, next(self._ids))
                self.listings[(seller, sku)] = Listing(
                    seller_id=seller,
                    sku=sku,
                    marketplace_id=marketplace,
                    product_type="PRODUCT",
                    attributes=_seeded_attributes(item, marketplace),
                    asin="B0" + hashlib.sha1(f"{seller}:{sku}".encode()).hexdigest()[:8].upper(),
                    created=now,
                    updated=now,
                    submission_id=self.submission_id(),
                )
                skus.append(sku)
        return skus

    def live_skus(self) -> dict[str, int]:
        now = self.clock.now()
        with self._lock:
            return {x.sku: x.quantity for x in self.listings.values() if "BUYABLE" in x.status(now)}

    def buy(self, sku: str, quantity: int = 1, buyer: Buyer | None = None) -> Order:
        if quantity < 1:
            raise ValueError("quantity must be at least 1")
        now = self.clock.now()
        with self._lock:
            listing = next(
                (x for x in self.listings.values() if x.sku == sku and "BUYABLE" in x.status(now)), None
            )
            if listing is None:
                raise NotBuyable(f"no buyable Amazon listing has SKU {sku!r}")
            if listing.quantity < quantity:
                raise NotBuyable(f"{sku!r} has {listing.quantity} available, not {quantity}")
            listing.attributes["fulfillment_availability"][0]["quantity"] = listing.quantity - quantity
            listing.updated = now
            number = self._rng.randrange(10**7)
            order_id = f"702-{self._rng.randrange(10**7):07d}-{number:07d}"
            order = Order(
                order_id=order_id,
                seller_id=listing.seller_id,
                marketplace_id=listing.marketplace_id,
                currency=MARKETPLACES[listing.marketplace_id][1],
                created=now,
                updated=now,
                buyer=buyer or random_buyer(self._rng),
                items=[
                    OrderItem(
                        order_item_id=f"{self._rng.randrange(10**14):014d}",
                        sku=sku,
                        title=str(listing.value("item_name") or sku),
                        asin=listing.asin,
                        quantity=quantity,
                        unit_price=listing.price or Decimal(0),
                    )
                ],
            )
            self.orders[order_id] = order
            return order

    def search_orders(
        self,
        *,
        created_after: datetime | None,
        created_before: datetime | None,
        updated_after: datetime | None,
        updated_before: datetime | None,
        statuses: list[str] | None,
        marketplaces: list[str] | None,
    ) -> list[Order]:
        with self._lock:
            found = [
                o
                for o in self.orders.values()
                if (created_after is None or o.created >= created_after)
                and (created_before is None or o.created < created_before)
                and (updated_after is None or o.updated >= updated_after)
                and (updated_before is None or o.updated < updated_before)
                and (not statuses or o.status in statuses)
                and (not marketplaces or o.marketplace_id in marketplaces)
            ]
        return sorted(found, key=lambda o: (o.created, o.order_id))

    def order(self, order_id: str) -> Order:
        found = self.orders.get(order_id)
        if found is None:
            raise not_found(f"Order {order_id} not found.")
        return found

    def confirm_shipment(self, order_id: str, body: dict[str, Any]) -> None:
        with self._lock:
            order = self.orders.get(order_id)
            if order is None:
                raise not_found(f"Order {order_id} not found.")
            if body.get("marketplaceId") != order.marketplace_id:
                raise invalid_input("The marketplaceId does not match the order's.")
            if order.status == "CANCELLED":
                raise invalid_input("The order is cancelled.")
            detail = body["packageDetail"]
            try:
                datetime.fromisoformat(str(detail["shipDate"]).replace("Z", "+00:00"))
            except ValueError:
                raise invalid_input("shipDate must be an ISO 8601 date-time.") from None
            if any(p["packageReferenceId"] == detail["packageReferenceId"] for p in order.packages):
                raise invalid_input(
                    f"Package {detail['packageReferenceId']} was already confirmed for this order."
                )
            known = {i.order_item_id: i for i in order.items}
            for item in detail["orderItems"]:
                if item["orderItemId"] not in known:
                    raise invalid_input(f"Order item {item['orderItemId']} is not in order {order_id}.")
                if not 1 <= item["quantity"] <= known[item["orderItemId"]].quantity:
                    raise invalid_input(
                        f"Quantity {item['quantity']} is not valid for {item['orderItemId']}."
                    )
            now = self.clock.now()
            order.packages.append(
                {
                    "packageReferenceId": detail["packageReferenceId"],
                    "createdTime": _iso(now),
                    "packageStatus": {"status": "SHIPPED"},
                    "carrier": detail.get("carrierName") or detail["carrierCode"],
                    "shipTime": detail["shipDate"],
                    "shippingService": detail.get("shippingMethod") or "Standard",
                    "trackingNumber": detail["trackingNumber"],
                    "packageItems": [
                        {"orderItemId": i["orderItemId"], "quantity": i["quantity"]}
                        for i in detail["orderItems"]
                    ],
                }
            )
            shipped = {}
            for package in order.packages:
                for item in package["packageItems"]:
                    shipped[item["orderItemId"]] = shipped.get(item["orderItemId"], 0) + item["quantity"]
            complete = all(shipped.get(i.order_item_id, 0) >= i.quantity for i in order.items)
            order.status = "SHIPPED" if complete else "PARTIALLY_SHIPPED"
            order.updated = now


_SEEDED_CONDITIONS = {"new": "new_new", "used": "used_good", "refurbished": "refurbished_refurbished"}


def _seeded_attributes(item: ExistingListing, marketplace: str) -> dict[str, Any]:
    """A listing's attributes as Seller Central stores what the seller typed."""
    language = MARKETPLACES[marketplace][2]

    def text(value: Any) -> list[dict[str, Any]]:
        return [{"value": value, "language_tag": language, "marketplace_id": marketplace}]

    attributes: dict[str, Any] = {
        "item_name": text(item.title),
        "product_description": text(item.description),
        "condition_type": [{"value": _SEEDED_CONDITIONS[item.condition], "marketplace_id": marketplace}],
        "purchasable_offer": [
            {
                "marketplace_id": marketplace,
                "currency": item.currency,
                "our_price": [{"schedule": [{"value_with_tax": float(item.price)}]}],
            }
        ],
        "fulfillment_availability": [{"fulfillment_channel_code": "DEFAULT", "quantity": item.quantity}],
    }
    if item.brand:
        attributes["brand"] = text(item.brand)
    if item.mpn:
        attributes["part_number"] = [{"value": item.mpn, "marketplace_id": marketplace}]
    if item.gtin:
        kind = "upc" if len(item.gtin) == 12 else "ean"
        attributes["externally_assigned_product_identifier"] = [
            {"type": kind, "value": item.gtin, "marketplace_id": marketplace}
        ]
    for n, url in enumerate(item.photos[:9]):
        name = "main_product_image_locator" if n == 0 else f"other_product_image_locator_{n}"
        attributes[name] = [{"media_location": url, "marketplace_id": marketplace}]
    return attributes


def page_token(offset: int) -> str:
    return base64.urlsafe_b64encode(f"offset:{offset}".encode()).decode().rstrip("=")


def read_page_token(token: str | None) -> int:
    if not token:
        return 0
    try:
        text = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)).decode()
        return int(text.removeprefix("offset:"))
    except ValueError:
        raise invalid_input("Invalid pagination token.") from None


def _iso(moment: datetime) -> str:
    return moment.isoformat(timespec="seconds").replace("+00:00", "Z")


class OAuthError(Exception):
    def __init__(self, error: str, description: str):
        super().__init__(description)
        self.error, self.description = error, description


def _oauth(error: str, description: str) -> OAuthError:
    return OAuthError(error, description)


__all__ = ["AmazonBackend", "AmazonError", "AmazonSimulatorConfig", "OAuthError"]

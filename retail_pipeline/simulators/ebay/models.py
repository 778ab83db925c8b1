"""The simulated eBay seller account: tokens, inventory items, offers, listings, orders, fulfillments.

State and the rules eBay applies to it live here; `routes.py` parses requests and `responses.py` renders
eBay's JSON. Time is the simulator's clock, so tokens expire and days roll over when tests say so.

The rules: an inventory item may be incomplete until an offer is published; publishing checks everything
eBay requires (title, description, condition, pictures, quantity, price in the marketplace's currency,
category, required item specifics, business policies and inventory location that exist on the account)
and reports every missing piece at once. One offer per SKU, marketplace and format. Withdrawing ends the
listing and leaves the offer unpublished. A purchase (`buy`) creates an order in the Fulfillment API and
takes the quantity off the item and the offer.
"""

from __future__ import annotations

import base64
import hashlib
import random
import secrets
import threading
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from ..buyers import Buyer, NotBuyable, random_buyer
from ..clock import SimClock
from ..existing_listings import ExistingListing, check_batch, shop_sku
from .exceptions import (
    OAuthError,
    Problems,
    api_detail,
    fulfillment_error,
    insufficient_scope,
    invalid_access_token,
    invalid_request,
    inventory_error,
    too_many_requests,
)
from .taxonomy import required_aspects

SCOPE_ROOT = "https://api.ebay.com/oauth/api_scope"
GRANTED_SCOPES = frozenset(
    {SCOPE_ROOT}
    | {
        f"{SCOPE_ROOT}/sell.{api}{suffix}"
        for api in ("inventory", "fulfillment", "account")
        for suffix in ("", ".readonly")
    }
)

APP_SCOPES = frozenset({SCOPE_ROOT})

# ConditionEnum (developer.ebay.com/api-docs/sell/inventory/types/slr:ConditionEnum).
CONDITIONS = frozenset(
    {
        "NEW", "LIKE_NEW", "NEW_OTHER", "NEW_WITH_DEFECTS", "MANUFACTURER_REFURBISHED",
        "CERTIFIED_REFURBISHED", "EXCELLENT_REFURBISHED", "VERY_GOOD_REFURBISHED", "GOOD_REFURBISHED",
        "SELLER_REFURBISHED", "USED_EXCELLENT", "USED_VERY_GOOD", "USED_GOOD", "USED_ACCEPTABLE",
        "FOR_PARTS_OR_NOT_WORKING",
    }
)  # fmt: skip
# MarketplaceEnum; of these, the ones the simulator lists on, with the currency a price there must be in.
MARKETPLACES = frozenset(
    f"EBAY_{code}"
    for code in [
        "US", "MOTORS", "CA", "GB", "AU", "AT", "BE", "FR", "DE", "IT", "NL", "ES", "CH", "TW",
        "CZ", "DK", "FI", "GR", "HK", "HU", "IN", "ID", "IE", "IL", "MY", "NZ", "NO", "PH",
        "PL", "PT", "PR", "RU", "SG", "ZA", "SE", "TH", "VN", "CN", "PE", "JP",
    ]
)  # fmt: skip
CURRENCIES = {
    "EBAY_US": "USD", "EBAY_MOTORS": "USD", "EBAY_CA": "CAD", "EBAY_GB": "GBP", "EBAY_AU": "AUD",
    "EBAY_AT": "EUR", "EBAY_BE": "EUR", "EBAY_FR": "EUR", "EBAY_DE": "EUR", "EBAY_IT": "EUR",
    "EBAY_NL": "EUR", "EBAY_ES": "EUR", "EBAY_IE": "EUR", "EBAY_CH": "CHF", "EBAY_PL": "PLN",
}  # fmt: skip
FORMATS = frozenset({"FIXED_PRICE", "AUCTION"})
MAX_TITLE, MAX_DESCRIPTION, MAX_IMAGES, MAX_SKU, MAX_BRAND_MPN = 80, 4000, 24, 50, 65
MAX_ASPECT_NAME, MAX_ASPECT_VALUE = 40, 50


class EbaySimulatorConfig(BaseModel):
    """The simulated seller account and its limits."""

    model_config = ConfigDict(extra="forbid")

    client_id: str | None = Field(None, description="The one accepted client id; None = any.")
    client_secret: str | None = Field(None, description="Its secret; None = any.")
    refresh_token: str | None = Field(None, description="The one accepted refresh token; None = any.")
    access_token_ttl_seconds: int = Field(7200, ge=1, description="eBay user access tokens live 2 hours.")
    calls_per_day: int = Field(
        5000, ge=1, description="Sell API calls per simulated UTC day (a new app's production quota)."
    )
    seller_username: str = "retailpipeline_sim"
    fulfillment_policy_ids: tuple[str, ...] = ("6196932000",)
    payment_policy_ids: tuple[str, ...] = ("6196933000",)
    return_policy_ids: tuple[str, ...] = ("6196934000",)
    merchant_location_keys: tuple[str, ...] = ("default",)
    required_aspects: tuple[str, ...] = Field(
        ("Brand",), description="Item specifics every category requires here (eBay: per category)."
    )

    @classmethod
    def from_env(cls) -> EbaySimulatorConfig:
        """SIMULATOR_EBAY_<FIELD> for any field above (tuples as JSON lists), each optional."""
        return cls.model_validate(_FromEnvironment().model_dump())


class _FromEnvironment(BaseSettings, EbaySimulatorConfig):
    model_config = SettingsConfigDict(env_prefix="SIMULATOR_EBAY_", extra="ignore")


@dataclass
class Token:
    scopes: frozenset[str]
    expires_at: datetime


@dataclass
class InventoryItem:
    sku: str
    locale: str  # en_US, from the Content-Language it was written with
    data: dict[str, Any]  # the InventoryItem as last put: availability, condition, product...

    @property
    def quantity(self) -> int | None:
        return self.data.get("availability", {}).get("shipToLocationAvailability", {}).get("quantity")

    @quantity.setter
    def quantity(self, value: int) -> None:
        availability = self.data.setdefault("availability", {})
        availability.setdefault("shipToLocationAvailability", {})["quantity"] = value

    @property
    def product(self) -> dict[str, Any]:
        return self.data.get("product", {})


@dataclass
class Listing:
    listing_id: str
    status: str = "ACTIVE"  # ListingStatusEnum: ACTIVE | OUT_OF_STOCK | ENDED ...
    sold_quantity: int = 0


@dataclass
class Offer:
    offer_id: str
    sku: str
    marketplace_id: str
    format: str
    details: dict[str, Any]  # the EbayOfferDetailsWithId fields as last put
    status: str = "UNPUBLISHED"
    listing: Listing | None = None

    @property
    def available_quantity(self) -> int | None:
        return self.details.get("availableQuantity")

    def price(self) -> tuple[Decimal, str] | None:
        amount = self.details.get("pricingSummary", {}).get("price")
        if not amount:
            return None
        return Decimal(amount["value"]), amount["currency"]


@dataclass
class LineItem:
    line_item_id: str
    listing_id: str
    sku: str
    title: str
    quantity: int
    unit_price: Decimal
    currency: str
    shipped_quantity: int = 0

    @property
    def status(self) -> str:
        if self.shipped_quantity >= self.quantity:
            return "FULFILLED"
        return "IN_PROGRESS" if self.shipped_quantity else "NOT_STARTED"


@dataclass
class Fulfillment:
    fulfillment_id: str
    line_items: tuple[tuple[str, int], ...]  # (lineItemId, quantity)
    shipped_date: datetime
    carrier: str | None
    tracking_number: str | None


@dataclass
class Order:
    order_id: str
    marketplace_id: str
    created: datetime
    modified: datetime
    buyer: Buyer
    line_items: list[LineItem]
    fulfillments: list[Fulfillment] = field(default_factory=list)

    @property
    def fulfillment_status(self) -> str:
        statuses = {line.status for line in self.line_items}
        if statuses == {"FULFILLED"}:
            return "FULFILLED"
        return "NOT_STARTED" if statuses == {"NOT_STARTED"} else "IN_PROGRESS"


def _price(amount: Any) -> Decimal | None:
    """A positive money value with at most two decimals, else None."""
    try:
        value = Decimal(str(amount.get("value")))
    except (InvalidOperation, AttributeError):
        return None
    return value if value > 0 and value == value.quantize(Decimal("0.01")) else None


def _https_or_loopback(url: str) -> bool:
    """eBay fetches pictures over HTTPS only. Plain HTTP is let through for loopback hosts, where the
    demo's own media server lives (eBay itself could not reach those at all)."""
    parts = urlsplit(url)
    return parts.scheme == "https" or (
        parts.scheme == "http" and parts.hostname in ("127.0.0.1", "localhost", "::1")
    )


class EbayBackend:
    def __init__(self, config: EbaySimulatorConfig, clock: SimClock, seed: int):
        self.config, self.clock = config, clock
        self._lock = threading.RLock()
        self._rng = random.Random(f"{seed}:ebay:buyers")
        self._tokens: dict[str, Token] = {}
        self._calls: dict[str, int] = {}  # simulated UTC day -> Sell API calls admitted
        self.items: dict[str, InventoryItem] = {}
        self.offers: dict[str, Offer] = {}
        self.orders: dict[str, Order] = {}
        self._serial = 0

    def _next(self) -> int:
        self._serial += 1
        return self._serial

    # --- OAuth ------------------------------------------------------------------------------------

    def issue_token(self, authorization: str, form: dict[str, str]) -> tuple[str, int]:
        """The refresh-token grant (a user token) or the client-credentials grant (an application token,
        for the Taxonomy API): (access token, seconds it lives)."""
        client_id, client_secret = _basic_credentials(authorization)
        config = self.config
        if (
            not client_id
            or (config.client_id is not None and client_id != config.client_id)
            or (config.client_secret is not None and client_secret != config.client_secret)
        ):
            raise OAuthError(401, "invalid_client", "client authentication failed")
        grant = form.get("grant_type")
        if not grant:
            raise OAuthError(400, "invalid_request", "request is missing a required parameter or malformed.")
        if grant not in ("refresh_token", "client_credentials"):
            raise OAuthError(
                400,
                "unsupported_grant_type",
                "grant type in request is not supported by the authorization server",
            )
        # An application token (client credentials) holds only the public scope: the Taxonomy API's.
        granted = GRANTED_SCOPES if grant == "refresh_token" else APP_SCOPES
        refresh = form.get("refresh_token", "")
        if grant == "client_credentials":
            pass
        elif not refresh or (config.refresh_token is not None and refresh != config.refresh_token):
            raise OAuthError(
                400,
                "invalid_grant",
                "the provided authorization refresh token is invalid or was issued to another client",
            )
        scopes = frozenset(form["scope"].split()) if form.get("scope") else granted
        if not scopes <= granted:
            raise OAuthError(
                400,
                "invalid_scope",
                "the requested scope is invalid, unknown, malformed, or exceeds the scope granted to the client",
            )
        # eBay user tokens look like v^1.1#i^1#...; the shape is all that matters to clients.
        token = "v^1.1#i^1#r^0#p^3#I^3#f^0#t^" + base64.b64encode(secrets.token_bytes(48)).decode()
        with self._lock:
            self._tokens[token] = Token(
                scopes, self.clock.now() + timedelta(seconds=config.access_token_ttl_seconds)
            )
        return token, config.access_token_ttl_seconds

    def authorize(self, authorization: str, allowed_scopes: frozenset[str]) -> None:
        """A live token holding one of the operation's scopes, else 401/403."""
        scheme, _, value = authorization.partition(" ")
        token = self._tokens.get(value.strip()) if scheme.lower() == "bearer" else None
        if token is None or self.clock.now() >= token.expires_at:
            raise invalid_access_token()
        if allowed_scopes and not token.scopes & allowed_scopes:
            raise insufficient_scope()

    def admit_call(self) -> None:
        """Counts a Sell API call against the day's quota; 429 once it is spent."""
        now = self.clock.now()
        day = now.date().isoformat()
        with self._lock:
            if self._calls.get(day, 0) >= self.config.calls_per_day:
                midnight = datetime.combine(now.date() + timedelta(days=1), datetime.min.time(), now.tzinfo)
                raise too_many_requests(max(1, int((midnight - now).total_seconds())))
            self._calls[day] = self._calls.get(day, 0) + 1

    def calls_today(self) -> int:
        return self._calls.get(self.clock.now().date().isoformat(), 0)

    # --- inventory items --------------------------------------------------------------------------

    def put_inventory_item(self, sku: str, locale: str, data: dict[str, Any]) -> None:
        """Create or replace (the whole record). Values given are checked now, presence only at
        publish."""
        _check_sku(sku)
        if (condition := data.get("condition")) is not None and condition not in CONDITIONS:
            raise invalid_request("Could not serialize field [condition]")  # an enum, as eBay parses it
        if condition == "MANUFACTURER_REFURBISHED":  # retired; eBay converts it (ConditionEnum)
            data = {**data, "condition": "CERTIFIED_REFURBISHED"}
        problems = Problems("inventory")
        quantity = data.get("availability", {}).get("shipToLocationAvailability", {}).get("quantity")
        if quantity is not None and quantity < 0:
            problems.add(25004, additionalInfo="The quantity must be 0 or more.")
        product = data.get("product", {})
        for name, limit in (
            ("title", MAX_TITLE),
            ("description", MAX_DESCRIPTION),
            ("brand", MAX_BRAND_MPN),
            ("mpn", MAX_BRAND_MPN),
        ):
            if len(product.get(name, "")) > limit:
                problems.add(
                    25709, fieldName=f"product.{name}", parameters={name: f"at most {limit} characters"}
                )
        images = product.get("imageUrls", [])
        if len(images) > MAX_IMAGES:
            problems.add(25014, additionalInfo=f"At most {MAX_IMAGES} pictures per listing.")
        for url in images:
            if not _https_or_loopback(url):
                problems.add(25015, additionalInfo=f"{url} is not an HTTPS URL.")
        for name, values in product.get("aspects", {}).items():
            if len(name) > MAX_ASPECT_NAME or any(len(v) > MAX_ASPECT_VALUE for v in values):
                problems.add(
                    25709,
                    fieldName=f"product.aspects[{name}]",
                    parameters={
                        "limits": f"names at most {MAX_ASPECT_NAME}, values at most {MAX_ASPECT_VALUE} characters"
                    },
                )
        problems.raise_if_any()
        with self._lock:
            self.items[sku] = InventoryItem(sku, locale, data)
            for offer in self._offers_of(sku):
                if offer.listing is not None:  # a live listing follows its item
                    self._restock(offer)

    def get_inventory_item(self, sku: str) -> InventoryItem:
        _check_sku(sku)
        item = self.items.get(sku)
        if item is None:
            raise inventory_error(25710, 404)
        return item

    # --- offers -----------------------------------------------------------------------------------

    def create_offer(self, details: dict[str, Any]) -> str:
        sku, marketplace, listing_format = (
            details.get("sku"),
            details.get("marketplaceId"),
            details.get("format"),
        )
        for name, value in (("sku", sku), ("marketplaceId", marketplace), ("format", listing_format)):
            if not value:
                raise inventory_error(25709, fieldName=name)
        for name, value, allowed in (
            ("marketplaceId", marketplace, MARKETPLACES),
            ("format", listing_format, FORMATS),
        ):
            if value not in allowed:
                raise invalid_request(f"Could not serialize field [{name}]")
        if marketplace not in CURRENCIES:
            raise inventory_error(
                25709, fieldName="marketplaceId", additionalInfo=f"{marketplace} is not supported."
            )
        if listing_format != "FIXED_PRICE":
            raise inventory_error(
                25709, fieldName="format", additionalInfo="The simulator lists FIXED_PRICE only."
            )
        _check_offer_details(details)
        with self._lock:
            if sku not in self.items:
                raise inventory_error(25702, skuValue=sku)
            existing = next(
                (
                    o
                    for o in self._offers_of(sku)
                    if (o.marketplace_id, o.format) == (marketplace, listing_format)
                ),
                None,
            )
            if existing is not None:  # one offer per SKU, marketplace and format
                raise inventory_error(
                    25002,
                    additionalInfo="Offer entity already exists.",
                    parameters={"offerId": existing.offer_id},
                )
            offer_id = str(5_000_000_000 + self._next())
            rest = {k: v for k, v in details.items() if k not in ("sku", "marketplaceId", "format")}
            self.offers[offer_id] = Offer(offer_id, sku, marketplace, listing_format, rest)
            return offer_id

    def get_offer(self, offer_id: str) -> Offer:
        offer = self.offers.get(offer_id)
        if offer is None:
            raise inventory_error(25713, 404, additionalInfo=offer_id)
        return offer

    def find_offers(
        self, sku: str | None, marketplace_id: str | None, listing_format: str | None
    ) -> list[Offer]:
        with self._lock:
            return [
                o
                for o in self.offers.values()
                if (sku is None or o.sku == sku)
                and (marketplace_id is None or o.marketplace_id == marketplace_id)
                and (listing_format is None or o.format == listing_format)
            ]

    def update_offer(self, offer_id: str, details: dict[str, Any]) -> None:
        """Replaces the offer's details; a published offer revises its live listing, so it must stay
        publishable."""
        _check_offer_details(details)
        with self._lock:
            offer = self.get_offer(offer_id)
            if offer.status == "PUBLISHED":
                self._publish_problems(replace(offer, details=details)).raise_if_any()
            offer.details = details
            if offer.listing is not None:
                self._restock(offer)

    def publish_offer(self, offer_id: str) -> str:
        """The listing id; publishing a published offer answers its listing again."""
        with self._lock:
            offer = self.get_offer(offer_id)
            self._publish_problems(offer).raise_if_any()
            if offer.listing is None:
                offer.listing = Listing(str(110_000_000_000 + self._next()))
                offer.status = "PUBLISHED"
            self._restock(offer)
            return offer.listing.listing_id

    def withdraw_offer(self, offer_id: str) -> str:
        with self._lock:
            offer = self.get_offer(offer_id)
            if offer.listing is None:
                raise inventory_error(25713, additionalInfo=f"offer {offer_id} is not published")
            listing_id = offer.listing.listing_id
            offer.listing, offer.status = None, "UNPUBLISHED"
            return listing_id

    def _publish_problems(self, offer: Offer) -> Problems:
        config, details, item = self.config, offer.details, self.items[offer.sku]
        problems = Problems("inventory")
        product = item.product
        if not product.get("title"):
            problems.add(25002, additionalInfo="The title is missing.", parameters={"field": "product.title"})
        if not (details.get("listingDescription") or product.get("description")):
            problems.add(25016, fieldName="listingDescription", additionalInfo="A description is required.")
        if not item.data.get("condition"):
            problems.add(25021, additionalInfo="The item condition is missing.")
        if not product.get("imageUrls"):
            problems.add(25014, additionalInfo="At least one picture is required.")
        aspects = product.get("aspects", {})
        # The category's own required aspects (Taxonomy API) where it is one of the shared tree's.
        category_required = required_aspects(str(details.get("categoryId", ""))) or ()
        for name in dict.fromkeys((*config.required_aspects, *category_required)):
            if not aspects.get(name):
                problems.add(
                    25002,
                    additionalInfo=f"The item specific {name} is missing. Add {name} to this listing, enter a valid value, and then try again.",
                    parameters={"aspect": name},
                )
        quantity, available = item.quantity, offer.available_quantity
        if quantity is None or quantity < 1 or (available is not None and not 1 <= available <= quantity):
            problems.add(
                25004,
                additionalInfo="The available quantity must be at least 1 and no more than the item's quantity.",
            )
        amount = details.get("pricingSummary", {}).get("price")
        currency = CURRENCIES[offer.marketplace_id]
        if not amount or _price(amount) is None or amount.get("currency") != currency:
            problems.add(
                25003,
                additionalInfo=f"A price above 0 in {currency}, with at most two decimals, is required.",
            )
        if not str(details.get("categoryId", "")).isdigit():
            problems.add(25005, additionalInfo="A leaf category id is required.")
        policies = details.get("listingPolicies", {})
        for key, known, error_id in (
            ("fulfillmentPolicyId", config.fulfillment_policy_ids, 25007),
            ("paymentPolicyId", config.payment_policy_ids, 25008),
            ("returnPolicyId", config.return_policy_ids, 25009),
        ):
            if policies.get(key) not in known:
                problems.add(
                    error_id, additionalInfo=f"{key} {policies.get(key)!r} is not a policy of this seller."
                )
        if details.get("merchantLocationKey") not in config.merchant_location_keys:
            problems.add(
                25012,
                additionalInfo=f"merchantLocationKey {details.get('merchantLocationKey')!r} does not exist.",
            )
        return problems

    def _restock(self, offer: Offer) -> None:
        """A live listing is out of stock at 0 available and back when stock returns."""
        assert offer.listing is not None
        if offer.listing.status in ("ACTIVE", "OUT_OF_STOCK"):
            offer.listing.status = "ACTIVE" if self._available(offer) > 0 else "OUT_OF_STOCK"

    def _available(self, offer: Offer) -> int:
        quantity = self.items[offer.sku].quantity or 0
        available = offer.available_quantity
        return quantity if available is None else min(available, quantity)

    def _offers_of(self, sku: str) -> list[Offer]:
        return [o for o in self.offers.values() if o.sku == sku]

    def bulk_update_price_quantity(self, requests: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """One PriceQuantityResponse per offer (or per SKU when only its quantity changes)."""
        if not 1 <= len(requests) <= 25:
            raise inventory_error(25709, fieldName="requests", additionalInfo="Send 1 to 25 requests.")
        results = []
        with self._lock:
            for request in requests:
                sku = request.get("sku")
                ship_to = request.get("shipToLocationAvailability")
                if ship_to is not None:
                    if sku not in self.items or ship_to.get("quantity", -1) < 0:
                        results.append(
                            {
                                "statusCode": 400,
                                "sku": sku or "",
                                "errors": [_detail(25709, fieldName="sku or quantity")],
                            }
                        )
                        continue
                    self.items[sku].quantity = ship_to["quantity"]
                for change in request.get("offers", []):
                    results.append(self._update_price_quantity(sku, change))
                if not request.get("offers"):
                    results.append({"statusCode": 200, "sku": sku or ""})
                for offer in self._offers_of(sku or ""):
                    if offer.listing is not None:
                        self._restock(offer)
        return results

    def _update_price_quantity(self, sku: str | None, change: dict[str, Any]) -> dict[str, Any]:
        offer = self.offers.get(change.get("offerId", ""))
        result: dict[str, Any] = {
            "offerId": change.get("offerId", ""),
            "sku": sku or (offer.sku if offer else ""),
        }
        if offer is None or (sku is not None and offer.sku != sku):
            return result | {
                "statusCode": 404,
                "errors": [_detail(25713, additionalInfo=str(change.get("offerId")))],
            }
        if offer.status != "PUBLISHED":  # "not designed to work with unpublished offers"
            return result | {
                "statusCode": 400,
                "errors": [_detail(25713, additionalInfo="the offer is not published")],
            }
        if "price" in change:
            currency = CURRENCIES[offer.marketplace_id]
            if _price(change["price"]) is None or change["price"].get("currency") != currency:
                return result | {
                    "statusCode": 400,
                    "errors": [_detail(25003, additionalInfo=f"A price above 0 in {currency} is required.")],
                }
            offer.details.setdefault("pricingSummary", {})["price"] = change["price"]
        if "availableQuantity" in change:
            if change["availableQuantity"] < 0:
                return result | {
                    "statusCode": 400,
                    "errors": [_detail(25004, additionalInfo="The quantity must be 0 or more.")],
                }
            offer.details["availableQuantity"] = change["availableQuantity"]
        return result | {"statusCode": 200}

    # --- orders -----------------------------------------------------------------------------------

    def find_orders(
        self,
        *,
        created: tuple[datetime | None, datetime | None] | None = None,
        modified: tuple[datetime | None, datetime | None] | None = None,
        fulfillment_statuses: frozenset[str] | None = None,
        order_ids: list[str] | None = None,
    ) -> list[Order]:
        with self._lock:
            orders = sorted(self.orders.values(), key=lambda o: (o.created, o.order_id))
        if order_ids is not None:
            return [o for o in orders if o.order_id in order_ids]

        def within(value: datetime, window: tuple[datetime | None, datetime | None] | None) -> bool:
            start, end = window or (None, None)
            return (start is None or value >= start) and (end is None or value <= end)

        return [
            o
            for o in orders
            if within(o.created, created)
            and (created is not None or within(o.modified, modified))
            and (fulfillment_statuses is None or o.fulfillment_status in fulfillment_statuses)
        ]

    def get_order(self, order_id: str) -> Order:
        order = self.orders.get(order_id)
        if order is None:
            raise fulfillment_error(32100, 404, orderId=order_id)
        return order

    def create_shipping_fulfillment(self, order_id: str, body: dict[str, Any]) -> Fulfillment:
        carrier, tracking = body.get("shippingCarrierCode"), body.get("trackingNumber")
        if bool(carrier) != bool(tracking) or (tracking is not None and not tracking.isalnum()):
            # The two go together, and tracking numbers are letters and digits only.
            raise fulfillment_error(32300)
        with self._lock:
            order = self.get_order(order_id)
            lines = {line.line_item_id: line for line in order.line_items}
            wanted: list[tuple[str, int]] = []
            for reference in body.get("lineItems") or []:
                line_id, quantity = reference.get("lineItemId", ""), reference.get("quantity", 1)
                if line_id not in lines or quantity < 1 or quantity > lines[line_id].quantity:
                    raise fulfillment_error(32200, lineItemId=line_id)
                if line_id in dict(wanted):
                    raise fulfillment_error(32210)
                wanted.append((line_id, quantity))
            if not wanted:
                raise fulfillment_error(32600)
            if tracking and any(f.fulfillment_id == tracking for f in order.fulfillments):
                raise fulfillment_error(34500)  # that package exists: eBay wants PUT to change it
            shipped = self._shipped_date(body.get("shippedDate"))
            fulfillment = Fulfillment(
                tracking or str(999 + len(order.fulfillments)), tuple(wanted), shipped, carrier, tracking
            )
            order.fulfillments.append(fulfillment)
            for line_id, quantity in wanted:
                lines[line_id].shipped_quantity = min(
                    lines[line_id].quantity, lines[line_id].shipped_quantity + quantity
                )
            order.modified = self.clock.now()
            return fulfillment

    def _shipped_date(self, value: str | None) -> datetime:
        if value is None:
            return self.clock.now()
        try:
            return datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            raise fulfillment_error(32500) from None

    def get_shipping_fulfillment(self, order_id: str, fulfillment_id: str) -> Fulfillment:
        order = self.get_order(order_id)
        found = next((f for f in order.fulfillments if f.fulfillment_id == fulfillment_id), None)
        if found is None:
            raise fulfillment_error(32110, 404, fulfillmentId=fulfillment_id)
        return found

    # --- hooks for tests and the simulated market -------------------------------------------------

    def live_skus(self) -> dict[str, int]:
        """SKU -> quantity a buyer can buy now, for every live listing (the market's shop window)."""
        with self._lock:
            return {o.sku: self._available(o) for o in self.offers.values() if self._live(o)}

    @staticmethod
    def _live(offer: Offer) -> bool:
        return offer.listing is not None and offer.listing.status == "ACTIVE"

    def buy(self, sku: str, quantity: int = 1, buyer: Buyer | None = None) -> Order:
        """A buyer purchases `quantity` of the live listing for `sku`: an order appears in getOrders
        and the quantity comes off the item and the offer. `NotBuyable` when eBay would not sell."""
        if quantity < 1:
            raise ValueError("quantity must be at least 1")
        with self._lock:
            offer = next((o for o in self._offers_of(sku) if self._live(o)), None)
            if offer is None or offer.listing is None:
                raise NotBuyable(f"no live eBay listing has SKU {sku!r}")
            if self._available(offer) < quantity:
                raise NotBuyable(f"{sku!r} has {self._available(offer)} available on eBay, not {quantity}")
            listing, (price, currency) = offer.listing, offer.price() or (Decimal(0), "")
            item = self.items[sku]
            item.quantity = (item.quantity or 0) - quantity
            if offer.available_quantity is not None:
                offer.details["availableQuantity"] = offer.available_quantity - quantity
            listing.sold_quantity += quantity
            self._restock(offer)
            serial, now = self._next(), self.clock.now()
            order = Order(
                # eBay's order id format since 2019: NN-NNNNN-NNNNN.
                order_id=f"{11 + serial % 89:02d}-{10000 + serial % 90000:05d}-{self._rng.randrange(10000, 99999)}",
                marketplace_id=offer.marketplace_id,
                created=now,
                modified=now,
                buyer=buyer or random_buyer(self._rng),
                line_items=[
                    LineItem(
                        str(10_000_000_000_000 + serial),
                        listing.listing_id,
                        sku,
                        item.product.get("title", sku),
                        quantity,
                        price,
                        currency,
                    )
                ],
            )
            self.orders[order.order_id] = order
            return order

    def create_foreign_listing(
        self, title: str, sku: str | None = None, price: Decimal | str = "49.00", quantity: int = 1
    ) -> str:
        """A live listing made outside our pipeline (by another tool on the same account, with a SKU we
        never used): it shows in getOffers like ours. Returns its listing id."""
        config = self.config
        with self._lock:
            sku = sku or f"FOREIGN-{self._next()}"
            picture = hashlib.sha1(sku.encode()).hexdigest()[:16]
            self.items[sku] = InventoryItem(
                sku,
                "en_US",
                {
                    "availability": {"shipToLocationAvailability": {"quantity": quantity}},
                    "condition": "USED_EXCELLENT",
                    "product": {
                        "title": title,
                        "description": title,
                        "aspects": {name: ["Unbranded"] for name in config.required_aspects},
                        "imageUrls": [f"https://i.ebayimg.com/images/g/{picture}/s-l1600.jpg"],
                    },
                },
            )
            offer_id = self.create_offer(
                {
                    "sku": sku,
                    "marketplaceId": "EBAY_US",
                    "format": "FIXED_PRICE",
                    "availableQuantity": quantity,
                    "categoryId": "9355",
                    "listingDescription": title,
                    "pricingSummary": {"price": {"value": f"{Decimal(price):.2f}", "currency": "USD"}},
                    "listingPolicies": {
                        "fulfillmentPolicyId": config.fulfillment_policy_ids[0],
                        "paymentPolicyId": config.payment_policy_ids[0],
                        "returnPolicyId": config.return_policy_ids[0],
                    },
                    "merchantLocationKey": config.merchant_location_keys[0],
                }
            )
            return self.publish_offer(offer_id)

    def seed_existing(self, items: list[ExistingListing]) -> list[str]:
        """Listings the seller made on ebay.com before us (migrated to the Inventory API, as eBay does
        for a seller who starts using it): an inventory item and a published fixed-price offer each,
        on the marketplace that sells in the item's currency. No rule checked, no call counted.
        Returns the listing ids. An item without a SKU gets the seller's own (inventory items need one)."""
        config, marketplaces = self.config, {currency: m for m, currency in reversed(CURRENCIES.items())}
        check_batch("eBay", items, marketplaces)  # the whole batch or nothing
        ids = []
        with self._lock:
            for item in items:
                marketplace = marketplaces[item.currency]
                serial = self._next()
                sku = shop_sku(item, serial)
                product: dict[str, Any] = {
                    "title": item.title,
                    "description": item.description,
                    "imageUrls": list(item.photos),
                    "aspects": {"Brand": [item.brand or "Unbranded"]},
                }
                product |= {"brand": item.brand} if item.brand else {}
                product |= {"mpn": item.mpn} if item.mpn else {}
                if item.gtin:
                    product["upc" if len(item.gtin) == 12 else "ean"] = [item.gtin]
                self.items[sku] = InventoryItem(
                    sku,
                    "en_US",
                    {
                        "availability": {"shipToLocationAvailability": {"quantity": item.quantity}},
                        "condition": _SEEDED_CONDITIONS[item.condition],
                        "product": product,
                    },
                )
                offer_id = str(5_000_000_000 + serial)
                details = {
                    "availableQuantity": item.quantity,
                    "categoryId": "9355",
                    "listingDescription": item.description,
                    "listingDuration": "GTC",
                    "pricingSummary": {"price": {"value": f"{item.price:.2f}", "currency": item.currency}},
                    "listingPolicies": {
                        "fulfillmentPolicyId": config.fulfillment_policy_ids[0],
                        "paymentPolicyId": config.payment_policy_ids[0],
                        "returnPolicyId": config.return_policy_ids[0],
                    },
                    "merchantLocationKey": config.merchant_location_keys[0],
                }
                offer = Offer(offer_id, sku, marketplace, "FIXED_PRICE", details, "PUBLISHED")
                offer.listing = Listing(str(110_000_000_000 + serial))
                self.offers[offer_id] = offer
                self._restock(offer)
                ids.append(offer.listing.listing_id)
        return ids


_SEEDED_CONDITIONS = {"new": "NEW", "used": "USED_EXCELLENT", "refurbished": "SELLER_REFURBISHED"}


def _detail(error_id: int, **values: str) -> dict[str, Any]:
    return api_detail("inventory", error_id, **values).to_json()


def _check_sku(sku: str) -> None:
    if not sku or len(sku) > MAX_SKU:
        raise inventory_error(25707)


def _check_offer_details(details: dict[str, Any]) -> None:
    """Values that are wrong whenever they are given (presence is checked at publish)."""
    if details.get("listingDuration") not in (None, "GTC"):
        raise inventory_error(
            25709, fieldName="listingDuration", additionalInfo="Fixed-price listings are GTC."
        )
    if (details.get("availableQuantity") or 0) < 0:
        raise inventory_error(25004, additionalInfo="The quantity must be 0 or more.")


def _basic_credentials(authorization: str) -> tuple[str, str]:
    scheme, _, encoded = authorization.partition(" ")
    if scheme.lower() != "basic":
        return "", ""
    try:
        client_id, _, secret = base64.b64decode(encoded.strip(), validate=True).decode().partition(":")
    except (ValueError, UnicodeDecodeError):
        return "", ""
    return client_id, secret

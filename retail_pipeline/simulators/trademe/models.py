"""Trade Me's state and behaviour: one seller account (app + member), its photos, listings, sales,
courier parcels and hourly call budget, on the simulated clock.

Listings are general-merchandise auctions, usually Buy Now only (a Quantity makes them so). The
rules checked are the documented ones (NOTES.md and the json-doc reference); where Trade Me's own
wording or a limit is unknown, the messages and numbers here are our best guess.

In-process hooks for tests and the simulated market: `buy` (a buyer purchases a listing) and
`create_foreign_listing` (a listing the seller made on the website, outside our pipeline).
"""

from __future__ import annotations

import copy
import itertools
import random
import re
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from ..existing_listings import ExistingListing, check_batch
from .taxonomy import required_attributes


class TradeMeSimulatorConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    consumer_key: str = "sim-trademe-consumer-key"
    consumer_secret: str = "sim-trademe-consumer-secret"
    oauth_token: str = "sim-trademe-oauth-token"
    oauth_token_secret: str = "sim-trademe-oauth-token-secret"
    member_id: int = 5_001_234
    nickname: str = "retail_pipeline_nz"
    email: str = "sales@retail-pipeline.example"
    balance: Decimal = Field(Decimal("0.00"), description="Account balance reported by Summary.")
    hourly_call_limit: int = Field(1_000, ge=1, description="Authenticated calls per clock hour.")
    oauth_timestamp_tolerance_seconds: int = Field(
        900, ge=0, description="HMAC-SHA1 timestamps may differ this much from the wall clock."
    )

    @classmethod
    def from_env(cls) -> TradeMeSimulatorConfig:
        """SIMULATOR_TRADEME_CONSUMER_KEY, _CONSUMER_SECRET, _OAUTH_TOKEN, _OAUTH_TOKEN_SECRET,
        _MEMBER_ID, _NICKNAME, _EMAIL, _BALANCE, _HOURLY_CALL_LIMIT and
        _OAUTH_TIMESTAMP_TOLERANCE_SECONDS, each optional."""
        return cls.model_validate(_FromEnvironment().model_dump())


class _FromEnvironment(BaseSettings, TradeMeSimulatorConfig):
    model_config = SettingsConfigDict(env_prefix="SIMULATOR_TRADEME_", extra="ignore")


# --- enumerations, by their documented names and values

DURATIONS = {
    "EndDate": 0, "Two": 2, "Three": 3, "Four": 4, "Five": 5, "Six": 6, "Seven": 7, "Ten": 10,
    "Fourteen": 14, "TwentyOne": 21, "TwentyEight": 28, "Thirty": 30, "FortyTwo": 42, "FiftySix": 56,
    "UntilWithdrawn": -1,
}  # fmt: skip
END_DATE = 0
LISTABLE_DURATIONS = frozenset(DURATIONS.values()) - {-1}  # UntilWithdrawn is for agents only
MAX_END_DATE_DAYS = 56  # unverified: the longest fixed duration, applied to EndDate too
PICKUP = {"None": 0, "Allow": 1, "Demand": 2, "Forbid": 3}
PICKUP_DEMAND = 2
PAYMENT_METHODS = {
    "None": 0, "BankDeposit": 1, "CreditCard": 2, "Cash": 4, "SafeTrader": 8, "Other": 16, "Ping": 32,
    "Afterpay": 64,
}  # fmt: skip
LISTABLE_PAYMENT_METHODS = frozenset({1, 2, 4, 16, 32, 64})  # None and the obsolete SafeTrader are not
CREDIT_CARD = 2  # paid through Pay Now
SHIPPING_TYPES = {"None": 0, "Unknown": 0, "Undecided": 1, "Pickup": 2, "Free": 3, "Custom": 4, "TradeMe": 5}
UNDECIDED, PICKUP_SHIPPING, FREE, CUSTOM = 1, 2, 3, 4
LISTABLE_SHIPPING_TYPES = frozenset({1, 3, 4, 5})  # None/Pickup: "do not use when listing"
WITHDRAW_TYPES = {"ListingWasSold": 1, "ListingWasNotSold": 2}
SALE_STATUSES = {"EmailSent": 10, "PaymentReceived": 20, "GoodsShipped": 30, "SaleCompleted": 40}

MAX_TITLE, MAX_SUBTITLE, MAX_DESCRIPTION, MAX_REFERENCE = 80, 50, 2048, 50
MAX_SHIPPING_OPTIONS, MAX_PHOTOS, MAX_QUANTITY, MAX_WITHDRAW_REASON = 10, 20, 1000, 255
MAX_TRACKING_REFERENCE = MAX_ACCOUNT_NUMBER = 50  # unverified
MIN_PRICE = Decimal("0.50")
CATEGORY = re.compile(r"\d+|(\d{4}-)+")  # a category id, or the MCAT form "0004-0370-0560-6853-"

# The edit form: every field a listing keeps, with the value it takes when a request omits it.
# Edit replaces the whole form, so an omitted field is reset to this, as on Trade Me.
FORM_DEFAULTS: dict[str, Any] = {
    "Category": None, "Title": None, "Subtitle": None, "Description": [], "StartPrice": None,
    "ReservePrice": None, "BuyNowPrice": None, "Duration": None, "EndDateTime": None, "Pickup": 0,
    "IsBrandNew": False, "Quantity": None, "IsFlatShippingCharge": False, "PhotoIds": [],
    "ShippingOptions": [], "PaymentMethods": [], "OtherPaymentMethod": None, "Attributes": [],
    "SKU": None, "ExternalReferenceId": None, "ProductSpecification": None,
}  # fmt: skip

Form = dict[str, Any]


def blank_form() -> Form:
    """FORM_DEFAULTS with lists of its own, so no two forms share one."""
    return copy.deepcopy(FORM_DEFAULTS)


ListingState = Literal["live", "ended", "sold", "withdrawn"]


class BusinessFailure(Exception):
    """A request Trade Me understood but refuses: answered 200 with Success false."""

    def __init__(self, *messages: str):
        super().__init__(" ".join(messages))
        self.messages = list(messages)


@dataclass(frozen=True)
class Buyer:
    member_id: int
    nickname: str
    email: str
    name: str
    address1: str
    suburb: str
    city: str
    postcode: str
    phone: str
    date_joined: datetime


@dataclass
class Photo:
    photo_id: int
    member_id: int
    file_name: str
    file_type: str  # JPG, PNG, GIF or BMP
    data: bytes


@dataclass
class Listing:
    listing_id: int
    member_id: int
    form: Form
    start_date: datetime
    end_date: datetime
    via_api: bool = True
    closed: Literal["sold", "withdrawn"] | None = None  # set when it closed before its end date
    withdraw_reason: str | None = None
    quantity_sold: int = 0
    relisted_as: int | None = None


@dataclass
class Sale:
    purchase_id: int
    listing: Listing
    listing_form: Form  # the listing as it was when bought
    buyer: Buyer
    quantity: int
    unit_price: Decimal
    sold_type: str  # "Buy now" or "Auction"
    shipping: dict[str, Any] | None  # the chosen ShippingOption, None = pick-up
    payment_method: int
    sold_date: datetime
    reference_number: str
    status: int = 0
    status_date: datetime | None = None
    parcel_ids: list[int] = field(default_factory=list)

    @property
    def shipping_price(self) -> Decimal:
        return Decimal("0.00") if self.shipping is None else self.shipping.get("Price") or Decimal("0.00")

    @property
    def total_shipping_price(self) -> Decimal:
        flat = self.listing_form["IsFlatShippingCharge"]
        return self.shipping_price if flat else self.shipping_price * self.quantity

    @property
    def subtotal(self) -> Decimal:
        return self.unit_price * self.quantity


@dataclass(frozen=True)
class Parcel:
    parcel_id: int
    courier_company: str
    tracking_reference: str
    account_number: str | None
    purchase_ids: tuple[int, ...]
    added: datetime


class ParcelRejected(BusinessFailure):
    """A courier parcel refused with one of the documented result codes."""

    def __init__(self, code: int, message: str):
        super().__init__(message)
        self.code = code


@dataclass
class _Window:
    hour: datetime
    calls: int = 0


_BUYER_NAMES = ("kiwi_bargains", "tui_trader", "pohutukawa22", "harbour_finds", "southern_buyer", "kauri_k")
_BUYER_ADDRESSES = (
    ("12 Queen Street", "Auckland Central", "Auckland", "1010"),
    ("4 Cuba Street", "Te Aro", "Wellington", "6011"),
    ("88 Riccarton Road", "Riccarton", "Christchurch", "8011"),
    ("7 George Street", "Dunedin Central", "Dunedin", "9016"),
    ("31 Victoria Street", "Hamilton Central", "Hamilton", "3204"),
    ("5 Devonport Road", "Tauranga", "Tauranga", "3110"),
)


class TradeMeBackend:
    def __init__(self, config: TradeMeSimulatorConfig, clock: Callable[[], datetime], seed: int):
        self.config = config
        self.now = clock
        self.hourly_call_limit = config.hourly_call_limit  # tests and /_control may lower it
        self._rng = random.Random(f"{seed}:trademe")
        self._lock = threading.RLock()
        self._listing_ids = itertools.count(4_812_300_001)
        self._photo_ids = itertools.count(1_953_000_001)
        self._purchase_ids = itertools.count(2_140_000_001)
        self._parcel_ids = itertools.count(73_000_001)
        self._buyer_ids = itertools.count(6_100_001)
        self.listings: dict[int, Listing] = {}
        self.photos: dict[int, Photo] = {}
        self.sales: dict[int, Sale] = {}
        self.parcels: dict[int, Parcel] = {}
        self._windows: dict[tuple[str, str], _Window] = {}
        self._nonces: dict[tuple[str, str, str], float] = {}

    # --- calls and authentication

    def admit_call(self, consumer_key: str, token: str) -> bool:
        """Counts one authenticated call against its app+member's clock-hour window."""
        hour = self.now().replace(minute=0, second=0, microsecond=0)
        with self._lock:
            window = self._windows.get((consumer_key, token))
            if window is None or window.hour != hour:
                window = self._windows[(consumer_key, token)] = _Window(hour)
            if window.calls >= self.hourly_call_limit:
                return False
            window.calls += 1
            return True

    def calls_this_hour(self, consumer_key: str, token: str) -> int:
        hour = self.now().replace(minute=0, second=0, microsecond=0)
        window = self._windows.get((consumer_key, token))
        return window.calls if window and window.hour == hour else 0

    def first_use_of_nonce(self, consumer_key: str, nonce: str, timestamp: str, wall_now: float) -> bool:
        """Replay guard for signed requests; a nonce is forgotten once its timestamp would be refused anyway."""
        horizon = wall_now - 2 * self.config.oauth_timestamp_tolerance_seconds
        with self._lock:
            if len(self._nonces) > 10_000:
                self._nonces = {k: t for k, t in self._nonces.items() if t >= horizon}
            key = (consumer_key, nonce, timestamp)
            if key in self._nonces:
                return False
            self._nonces[key] = wall_now
            return True

    # --- photos

    def add_photo(
        self,
        data: bytes,
        file_name: str,
        file_type: str,
        *,
        member_id: int | None = None,
    ) -> Photo:
        with self._lock:
            photo = Photo(
                next(self._photo_ids),
                member_id or self.config.member_id,
                file_name,
                file_type,
                data,
            )
            self.photos[photo.photo_id] = photo
            return photo

    def attach_photo(self, photo_id: int, listing_id: int) -> int:
        """Photos/{photoId}/Add/{listingId}: the documented status (1 Success, 2 NotMemberPhoto,
        3 NotMemberAuction, 4 NotFound; 0 Failure when the listing cannot take another photo)."""
        member = self.config.member_id
        with self._lock:
            photo = self.photos.get(photo_id)
            if photo is None or photo.member_id != member:
                return 2
            listing = self.listings.get(listing_id)
            if listing is None:
                return 4
            if listing.member_id != member:
                return 3
            photo_ids = listing.form["PhotoIds"]
            if photo_id in photo_ids:
                return 1
            if self.state(listing) != "live" or len(photo_ids) >= MAX_PHOTOS:
                return 0
            listing.form = {**listing.form, "PhotoIds": [*photo_ids, photo_id]}
            return 1

    # --- listing rules

    def check(self, form: Form, *, editing: Listing | None = None) -> list[str]:
        """Every rule the form breaks, as Selling/Validate reports them; [] = listable."""
        errors: list[str] = []
        category = form["Category"]
        if not category:
            errors.append("Category is required.")
        elif not CATEGORY.fullmatch(category):
            errors.append(f"Category '{category}' is not a valid category.")
        title = (form["Title"] or "").strip()
        if not title:
            errors.append("Title is required.")
        elif len(title) > MAX_TITLE:
            errors.append(f"Title must be {MAX_TITLE} characters or fewer (it has {len(title)}).")
        if form["Subtitle"] and len(form["Subtitle"]) > MAX_SUBTITLE:
            errors.append(f"Subtitle must be {MAX_SUBTITLE} characters or fewer.")
        lines = form["Description"]
        if not any(line.strip() for line in lines):
            errors.append("Description is required.")
        elif len("\r\n".join(lines)) > MAX_DESCRIPTION:
            errors.append(f"Description must be {MAX_DESCRIPTION} characters or fewer.")
        errors += self._check_prices(form, editing)
        errors += self._check_duration(form)
        errors += self._check_delivery(form)
        errors += self._check_photos(form["PhotoIds"])
        for attribute in form["Attributes"]:
            if not attribute.get("Name") or attribute.get("Value") in (None, ""):
                errors.append("Each attribute needs a Name and a Value.")
                break
        given = {a.get("Name") for a in form["Attributes"] if a.get("Value") not in (None, "")}
        for name in required_attributes(category or "") or ():  # a category of the shared tree
            if name not in given:
                errors.append(f"Attribute '{name}' is required in this category.")
        for name in ("SKU", "ExternalReferenceId"):
            if form[name] and len(form[name]) > MAX_REFERENCE:
                errors.append(f"{name} must be {MAX_REFERENCE} characters or fewer.")
        return errors

    @staticmethod
    def _check_prices(form: Form, editing: Listing | None) -> list[str]:
        errors = []
        start, reserve, buy_now = form["StartPrice"], form["ReservePrice"], form["BuyNowPrice"]
        if start is None:
            errors.append("StartPrice is required.")
        for name, value in (("StartPrice", start), ("ReservePrice", reserve), ("BuyNowPrice", buy_now)):
            if value is not None and value < MIN_PRICE:
                errors.append(f"{name} must be at least $0.50.")
        if start is not None and reserve is not None and reserve < start:
            errors.append("ReservePrice must be greater than or equal to the StartPrice.")
        if start is not None and buy_now is not None and buy_now < start:
            errors.append("BuyNowPrice must be greater than or equal to the StartPrice.")
        quantity = form["Quantity"]
        if quantity is not None:
            sold = editing.quantity_sold if editing else 0
            most = MAX_QUANTITY - sold
            if not 1 <= quantity <= most:
                errors.append(f"Quantity must be between 1 and {most}.")
            if buy_now is None:
                errors.append("A Quantity makes the listing Buy Now only: BuyNowPrice is required.")
        return errors

    def _check_duration(self, form: Form) -> list[str]:
        duration = form["Duration"]
        if duration is None:
            return ["Duration is required."]
        if duration not in LISTABLE_DURATIONS:
            return [f"Duration {duration} is not available in this category."]
        if duration == END_DATE:
            end = form["EndDateTime"]
            now = self.now()
            if end is None:
                return ["EndDateTime is required when the Duration is EndDate."]
            if not now < end <= now + timedelta(days=MAX_END_DATE_DAYS):
                return [f"EndDateTime must be in the future and within {MAX_END_DATE_DAYS} days."]
        return []

    @staticmethod
    def _check_delivery(form: Form) -> list[str]:
        errors = []
        if form["Pickup"] not in PICKUP.values():
            errors.append(f"Pickup {form['Pickup']} is not a valid pick-up option.")
        methods = form["PaymentMethods"]
        if not methods:
            errors.append("At least one payment method is required.")
        elif bad := sorted(set(methods) - LISTABLE_PAYMENT_METHODS):
            errors.append(f"Payment method {bad[0]} cannot be used when listing.")
        options = form["ShippingOptions"]
        if not options and form["Pickup"] != PICKUP_DEMAND:
            errors.append("At least one shipping option is required unless pick-up is demanded.")
        if len(options) > MAX_SHIPPING_OPTIONS:
            errors.append(f"No more than {MAX_SHIPPING_OPTIONS} shipping options are allowed.")
        types = [option.get("Type") for option in options]
        if bad := [t for t in types if t not in LISTABLE_SHIPPING_TYPES]:
            errors.append(f"Shipping option type {bad[0]} cannot be used when listing.")
        if len(types) > 1 and ({UNDECIDED, FREE} & set(types)):
            errors.append("Undecided and Free shipping cannot be combined with other shipping options.")
        for option in options:
            if option.get("Type") == CUSTOM and (option.get("Price") is None or not option.get("Method")):
                errors.append("A custom shipping option needs a Price and a Method.")
                break
            if option.get("Price") is not None and option["Price"] < 0:
                errors.append("A shipping price cannot be negative.")
                break
        return errors

    def _check_photos(self, photo_ids: list[int]) -> list[str]:
        if len(photo_ids) > MAX_PHOTOS:
            return [f"No more than {MAX_PHOTOS} photos are allowed."]
        member = self.config.member_id
        for photo_id in photo_ids:
            photo = self.photos.get(photo_id)
            if photo is None or photo.member_id != member:
                return [f"Photo {photo_id} does not exist or does not belong to you."]
        return []

    # --- selling

    def state(self, listing: Listing) -> ListingState:
        if listing.closed:
            return listing.closed
        return "live" if self.now() < listing.end_date else "ended"

    def _end_date(self, form: Form, start: datetime) -> datetime:
        return (
            form["EndDateTime"] if form["Duration"] == END_DATE else start + timedelta(days=form["Duration"])
        )

    def _open(self, form: Form, *, via_api: bool = True) -> Listing:
        start = self.now()
        listing = Listing(
            next(self._listing_ids), self.config.member_id, form, start, self._end_date(form, start), via_api
        )
        self.listings[listing.listing_id] = listing
        return listing

    def create_listing(self, form: Form) -> Listing:
        with self._lock:
            if errors := self.check(form):
                raise BusinessFailure(*errors)
            return self._open(form)

    def own_listing(self, listing_id: int) -> Listing:
        listing = self.listings.get(listing_id)
        if listing is None or listing.member_id != self.config.member_id:
            raise BusinessFailure(f"Listing {listing_id} was not found.")
        return listing

    def edit_listing(self, listing_id: int, form: Form) -> Listing:
        """The whole form is replaced: anything the request left out is reset (FORM_DEFAULTS). The
        end date stays: editing does not restart the listing."""
        with self._lock:
            listing = self.own_listing(listing_id)
            if self.state(listing) != "live":
                raise BusinessFailure(f"Listing {listing_id} has closed and cannot be edited.")
            if errors := self.check(form, editing=listing):
                raise BusinessFailure(*errors)
            listing.form = form
            return listing

    def withdraw(
        self, listing_id: int, withdraw_type: int, reason: str | None, sale_price: Decimal | None
    ) -> Listing:
        with self._lock:
            listing = self.own_listing(listing_id)
            if withdraw_type not in WITHDRAW_TYPES.values():
                raise BusinessFailure("Type must be ListingWasSold (1) or ListingWasNotSold (2).")
            if reason and len(reason) > MAX_WITHDRAW_REASON:
                raise BusinessFailure(f"Reason must be {MAX_WITHDRAW_REASON} characters or fewer.")
            if withdraw_type == WITHDRAW_TYPES["ListingWasSold"] and not sale_price:
                raise BusinessFailure("SalePrice is required when the listing was sold.")
            if self.state(listing) != "live":
                raise BusinessFailure(f"Listing {listing_id} has already closed.")
            listing.closed, listing.withdraw_reason = "withdrawn", reason
            listing.end_date = self.now()
            return listing

    def relist(self, listing_id: int) -> Listing:
        """A closed listing again, under a new id, from its last form (a sold-out quantity restored)."""
        with self._lock:
            listing = self.own_listing(listing_id)
            if self.state(listing) == "live":
                raise BusinessFailure(f"Listing {listing_id} is still live and cannot be relisted.")
            if listing.relisted_as is not None:
                raise BusinessFailure(
                    f"Listing {listing_id} has already been relisted as {listing.relisted_as}."
                )
            form = listing.form
            if form["Quantity"] is not None and form["Quantity"] < 1:
                form = {**form, "Quantity": listing.quantity_sold}
            if errors := self.check(form):
                raise BusinessFailure(*errors)
            relisted = self._open(form)
            listing.relisted_as = relisted.listing_id
            return relisted

    def live_listings(self) -> list[Listing]:
        member = self.config.member_id
        return [x for x in self.listings.values() if x.member_id == member and self.state(x) == "live"]

    def selling_items(self, which: str) -> list[Listing]:
        """SellingItems/{filter}: one of All, ClosingToday, ListingsWithBids, ReserveMet, ReserveNotMet,
        UnansweredQuestions."""
        soon = self.now() + timedelta(hours=24)
        keep: dict[str, Callable[[Listing], bool]] = {
            "All": lambda x: True,
            "ClosingToday": lambda x: x.end_date <= soon,
            "ListingsWithBids": lambda x: False,  # Buy Now sales are not bids; no bidding is simulated
            "ReserveMet": lambda x: False,
            "ReserveNotMet": lambda x: x.form["ReservePrice"] is not None and x.form["Quantity"] is None,
            "UnansweredQuestions": lambda x: False,
        }
        return [x for x in self.live_listings() if keep[which](x)]

    def create_foreign_listing(
        self,
        title: str,
        price: Decimal | str,
        *,
        quantity: int | None = 1,
        sku: str | None = None,
        external_reference_id: str | None = None,
        category: str = "0187-",
    ) -> Listing:
        """A listing the seller made on the website: no rules checked, no API call journalled."""
        amount = Decimal(str(price))
        form = {
            **blank_form(),
            "Category": category,
            "Title": title,
            "Description": [title],
            "StartPrice": amount,
            "BuyNowPrice": amount,
            "Duration": 7,
            "Quantity": quantity,
            "PaymentMethods": [PAYMENT_METHODS["BankDeposit"]],
            "ShippingOptions": [{"Type": UNDECIDED, "Price": None, "Method": None}],
            "SKU": sku,
            "ExternalReferenceId": external_reference_id,
        }
        with self._lock:
            return self._open(form, via_api=False)

    def seed_existing(self, items: list[ExistingListing]) -> list[str]:
        """Listings the seller made on the Trade Me website before us: Buy Now, live, no rule checked,
        no call counted; their photos kept as Trade Me's own (drawn when first served). Returns the
        listing ids. Trade Me keeps no brand, GTIN or part number, and only whether an item is new."""
        check_batch("Trade Me", items, ["NZD"])  # the whole batch or nothing
        ids = []
        with self._lock:
            for item in items:
                photo_ids = []
                for url in item.photos[:MAX_PHOTOS]:
                    photo = Photo(
                        next(self._photo_ids), self.config.member_id, url.rsplit("/", 1)[-1], "JPG", b""
                    )
                    self.photos[photo.photo_id] = photo
                    photo_ids.append(photo.photo_id)
                form = {
                    **blank_form(),
                    "Category": "0187-",
                    "Title": item.title[:MAX_TITLE],
                    "Description": item.description.splitlines() or [item.title],
                    "StartPrice": item.price,
                    "BuyNowPrice": item.price,
                    "Duration": 7,
                    "IsBrandNew": item.condition == "new",
                    "Quantity": item.quantity,
                    "PhotoIds": photo_ids,
                    "PaymentMethods": [PAYMENT_METHODS["BankDeposit"]],
                    "ShippingOptions": [{"Type": UNDECIDED, "Price": None, "Method": None}],
                    "SKU": item.sku,
                    "ExternalReferenceId": item.sku,
                }
                ids.append(str(self._open(form, via_api=False).listing_id))
        return ids

    # --- buying and after the sale

    def _new_buyer(self) -> Buyer:
        number = next(self._buyer_ids)
        nickname = f"{self._rng.choice(_BUYER_NAMES)}{number % 1000}"
        street, suburb, city, postcode = self._rng.choice(_BUYER_ADDRESSES)
        return Buyer(
            number,
            nickname,
            f"{nickname}@example.co.nz",
            nickname.replace("_", " ").title(),
            street,
            suburb,
            city,
            postcode,
            f"021 {self._rng.randint(100, 999)} {self._rng.randint(1000, 9999)}",
            self.now() - timedelta(days=self._rng.randint(30, 4000)),
        )

    def buy(
        self, listing_id: int, quantity: int = 1, buyer: Buyer | None = None, *, shipping: int = 0
    ) -> Sale:
        """A buyer purchases `quantity` of a live listing (Buy Now, or winning the auction at its
        start price when there is no Buy Now price). The last item sold closes the listing."""
        with self._lock:
            listing = self.listings.get(listing_id)
            if listing is None or self.state(listing) != "live":
                raise BusinessFailure(f"Listing {listing_id} is not for sale.")
            form = listing.form
            available = form["Quantity"] if form["Quantity"] is not None else 1
            if not 1 <= quantity <= available:
                raise BusinessFailure(f"Only {available} available; cannot buy {quantity}.")
            options = form["ShippingOptions"]
            chosen = options[min(shipping, len(options) - 1)] if options else None
            methods = form["PaymentMethods"] or [PAYMENT_METHODS["BankDeposit"]]
            purchase_id = next(self._purchase_ids)
            sale = Sale(
                purchase_id,
                listing,
                dict(form),
                buyer or self._new_buyer(),
                quantity,
                form["BuyNowPrice"] if form["BuyNowPrice"] is not None else form["StartPrice"],
                "Buy now" if form["BuyNowPrice"] is not None else "Auction",
                chosen,
                CREDIT_CARD if CREDIT_CARD in methods else methods[0],
                self.now(),
                f"P{purchase_id % 10_000_000:07d}",
            )
            self.sales[purchase_id] = sale
            listing.quantity_sold += quantity
            if form["Quantity"] is not None:
                listing.form = {**form, "Quantity": available - quantity}
            if available == quantity:
                listing.closed, listing.end_date = "sold", self.now()
            return sale

    def sold_items(self, which: str) -> list[Sale]:
        """SoldItems/{filter}, newest first; the status filters look back 45 days, like the longest window."""
        now = self.now()
        windows = {
            "Last45Days": timedelta(days=45), "Last30Days": timedelta(days=30), "Last7Days": timedelta(days=7),
            "Last3Days": timedelta(days=3), "Last24Hours": timedelta(hours=24), "LastHour": timedelta(hours=1),
        }  # fmt: skip
        since = now - windows.get(which, timedelta(days=45))
        keep: Callable[[Sale], bool]
        if which in SALE_STATUSES:
            keep = lambda s: s.status == SALE_STATUSES[which]  # noqa: E731
        elif which == "PaymentInstructionsToSend":
            keep = lambda s: s.status == 0  # noqa: E731
        else:  # a time window, or FeedbackToPlace: the seller places no feedback here
            keep = lambda s: True  # noqa: E731
        member = self.config.member_id
        sales = [s for s in self.sales.values() if s.listing.member_id == member and s.sold_date > since]
        return sorted(filter(keep, sales), key=lambda s: s.sold_date, reverse=True)

    def own_sale(self, purchase_id: int) -> Sale:
        sale = self.sales.get(purchase_id)
        if sale is None or sale.listing.member_id != self.config.member_id:
            raise BusinessFailure(f"Purchase {purchase_id} was not found.")
        return sale

    def set_sale_status(self, purchase_id: int, status: str) -> Sale:
        with self._lock:
            sale = self.own_sale(purchase_id)
            sale.status, sale.status_date = SALE_STATUSES[status], self.now()
            return sale

    def add_parcel(
        self,
        courier_company: str,
        tracking_reference: str,
        purchase_ids: Iterable[int],
        account_number: str | None,
    ) -> Parcel:
        """CourierParcels: checked in the order of the documented result codes."""
        ids = tuple(purchase_ids)
        with self._lock:
            if not courier_company.strip():
                raise ParcelRejected(9, "Courier company is not specified.")
            if not tracking_reference.strip():
                raise ParcelRejected(2, "Tracking reference is empty.")
            if len(tracking_reference) > MAX_TRACKING_REFERENCE:
                raise ParcelRejected(3, "Tracking reference is too long.")
            if account_number and len(account_number) > MAX_ACCOUNT_NUMBER:
                raise ParcelRejected(4, "Account number is too long.")
            if not ids:
                raise ParcelRejected(7, "Need to specify at least one auction sold id.")
            if any(i not in self.sales for i in ids):
                raise ParcelRejected(6, "One or more of the sold listing ids do not exist.")
            sales = [self.sales[i] for i in ids]
            if any(s.listing.member_id != self.config.member_id for s in sales):
                raise ParcelRejected(5, "You did not sell one or more of these listings.")
            if len({s.buyer.member_id for s in sales}) > 1:
                raise ParcelRejected(8, "All auctions must be for the same buyer.")
            for existing in self.parcels.values():
                if (existing.courier_company, existing.tracking_reference) == (
                    courier_company,
                    tracking_reference,
                ):
                    raise ParcelRejected(1, "A duplicate parcel already exists.")
            parcel = Parcel(
                next(self._parcel_ids), courier_company, tracking_reference, account_number, ids, self.now()
            )
            self.parcels[parcel.parcel_id] = parcel
            for sale in sales:
                sale.parcel_ids.append(parcel.parcel_id)
            return parcel

    # --- account

    def counts(self) -> dict[str, int]:
        since = self.now() - timedelta(days=45)
        member = self.config.member_id
        mine = [x for x in self.listings.values() if x.member_id == member]
        return {
            "SellingCount": sum(self.state(x) == "live" for x in mine),
            "SoldCount": len(self.sold_items("Last45Days")),
            "UnsoldCount": sum(
                self.state(x) in ("ended", "withdrawn") and x.quantity_sold == 0 and x.end_date > since
                for x in mine
            ),
        }

    def pay_now_balance(self) -> Decimal:
        return sum(
            (
                s.subtotal + s.total_shipping_price
                for s in self.sold_items("Last45Days")
                if s.payment_method == CREDIT_CARD
            ),
            Decimal("0.00"),
        )

    def buyer(self, **overrides: Any) -> Buyer:
        """A fresh simulated buyer, with any field overridden (for tests that need a known buyer)."""
        with self._lock:
            return replace(self._new_buyer(), **overrides)

"""Our dealer account on Vintage & Rare (moto-style): items with their images, sign-in sessions and
the site's switches (layout, bot challenge, expired sessions, slow pages).

What the site enforces is enforced here: a brand from V&R's list, a subcategory of the chosen
category, a year from 1900 to this year, a price above 0, a known currency and condition, a
description, a reference (our SKU) of at most 50 characters used by one item of the dealer only, and
at most 20 JPEG/PNG/WebP images of at most 10 MB each. Item times follow the simulated clock; sessions
expire in real time (a browser session outlives no simulated hours).

Market hooks: `live_skus()`, `buy(sku, quantity)` (a sale is seen only in the CSV export: V&R has no
orders API) and `seed_existing(items)` / `seed_items(rows)` (items a dealer made by hand, with or without a
reference).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, ConfigDict, Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from ..buyers import Buyer, NotBuyable
from ..catalogue import slugify
from ..existing_listings import ExistingListing
from ..images import card_photo
from . import taxonomy

if TYPE_CHECKING:
    from ..app import Simulator

DEALER_EMAIL = "dealer@example.test"
DEALER_PASSWORD = "vr-dealer-secret"
CURRENCIES = ("GBP", "EUR", "USD", "CAD", "NZD", "AUD")
CONDITIONS = ("Mint", "Excellent", "Very good", "Good", "Fair", "Poor", "Non functioning")
FOR_SALE, SOLD = "for_sale", "sold"
MAX_IMAGES = 20
MAX_IMAGE_BYTES = 10 * 1024 * 1024
MAX_REFERENCE = 50
MAX_PRICE = 10_000_000
FIRST_YEAR = 1900
# What an upload's first bytes must be: the site checks the file, not its name.
IMAGE_TYPES = (
    (b"\xff\xd8\xff", "image/jpeg", "jpg"),
    (b"\x89PNG\r\n\x1a\n", "image/png", "png"),
)


class VintageAndRareSimulatorConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    dealers: dict[str, str] = Field(
        default_factory=dict, description="More dealer accounts (email -> password) besides the default one."
    )
    session_ttl_seconds: float = Field(1800, gt=0, description="A session's life, in real seconds.")

    @classmethod
    def from_env(cls) -> VintageAndRareSimulatorConfig:
        """SIMULATOR_VINTAGE_AND_RARE_DEALERS (JSON) and SIMULATOR_VINTAGE_AND_RARE_SESSION_TTL_SECONDS."""
        return cls.model_validate(_FromEnvironment().model_dump())


class _FromEnvironment(BaseSettings, VintageAndRareSimulatorConfig):
    model_config = SettingsConfigDict(env_prefix="SIMULATOR_VINTAGE_AND_RARE_", extra="ignore")


class SiteSettings(BaseModel):
    """The switches `PUT /_control/site` turns (partial updates)."""

    model_config = ConfigDict(extra="forbid")

    layout: Literal["a", "b"] = "a"
    challenge: bool = Field(False, description="Every sign-in and dealer page answers a 403 bot check.")
    expire_sessions: bool = Field(
        False, description="Sessions signed in before this was switched on are expired at their next request."
    )
    slow_ms: int = Field(0, ge=0, le=120_000, description="Every sign-in and dealer page waits this long.")


class SiteSettingsUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    layout: Literal["a", "b"] | None = None
    challenge: bool | None = None
    expire_sessions: bool | None = None
    slow_ms: int | None = Field(None, ge=0, le=120_000)


@dataclass
class Image:
    content: bytes  # an upload's bytes; empty for a seeded item's picture, drawn when first shown
    content_type: str
    ext: str
    source_url: str | None = None  # where a seeded item's picture came from
    card: tuple[str, str, str] | None = None  # a seeded picture's card_photo(title, caption, key)

    @property
    def data(self) -> bytes:
        # drawn on request: a dealer of thousands of seeded items would otherwise wait seconds for pictures
        return self.content or (card_photo(*self.card) if self.card else b"")


@dataclass
class Item:
    id: int
    dealer: str
    brand: str
    model: str
    category_id: int
    subcategory_id: int
    year: int | None
    price: Decimal
    currency: str
    quantity: int
    condition: str
    description: str
    reference: str
    status: str
    created_at: datetime
    updated_at: datetime
    images: list[Image] = field(default_factory=list)
    deleted: bool = False

    @property
    def title(self) -> str:
        """As V&R heads an item: year, brand, model."""
        return " ".join(str(part) for part in (self.year, self.brand, self.model) if part)

    @property
    def slug(self) -> str:
        return f"{self.id}-{slugify(self.title)}"

    @property
    def category(self) -> taxonomy.Category:
        found = taxonomy.category(self.category_id)
        assert found is not None
        return found

    @property
    def subcategory_name(self) -> str:
        sub = self.category.subcategory(self.subcategory_id)
        return sub.name if sub else ""


@dataclass
class Session:
    id: str
    dealer: str
    signed_in_at: float  # Unix time
    expires_at: float


class FormInvalid(ValueError):
    """What the dealer must fix, in the order the site lists it; nothing was saved."""

    def __init__(self, errors: list[str]):
        super().__init__("; ".join(errors))
        self.errors = errors


class NotFound(LookupError):
    pass


@dataclass(frozen=True)
class Sale:
    """A shopper's purchase on vintageandrare.com; the dealer sees it only as the item sold."""

    order_id: str
    item_id: int
    sku: str
    quantity: int


FIELDS = (
    "brand", "model", "category", "subcategory", "year", "price", "currency", "quantity", "condition",
    "description", "reference",
)  # fmt: skip


def _whole(text: str) -> int | None:
    try:
        return int(text.strip())
    except ValueError:
        return None


class VintageAndRareBackend:
    def __init__(self, sim: Simulator, config: VintageAndRareSimulatorConfig):
        self.config = config
        self.clock = sim.clock
        self.settings = SiteSettings()
        self._lock = threading.RLock()
        self._secret = secrets.token_bytes(32)  # signs CSRF tokens
        self._expired_before = 0.0  # Unix time: sessions signed in earlier are expired (expire_sessions)
        self.sessions: dict[str, Session] = {}
        self.items: dict[int, Item] = {}
        self._next_item_id = 1_040_001
        self._next_sale_id = 77_000_001

    # --- the site's switches

    def configure(self, update: SiteSettingsUpdate) -> SiteSettings:
        with self._lock:
            changes = update.model_dump(exclude_none=True)
            if changes.get("expire_sessions"):
                self._expired_before = time.time()
            self.settings = self.settings.model_copy(update=changes)
            return self.settings

    # --- sign-in

    def dealers(self) -> dict[str, str]:
        return {DEALER_EMAIL: DEALER_PASSWORD, **self.config.dealers}

    def sign_in(self, email: str, password: str) -> Session | None:
        expected = self.dealers().get(email.strip().lower())
        if expected is None or not hmac.compare_digest(expected.encode(), password.encode()):
            return None
        now = time.time()
        session = Session(
            secrets.token_urlsafe(24), email.strip().lower(), now, now + self.config.session_ttl_seconds
        )
        with self._lock:
            self.sessions = {k: s for k, s in self.sessions.items() if self._live(s, now)}
            self.sessions[session.id] = session
        return session

    def _live(self, session: Session, now: float) -> bool:
        if now >= session.expires_at:
            return False
        return not (self.settings.expire_sessions and session.signed_in_at <= self._expired_before)

    def session(self, session_id: str | None) -> Session | None:
        """The live session with this id; an expired one is forgotten."""
        if not session_id:
            return None
        with self._lock:
            session = self.sessions.get(session_id)
            if session is not None and not self._live(session, time.time()):
                del self.sessions[session_id]
                session = None
            return session

    def csrf_token(self, bound_to: str) -> str:
        """A token for forms shown to the holder of `bound_to` (a pre-session or session id)."""
        return hmac.new(self._secret, bound_to.encode(), hashlib.sha256).hexdigest()

    def csrf_ok(self, bound_to: str | None, token: str | None) -> bool:
        return bool(bound_to and token) and hmac.compare_digest(self.csrf_token(bound_to), token)

    # --- items

    def dealer_items(self, dealer: str) -> list[Item]:
        with self._lock:
            return sorted(
                (i for i in self.items.values() if i.dealer == dealer and not i.deleted), key=lambda i: i.id
            )

    def item(self, dealer: str, item_id: int) -> Item:
        item = self.items.get(item_id)
        if item is None or item.deleted or item.dealer != dealer:
            raise NotFound(f"no item {item_id}")
        return item

    def public_item(self, item_id: int) -> Item:
        item = self.items.get(item_id)
        if item is None or item.deleted:
            raise NotFound(f"no item {item_id}")
        return item

    def _validate(self, dealer: str, form: dict[str, str], item_id: int | None) -> dict[str, Any]:
        """Every problem of a submitted item form, in the form's order (as the site lists them)."""
        get = {name: (form.get(name) or "").strip() for name in FIELDS}
        errors: list[str] = []
        values: dict[str, Any] = {}

        if not get["brand"]:
            errors.append("Brand is required.")
        elif (brand := taxonomy.canonical_brand(get["brand"])) is None:
            errors.append(f"Unknown brand '{get['brand']}'. Choose a brand from the list.")
        else:
            values["brand"] = brand
        if not get["model"]:
            errors.append("Model is required.")
        values["model"] = " ".join(get["model"].split())

        category = taxonomy.category(_whole(get["category"]) or 0)
        if category is None:
            errors.append("Choose a category.")
        else:
            values["category_id"] = category.id
            sub = category.subcategory(_whole(get["subcategory"]) or 0)
            if sub is None:
                errors.append(f"Choose a subcategory of {category.name}.")
            else:
                values["subcategory_id"] = sub.id

        this_year = self.clock.now().year
        values["year"] = None
        if get["year"]:
            year = _whole(get["year"])
            if year is None or not FIRST_YEAR <= year <= this_year:
                errors.append(f"Year must be between {FIRST_YEAR} and {this_year}.")
            values["year"] = year

        try:
            price = Decimal(get["price"])
        except InvalidOperation:
            price = None
        if price is None or not price.is_finite() or price <= 0:
            errors.append("Price must be a number greater than 0.")
        elif price > MAX_PRICE:
            errors.append(f"Price can be at most {MAX_PRICE}.")
        elif price.as_tuple().exponent < -2:  # type: ignore[operator]
            errors.append("Price can have at most 2 decimal places.")
        else:
            values["price"] = price.quantize(Decimal("0.01"))

        if get["currency"] not in CURRENCIES:
            errors.append(f"Currency must be one of {', '.join(CURRENCIES)}.")
        values["currency"] = get["currency"]

        quantity = _whole(get["quantity"] or "1")
        if quantity is None or quantity < 1:
            errors.append("Quantity must be a whole number of 1 or more.")
        values["quantity"] = quantity

        if get["condition"] not in CONDITIONS:
            errors.append("Choose a condition.")
        values["condition"] = get["condition"]

        if not get["description"]:
            errors.append("Description is required.")
        values["description"] = (form.get("description") or "").strip().replace("\r\n", "\n")

        reference = get["reference"]
        if len(reference) > MAX_REFERENCE:
            errors.append(f"Your reference can be at most {MAX_REFERENCE} characters.")
        elif reference:
            other = next(
                (i for i in self.dealer_items(dealer) if i.reference == reference and i.id != item_id), None
            )
            if other is not None:
                errors.append(f"Reference already used by item {other.id}")
        values["reference"] = reference

        if errors:
            raise FormInvalid(errors)
        return values

    def create_item(self, dealer: str, form: dict[str, str]) -> Item:
        with self._lock:
            values = self._validate(dealer, form, None)
            item = self._new_item(dealer, values, self.clock.now())
            self.items[item.id] = item
            return item

    def _new_item(self, dealer: str, values: dict[str, Any], now: datetime) -> Item:
        """A new item on sale with the next id (the caller holds the lock)."""
        item = Item(
            id=self._next_item_id, dealer=dealer, status=FOR_SALE, created_at=now, updated_at=now, **values
        )
        self._next_item_id += 1
        return item

    def update_item(self, dealer: str, item_id: int, form: dict[str, str]) -> Item:
        """Saving the form puts the item (back) on sale with the quantity given: a sold item is relisted."""
        with self._lock:
            item = self.item(dealer, item_id)
            values = self._validate(dealer, form, item_id)
            for name, value in values.items():
                setattr(item, name, value)
            item.status = FOR_SALE
            item.updated_at = self.clock.now()
            return item

    def add_image(self, dealer: str, item_id: int, data: bytes) -> Item:
        with self._lock:
            item = self.item(dealer, item_id)
            if len(item.images) >= MAX_IMAGES:
                raise FormInvalid([f"An item can have at most {MAX_IMAGES} images"])
            if not data:
                raise FormInvalid(["Choose an image to upload."])
            if len(data) > MAX_IMAGE_BYTES:
                raise FormInvalid(["An image can be at most 10 MB."])
            kind = image_kind(data)
            if kind is None:
                raise FormInvalid(["Only JPEG, PNG or WebP images can be uploaded."])
            item.images.append(Image(data, *kind))
            item.updated_at = self.clock.now()
            return item

    def mark_sold(self, dealer: str, item_id: int) -> Item:
        with self._lock:
            item = self.item(dealer, item_id)
            item.status, item.quantity, item.updated_at = SOLD, 0, self.clock.now()
            return item

    def delete(self, dealer: str, item_id: int) -> None:
        with self._lock:
            item = self.item(dealer, item_id)
            item.deleted, item.updated_at = True, self.clock.now()

    def image(self, item_id: int, number: int) -> Image:
        item = self.public_item(item_id)
        if not 1 <= number <= len(item.images):
            raise NotFound(f"item {item_id} has no image {number}")
        return item.images[number - 1]

    # --- seeding and the market

    def seed_existing(self, items: Sequence[ExistingListing]) -> list[str]:
        """A shop's existing listings (`shop_inventory`'s), as every channel's simulator takes them:
        the item ids, in order."""
        return [str(item.id) for item in self.seed_items(items)]

    def seed_items(
        self, items: Sequence[ExistingListing | dict[str, Any]], dealer: str = DEALER_EMAIL
    ) -> list[Item]:
        """Items the dealer made on the site by hand: `ExistingListing`s or rows as the CSV export's
        columns (`external_id` may be empty: no reference). All are checked first, as the form checks
        them: a bad one (a brand V&R does not know, a currency it does not sell in) saves none."""
        prepared = []
        with self._lock:
            references = {i.reference for i in self.dealer_items(dealer) if i.reference}
            for number, entry in enumerate(items, start=1):
                row = _row_from_existing(entry) if isinstance(entry, ExistingListing) else entry
                form = _form_from_row(row)
                try:
                    values = self._validate(dealer, form, None)
                except FormInvalid as error:
                    raise ValueError(f"item {number}: {error}") from None
                if values["reference"] and values["reference"] in references:
                    raise ValueError(f"item {number}: reference {values['reference']!r} used twice")
                references.add(values["reference"])
                prepared.append((row, values))
            created = []
            now = self.clock.now()
            for row, values in prepared:
                item = self._new_item(dealer, values, now)
                if str(row.get("status") or FOR_SALE) == SOLD:
                    item.status, item.quantity = SOLD, 0
                item.images = [
                    Image(
                        b"",
                        "image/jpeg",
                        "jpg",
                        url,
                        (item.title, f"{item.brand} · photo {n}", f"vr:{item.id}:{n}"),
                    )
                    for n, url in enumerate(_image_urls(row.get("image_urls")), start=1)
                ][:MAX_IMAGES]
                self.items[item.id] = item
                created.append(item)
            return created

    def live_skus(self) -> dict[str, int]:
        """Our SKU (the item's reference) -> units a shopper could buy now."""
        with self._lock:
            return {
                i.reference: i.quantity
                for i in self.items.values()
                if i.reference and i.status == FOR_SALE and not i.deleted
            }

    def buy(self, sku: str, quantity: int = 1, buyer: Buyer | None = None) -> Sale:
        """A shopper buys on vintageandrare.com; the item is sold once its quantity reaches 0."""
        if quantity < 1:
            raise ValueError("quantity must be at least 1")
        with self._lock:
            item = next(
                (
                    i
                    for i in self.items.values()
                    if i.reference == sku and i.status == FOR_SALE and not i.deleted
                ),
                None,
            )
            if item is None:
                raise NotBuyable(f"no Vintage & Rare item for sale has reference {sku!r}")
            if item.quantity < quantity:
                raise NotBuyable(f"{sku!r} has {item.quantity} available, not {quantity}")
            item.quantity -= quantity
            if item.quantity == 0:
                item.status = SOLD
            item.updated_at = self.clock.now()
            sale = Sale(str(self._next_sale_id), item.id, sku, quantity)
            self._next_sale_id += 1
            return sale


def image_kind(data: bytes) -> tuple[str, str] | None:
    """(content type, extension) of a JPEG, PNG or WebP file, by its first bytes."""
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp", "webp"
    return next(((kind, ext) for magic, kind, ext in IMAGE_TYPES if data.startswith(magic)), None)


# A seller's condition as V&R grades it (Mint is as new; Excellent, a refurbished item).
_GRADES = {"new": "Mint", "refurbished": "Excellent", "used": "Good"}


def _row_from_existing(item: ExistingListing) -> dict[str, Any]:
    """A listing a seller made by hand as the dealer types it on V&R's form. V&R heads an item with
    its year, brand and model and has no title of its own, so the model is the item's MPN or, without
    one, its title less a leading brand; no GTIN (the form has no field for one); the category is ours,
    not V&R's, so "Other"; the photos become the site's own copies. A brand V&R does not know (or none)
    is refused by the form's own check, as the site refuses it."""
    brand = item.brand or ""
    title = item.title.strip()
    if brand and title.casefold().startswith(f"{brand.casefold()} "):
        title = title[len(brand) :].strip()
    return {
        "external_id": item.sku or "",
        "brand": brand,
        "model": item.mpn or title,
        "category": "Other",
        "price": str(item.price),
        "currency": item.currency,
        "quantity": str(item.quantity),
        "condition": _GRADES[item.condition],
        "description": item.description,
        "image_urls": list(item.photos),
    }


def _image_urls(value: Any) -> list[str]:
    if not value:
        return []
    urls = value.split("|") if isinstance(value, str) else list(value)
    return [str(u).strip() for u in urls if str(u).strip()]


def _form_from_row(row: dict[str, Any]) -> dict[str, str]:
    """A CSV-shaped item as the add form would submit it (category and subcategory by name)."""
    category = taxonomy.category_named(str(row.get("category") or "Other"))
    subcategory = None
    if category is not None:
        wanted = str(row.get("subcategory") or "").strip().casefold()
        subcategory = next((s for s in category.subcategories if s.name.casefold() == wanted), None) or (
            None if wanted else category.subcategories[0]
        )
    text = {k: "" if v is None else str(v) for k, v in row.items()}
    sold = text.get("status") == SOLD  # a sold item's quantity is 0; it was on sale with one
    return {
        "brand": text.get("brand", ""),
        "model": text.get("model", ""),
        "category": str(category.id) if category else "",
        "subcategory": str(subcategory.id) if subcategory else "",
        "year": text.get("year", ""),
        "price": text.get("price", ""),
        "currency": text.get("currency") or "GBP",
        "quantity": "1" if sold else (text.get("quantity") or "1"),
        "condition": text.get("condition") or "Good",
        "description": text.get("description", ""),
        "reference": text.get("external_id", ""),
    }

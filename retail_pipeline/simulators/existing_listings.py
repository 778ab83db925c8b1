"""A shop that already sells: the listings a seller made by hand on a channel's website before using us.

`shop_inventory` draws a realistic existing inventory from a seeded `random.Random`: some listings are
our catalogue's products listed by hand (no SKU or a shop SKU of the seller's own, a title worded
differently), some carry our SKU exactly (made earlier by a tool using our SKU scheme), and some are
items we never carried. Each listing channel's simulator backend takes them in `seed_existing(items)`
(and `POST /<system>/_control/existing_listings`) as listings made on its website: live, no API call.

Photos are URLs the simulator serves (`GET /_control/photos/{name}.jpg`, drawn by `images.py`).
"""

from __future__ import annotations

import random
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass
from decimal import Decimal
from typing import Any, Literal

from fastapi import FastAPI, HTTPException
from pydantic import BaseModel, Field

from retail_pipeline.domain.enrichment import product_sku

from .catalogue import Product, ProductState, Variant, gtin_check_digit, slugify

Origin = Literal["ours", "by_hand", "unrelated"]
DEFAULT_PHOTO_BASE = "http://127.0.0.1:8765/_control/photos"  # the simulator's default address


@dataclass(frozen=True)
class ExistingListing:
    """One listing as its seller entered it on the channel's website."""

    sku: str | None
    title: str
    description: str
    price: Decimal
    currency: str
    quantity: int
    brand: str | None
    gtin: str | None
    mpn: str | None
    condition: str  # new | used | refurbished
    photos: tuple[str, ...]
    category: str | None  # the catalogue's category name, where the item is one of its products
    # What the generator made it from (for tests and benchmarks; the channel never shows these):
    origin: Origin = "unrelated"
    catalogue_sku: str | None = None  # our SKU of the catalogue product it is

    def to_json(self) -> dict[str, Any]:
        return {**asdict(self), "price": str(self.price), "photos": list(self.photos)}


class ExistingListingBody(BaseModel):
    """One item of `POST /<system>/_control/existing_listings`."""

    sku: str | None = None
    title: str = Field(min_length=1)
    description: str = ""
    price: Decimal = Field(gt=0)
    currency: str = Field(min_length=3, max_length=3)
    quantity: int = Field(1, ge=0)
    brand: str | None = None
    gtin: str | None = None
    mpn: str | None = None
    condition: Literal["new", "used", "refurbished"] = "new"
    photos: list[str] = Field(default_factory=list)
    category: str | None = None
    origin: Origin = "unrelated"
    catalogue_sku: str | None = None

    def item(self) -> ExistingListing:
        return ExistingListing(**{**self.model_dump(), "photos": tuple(self.photos)})


@dataclass(frozen=True)
class CatalogueItem:
    """One sellable variant of a supplier product, with the SKU our pipeline gives it."""

    our_sku: str
    product: Product
    variant: Variant


def catalogue_items(products: Iterable[Product | ProductState], supplier_code: str) -> list[CatalogueItem]:
    """Every variant of `products` (a supplier snapshot's, say), keyed by our SKU for that supplier
    (`supplier_code` as our suppliers table has it: onecheq, noel_leeming, cash_converters)."""
    items = []
    for entry in products:
        product = entry.product if isinstance(entry, ProductState) else entry
        items += [CatalogueItem(product_sku(supplier_code, v.sku), product, v) for v in product.variants]
    return items


_CONDITIONS = {"New": "new", "Refurbished": "refurbished"}  # anything else is second-hand

# Items a shop sells that no supplier of ours carries: (brand or None, title, price range NZD, category).
_UNRELATED: tuple[tuple[str | None, str, tuple[int, int]], ...] = (
    (None, "Vintage leather camera strap", (15, 60)),
    ("Fender", "Fender 250L Super Bullet strings 3-pack", (20, 45)),
    (None, "Handmade rimu guitar stand", (80, 220)),
    ("Boss", "Boss DS-1 Distortion pedal (well used)", (60, 120)),
    (None, "Box of assorted audio cables", (10, 40)),
    ("Dunlop", "Dunlop Cry Baby GCB95 wah", (120, 220)),
    (None, "Signed concert poster, framed", (50, 300)),
    ("Ernie Ball", "Ernie Ball volume pedal VP Jr", (150, 260)),
    (None, "Laptop sleeve 15 inch felt grey", (15, 45)),
    ("Pioneer", "Pioneer PL-12D turntable 1970s", (250, 600)),
    (None, "Spare phone charger bundle", (10, 30)),
    ("Marshall", "Marshall MG15 practice amp", (90, 180)),
)
_SHOP_WORDS = ("NZ stock", "fast shipping", "genuine", "great condition", "free courier", "as new")


def shop_inventory(
    rng: random.Random,
    n: int,
    *,
    from_catalogue: Sequence[CatalogueItem] = (),
    currency: str = "NZD",
    our_sku_share: float = 0.3,
    by_hand_share: float = 0.4,
    photo_base: str = DEFAULT_PHOTO_BASE,
    start: int = 0,
    gtin_required: bool = False,
) -> list[ExistingListing]:
    """`n` listings of a shop that already sells: `our_sku_share` of them are catalogue products under
    our SKU, `by_hand_share` are catalogue products the seller listed by hand (about half without a SKU,
    the rest with a shop SKU of its own), the rest are unrelated items. Without `from_catalogue` every
    listing is unrelated. A catalogue product appears at most once (a shop lists an item once). Listings are numbered from
    `start` (their shop SKUs and photo names): a second batch for the same shop starts past the first.
    `gtin_required`: every listing carries its GTIN (a channel that lists by EAN only, as Kaufland)."""
    pool = [item for item in from_catalogue if item.variant.gtin or not gtin_required]
    rng.shuffle(pool)
    listings: list[ExistingListing] = []
    for number in range(start, start + n):
        draw = rng.random()
        if pool and draw < our_sku_share:
            listings.append(
                _catalogue_listing(rng, pool.pop(), "ours", currency, photo_base, number, gtin_required)
            )
        elif pool and draw < our_sku_share + by_hand_share:
            listings.append(
                _catalogue_listing(rng, pool.pop(), "by_hand", currency, photo_base, number, gtin_required)
            )
        else:
            listings.append(_unrelated_listing(rng, currency, photo_base, number, gtin_required))
    return listings


def _catalogue_listing(
    rng: random.Random,
    item: CatalogueItem,
    origin: Origin,
    currency: str,
    photo_base: str,
    number: int,
    gtin_required: bool,
) -> ExistingListing:
    product, variant = item.product, item.variant
    title = product.title if variant.option is None else f"{product.title} {variant.option}"
    sku: str | None = item.our_sku
    if origin == "by_hand":
        sku = None if rng.random() < 0.5 else _shop_code(number)
        title = _reworded(rng, title, product.brand)
    photos = tuple(
        f"{photo_base}/{slugify(title)[:40]}-{number}-{i}.jpg" for i in range(1, product.image_count + 1)
    )
    return ExistingListing(
        sku=sku,
        title=title[:80],
        description=product.description,
        price=_price(rng, variant.list_cents / 100),
        currency=currency,
        quantity=1 if product.condition not in _CONDITIONS else rng.randint(1, 12),  # second-hand: one
        brand=product.brand,
        # by hand, the barcode is often left out (where the channel lets it)
        gtin=variant.gtin if origin == "ours" or gtin_required or rng.random() < 0.6 else None,
        mpn=variant.mpn,
        condition=_CONDITIONS.get(product.condition, "used"),
        photos=photos,
        category=product.category.name,
        origin=origin,
        catalogue_sku=item.our_sku,
    )


def _reworded(rng: random.Random, title: str, brand: str) -> str:
    """How a seller retypes a title: drops or moves the brand, changes case, adds a selling word."""
    words = title.split()
    style = rng.randrange(4)
    if style == 0 and words[0] == brand:
        words = [*words[1:], f"({brand})"]
    elif style == 1:
        words = [w.upper() if re.fullmatch(r"[A-Za-z]+", w) and len(w) <= 4 else w for w in words]
    elif style == 2:
        words = [w.lower() for w in words]
    return f"{' '.join(words)} - {rng.choice(_SHOP_WORDS)}"


def _unrelated_listing(
    rng: random.Random, currency: str, photo_base: str, number: int, gtin_required: bool
) -> ExistingListing:
    brand, title, (low, high) = rng.choice(_UNRELATED)
    title = f"{title} #{number}" if rng.random() < 0.5 else title
    used = rng.random() < 0.7
    gtin = None
    if gtin_required or (brand and rng.random() < 0.5):
        body = f"{rng.randrange(10**11, 10**12)}"
        gtin = f"{body}{gtin_check_digit(body)}"  # a real-looking UPC no supplier of ours has
    return ExistingListing(
        sku=_shop_code(number) if rng.random() < 0.5 else None,
        title=title,
        description=f"{title}. Selling as pictured, pick up or courier.",
        price=_price(rng, rng.uniform(low, high)),
        currency=currency,
        quantity=1 if used else rng.randint(2, 5),
        brand=brand,
        gtin=gtin,
        mpn=None,
        condition="used" if used else "new",
        photos=tuple(f"{photo_base}/{slugify(title)[:40]}-{number}-{i}.jpg" for i in range(1, 3)),
        category=None,
    )


def _shop_code(number: int) -> str:
    """The shop's own SKU for its `number`th listing (unique in the shop, never one of ours)."""
    return f"SHOP-{10_000 + number}"


def _price(rng: random.Random, around: float) -> Decimal:
    return Decimal(f"{max(1.0, around * rng.uniform(0.9, 1.1)):.2f}")


def shop_sku(item: ExistingListing, number: int) -> str:
    """The SKU a channel that requires one (Amazon, eBay's inventory) shows for an item listed without."""
    return item.sku or f"SELLER-{number:06d}"


def check_batch(
    channel: str, items: Iterable[ExistingListing], currencies: Iterable[str], *, ean: bool = False
) -> None:
    """Refuses the whole batch (ValueError) when the channel cannot carry one of its items: a currency
    it does not sell in, or (`ean`: a channel that lists by EAN only) an item without a GTIN."""
    items, allowed = list(items), set(currencies)
    if unsold := sorted({i.currency for i in items} - allowed):
        raise ValueError(f"{channel} sells in {', '.join(sorted(allowed))}, not {', '.join(unsold)}")
    if ean and (missing := [i.title for i in items if not i.gtin]):
        raise ValueError(f"{channel} lists by EAN: {missing[0]!r} has none")


def add_existing_listings_route(app: FastAPI, seed: Callable[[list[ExistingListing]], list[str]]) -> None:
    """`POST /_control/existing_listings` (a JSON list) on a channel's app: `seed` makes them, as
    `seed_existing` does in-process; answers the channel's ids in the same order."""

    @app.post("/_control/existing_listings", status_code=201)
    async def existing_listings(body: list[ExistingListingBody]) -> dict[str, Any]:
        try:
            ids = seed([entry.item() for entry in body])
        except ValueError as error:  # an item this channel cannot carry (a currency, an EAN)
            raise HTTPException(422, str(error)) from error
        return {"count": len(ids), "ids": ids}

"""Deterministic, seeded supplier catalogues that evolve over simulated time.

A product's static facts (brand, model, GTIN, photos...) depend only on (seed, supplier, key); its
price, stock and visibility at an instant are pure functions of (seed, supplier, key, instant). So
two simulators with the same seed serve the same bytes, and advancing the clock 2 h twice is the
same as advancing it 4 h once.
"""

from __future__ import annotations

import hashlib
import itertools
import math
import random
import re
import threading
from collections import Counter
from collections.abc import Callable, Hashable, Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, TypeVar

from .catalogue_data import BRANDS, CATEGORIES, CONDITION_PRICE_FACTOR, SECOND_HAND_NOTES, Brand, Category

T = TypeVar("T")

# --- identifiers and money -------------------------------------------------------------------


def gtin_check_digit(digits: str) -> int:
    """GS1 mod-10 check digit for the digits that precede it (GTIN-8, -12, -13 and -14 alike)."""
    if not (digits.isascii() and digits.isdigit()):
        raise ValueError(f"GTIN digits expected, got {digits!r}")
    total = sum(int(d) * (3 if i % 2 == 0 else 1) for i, d in enumerate(reversed(digits)))
    return -total % 10


def is_valid_gtin(code: object) -> bool:
    return (
        isinstance(code, str)
        and code.isascii()
        and code.isdigit()
        and len(code) in (8, 12, 13, 14)
        and gtin_check_digit(code[:-1]) == int(code[-1])
    )


def price_string(cents: int) -> str:
    """Decimal string as Shopify and schema.org carry prices: 1249.00."""
    return f"{cents // 100}.{cents % 100:02d}"


def display_price(cents: int) -> str:
    """How NZ shops print a price: $1,249.00."""
    return f"${cents // 100:,}.{cents % 100:02d}"


def slugify(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")


def _retail_cents(dollars: float) -> int:
    """A shelf price: $x.99 under $200, whole dollars above, as NZ retailers price."""
    whole = max(1, round(dollars))
    return whole * 100 - 1 if whole < 200 else whole * 100


def _unit(*parts: object) -> float:
    """A uniform draw in [0, 1) fixed by its parts: cheap enough to call per product per request."""
    digest = hashlib.blake2b(":".join(map(str, parts)).encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") / 2**64


# --- the model table, numbered so every axis combination has its own GTIN ----------------------


@dataclass(frozen=True)
class _ModelLine:
    category: Category
    brand: Brand
    model: str
    list_price: int
    item_base: int  # brand-wide number of this model's first axis combination


def _number_model_lines() -> tuple[list[_ModelLine], Counter[str]]:
    lines: list[_ModelLine] = []
    items_per_brand: Counter[str] = Counter()
    for category in CATEGORIES:
        combinations = math.prod(len(axis.values) for axis in category.axes)
        for brand_name, models in category.models.items():
            for model, price in models.items():
                lines.append(
                    _ModelLine(category, BRANDS[brand_name], model, price, items_per_brand[brand_name])
                )
                items_per_brand[brand_name] += combinations
    return lines, items_per_brand


_MODEL_LINES, _ITEMS_PER_BRAND = _number_model_lines()


def _gtin13(line: _ModelLine, values: tuple[int, ...], cycle: int) -> tuple[str, int]:
    """GTIN-13 and item reference: the same model in the same variant gets the same GTIN at every
    supplier, as it would in the real world."""
    index = 0
    for axis, value in zip(line.category.axes, values, strict=True):
        index = index * len(axis.values) + value
    item = (line.item_base + index + cycle * _ITEMS_PER_BRAND[line.brand.name]) % 100_000
    body = f"{line.brand.gs1_prefix}{item:05d}"
    return f"{body}{gtin_check_digit(body)}", item


# --- products and their state at an instant ----------------------------------------------------


@dataclass(frozen=True)
class SupplierProfile:
    """What a supplier sells and how its shelf behaves; each storefront declares one."""

    name: str
    categories: Mapping[str, float]  # category slug -> weight
    conditions: Mapping[str, float]  # condition label -> weight
    ref: Callable[[int], str]  # the supplier's public id for a product key (SKU, item number)
    group_variants: bool = False  # Shopify: a category's last axis becomes variants of one product
    unique_models: bool = True  # second-hand shops list many of the same model
    gtin_share: float = 1.0  # share of products whose barcode the supplier publishes
    condition_in_title: bool = False
    stores: tuple[str, ...] = ()
    sale_rate: float = 0.3  # chance a product is on sale in a price period
    out_of_stock_rate: float = 0.12  # chance a variant is out of stock in a stock period
    max_quantity: int = 40
    mean_lifetime_days: float = 45.0
    arrivals_per_day: float = 0.05  # new products a day, as a share of the initial size


@dataclass(frozen=True, slots=True)
class Variant:
    sku: str
    gtin: str | None
    mpn: str
    option: str | None  # value on the product's variant axis, when it has more than one variant
    list_cents: int  # regular price; a sale shows it as compare-at
    grams: int


@dataclass(frozen=True, slots=True)
class Product:
    key: int  # position in the supplier's arrival order
    ref: str
    supplier: str
    category: Category
    brand: str
    model: str
    title: str
    handle: str
    condition: str
    summary: str
    features: tuple[str, ...]
    notes: tuple[str, ...]  # condition notes on second-hand items
    option_name: str | None
    variants: tuple[Variant, ...]
    image_count: int
    store: str | None
    created_at: datetime
    removed_at: datetime
    # Price and stock each change at the start of periods of their own length, offset per product.
    price_period_h: float
    price_phase_h: float
    stock_period_h: float
    stock_phase_h: float

    @property
    def description(self) -> str:
        return " ".join((self.summary, *(f"{f}." for f in self.features), *self.notes))


@dataclass(frozen=True, slots=True)
class VariantState:
    variant: Variant
    price_cents: int
    compare_at_cents: int | None  # the regular price while on sale
    quantity: int

    @property
    def available(self) -> bool:
        return self.quantity > 0


@dataclass(frozen=True, slots=True)
class ProductState:
    product: Product
    variants: tuple[VariantState, ...]
    updated_at: datetime

    @property
    def available(self) -> bool:
        return any(v.available for v in self.variants)

    @property
    def price_cents(self) -> int:
        return min(v.price_cents for v in self.variants)


class CatalogueSnapshot:
    """The products a supplier shows at one instant, in arrival order."""

    def __init__(self, at: datetime, products: tuple[ProductState, ...], last_modified: datetime):
        self.at = at
        self.products = products
        self.last_modified = last_modified  # latest change of any kind, removals included
        self._by_ref = {s.product.ref: s for s in products}
        self._by_handle = {s.product.handle: s for s in products}
        self._derived: dict[Hashable, Any] = {}

    def __len__(self) -> int:
        return len(self.products)

    def __iter__(self) -> Iterator[ProductState]:
        return iter(self.products)

    def by_ref(self, ref: str) -> ProductState | None:
        return self._by_ref.get(ref)

    def by_handle(self, handle: str) -> ProductState | None:
        return self._by_handle.get(handle)

    def derived(self, key: Hashable, compute: Callable[[], T]) -> T:
        """A view of the snapshot (a category's products, newest first) computed once, not once per
        listing page: a crawl reads every page, so per-request filtering would be quadratic."""
        if key not in self._derived:
            self._derived[key] = compute()
        return self._derived[key]


_SNAPSHOTS_KEPT = 8


class SupplierCatalogue:
    """One supplier's products over time: `size` on show at `start`, then arrivals and removals."""

    def __init__(self, profile: SupplierProfile, *, seed: int, size: int, start: datetime):
        self.profile = profile
        self.size = size
        self.start = start
        self._prefix = f"{seed}:{profile.name}"
        self._arrival_interval_h = 24 / max(size * profile.arrivals_per_day, 0.01)
        self._units = {slug: self._shuffled_units(slug) for slug in profile.categories}
        self._used_per_category: Counter[str] = Counter()
        self._handles: set[str] = set()
        self._pool: list[Product] = []
        self._snapshots: dict[datetime, CatalogueSnapshot] = {}
        self._lock = threading.Lock()  # loopback servers and test threads may ask at once

    def snapshot(self, at: datetime) -> CatalogueSnapshot:
        with self._lock:
            if (cached := self._snapshots.get(at)) is not None:
                return cached
            while self._arrival(len(self._pool)) <= at:
                self._pool.append(self._make(len(self._pool)))
            states: list[ProductState] = []
            last_modified = self.start
            for product in self._pool:
                if product.created_at > at:
                    break
                if product.removed_at <= at:
                    last_modified = max(last_modified, product.removed_at)
                    continue
                state = self._state(product, at)
                states.append(state)
                last_modified = max(last_modified, state.updated_at)
            snap = CatalogueSnapshot(at, tuple(states), last_modified)
            if len(self._snapshots) >= _SNAPSHOTS_KEPT:
                self._snapshots.pop(next(iter(self._snapshots)))
            self._snapshots[at] = snap
            return snap

    # -- static facts

    def _shuffled_units(self, slug: str) -> list[tuple[_ModelLine, tuple[int, ...]]]:
        """Every (model, fixed axis values) this supplier could list in a category, in a seeded order."""
        units = []
        for line in _MODEL_LINES:
            if line.category.slug != slug:
                continue
            axes = line.category.axes
            fixed_axes = axes[:-1] if self.profile.group_variants and axes else axes
            for values in itertools.product(*(range(len(a.values)) for a in fixed_axes)):
                units.append((line, values))
        random.Random(f"{self._prefix}:{slug}:order").shuffle(units)
        return units

    def _arrival(self, key: int) -> datetime:
        if key < self.size:  # the opening catalogue, listed over the year before the clock starts
            spacing_h = 24 * 365 / self.size
            return self.start - timedelta(
                hours=(self.size - key - 0.8 * _unit(self._prefix, key, "born")) * spacing_h
            )
        arrival = key - self.size
        offset = arrival + 0.05 + 0.9 * _unit(self._prefix, key, "born")
        return self.start + timedelta(hours=offset * self._arrival_interval_h)

    def _make(self, key: int) -> Product:
        profile = self.profile
        rng = random.Random(f"{self._prefix}:{key}")
        slug = rng.choices(list(profile.categories), weights=list(profile.categories.values()))[0]
        units = self._units[slug]
        if profile.unique_models:
            used = self._used_per_category[slug]
            self._used_per_category[slug] += 1
            line, fixed = units[used % len(units)]
            cycle = used // len(units)  # more products than models: older model years
        else:
            line, fixed = rng.choice(units)
            cycle = 0
        category = line.category
        axes = category.axes
        if profile.group_variants and axes:
            last = axes[-1]
            count = min(len(last.values), rng.choice((1, 1, 2, 3)))
            combos = [(*fixed, i) for i in sorted(rng.sample(range(len(last.values)), count))]
        else:
            combos = [fixed]
        condition = rng.choices(list(profile.conditions), weights=list(profile.conditions.values()))[0]

        brand = line.brand.name
        model = line.model.removeprefix(brand).strip()  # "Xiaomi 15" is not "Xiaomi Xiaomi 15"
        title_values = combos[0] if len(combos) == 1 else fixed
        named = list(zip(axes, title_values, strict=False))
        title = " ".join(
            [
                brand,
                *(a.values[i] for a, i in named if a.leading),
                model,
                *(a.values[i] for a, i in named if not a.leading),
            ]
        )
        if cycle:
            title += f" ({2025 - cycle} Model)"
        if profile.condition_in_title and condition != "New":
            title += f" - {condition}"
        handle = slugify(title)
        if handle in self._handles:
            handle = f"{handle}-{key}"
        self._handles.add(handle)

        ref = profile.ref(key)
        publishes_gtin = rng.random() < profile.gtin_share
        price_factor = CONDITION_PRICE_FACTOR[condition] * rng.uniform(0.96, 1.04)
        low, high = category.grams
        grams = round(low + (high - low) * _unit(line.brand.name, line.model, "grams"), -1)
        variants = []
        for n, values in enumerate(combos):
            gtin, item = _gtin13(line, values, cycle)
            list_dollars = line.list_price + sum(a.step(i) for a, i in zip(axes, values, strict=True))
            variants.append(
                Variant(
                    sku=ref if len(combos) == 1 else f"{ref}-{n + 1}",
                    gtin=gtin if publishes_gtin else None,
                    mpn=line.brand.mpn_format.format(n=f"{item % 10_000:04d}", c=_letters(item)),
                    option=axes[-1].values[values[-1]] if len(combos) > 1 else None,
                    list_cents=_retail_cents(list_dollars * price_factor),
                    grams=int(grams),
                )
            )

        created_at = self._arrival(key)
        lifetime_h = -math.log(1 - rng.random()) * profile.mean_lifetime_days * 24
        price_period, stock_period = rng.uniform(24, 168), rng.uniform(12, 96)
        return Product(
            key=key,
            ref=ref,
            supplier=profile.name,
            category=category,
            brand=brand,
            model=model,
            title=title,
            handle=handle,
            condition=condition,
            summary=rng.choice(category.blurbs).format(name=f"{brand} {model}"),
            features=tuple(rng.sample(category.features, k=min(len(category.features), rng.randint(3, 5)))),
            notes=tuple(rng.sample(SECOND_HAND_NOTES, 2)) if condition != "New" else (),
            option_name=axes[-1].name if len(combos) > 1 else None,
            variants=tuple(variants),
            image_count=rng.choices((1, 2, 3, 4), weights=(2, 3, 3, 2))[0],
            store=rng.choice(profile.stores) if profile.stores else None,
            created_at=created_at,
            removed_at=max(created_at, self.start) + timedelta(hours=lifetime_h),
            price_period_h=price_period,
            price_phase_h=rng.uniform(0, price_period),
            stock_period_h=stock_period,
            stock_phase_h=rng.uniform(0, stock_period),
        )

    # -- state at an instant

    def _period_start(self, hours: float, period: float, phase: float) -> tuple[int, datetime]:
        number = math.floor((hours + phase) / period)
        return number, self.start + timedelta(hours=number * period - phase)

    def _state(self, product: Product, at: datetime) -> ProductState:
        profile, key = self.profile, product.key
        hours = (at - self.start).total_seconds() / 3600
        price_period, price_since = self._period_start(hours, product.price_period_h, product.price_phase_h)
        stock_period, stock_since = self._period_start(hours, product.stock_period_h, product.stock_phase_h)
        on_sale = _unit(self._prefix, key, "sale", price_period) < profile.sale_rate
        discount = 0.05 + 0.25 * _unit(self._prefix, key, "discount", price_period)
        states = []
        for n, variant in enumerate(product.variants):
            price, compare_at = variant.list_cents, None
            sale_price = _retail_cents(variant.list_cents / 100 * (1 - discount))
            if on_sale and sale_price < variant.list_cents:
                price, compare_at = sale_price, variant.list_cents
            quantity = 0
            if _unit(self._prefix, key, "stock", n, stock_period) >= profile.out_of_stock_rate:
                quantity = 1 + int(
                    _unit(self._prefix, key, "quantity", n, stock_period) * profile.max_quantity
                )
            states.append(VariantState(variant, price, compare_at, quantity))
        return ProductState(product, tuple(states), max(product.created_at, price_since, stock_since))


def _letters(number: int) -> str:
    return chr(65 + number % 26) + chr(65 + number // 26 % 26)

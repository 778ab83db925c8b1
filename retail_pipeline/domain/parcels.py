"""Parcel weights and boxes, the pure part: reading them from supplier data, choosing the best one we
have for a product, and packing an order's lines into one parcel for the carrier. No I/O here.

Units: weights in grams, product sides in millimetres (integers), the carrier parcel in centimetres
with one decimal (what Canada Post's DimensionMeasurementType allows).

Where a product's parcel comes from, best first (`resolve_parcel`):
1. ``supplier``: the supplier's own figures (storefront variant grams, schema.org weight/depth/width/
   height, "Weight: 2.3 kg" on the page);
2. ``estimate``: the enrichment model's estimate, with its reason;
3. ``category_default``: the per-category table (SHIPPING_CATEGORY_DEFAULTS), ``*`` as the last resort.
Absurd supplier values (0, over a tonne, a side over 5 m) are refused with a reason, never trusted; a real
heavy item (an 80 kg fridge) is kept, and the carrier's own limits then refuse the label with an ops task.

Packing rule (`pack`): weight = Σ quantity × unit weight + packaging; box = every unit laid flat with
its longest side as length, stacked: length = the longest length, width = the widest width, height =
the sum of the unit heights; the result is re-sorted so length is the longest side.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import ROUND_UP, Decimal, InvalidOperation
from typing import Any, Literal

ParcelSource = Literal["supplier", "estimate", "category_default"]
PARCEL_SOURCES: tuple[str, ...] = ("supplier", "estimate", "category_default")

MAX_WEIGHT_GRAMS = 1_000_000  # a tonne: past this it is a typo (grams read as kg), not goods
MAX_SIDE_MM = 5_000

# Units by every name we meet: UN/CEFACT codes (schema.org unitCode), symbols, words, localized words.
_WEIGHT_UNITS: dict[str, Decimal] = {
    "grm": Decimal(1), "g": Decimal(1), "gr": Decimal(1), "grs": Decimal(1), "gram": Decimal(1),
    "grams": Decimal(1), "gramm": Decimal(1), "gramme": Decimal(1), "grammes": Decimal(1),
    "gramos": Decimal(1), "grammi": Decimal(1),
    "kgm": Decimal(1000), "kg": Decimal(1000), "kgs": Decimal(1000), "kilo": Decimal(1000),
    "kilos": Decimal(1000), "kilogram": Decimal(1000), "kilograms": Decimal(1000),
    "kilogramm": Decimal(1000), "kilogramme": Decimal(1000), "kilogrammes": Decimal(1000),
    "kilogramos": Decimal(1000), "chilogrammi": Decimal(1000),
    "lbr": Decimal("453.59237"), "lb": Decimal("453.59237"), "lbs": Decimal("453.59237"),
    "pound": Decimal("453.59237"), "pounds": Decimal("453.59237"),
    "onz": Decimal("28.349523125"), "oz": Decimal("28.349523125"), "ounce": Decimal("28.349523125"),
    "ounces": Decimal("28.349523125"),
}  # fmt: skip
_LENGTH_UNITS: dict[str, Decimal] = {
    "mmt": Decimal(1), "mm": Decimal(1), "millimetre": Decimal(1), "millimetres": Decimal(1),
    "millimeter": Decimal(1), "millimeters": Decimal(1),
    "cmt": Decimal(10), "cm": Decimal(10), "centimetre": Decimal(10), "centimetres": Decimal(10),
    "centimeter": Decimal(10), "centimeters": Decimal(10), "zentimeter": Decimal(10),
    "mtr": Decimal(1000), "m": Decimal(1000), "metre": Decimal(1000), "metres": Decimal(1000),
    "meter": Decimal(1000), "meters": Decimal(1000),
    "inh": Decimal("25.4"), "in": Decimal("25.4"), "inch": Decimal("25.4"), "inches": Decimal("25.4"),
    '"': Decimal("25.4"), "″": Decimal("25.4"),
    "ft": Decimal("304.8"), "foot": Decimal("304.8"), "feet": Decimal("304.8"), "fot": Decimal("304.8"),
}  # fmt: skip


class ParcelValueError(ValueError):
    """A weight or side we refuse; the message is the recorded reason."""


def _number(value: Any) -> Decimal:
    if isinstance(value, bool):
        raise ParcelValueError(f"{value!r} is not a number")
    if isinstance(value, int | float | Decimal):
        number = Decimal(str(value))
    else:
        text = str(value).strip()
        if re.fullmatch(r"\d{1,3}(,\d{3})+(\.\d+)?", text):  # 1,200 (thousands)
            text = text.replace(",", "")
        try:
            number = Decimal(text.replace(",", "."))  # 2,3 (decimal comma)
        except InvalidOperation:
            raise ParcelValueError(f"{value!r} is not a number") from None
    if not number.is_finite():
        raise ParcelValueError(f"{value!r} is not a number")
    return number


def _unit(unit: Any, table: Mapping[str, Decimal], kind: str) -> Decimal:
    key = str(unit or "").strip().rstrip(".").lower()
    if key not in table:
        raise ParcelValueError(f"unknown {kind} unit {unit!r}" if key else f"{kind} without a unit")
    return table[key]


def weight_grams(value: Any, unit: Any) -> int:
    """`value` `unit` in whole grams (rounded up); ParcelValueError for 0, > 1 t or no/unknown unit."""
    grams = _number(value) * _unit(unit, _WEIGHT_UNITS, "weight")
    if grams <= 0:
        raise ParcelValueError(f"weight {value} {unit} is not positive")
    if grams > MAX_WEIGHT_GRAMS:
        raise ParcelValueError(f"weight {value} {unit} is over {MAX_WEIGHT_GRAMS // 1000} kg")
    return math.ceil(grams)


def length_mm(value: Any, unit: Any) -> int:
    """`value` `unit` in whole millimetres (rounded up); ParcelValueError for 0, > 5 m or no/unknown unit."""
    mm = _number(value) * _unit(unit, _LENGTH_UNITS, "length")
    if mm <= 0:
        raise ParcelValueError(f"side {value} {unit} is not positive")
    if mm > MAX_SIDE_MM:
        raise ParcelValueError(f"side {value} {unit} is over {MAX_SIDE_MM // 1000} m")
    return math.ceil(mm)


@dataclass(frozen=True)
class SupplierParcel:
    """What a supplier says about one unit; `rejected` holds the reasons for values we refused."""

    weight_grams: int | None = None
    sides_mm: tuple[int, int, int] | None = None  # as given: length, width/depth, height
    rejected: tuple[str, ...] = ()

    @property
    def empty(self) -> bool:
        return self.weight_grams is None and self.sides_mm is None

    def or_else(self, other: SupplierParcel) -> SupplierParcel:
        """Fields this one lacks taken from `other` (a less trusted layer); both sets of reasons kept."""
        return SupplierParcel(
            self.weight_grams if self.weight_grams is not None else other.weight_grams,
            self.sides_mm if self.sides_mm is not None else other.sides_mm,
            tuple(dict.fromkeys(self.rejected + other.rejected)),
        )

    def columns(self) -> dict[str, Any]:
        """As supplier_products columns (weight_grams, length_mm, width_mm, height_mm)."""
        sides = self.sides_mm or (None, None, None)
        return {"weight_grams": self.weight_grams, "length_mm": sides[0], "width_mm": sides[1],
                "height_mm": sides[2]}  # fmt: skip


# --- storefront variants (products.json) ---------------------------------------------------------


def storefront_variant_parcel(variant: Mapping[str, Any]) -> SupplierParcel:
    """A storefront variant's weight: `grams` (products.json), else `weight` + `weight_unit` (the
    admin and `.js` shape). 0 grams means "no weight set": no figure, not a refusal."""
    grams = variant.get("grams")
    if isinstance(grams, int | float) and not isinstance(grams, bool) and grams > 0:
        try:
            return SupplierParcel(weight_grams=weight_grams(grams, "g"))
        except ParcelValueError as error:
            return SupplierParcel(rejected=(str(error),))
    weight = variant.get("weight")
    if weight in (None, "", 0, "0", "0.0"):
        return SupplierParcel()
    try:
        return SupplierParcel(weight_grams=weight_grams(weight, variant.get("weight_unit")))
    except ParcelValueError as error:
        return SupplierParcel(rejected=(str(error),))


# --- schema.org (JSON-LD, microdata) ---------------------------------------------------------------

_VALUE_AND_UNIT = re.compile(r"^\s*(\d[\d.,]*)\s*([^\d\s].*?)?\s*$")


def _quantity(value: Any, convert, kind: str) -> int | None:
    """A QuantitativeValue (value + unitCode/unitText), or "2.3 kg"; None when absent."""
    if value in (None, "", [], {}):
        return None
    if isinstance(value, list):
        value = value[0]
    if isinstance(value, Mapping):
        amount = value.get("value")
        if amount in (None, ""):
            return None
        unit = value.get("unitCode") or value.get("unitText")
        if unit is None and isinstance(amount, str):
            return _quantity(amount, convert, kind)
        return convert(amount, unit)
    if isinstance(value, int | float) and not isinstance(value, bool):
        return convert(value, None)  # raises: a bare number names no unit
    match = _VALUE_AND_UNIT.match(str(value))
    if not match:
        raise ParcelValueError(f"{kind} {value!r} is not a number and unit")
    return convert(match.group(1), match.group(2))


def structured_parcel(
    weight: Any = None, depth: Any = None, width: Any = None, height: Any = None
) -> SupplierParcel:
    """schema.org Product `weight`, `depth`, `width`, `height` (QuantitativeValue or text)."""
    rejected: list[str] = []
    grams = None
    try:
        grams = _quantity(weight, weight_grams, "weight")
    except ParcelValueError as error:
        rejected.append(str(error))
    sides: list[int | None] = []
    for name, value in (("depth", depth), ("width", width), ("height", height)):
        try:
            sides.append(_quantity(value, length_mm, name))
        except ParcelValueError as error:
            rejected.append(f"{name}: {error}")
            sides.append(None)
    box = tuple(sides) if all(s is not None for s in sides) else None
    return SupplierParcel(grams, box, tuple(rejected))  # type: ignore[arg-type]


# --- page text -------------------------------------------------------------------------------------

_NUM = r"(\d+(?:[.,]\d+)*)"
_WEIGHT_UNIT = r"([^\W\d_]+)"  # any word: the unit table decides (an unknown word is no weight)
_LENGTH_UNIT = r"(mm|cm|m|in(?:ch(?:es)?)?|\"|″|ft)"
_WEIGHT_LABEL = (
    r"(?:(?:net|gross|shipping|item|product|package|unit)\s+)?"
    r"(?:weight|wt\.?|gewicht|nettogewicht|poids(?:\s+net)?|peso(?:\s+neto)?)"
)
_WEIGHT_TEXT = re.compile(
    rf"\b{_WEIGHT_LABEL}\s*[:：=-]?\s*(?:approx\.?\s*|ca\.?\s*)?{_NUM}\s*{_WEIGHT_UNIT}\b", re.I
)
_X = r"\s*(?:x|×|\*)\s*"
# Three sides with a unit after the last (each may carry its own); a label before it changes nothing.
_DIMENSIONS_TEXT = re.compile(
    rf"{_NUM}\s*{_LENGTH_UNIT}?{_X}{_NUM}\s*{_LENGTH_UNIT}?{_X}{_NUM}\s*{_LENGTH_UNIT}(?![a-z])",
    re.I,
)


def text_parcel(text: str | None) -> SupplierParcel:
    """ "Weight: 2.3 kg", "Gewicht: 450 g", "Dimensions: 30 x 20 x 10 cm", "12 x 8 x 3 in" in page
    text. The first labelled weight wins; a box needs three sides and a unit after the last one."""
    if not text:
        return SupplierParcel()
    rejected: list[str] = []
    grams = None
    for match in _WEIGHT_TEXT.finditer(text):
        if match.group(2).rstrip(".").lower() not in _WEIGHT_UNITS:
            continue  # "Gewicht 1.100 Lieferzeit", "Net weight 150 ml": not a weight we can read
        try:
            grams = weight_grams(match.group(1), match.group(2))
            break
        except ParcelValueError as error:
            rejected.append(str(error))
    box = None
    for match in _DIMENSIONS_TEXT.finditer(text):
        final = match.group(6)
        try:
            box = tuple(length_mm(match.group(i), match.group(i + 1) or final) for i in (1, 3, 5))
            break
        except ParcelValueError as error:
            rejected.append(str(error))
    return SupplierParcel(grams, box, tuple(rejected))  # type: ignore[arg-type]


# --- the best parcel for one product ----------------------------------------------------------------


@dataclass(frozen=True)
class CategoryParcel:
    """A category's default unit: weight and box (cm)."""

    weight_grams: int
    box_cm: tuple[Decimal, Decimal, Decimal]


def _cp(grams: int, length: str, width: str, height: str) -> CategoryParcel:
    return CategoryParcel(grams, (Decimal(length), Decimal(width), Decimal(height)))


# Keys are matched as words in the product's category (and the supplier's breadcrumb), longest key
# first; "*" is the last resort (the old flat guess: 1 kg in a 30 x 20 x 15 cm box).
DEFAULT_CATEGORY_PARCELS: dict[str, CategoryParcel] = {
    "*": _cp(1000, "30", "20", "15"),
    "phone": _cp(450, "20", "12", "8"), "mobile": _cp(450, "20", "12", "8"),
    "smartwatch": _cp(300, "15", "10", "8"), "watch": _cp(300, "15", "10", "8"),
    "jewellery": _cp(200, "12", "10", "5"), "jewelry": _cp(200, "12", "10", "5"),
    "headphones": _cp(600, "25", "20", "10"), "earbuds": _cp(200, "12", "10", "5"),
    "camera": _cp(1200, "25", "20", "15"), "lens": _cp(900, "20", "12", "12"),
    "tablet": _cp(900, "30", "22", "6"), "laptop": _cp(3000, "45", "35", "10"),
    "notebook": _cp(3000, "45", "35", "10"), "monitor": _cp(7000, "75", "50", "20"),
    "television": _cp(15000, "120", "75", "15"), "tv": _cp(15000, "120", "75", "15"),
    "console": _cp(4000, "45", "35", "15"), "game": _cp(250, "20", "15", "3"),
    "speaker": _cp(2500, "35", "25", "25"), "amplifier": _cp(8000, "50", "40", "30"),
    "guitar": _cp(5000, "110", "45", "15"), "keyboard": _cp(1200, "50", "20", "8"),
    "book": _cp(600, "25", "18", "5"), "clothing": _cp(500, "30", "25", "5"),
    "shoes": _cp(1200, "35", "25", "13"), "tool": _cp(2500, "40", "30", "15"),
    "appliance": _cp(5000, "45", "35", "35"), "vacuum": _cp(6000, "60", "35", "35"),
    "printer": _cp(7000, "50", "40", "30"), "cable": _cp(150, "15", "10", "3"),
    "accessories": _cp(250, "20", "15", "5"),
}  # fmt: skip


def category_default(
    categories: Iterable[str | None], table: Mapping[str, CategoryParcel] = DEFAULT_CATEGORY_PARCELS
) -> tuple[str, CategoryParcel]:
    """(matched key, default) for the most specific category naming a key (the last one, as breadcrumbs
    run general to specific; within it the longest key); ("*", ...) when none does."""
    for category in reversed([c for c in categories if c]):
        words = category.casefold()
        named = [k for k in table if k != "*" and re.search(rf"\b{re.escape(k.casefold())}(?:e?s)?\b", words)]
        if named:
            key = max(named, key=len)
            return key, table[key]
    return "*", table.get("*", DEFAULT_CATEGORY_PARCELS["*"])


@dataclass(frozen=True)
class UnitParcel:
    """One unit of a product as we ship it: weight, box (mm), where the weight came from and why."""

    weight_grams: int
    sides_mm: tuple[int, int, int]
    source: ParcelSource
    reason: str | None = None

    def columns(self) -> dict[str, Any]:
        """As retail.products columns."""
        return {"weight_grams": self.weight_grams, "length_mm": self.sides_mm[0], "width_mm": self.sides_mm[1],
                "height_mm": self.sides_mm[2], "parcel_source": self.source, "parcel_reason": self.reason}  # fmt: skip


def _estimate_parts(
    estimate: Mapping[str, Any] | None,
) -> tuple[int | None, tuple[int, int, int] | None, str]:
    if not estimate:
        return None, None, ""
    try:
        grams = weight_grams(estimate.get("weight_grams"), "g")
    except ParcelValueError:
        grams = None
    try:
        sides = tuple(length_mm(estimate.get(k), "cm") for k in ("length_cm", "width_cm", "height_cm"))
    except ParcelValueError:
        sides = None
    return grams, sides, str(estimate.get("reason") or "").strip()  # type: ignore[return-value]


def resolve_parcel(
    supplier: SupplierParcel | None,
    estimate: Mapping[str, Any] | None,
    categories: Sequence[str | None],
    table: Mapping[str, CategoryParcel] = DEFAULT_CATEGORY_PARCELS,
) -> UnitParcel:
    """The unit parcel from the best source that has a weight (supplier, estimate, category default).
    A box the chosen source lacks comes from the next one that has it, and the reason says so."""
    supplier = supplier or SupplierParcel()
    est_grams, est_sides, est_reason = _estimate_parts(estimate)
    key, default = category_default(categories, table)
    default_sides = tuple(math.ceil(side * 10) for side in default.box_cm)
    default_note = f"category default '{key}'"
    if supplier.weight_grams is not None:
        source, grams, reason = "supplier", supplier.weight_grams, None
    elif est_grams is not None:
        source, grams, reason = "estimate", est_grams, est_reason or "estimated by the enrichment model"
    else:
        source, grams = "category_default", default.weight_grams
        reason = default_note
        if supplier.rejected:
            reason += f" (supplier value refused: {supplier.rejected[0]})"
    if supplier.sides_mm is not None:
        sides, box_from = supplier.sides_mm, "supplier"
    elif est_sides is not None and source != "category_default":
        sides, box_from = est_sides, "estimate"
    else:
        sides, box_from = default_sides, "category_default"
    if box_from != source:
        note = {"supplier": "box from the supplier", "estimate": f"box estimated: {est_reason or 'model'}",
                "category_default": f"box from {default_note}"}[box_from]  # fmt: skip
        reason = f"{reason}; {note}" if reason else note
    return UnitParcel(grams, sides, source, reason)  # type: ignore[arg-type]


# --- one order's parcel -----------------------------------------------------------------------------

CM = Decimal("0.1")


@dataclass(frozen=True)
class LineParcel:
    quantity: int
    unit: UnitParcel
    sku: str | None = None
    line_id: int | None = None


@dataclass(frozen=True)
class Parcel:
    """What goes to the carrier: weight (grams) and box (cm, one decimal, length the longest side)."""

    weight_grams: int
    box_cm: tuple[Decimal, Decimal, Decimal]
    source: str  # one of PARCEL_SOURCES, or 'mixed' when the lines' sources differ
    lines: list[dict[str, Any]] = field(default_factory=list)

    @property
    def weight_kg(self) -> Decimal:
        return (Decimal(self.weight_grams) / 1000).quantize(Decimal("0.001"), rounding=ROUND_UP)


def _cm(mm: int) -> Decimal:
    return max(CM, (Decimal(mm) / 10).quantize(CM, rounding=ROUND_UP))


def pack(lines: Sequence[LineParcel], packaging_grams: int = 0) -> Parcel:
    """The stack rule (module doc): units laid flat and stacked in one box, plus the packaging weight."""
    lines = [line for line in lines if line.quantity > 0]
    if not lines:
        raise ValueError("an order with no lines to ship has no parcel")
    grams = max(1, sum(line.quantity * line.unit.weight_grams for line in lines) + max(0, packaging_grams))
    length = width = height = 0
    for line in lines:
        long, wide, high = sorted(line.unit.sides_mm, reverse=True)
        length, width = max(length, long), max(width, wide)
        height += high * line.quantity
    box = tuple(_cm(mm) for mm in sorted((length, width, height), reverse=True))
    sources = {line.unit.source for line in lines}
    detail = [
        {"line_id": line.line_id, "sku": line.sku, "quantity": line.quantity,
         "unit_weight_grams": line.unit.weight_grams, "sides_mm": list(line.unit.sides_mm),
         "source": line.unit.source, "reason": line.unit.reason}
        for line in lines
    ]  # fmt: skip
    return Parcel(grams, box, sources.pop() if len(sources) == 1 else "mixed", detail)  # type: ignore[arg-type]


def stored_unit(
    row: Mapping[str, Any], table: Mapping[str, CategoryParcel] = DEFAULT_CATEGORY_PARCELS
) -> UnitParcel:
    """An order line's unit parcel from its product's stored columns (weight_grams, length_mm,
    width_mm, height_mm, parcel_source, parcel_reason); a line with no product, or a product not
    resolved yet, gets the category default for its product category or line title."""
    if row.get("weight_grams") and row.get("parcel_source") in PARCEL_SOURCES:
        sides = (row.get("length_mm"), row.get("width_mm"), row.get("height_mm"))
        if all(sides):
            return UnitParcel(row["weight_grams"], sides, row["parcel_source"], row.get("parcel_reason"))  # type: ignore[arg-type]
    return resolve_parcel(None, None, [row.get("category"), row.get("title")], table)

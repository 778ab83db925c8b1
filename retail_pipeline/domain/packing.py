"""Pick & pack, the rules without I/O: which order a scanned code names, which line of the order a
scanned item is (GTIN or SKU), what is left to pick, and whether the order is complete or short.

A barcode scanner is a keyboard: it types the code and Enter. An order is named by its label's PIN,
the channel's order number or our id; an item by its GTIN (EAN/UPC, however the scanner writes it) or
our SKU. A scan is refused when it is no item of the order (wrong item) or when its line is already
complete (over-scan); a refusal is recorded and counts nothing.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Literal

from retail_pipeline.domain.products import normalise_gtin

# An open session untouched for this long may be taken over by another worker (a shift ended, a
# browser closed); before that the order is held by whoever started it.
STALE_SESSION_MINUTES = 15

MAX_CODE_LENGTH = 128
_WHITESPACE = re.compile(r"\s+")
_ORDER_PREFIX = re.compile(r"^(?:order|ord)?\s*[#:-]?\s*", re.I)


class InvalidCode(ValueError):
    """A scan that cannot be any code (empty, too long, control characters)."""


def clean_code(raw: str) -> str:
    """The code as the scanner meant it: surrounding whitespace and the scanner's Enter/Tab gone."""
    code = raw.strip()
    if not code:
        raise InvalidCode("the scan is empty")
    if len(code) > MAX_CODE_LENGTH:
        raise InvalidCode(f"a code is at most {MAX_CODE_LENGTH} characters, this one has {len(code)}")
    if any(ord(ch) < 32 for ch in code):
        raise InvalidCode("the scan contains control characters")
    return code


def gtin_key(value: str | None) -> str | None:
    """A GTIN compared as GTIN-14: a UPC-A read as 12 digits and the same code read as EAN-13 with a
    leading zero are one product. None when `value` is no valid GTIN."""
    digits = normalise_gtin(value)
    return digits.zfill(14) if digits else None


# --- the order


@dataclass(frozen=True)
class OrderCode:
    """What a scanned order code could be: our numeric id, the channel's order number, a label PIN."""

    text: str  # as scanned (trimmed)
    order_id: int | None  # when the code is our id ("1042", "#1042", "order 1042")
    compact: str  # without whitespace: a PIN printed in groups ("7023 2100 3941 4604")


def order_code(raw: str) -> OrderCode:
    code = clean_code(raw)
    compact = _WHITESPACE.sub("", code)
    bare = _ORDER_PREFIX.sub("", code, count=1)
    order_id = int(bare) if bare.isascii() and bare.isdigit() and len(bare) <= 18 else None
    return OrderCode(text=code, order_id=order_id, compact=compact)


@dataclass(frozen=True)
class OrderCandidate:
    order_id: int
    external_order_id: str
    tracking_pin: str | None


class AmbiguousOrderCode(ValueError):
    """A code that names several orders equally well."""


def choose_order(code: OrderCode, candidates: Iterable[OrderCandidate]) -> int | None:
    """The order `code` names among the orders found for it: a label PIN first (unique per carrier and
    what a label's barcode holds), then the channel's order number, then our id. None when none fits;
    AmbiguousOrderCode when two orders fit at the best rank (two channels' order "1001")."""
    ranked: dict[int, set[int]] = {}
    for c in candidates:
        if c.tracking_pin and c.tracking_pin == code.compact:
            rank = 0
        elif c.external_order_id in (code.text, code.compact):
            rank = 1
        elif code.order_id is not None and c.order_id == code.order_id:
            rank = 2
        else:
            continue
        ranked.setdefault(rank, set()).add(c.order_id)
    if not ranked:
        return None
    best = ranked[min(ranked)]
    if len(best) > 1:
        raise AmbiguousOrderCode(
            f"{code.text!r} names {len(best)} orders ({', '.join(map(str, sorted(best)))}): scan the label instead"
        )
    return next(iter(best))


# --- the items


@dataclass(frozen=True)
class PackLine:
    """One line of the order being packed, with what has been scanned for it so far."""

    line_id: int
    sku: str | None
    gtin: str | None
    title: str | None
    quantity: int
    scanned: int = 0

    @property
    def remaining(self) -> int:
        return max(self.quantity - self.scanned, 0)


Outcome = Literal["counted", "wrong_item", "over_scan"]


@dataclass(frozen=True)
class ScanVerdict:
    outcome: Outcome
    line_id: int | None
    message: str

    @property
    def counted(self) -> bool:
        return self.outcome == "counted"


def _matches(code: str, gtin: str | None, line: PackLine) -> bool:
    if line.sku and line.sku.casefold() == code.casefold():
        return True
    return gtin is not None and gtin_key(line.gtin) == gtin


def match_item(raw: str, lines: Sequence[PackLine]) -> ScanVerdict:
    """Which line a scanned item counts for. Several lines of one product fill in order; a product
    whose lines are all complete is an over-scan; anything else is a wrong item."""
    code = clean_code(raw)
    gtin = gtin_key(code)
    hits = [line for line in lines if _matches(code, gtin, line)]
    if not hits:
        return ScanVerdict("wrong_item", None, f"{code} is not in this order: put it back")
    for line in hits:
        if line.remaining > 0:
            left = line.remaining - 1
            name = line.title or line.sku or code
            return ScanVerdict(
                "counted", line.line_id, f"{name}: {left} more to pick" if left else f"{name}: done"
            )
    line = hits[0]
    return ScanVerdict(
        "over_scan",
        line.line_id,
        f"{line.title or line.sku or code}: all {sum(h.quantity for h in hits)} already scanned, this one is extra",
    )


@dataclass(frozen=True)
class Progress:
    lines: tuple[PackLine, ...]
    ordered: int = field(init=False)
    scanned: int = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "ordered", sum(line.quantity for line in self.lines))
        object.__setattr__(self, "scanned", sum(min(line.scanned, line.quantity) for line in self.lines))

    @property
    def complete(self) -> bool:
        return bool(self.lines) and all(line.remaining == 0 for line in self.lines)

    @property
    def missing(self) -> list[dict[str, object]]:
        """What a short pick leaves behind, per line."""
        return [
            {"line_id": line.line_id, "sku": line.sku, "title": line.title, "missing": line.remaining,
             "ordered": line.quantity}
            for line in self.lines
            if line.remaining
        ]  # fmt: skip


def progress(lines: Iterable[PackLine]) -> Progress:
    return Progress(tuple(lines))


def scanned_counts(counted_line_ids: Iterable[int]) -> dict[int, int]:
    """Counted scans per line, from the session's scan rows."""
    counts: dict[int, int] = {}
    for line_id in counted_line_ids:
        counts[line_id] = counts.get(line_id, 0) + 1
    return counts


# --- the pick list


def bin_sort_key(bin_location: str | None) -> tuple[int, list[object]]:
    """Bins in walking order: "A-2" before "A-10" (numbers compare as numbers), no bin last."""
    if not bin_location:
        return (1, [])
    parts = re.split(r"(\d+)", bin_location.upper())
    return (0, [(0, int(p)) if p.isdigit() else (1, p) for p in parts if p])

"""What a product is, the one definition of each: its availability and condition (as suppliers,
imports, enrichment and the catalog tables say them), the GS1 GTIN check digit and how a GTIN is
normalised (supplier pages, LaunchLock and the channels all use these)."""

from __future__ import annotations

import re
from typing import Literal

Availability = Literal[
    "in_stock", "out_of_stock", "preorder", "backorder", "limited", "discontinued", "unknown"
]
Condition = Literal["new", "used", "refurbished", "damaged", "unknown"]

GTIN_LENGTHS = (8, 12, 13, 14)  # GTIN-8, UPC-A (GTIN-12), EAN (GTIN-13), GTIN-14
_GTIN_PREFIX = re.compile(r"^(?:gtin|ean|upc|isbn|jan)[-:\s]*", re.I)
_NOT_GTIN_CHAR = re.compile(r"[^\d\s\-.]")
_NON_DIGITS = re.compile(r"\D")
_SEPARATORS = re.compile(r"[\s-]")


def gtin_check_digit_ok(digits: str) -> bool:
    """GS1 mod-10: from the right, the body's digits weigh 3, 1, 3, ...; the last digit makes the sum
    a multiple of ten."""
    body, check = digits[:-1], int(digits[-1])
    total = sum(int(d) * (3 if i % 2 == 0 else 1) for i, d in enumerate(reversed(body)))
    return -total % 10 == check


def gtin_digits(code: str) -> str:
    """A GTIN as written with spaces or dashes, without them."""
    return _SEPARATORS.sub("", code)


def is_valid_gtin(code: str) -> bool:
    """A GTIN-8, -12 (UPC-A), -13 (EAN) or -14 with a right check digit; spaces and dashes ignored."""
    digits = gtin_digits(code)
    return (
        digits.isascii() and digits.isdigit() and len(digits) in GTIN_LENGTHS and gtin_check_digit_ok(digits)
    )


def normalise_gtin(value: str | None) -> str | None:
    """The digits of a valid GTIN found in a supplier's text ("EAN 5901…", "0-12345-…"), else None.
    An 11-digit UPC-A that lost its leading zero (spreadsheets drop it) gets it back; an ISBN-10 and
    all-zero placeholders are not GTINs."""
    if not value:
        return None
    text = _GTIN_PREFIX.sub("", str(value).strip())
    if _NOT_GTIN_CHAR.search(text):
        return None
    digits = _NON_DIGITS.sub("", text)
    if len(digits) == 11:
        digits = "0" + digits
    if len(digits) == 10 and text.replace("-", "").isdigit():
        return None  # ISBN-10 is not a GTIN
    if len(digits) not in GTIN_LENGTHS or set(digits) == {"0"}:
        return None
    return digits if gtin_check_digit_ok(digits) else None

"""Field-level precision/recall/F1 of an extractor against labelled pages.

Per page and field: a true positive when a value was extracted and equals the label; a false positive
when a value was extracted but is wrong or the label is empty; a false negative when the label is
non-empty and the value is missing or wrong (so a wrong value counts as both). A label may list
several acceptable values (a page showing both an article number and an EAN as its identifier).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from decimal import Decimal, InvalidOperation
from typing import Any

SCORED_FIELDS = ("price", "sku", "name", "gtin", "brand", "currency", "availability")


def _empty(field: str, value: Any) -> bool:
    return value in (None, "", []) or (field == "availability" and value == "unknown")


def _same(field: str, predicted: Any, expected: Any) -> bool:
    if field == "price":
        try:
            return Decimal(str(predicted)) == Decimal(str(expected))
        except InvalidOperation:
            return False
    if field == "name":
        return (
            re.sub(r"\s+", " ", str(predicted)).strip().casefold()
            == re.sub(r"\s+", " ", str(expected)).strip().casefold()
        )
    return str(predicted).strip() == str(expected).strip()


def field_outcome(field: str, predicted: Any, expected: Any) -> tuple[int, int, int]:
    """(tp, fp, fn) for one field of one page."""
    labels = [e for e in (expected if isinstance(expected, list) else [expected]) if not _empty(field, e)]
    if _empty(field, predicted):
        return 0, 0, int(bool(labels))
    if any(_same(field, predicted, label) for label in labels):
        return 1, 0, 0
    return 0, 1, int(bool(labels))


def score(results: Iterable[tuple[dict, dict]], fields: Iterable[str] = SCORED_FIELDS) -> dict[str, dict]:
    """Per-field {precision, recall, f1, tp, fp, fn, support} over (predicted, expected) page pairs."""
    fields = tuple(fields)
    totals = {f: [0, 0, 0] for f in fields}
    for predicted, expected in results:
        for f in fields:
            if f not in expected:
                continue
            for i, n in enumerate(field_outcome(f, predicted.get(f), expected.get(f))):
                totals[f][i] += n
    out = {}
    for f, (tp, fp, fn) in totals.items():
        precision = tp / (tp + fp) if tp + fp else 1.0
        recall = tp / (tp + fn) if tp + fn else 1.0
        f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
        out[f] = {
            "precision": round(precision, 3),
            "recall": round(recall, 3),
            "f1": round(f1, 3),
            "tp": tp,
            "fp": fp,
            "fn": fn,
            "support": tp + fn,
        }
    return out

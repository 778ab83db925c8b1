"""Removals: a product missing from a complete scrape gets `removed_at` (never deleted), so its listings
can be withdrawn later; a product that reappears has it cleared by the upsert.

Only a complete scrape may remove anything: when discovery failed part-way, a product we did not see
may simply sit on the page that failed. "Seen" covers more than the records read this time: a product
page that answered 304, or that failed to load while still listed, is still there.
"""

from __future__ import annotations

from collections.abc import Iterable
from collections.abc import Set as AbstractSet

from sqlalchemy import Connection, text

_STORED = text(
    "SELECT sku, url FROM retail.supplier_products WHERE supplier_id = :supplier_id AND removed_at IS NULL"
)
_MARK_REMOVED = text(
    """
    UPDATE retail.supplier_products SET removed_at = now()
    WHERE supplier_id = :supplier_id AND sku = ANY(:skus) AND removed_at IS NULL
    """
)


def missing_skus(
    stored: Iterable[tuple[str, str | None]], seen_skus: AbstractSet[str], unread_urls: AbstractSet[str]
) -> list[str]:
    """The stored (sku, url) rows a complete scrape did not see: neither read nor behind an unread URL."""
    return sorted(sku for sku, url in stored if sku not in seen_skus and url not in unread_urls)


def mark_removed(
    conn: Connection,
    supplier_id: int,
    *,
    seen_skus: AbstractSet[str],
    unread_urls: AbstractSet[str],
    complete: bool,
) -> int:
    """Set `removed_at` on this supplier's products the scrape did not see; returns how many."""
    # A catalogue that comes back empty is far likelier a broken page than a shop with nothing left.
    if not complete or not (seen_skus or unread_urls):
        return 0
    stored = conn.execute(_STORED, {"supplier_id": supplier_id}).tuples()
    missing = missing_skus(stored, seen_skus, unread_urls)
    if missing:
        conn.execute(_MARK_REMOVED, {"supplier_id": supplier_id, "skus": missing})
    return len(missing)

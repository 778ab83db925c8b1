"""Removals: a product missing from a complete scrape gets `removed_at` (never deleted), so its listings
can be withdrawn later; a product that reappears has it cleared by the upsert.

Only a complete scrape may remove anything: when discovery failed part-way, a product we did not see
may simply sit on the page that failed. "Seen" covers more than the records read this time: a product
page that answered 304, or that failed to load while still listed, is still there.

What a scrape saw is kept in PostgreSQL, not in our memory: two temporary tables on the scrape's own
connection (gone with its session), filled a batch at a time as the scrape streams in. The removal
is then one anti-join, however large the catalogue.
"""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import Connection, text

_CREATE = (
    "CREATE TEMPORARY TABLE scrape_seen_skus (sku text PRIMARY KEY)",
    "CREATE TEMPORARY TABLE scrape_unread_urls (url text PRIMARY KEY)",
)
_DROP = "DROP TABLE IF EXISTS pg_temp.scrape_seen_skus, pg_temp.scrape_unread_urls"
_CLAIM = text(
    """
    INSERT INTO pg_temp.scrape_seen_skus (sku) SELECT unnest(CAST(:skus AS text[]))
    ON CONFLICT DO NOTHING RETURNING sku
    """
)
_UNREAD = text(
    "INSERT INTO pg_temp.scrape_unread_urls (url) SELECT unnest(CAST(:urls AS text[])) ON CONFLICT DO NOTHING"
)
_MARK_REMOVED = text(
    """
    UPDATE retail.supplier_products AS sp SET removed_at = now()
    WHERE sp.supplier_id = :supplier_id AND sp.removed_at IS NULL
      AND NOT EXISTS (SELECT FROM pg_temp.scrape_seen_skus s WHERE s.sku = sp.sku)
      AND NOT EXISTS (SELECT FROM pg_temp.scrape_unread_urls u WHERE u.url = sp.url)
    """
)


class SeenLedger:
    """What one scrape saw, on `conn` (which must stay the same connection for the whole scrape):
    the SKUs read, and the product URLs still listed but not re-read (304, or a page that failed).

    Use as a context manager: the tables are created on entry and dropped on exit, so a pooled
    connection goes back clean."""

    def __init__(self, conn: Connection):
        self.conn = conn
        self.seen = 0
        self.unread = 0

    def __enter__(self) -> SeenLedger:
        with self.conn.begin():
            self.conn.exec_driver_sql(_DROP)
            for statement in _CREATE:
                self.conn.exec_driver_sql(statement)
        return self

    def __exit__(self, *exc: object) -> None:
        if self.conn.in_transaction():
            self.conn.rollback()
        if not self.conn.invalidated and not self.conn.closed:
            with self.conn.begin():
                self.conn.exec_driver_sql(_DROP)

    def claim(self, skus: Iterable[str]) -> set[str]:
        """Records these SKUs as seen (in the caller's transaction); returns those seen for the first
        time: a SKU already claimed came from an earlier page."""
        fresh = set(self.conn.execute(_CLAIM, {"skus": list(skus)}).scalars())
        self.seen += len(fresh)
        return fresh

    def still_listed(self, urls: Iterable[str]) -> None:
        urls = list(urls)
        if urls:
            self.conn.execute(_UNREAD, {"urls": urls})
            self.unread += len(urls)

    def mark_removed(self, supplier_id: int, *, complete: bool) -> int:
        """Set `removed_at` on this supplier's products the scrape did not see; returns how many."""
        # A catalogue that comes back empty is far likelier a broken page than a shop with nothing left.
        if not complete or not (self.seen or self.unread):
            return 0
        self.conn.exec_driver_sql("ANALYZE pg_temp.scrape_seen_skus, pg_temp.scrape_unread_urls")
        return self.conn.execute(_MARK_REMOVED, {"supplier_id": supplier_id}).rowcount

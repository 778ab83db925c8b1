"""Removal rules: only a complete scrape removes, and never what it merely did not re-read."""

from __future__ import annotations

from sqlalchemy import text

from retail_pipeline.catalog_writes.reconcile import mark_removed, missing_skus
from retail_pipeline.catalog_writes.upsert import ProductRecord, upsert_supplier_products
from retail_pipeline.defs.catalog.suppliers import suppliers
from retail_pipeline.defs.resources import DatabaseResource


def test_missing_skus_spares_what_was_read_or_sits_behind_an_unread_url():
    stored = [("A", "u/a"), ("B", "u/b"), ("C", "u/c"), ("D", None)]
    assert missing_skus(stored, {"A"}, {"u/b"}) == ["C", "D"]


def test_mark_removed_only_after_a_complete_scrape_that_saw_something(db_url):
    db = DatabaseResource(url=db_url)
    suppliers(db=db)
    with db.engine.begin() as conn:
        supplier_id = conn.scalar(text("SELECT id FROM retail.suppliers WHERE code = 'onecheq'"))
        upsert_supplier_products(
            conn, supplier_id, [ProductRecord(sku=s, url=f"u/{s.lower()}") for s in "ABC"]
        )
        seen = {"seen_skus": {"A"}, "unread_urls": {"u/b"}}
        assert mark_removed(conn, supplier_id, **seen, complete=False) == 0
        assert mark_removed(conn, supplier_id, seen_skus=set(), unread_urls=set(), complete=True) == 0
        assert mark_removed(conn, supplier_id, **seen, complete=True) == 1
        assert mark_removed(conn, supplier_id, **seen, complete=True) == 0  # already marked
        removed = (
            conn.execute(text("SELECT sku FROM retail.supplier_products WHERE removed_at IS NOT NULL"))
            .scalars()
            .all()
        )
    assert removed == ["C"]

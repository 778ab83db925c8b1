"""Removal rules: only a complete scrape removes, and never what it merely did not re-read."""

from __future__ import annotations

from sqlalchemy import text

from retail_pipeline.catalog_writes.reconcile import SeenLedger
from retail_pipeline.catalog_writes.upsert import ProductRecord, upsert_supplier_products
from retail_pipeline.defs.catalog.suppliers import suppliers
from retail_pipeline.defs.resources import DatabaseResource


def test_mark_removed_only_after_a_complete_scrape_that_saw_something(db_url):
    db = DatabaseResource(url=db_url)
    suppliers(db=db)
    with db.engine.connect() as conn:
        with conn.begin():
            supplier_id = conn.scalar(text("SELECT id FROM retail.suppliers WHERE code = 'onecheq'"))
            records = [ProductRecord(sku=s, url=f"u/{s.lower()}") for s in "ABCD"]
            upsert_supplier_products(conn, supplier_id, [*records, ProductRecord(sku="E")])
        with SeenLedger(conn) as ledger, conn.begin():
            assert ledger.mark_removed(supplier_id, complete=True) == 0  # saw nothing: a broken page
            assert ledger.claim(["A", "B"]) == {"A", "B"}
            assert ledger.claim(["B", "A", "X"]) == {"X"}  # A and B were read from earlier pages
            ledger.still_listed(["u/c"])  # answered 304, or failed while still listed
            assert ledger.mark_removed(supplier_id, complete=False) == 0
            assert ledger.mark_removed(supplier_id, complete=True) == 2  # D, and E that has no URL
            assert ledger.mark_removed(supplier_id, complete=True) == 0  # already marked
        removed = conn.execute(
            text("SELECT sku FROM retail.supplier_products WHERE removed_at IS NOT NULL ORDER BY sku")
        ).scalars()
        assert list(removed) == ["D", "E"]
        # The ledger's tables went with it: the pooled connection is clean for the next user.
        assert conn.scalar(text("SELECT to_regclass('pg_temp.scrape_seen_skus')")) is None

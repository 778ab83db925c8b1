"""The shared supplier_products upsert: inserts, rewrites only on change, revives removed rows."""

from __future__ import annotations

from decimal import Decimal

import pytest
from pydantic import ValidationError
from sqlalchemy import text

from retail_pipeline.catalog_writes.upsert import ProductRecord, UpsertCounts, upsert_supplier_products


@pytest.fixture
def supplier_id(engine) -> int:
    with engine.begin() as conn:
        return conn.execute(
            text(
                "INSERT INTO retail.suppliers (code, name, adapter) VALUES ('t', 'Test', 'generic') RETURNING id"
            )
        ).scalar_one()


def _row(sku: str, **fields):
    return {
        "sku": sku,
        "title": f"Product {sku}",
        "price": "10.00",
        "currency": "NZD",
        "categories": ["a", "b"],
        "images": ["https://x/1.jpg"],
        "raw": {"k": 1},
        **fields,
    }


def _upsert(engine, supplier_id, products) -> UpsertCounts:
    with engine.begin() as conn:
        return upsert_supplier_products(conn, supplier_id, products)


def _stored(engine):
    with engine.connect() as conn:
        rows = conn.execute(
            text(
                "SELECT sku, title, price, currency, categories, images, raw, content_hash, first_seen_at,"
                " last_seen_at, changed_at, updated_at, removed_at FROM retail.supplier_products ORDER BY sku"
            )
        )
        return {r.sku: r for r in rows}


def test_insert_then_unchanged_rerun_writes_nothing(engine, supplier_id):
    products = [_row(f"s{i}") for i in range(2500)]  # spans several statements
    assert _upsert(engine, supplier_id, products) == UpsertCounts(2500, 0, 0)
    before = _stored(engine)
    assert before["s1"].categories == ["a", "b"] and before["s1"].price == Decimal("10.00")
    assert before["s1"].raw == {"k": 1}

    assert _upsert(engine, supplier_id, products) == UpsertCounts(0, 0, 2500)
    assert _stored(engine) == before  # not even updated_at moved


def test_a_change_rewrites_only_that_row_and_keeps_first_seen(engine, supplier_id):
    _upsert(engine, supplier_id, [_row("a"), _row("b")])
    before = _stored(engine)
    # Same price written differently is the same content; a new title is not.
    counts = _upsert(
        engine, supplier_id, [_row("a", title="New title", price=Decimal("10")), _row("b", price=10)]
    )
    assert counts == UpsertCounts(0, 1, 1)
    after = _stored(engine)
    assert after["a"].title == "New title" and after["a"].content_hash != before["a"].content_hash
    assert after["a"].first_seen_at == before["a"].first_seen_at
    assert after["a"].changed_at > before["a"].changed_at
    assert after["b"] == before["b"]


def test_a_removed_product_that_reappears_is_revived(engine, supplier_id):
    _upsert(engine, supplier_id, [_row("a")])
    with engine.begin() as conn:
        conn.execute(text("UPDATE retail.supplier_products SET removed_at = now()"))
    before = _stored(engine)["a"]
    assert _upsert(engine, supplier_id, [_row("a")]) == UpsertCounts(0, 1, 0)
    after = _stored(engine)["a"]
    assert after.removed_at is None
    assert after.changed_at == before.changed_at  # its content did not change
    assert after.last_seen_at > before.last_seen_at


def test_bad_input_is_refused_before_any_write(engine, supplier_id):
    with pytest.raises(ValueError, match="sku given more than once: a"):
        _upsert(engine, supplier_id, [_row("a"), _row("a", title="other")])
    with pytest.raises(ValidationError, match="a price needs a currency"):
        _upsert(engine, supplier_id, [_row("b", currency=None)])
    with pytest.raises(ValidationError, match="name"):  # extractor field names are not column names
        _upsert(engine, supplier_id, [{"sku": "c", "name": "Title"}])
    assert _stored(engine) == {}


def test_content_hash_is_stable_and_ignores_http_validators():
    a = ProductRecord(**_row("a"), http_etag='"v1"')
    b = ProductRecord.model_validate({**_row("a"), "price": Decimal("10.001"), "http_etag": '"v2"'})
    assert a.content_hash() == b.content_hash()
    assert a.content_hash() != ProductRecord(**_row("a", raw={"k": 2})).content_hash()

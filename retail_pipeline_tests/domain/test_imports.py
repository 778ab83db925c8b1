"""Pure validation of webhook batches: liberal envelope, strict items."""

from __future__ import annotations

from decimal import Decimal

import pytest

from retail_pipeline.domain.imports import EnvelopeError, batch_items, job_outcome, validate_batch
from retail_pipeline_tests.import_payloads import product


def test_envelope_or_bare_list_is_accepted_anything_else_is_explained():
    items = [product("1")]
    assert batch_items({"source": "allegro", "products": items}) == items
    assert batch_items({"products": items}) == items
    assert batch_items(items) == items
    with pytest.raises(EnvelopeError, match='"products" must be a JSON array of products; it is missing'):
        batch_items({"source": "allegro"})
    with pytest.raises(EnvelopeError, match="source 'ebay' is not supported"):
        batch_items({"source": "ebay", "products": items})
    with pytest.raises(EnvelopeError, match="got a JSON str"):
        batch_items("products")


def test_a_valid_item_maps_onto_supplier_product_columns():
    rows, errors = validate_batch(
        [product(12345, ean="5901234123457", condition="Używany", stock_quantity=0, description="")]
    )
    assert errors == []
    (row,) = rows
    assert row["sku"] == "12345"  # numeric offer ids become text
    assert row["price"] == Decimal("199.99")
    assert row["categories"] == ["Elektronika > Audio"]
    assert row["images"] == ["https://a.allegroimg.com/original/12345/1.jpg"]
    assert (row["gtin"], row["condition"], row["availability"]) == ("5901234123457", "used", "out_of_stock")
    assert row["description"] is None  # n8n's "" for "not found"
    assert row["raw"]["attributes"] == {"Kolor": "czarny", "Stan": "Nowy"}  # the item as received


def test_invalid_items_are_reported_with_their_fields_and_valid_ones_kept():
    items = [
        product("ok-1"),
        product("bad-price", price=-5),
        "not an object",
        product("bad-many", title="  ", images=["ftp://x/1.jpg"], currency="zł"),
        {"title": "no id", "price": 10},
        product("ok-1", title="same id again"),
        product("ok-2", price="49.90", currency="pln", unknown_field="kept in raw"),
    ]
    rows, errors = validate_batch(items)
    assert [r["sku"] for r in rows] == ["ok-1", "ok-2"]
    assert rows[0]["title"] == "Słuchawki bezprzewodowe ok-1"  # the first copy of a duplicate wins
    assert rows[1]["currency"] == "PLN" and rows[1]["raw"]["unknown_field"] == "kept in raw"

    by_index = {e["index"]: e for e in errors}
    assert sorted(by_index) == [1, 2, 3, 4, 5]
    assert by_index[1]["sku"] == "bad-price"
    assert by_index[1]["errors"] == [{"field": "price", "message": "Input should be greater than 0"}]
    assert by_index[2] == {
        "index": 2,
        "sku": None,
        "errors": [{"field": "(item)", "message": "each product must be a JSON object, got a JSON str"}],
    }
    assert {e["field"] for e in by_index[3]["errors"]} == {"title", "images.0", "currency"}
    assert by_index[4]["sku"] is None and by_index[4]["errors"][0]["field"] == "source_id"
    assert by_index[5]["errors"] == [
        {"field": "source_id", "message": "duplicate of item 0 in this batch, which is imported"}
    ]


def test_prices_must_be_exact_cents():
    _, errors = validate_batch([product("p", price=1.234)])
    assert errors[0]["errors"][0]["field"] == "price"
    assert "2 decimal places" in errors[0]["errors"][0]["message"]


@pytest.mark.parametrize(
    ("status", "failed", "outcome"),
    [
        ("pending", 0, None),
        ("running", 0, None),
        ("completed", 0, "succeeded"),
        ("completed", 2, "partial"),
        ("failed", 3, "failed"),
    ],
)
def test_job_outcome(status, failed, outcome):
    assert job_outcome(status, failed) == outcome

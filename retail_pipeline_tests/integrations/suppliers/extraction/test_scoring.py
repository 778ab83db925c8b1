"""The benchmark's scoring: a wrong value is both a false positive and a false negative."""

import pytest

from retail_pipeline.integrations.suppliers.extraction.scoring import field_outcome, score


@pytest.mark.parametrize(
    ("field", "predicted", "expected", "outcome"),
    [
        ("price", "12.50", "12.5", (1, 0, 0)),
        ("price", "12.50", "13", (0, 1, 1)),
        ("price", None, "13", (0, 0, 1)),
        ("price", "13", None, (0, 1, 0)),
        ("price", None, None, (0, 0, 0)),
        ("name", "  Merino   beanie ", "Merino Beanie", (1, 0, 0)),
        ("sku", " AB-1 ", "AB-1", (1, 0, 0)),
        ("sku", "ab-1", "AB-1", (0, 1, 1)),
        ("sku", "4667999", ["466/7999", "4667999"], (1, 0, 0)),
        ("availability", "unknown", "in_stock", (0, 0, 1)),
        ("availability", "unknown", None, (0, 0, 0)),
    ],
)
def test_field_outcome(field, predicted, expected, outcome):
    assert field_outcome(field, predicted, expected) == outcome


def test_score_aggregates_precision_recall_f1():
    pairs = [
        ({"price": "1"}, {"price": "1"}),
        ({"price": "2"}, {"price": "3"}),
        ({"price": None}, {"price": "4"}),
        ({"price": "5"}, {"price": None}),
    ]
    result = score(pairs, fields=["price"])["price"]
    assert (result["tp"], result["fp"], result["fn"], result["support"]) == (1, 2, 2, 3)
    assert (result["precision"], result["recall"], result["f1"]) == (0.333, 0.333, 0.333)


def test_fields_missing_from_a_label_are_not_scored():
    assert score([({"sku": "X"}, {"price": "1"})], fields=["sku"])["sku"]["fp"] == 0

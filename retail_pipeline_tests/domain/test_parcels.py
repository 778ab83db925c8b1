"""Parcel weights and boxes: parsing supplier data (table-driven), the fallback order, packing."""

from __future__ import annotations

from decimal import Decimal

import pytest

from retail_pipeline.domain.parcels import (
    DEFAULT_CATEGORY_PARCELS,
    LineParcel,
    ParcelValueError,
    SupplierParcel,
    UnitParcel,
    category_default,
    length_mm,
    pack,
    resolve_parcel,
    stored_unit,
    storefront_variant_parcel,
    structured_parcel,
    text_parcel,
    weight_grams,
)


@pytest.mark.parametrize(
    ("value", "unit", "grams"),
    [
        (2.3, "kg", 2300), ("2,3", "KGM", 2300), ("450", "GRM", 450), (1, "LBR", 454), ("16", "ONZ", 454),
        ("1,200", "g", 1200), (3, "lbs", 1361), ("0.5", "Kilogramm", 500), (Decimal("0.0004"), "kg", 1),
    ],
)  # fmt: skip
def test_weights_normalise_to_grams(value, unit, grams):
    assert weight_grams(value, unit) == grams


@pytest.mark.parametrize(
    ("value", "unit", "mm"),
    [(30, "CMT", 300), ("125", "MMT", 125), ("12", "INH", 305), ("1.2", "MTR", 1200), ("8", "in", 204)],
)
def test_sides_normalise_to_millimetres(value, unit, mm):
    assert length_mm(value, unit) == mm


@pytest.mark.parametrize(
    ("call", "reason"),
    [
        (lambda: weight_grams(0, "kg"), "not positive"),
        (lambda: weight_grams(1001, "kg"), "over 1000 kg"),
        (lambda: weight_grams(2300, "lb"), "over 1000 kg"),
        (lambda: weight_grams(5, None), "weight without a unit"),
        (lambda: weight_grams(5, "stone"), "unknown weight unit"),
        (lambda: length_mm(5.5, "m"), "over 5 m"),
        (lambda: length_mm("abc", "cm"), "not a number"),
    ],
)
def test_absurd_values_are_refused_with_a_reason(call, reason):
    with pytest.raises(ParcelValueError, match=reason):
        call()


@pytest.mark.parametrize(
    ("variant", "expected"),
    [
        ({"grams": 1250}, SupplierParcel(weight_grams=1250)),
        ({"grams": 0, "weight": 2.5, "weight_unit": "lb"}, SupplierParcel(weight_grams=1134)),
        ({"grams": 0, "weight": 0.0, "weight_unit": "kg"}, SupplierParcel()),  # Shopify's "not set"
        ({"grams": 1_200_000}, SupplierParcel(rejected=("weight 1200000 g is over 1000 kg",))),
        ({}, SupplierParcel()),
    ],
)
def test_shopify_variant_weight(variant, expected):
    assert storefront_variant_parcel(variant) == expected


@pytest.mark.parametrize(
    ("fields", "weight", "sides"),
    [
        ({"weight": {"@type": "QuantitativeValue", "value": "1.6", "unitCode": "KGM"}}, 1600, None),
        ({"weight": {"value": 12, "unitText": "oz"}}, 341, None),
        ({"weight": "750 g", "depth": "30 cm", "width": "20 cm", "height": "10 cm"}, 750, (300, 200, 100)),
        (
            {"depth": {"value": 11.8, "unitCode": "INH"}, "width": {"value": 300, "unitCode": "MMT"},
             "height": {"value": "0.1", "unitCode": "MTR"}},
            None, (300, 300, 100),
        ),
        ({"depth": "30 cm", "width": "20 cm"}, None, None),  # no height: no box
    ],
)  # fmt: skip
def test_schema_org_weight_and_sides(fields, weight, sides):
    parcel = structured_parcel(**fields)
    assert (parcel.weight_grams, parcel.sides_mm) == (weight, sides)


def test_schema_org_bare_number_or_zero_is_refused_not_trusted():
    parcel = structured_parcel(weight={"value": 2}, depth={"value": 0, "unitCode": "CMT"})
    assert parcel.weight_grams is None and parcel.sides_mm is None
    assert parcel.rejected == ("weight without a unit", "depth: side 0 CMT is not positive")


@pytest.mark.parametrize(
    ("text", "weight", "sides"),
    [
        ("Colour: black\nWeight: 2.3 kg\nDimensions: 30 x 20 x 10 cm", 2300, (300, 200, 100)),
        ("Item weight 1.5 lbs. Package dimensions: 12 x 8 x 3 in", 681, (305, 204, 77)),
        ("Gewicht: 450 g · Abmessungen: 120 x 80 x 40 mm", 450, (120, 80, 40)),
        ("Poids : 1,2 kg ; Dimensions : 40 × 30 × 20 cm", 1200, (400, 300, 200)),
        ("Peso: 800 gramos", 800, None),
        ("Weight: 0 kg. Size 30cm x 20cm x 5cm", None, (300, 200, 50)),
        ("Screen 1920 x 1080, 4 cores, weighs a lot", None, None),
    ],
)
def test_page_text(text, weight, sides):
    parcel = text_parcel(text)
    assert (parcel.weight_grams, parcel.sides_mm) == (weight, sides)


def test_category_default_takes_the_most_specific_word():
    assert category_default(["Electronics", "Phones", "Smartwatches"])[0] == "smartwatch"
    assert category_default(["Phones", "Smartwatch Straps", "Garden"])[0] == "smartwatch"
    assert category_default(["Garden"])[0] == "*"
    assert category_default([None, "Acoustic Guitars"])[1] == DEFAULT_CATEGORY_PARCELS["guitar"]


def test_fallback_order_supplier_then_estimate_then_category_default():
    estimate = {
        "weight_grams": 900,
        "length_cm": 25,
        "width_cm": 20,
        "height_cm": 10,
        "reason": "over-ear headset",
    }
    supplier = SupplierParcel(weight_grams=640)

    chosen = resolve_parcel(supplier, estimate, ["Headphones"])
    assert (chosen.source, chosen.weight_grams, chosen.sides_mm) == ("supplier", 640, (250, 200, 100))
    assert chosen.reason == "box estimated: over-ear headset"

    chosen = resolve_parcel(SupplierParcel(), estimate, ["Headphones"])
    assert (chosen.source, chosen.weight_grams, chosen.reason) == ("estimate", 900, "over-ear headset")

    refused = SupplierParcel(rejected=("weight 1200000 g is over 1000 kg",))
    chosen = resolve_parcel(refused, {"weight_grams": 0, "reason": "?"}, ["Headphones"])
    assert (chosen.source, chosen.weight_grams, chosen.sides_mm) == ("category_default", 600, (250, 200, 100))
    assert (
        chosen.reason
        == "category default 'headphones' (supplier value refused: weight 1200000 g is over 1000 kg)"
    )

    with_box = resolve_parcel(SupplierParcel(sides_mm=(500, 400, 300)), None, ["Garden"])
    assert (with_box.source, with_box.weight_grams, with_box.sides_mm) == (
        "category_default",
        1000,
        (500, 400, 300),
    )


def test_stored_unit_uses_the_product_else_the_category_default():
    stored = {
        "weight_grams": 640,
        "length_mm": 250,
        "width_mm": 200,
        "height_mm": 100,
        "parcel_source": "supplier",
    }
    assert stored_unit(stored) == UnitParcel(640, (250, 200, 100), "supplier")
    assert stored_unit({"category": None, "title": "Fender Stratocaster Guitar"}).weight_grams == 5000
    assert stored_unit({}).source == "category_default"


def test_pack_sums_weights_and_stacks_units():
    phone = UnitParcel(450, (80, 200, 120), "supplier")
    laptop = UnitParcel(3000, (450, 350, 100), "estimate", "15-inch laptop")
    parcel = pack([LineParcel(2, phone, "P1", 1), LineParcel(1, laptop, "L1", 2)], packaging_grams=200)
    assert parcel.weight_grams == 2 * 450 + 3000 + 200 and parcel.weight_kg == Decimal("4.100")
    # Laid flat: phone 20 x 12 x 8 (twice), laptop 45 x 35 x 10 → 45 x 35 x (8 + 8 + 10)
    assert parcel.box_cm == (Decimal("45.0"), Decimal("35.0"), Decimal("26.0"))
    assert parcel.source == "mixed"
    assert [(line["sku"], line["source"]) for line in parcel.lines] == [
        ("P1", "supplier"),
        ("L1", "estimate"),
    ]
    single = pack([LineParcel(1, phone)])
    assert (single.source, single.box_cm) == ("supplier", (Decimal("20.0"), Decimal("12.0"), Decimal("8.0")))
    with pytest.raises(ValueError, match="no lines"):
        pack([])


def test_category_defaults_come_from_the_environment(monkeypatch):
    from pydantic import ValidationError

    from retail_pipeline.integrations.carriers import ShippingSettings

    monkeypatch.setenv(
        "SHIPPING_CATEGORY_DEFAULTS", '{"Guitar": {"weight_grams": 6000, "box_cm": [110, 45, 15]}}'
    )
    monkeypatch.setenv("SHIPPING_UNIT_WEIGHT_GRAMS", "1500")
    table = ShippingSettings(_env_file=None).category_table()
    assert (table["guitar"].weight_grams, table["*"].weight_grams) == (6000, 1500)
    assert table["phone"] == DEFAULT_CATEGORY_PARCELS["phone"]
    monkeypatch.setenv(
        "SHIPPING_CATEGORY_DEFAULTS", '{"anvil": {"weight_grams": 1200000, "box_cm": [1, 1, 1]}}'
    )
    with pytest.raises(ValidationError, match="anvil"):
        ShippingSettings(_env_file=None)

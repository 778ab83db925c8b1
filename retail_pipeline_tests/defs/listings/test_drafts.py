"""Drafts: per-channel pricing, field mapping and channel rules (pure), and the asset's upsert."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import dagster as dg
from sqlalchemy import text

from retail_pipeline.channels.registry import channel
from retail_pipeline.defs.listings.drafts import build_drafts, listing_drafts
from retail_pipeline.defs.resources import DatabaseResource
from retail_pipeline.domain.fx import FxRates, Rate
from retail_pipeline.domain.listings import ProductForListing
from retail_pipeline.domain.listings import build_draft as build_with_policy
from retail_pipeline.domain.pricing import quote


def product(**overrides) -> ProductForListing:
    values = dict(
        product_id=1, sku="RP-1", title="Sony WH-1000XM5 Headphones", description="Great.\n\nNZ stock.",
        category="Headphones", condition="new", cost=Decimal("399.00"), cost_currency="NZD", quantity=3,
        brand="Sony", mpn="WH1000XM5", attributes={"colour": "Black"}, keywords=("audio",),
        photos=({"sha256": "a" * 64, "rel_path": "x/a.jpg", "content_type": "image/jpeg"},),
    )  # fmt: skip
    return ProductForListing(**(values | overrides))


RATES = FxRates.of(
    date(2025, 6, 2),
    [
        Rate("USD", Decimal("1.1380"), date(2025, 5, 30), "ecb"),
        Rate("NZD", Decimal("1.9068"), date(2025, 5, 30), "ecb"),
    ],
)


def build_draft(name: str, product: ProductForListing, rates: FxRates = RATES):
    """The draft for a channel, priced and checked by its own listing policy."""
    return build_with_policy(channel(name).listing, product, rates)


def test_pricing_is_per_channel_and_clears_the_minimum():
    prices = {c: build_draft(c, product()) for c in ("trademe", "shopify", "reverb")}
    for name, draft in prices.items():
        expected = quote(Decimal("399.00"), channel(name).listing.pricing)
        assert draft.price == expected.price and draft.pricing["price"] == str(expected.price)
        assert Decimal(draft.pricing["margin"]) >= channel(name).listing.pricing.min_margin
    assert str(prices["trademe"].price).endswith(".99")  # charm rounding on Trade Me
    assert prices["shopify"].price == prices["shopify"].price.to_integral_value()  # whole dollars


def test_ebay_prices_in_its_currency_with_the_exchange_rate():
    draft = build_draft("ebay", product())
    # NZD→USD through EUR: 1.1380 / 1.9068, the rate and its date recorded with the price
    assert draft.currency == "USD" and draft.pricing["fx_rate"] == "0.596811"
    assert draft.pricing["fx_date"] == "2025-05-30" and draft.pricing["fx_source"] == "ecb"
    assert draft.pricing["cost"] == "238.13"  # 399.00 × 0.596811
    assert draft.price < build_draft("trademe", product()).price


def test_channel_field_mapping():
    """Category and attributes come from the channel's chosen category (`channel_categories`)."""
    tm = build_draft(
        "trademe",
        product(channel_category="7261", channel_attributes={"Brand": "Sony", "FormFactor": "Over-Ear"}),
    ).payload["fields"]
    assert tm["Category"] == "7261" and tm["Duration"] == 7 and tm["PaymentMethods"]
    assert {"Name": "FormFactor", "Value": "Over-Ear"} in tm["Attributes"]
    assert tm["ShippingOptions"] and tm["Pickup"] == 1
    eb = build_draft(
        "ebay",
        product(
            channel_category="207261", channel_attributes={"Colour": "Black", "Connectivity": ["Bluetooth"]}
        ),
    ).payload["fields"]
    assert eb["categoryId"] == "207261" and eb["aspects"]["Brand"] == ["Sony"]
    assert eb["aspects"]["Colour"] == ["Black"] and eb["aspects"]["Connectivity"] == ["Bluetooth"]
    sh = build_draft("shopify", product()).payload["fields"]
    assert sh["product_type"] == "Headphones" and "Sony" in sh["tags"]
    rv = build_draft("reverb", product(channel_category="f9ae5960")).payload["fields"]
    assert rv["make"] == "Sony" and rv["model"] == "WH1000XM5" and rv["category_uuids"] == ["f9ae5960"]
    assert rv["condition_uuid"] == "7c3f45de-2ae0-4c81-8400-fdb6b1d74890"


def test_a_category_problem_blocks_the_draft_with_its_reason():
    problem = "eBay requires Model in Electronics > Audio > Headphones: not found in the product data"
    draft = build_draft("ebay", product(channel_category="207261", category_problems=(problem,)))
    assert draft.status == "invalid" and problem in draft.errors


def test_channel_rules_are_checked_locally():
    long_title = "x" * 81
    assert any("80" in e for e in build_draft("trademe", product(title=long_title)).errors)
    assert any("80" in e for e in build_draft("ebay", product(title=long_title)).errors)
    assert build_draft("shopify", product(title=long_title)).status == "valid"
    assert "item specific Brand is required" in build_draft("ebay", product(brand=None)).errors
    assert any("make" in e for e in build_draft("reverb", product(brand=None)).errors)
    assert any("photo" in e for e in build_draft("trademe", product(photos=())).errors)
    assert build_draft("shopify", product(photos=())).status == "valid"
    assert any("price" in e for e in build_draft("trademe", product(cost=None)).errors)
    assert build_draft("reverb", product(condition="used")).quantity == 1


def test_asset_upserts_drafts_and_skips_unchanged(engine, seeded, db_url, channels):
    context = dg.build_asset_context(partition_key="trademe")
    result = listing_drafts(context, db=DatabaseResource(url=db_url))
    assert result.metadata["valid"] == 3 and result.metadata["inserted"] == 3
    with engine.begin() as conn:
        again = build_drafts(conn, "trademe")
        assert again["unchanged"] == 3 and again["inserted"] == again["updated"] == 0
        conn.execute(text("UPDATE retail.supplier_products SET price = 450 WHERE sku = 'RP-1001'"))
        changed = build_drafts(conn, "trademe")
        assert changed["updated"] == 1 and changed["unchanged"] == 2
        row = conn.execute(
            text("SELECT status, payload, pricing FROM retail.listing_drafts WHERE sku = 'RP-1001'")
        ).one()
    assert row.status == "valid" and row.pricing["cost"] == "450.00"
    assert row.payload["fields"]["Category"] == "7261"  # the headphones leaf on the simulated Trade Me

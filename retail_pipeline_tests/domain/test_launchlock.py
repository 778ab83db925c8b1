"""LaunchLock rules: pure functions over ProductFacts, each with its passing and failing cases."""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal

import pytest
from pydantic import ValidationError

from retail_pipeline.domain.launchlock import (
    RULES,
    LaunchLockConfig,
    ProductFacts,
    check_banned_words,
    check_category,
    check_description,
    check_enriched,
    check_gtin,
    check_images,
    check_in_stock,
    check_margin,
    check_not_removed,
    check_price,
    check_supplier_enabled,
    check_title_length,
    evaluate,
    gate_passes,
    input_hash,
    margin,
    minimum_sell_price,
    sell_price,
)

CONFIG = LaunchLockConfig()

GOOD = ProductFacts(
    product_id=1,
    sku="RP-1",
    enrichment_status="enriched",
    title="Sony WH-1000XM5 Wireless Noise Cancelling Headphones",
    description="Industry-leading noise cancellation, 30 hours of battery life and a light, comfortable fit.",
    category="Headphones",
    price=Decimal("199.00"),
    currency="NZD",
    gtin="4006381333931",
    stored_images=2,
    availability="in_stock",
    supplier_stock_quantity=4,
)


def facts(**changes) -> ProductFacts:
    return replace(GOOD, **changes)


def test_a_complete_product_passes_every_rule():
    verdict = evaluate(GOOD)

    assert verdict.passed and verdict.failed_rules == [] and verdict.reasons == {}
    assert [r.rule for r in verdict.results] == [
        "enriched", "price", "margin", "title_length", "banned_words", "images",
        "category", "description", "gtin", "not_removed", "supplier_enabled", "in_stock",
    ]  # fmt: skip
    assert len(verdict.results) == len(RULES)


def test_a_verdict_lists_every_failed_rule_with_its_reason():
    verdict = evaluate(facts(stored_images=0, removed=True, gtin="4006381333932"))

    assert not verdict.passed
    assert verdict.failed_rules == ["images", "gtin", "not_removed"]
    assert verdict.reasons["images"] == "0 image(s) downloaded, needs 1"
    assert "4006381333932" in verdict.reasons["gtin"]


# --- price and margin -----------------------------------------------------------------------------


@pytest.mark.parametrize("price", [None, Decimal("0"), Decimal("-1.00")])
def test_price_must_be_present_and_above_zero(price):
    assert not check_price(facts(price=price), CONFIG).passed


def test_price_above_zero_passes():
    result = check_price(facts(price=Decimal("0.01")), CONFIG)
    assert result.passed and result.reason == "supplier price 0.01 NZD"


@pytest.mark.parametrize("cost", [Decimal("3.10"), Decimal("49.99"), Decimal("1234.56")])
def test_minimum_sell_price_is_the_lowest_price_clearing_both_margin_floors(cost):
    def clears(price):
        left = margin(price, cost, CONFIG)
        return left >= CONFIG.min_margin and left >= CONFIG.min_margin_rate * price

    floor = minimum_sell_price(cost, CONFIG)
    assert clears(floor) and not clears(floor - Decimal("0.01"))


def test_margin_fails_when_the_marked_up_price_leaves_too_little():
    cheap = check_margin(facts(price=Decimal("20.00")), CONFIG)  # sells at 26.00, needs 28.34

    assert not cheap.passed
    assert cheap.details == {
        "cost": "20.00",
        "sell_price": "26.00",
        "minimum_sell_price": "28.34",
        "margin": "2.90",
    }
    assert check_margin(facts(price=Decimal("100.00")), CONFIG).passed
    assert sell_price(Decimal("100.00"), CONFIG) == Decimal("130.00")


def test_margin_config_changes_the_outcome():
    generous = LaunchLockConfig(markup_rate=Decimal("1.0"))
    assert check_margin(facts(price=Decimal("20.00")), generous).passed


def test_margin_is_not_applicable_without_a_price_so_a_missing_price_counts_once():
    verdict = evaluate(facts(price=None))
    assert verdict.failed_rules == ["price"]


# --- title and wording ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("length", "passed"), [(9, False), (10, True), (80, True), (81, False)]
)  # fmt: skip
def test_title_length_bounds_are_inclusive(length, passed):
    result = check_title_length(facts(title="x" * length), CONFIG)
    assert result.passed is passed and result.details == {"length": length}


def test_missing_title_fails():
    assert check_title_length(facts(title=None), CONFIG).reason == "title has 0 characters, needs 10..80"


@pytest.mark.parametrize(
    ("title", "found"),
    [
        ("Fake Rolex Submariner watch", ["fake"]),
        ("Rolex REPLICA Submariner", ["replica"]),
        ("Complete copy   of the box set", ["copy of"]),  # inner whitespace of a phrase is flexible
        ("Wholesale Lot of 50 phone cases", ["wholesale lot"]),
        ("Fake-leather jacket, size M", ["fake"]),  # a hyphen ends a word
        ("What the fucking deal", ["fucking"]),  # "fuck*" matches continuations
        ("Fakespeare: the complete plays", []),  # inside another word: not the banned word
        ("Counterfeiter detector pen", []),
        ("Copy ofstand paper", []),
    ],
)
def test_banned_words_match_whole_words_and_phrases_case_insensitively(title, found):
    result = check_banned_words(facts(title=title), CONFIG)
    assert result.passed is (not found)
    assert result.details == ({"words": found} if found else {})


def test_banned_words_in_the_description_fail_too():
    result = check_banned_words(facts(description="Looks identical to a counterfeit one."), CONFIG)
    assert not result.passed and result.reason == "banned wording: counterfeit"


def test_banned_word_list_is_configurable():
    config = LaunchLockConfig(banned_words=("grey import",))
    assert check_banned_words(facts(title="Fake plant, grey  IMPORT"), config).details == {
        "words": ["grey import"]
    }
    assert check_banned_words(facts(title="Fake plant"), LaunchLockConfig(banned_words=())).passed


# --- images, category, description ----------------------------------------------------------------


def test_at_least_one_downloaded_image():
    assert not check_images(facts(stored_images=0), CONFIG).passed
    assert check_images(facts(stored_images=1), CONFIG).passed
    assert not check_images(facts(stored_images=1), LaunchLockConfig(min_images=2)).passed


@pytest.mark.parametrize("category", [None, "", "   "])
def test_category_must_be_present(category):
    assert check_category(facts(category=category), CONFIG).reason == "no category"


def test_category_must_be_in_the_allow_list_when_one_is_configured():
    config = LaunchLockConfig(allowed_categories=frozenset({"Headphones", "Laptops"}))

    assert check_category(facts(category="headphones"), config).passed  # case-insensitive
    unmapped = check_category(facts(category="Garden tools"), config)
    assert not unmapped.passed and unmapped.reason == "category 'Garden tools' is not mapped"
    assert check_category(facts(category="Garden tools"), CONFIG).passed  # no list: any category


def test_description_length_counts_visible_text():
    assert check_description(facts(description="x" * 80), CONFIG).passed
    assert not check_description(facts(description="x" * 79), CONFIG).passed
    tagged = "<p>" + "x" * 40 + "</p>\n\n<p>" + "y" * 38 + "</p>"  # 40 + space + 38 = 79 visible
    assert check_description(facts(description=tagged), CONFIG).details == {"length": 79}
    assert not check_description(facts(description=None), CONFIG).passed
    assert check_description(facts(description="short"), LaunchLockConfig(description_min_chars=5)).passed


# --- GTIN -----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "gtin", [None, "", "96385074", "036000291452", "4006381333931", "00012345600012", "400 6381 33393-1"]
)
def test_absent_or_valid_gtin_passes(gtin):
    assert check_gtin(facts(gtin=gtin), CONFIG).passed


@pytest.mark.parametrize(
    "gtin",
    [
        "4006381333932",
        "96385075",
        "036000291453",
        "00012345600013",
        "400638133393",
        "40063813339A1",
        "٤٠٠٦٣٨١٣٣٣٩٣١",
    ],
)
def test_gtin_with_bad_check_digit_length_or_characters_fails(gtin):
    assert not check_gtin(facts(gtin=gtin), CONFIG).passed


# --- supplier state and stock ---------------------------------------------------------------------


def test_product_removed_at_the_supplier_fails():
    assert not check_not_removed(facts(removed=True), CONFIG).passed
    assert check_not_removed(GOOD, CONFIG).passed


def test_disabled_supplier_blocks_listing():
    assert not check_supplier_enabled(facts(supplier_enabled=False), CONFIG).passed


def test_enrichment_blocked_supplier_is_judged_on_the_stores_own_content():
    store_only = facts(
        enrichment_status="blocked",
        title=None,
        description=None,
        category=None,
        supplier_title="Apple iPhone 12 64GB Black - pre-owned",
        supplier_description="Pre-owned, fully tested and reset. Light scratches on the frame, screen is clean. "
        "Comes with a charging cable.",
        supplier_categories=("Phones", "Smartphones"),
    )

    verdict = evaluate(store_only)

    assert verdict.passed
    assert check_enriched(store_only, CONFIG).reason.startswith("supplier blocked from enrichment")
    assert check_category(store_only, CONFIG).details == {"category": "Smartphones"}


def test_failed_enrichment_fails_and_supplier_content_is_not_used():
    failed = facts(enrichment_status="failed", title=None, supplier_title="A perfectly fine supplier title")

    assert not check_enriched(failed, CONFIG).passed
    assert not check_title_length(failed, CONFIG).passed


@pytest.mark.parametrize(
    ("availability", "ours", "supplier", "passed"),
    [
        ("in_stock", None, 3, True),
        ("limited", None, None, True),
        ("in_stock", None, 0, False),  # a count of zero beats the label
        ("in_stock", 0, 5, False),  # our own count (sales decrement it) beats the supplier's
        ("out_of_stock", 2, None, False),
        ("unknown", None, 2, True),  # no label, but units on the shelf
        ("unknown", None, None, False),
        ("preorder", None, None, False),
        ("discontinued", None, None, False),
    ],
)
def test_in_stock(availability, ours, supplier, passed):
    product = facts(availability=availability, stock_quantity=ours, supplier_stock_quantity=supplier)
    assert check_in_stock(product, CONFIG).passed is passed


# --- config, fingerprint, gate --------------------------------------------------------------------


def test_config_refuses_contradictions():
    with pytest.raises(ValidationError, match="no price clears the margin"):
        LaunchLockConfig(fee_rate=Decimal("0.6"), min_margin_rate=Decimal("0.4"))
    with pytest.raises(ValidationError, match="title_min_chars"):
        LaunchLockConfig(title_min_chars=90)


def test_input_hash_follows_facts_and_rule_config_but_not_the_gate_or_set_order():
    base = input_hash(GOOD, CONFIG)

    assert input_hash(facts(), LaunchLockConfig()) == base
    assert input_hash(facts(stored_images=3), CONFIG) != base
    assert input_hash(GOOD, LaunchLockConfig(title_max_chars=70)) != base
    assert input_hash(GOOD, LaunchLockConfig(max_failure_rate=0.1)) == base
    one = LaunchLockConfig(allowed_categories=frozenset(["b", "a", "c"]))
    two = LaunchLockConfig(allowed_categories=frozenset(["c", "a", "b"]))
    assert input_hash(GOOD, one) == input_hash(GOOD, two)


def test_a_sale_that_leaves_units_keeps_the_fingerprint_and_the_last_unit_changes_it():
    base = input_hash(GOOD, CONFIG)  # the supplier's 4 units

    assert input_hash(facts(stock_quantity=3), CONFIG) == base  # ours now, 3 left
    assert evaluate(facts(stock_quantity=3)).results == evaluate(GOOD).results
    assert input_hash(facts(stock_quantity=0), CONFIG) != base
    assert not evaluate(facts(stock_quantity=0)).passed
    assert input_hash(facts(supplier_stock_quantity=None), CONFIG) != base  # no count known


@pytest.mark.parametrize(
    ("checked", "failed", "passes"), [(0, 0, True), (4, 2, True), (100, 51, False), (3, 3, False)]
)
def test_gate_fails_only_above_the_threshold(checked, failed, passes):
    assert gate_passes(checked, failed, 0.5) is passes

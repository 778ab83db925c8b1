"""domain.prices: price strings from shops in many formats, currencies, availability and condition words."""

import json
from decimal import Decimal
from pathlib import Path

import pytest

from retail_pipeline.integrations.suppliers.extraction.prices import (
    AVAILABILITY_VALUES,
    CONDITION_VALUES,
    currency_code,
    currency_from_host,
    normalise_availability,
    normalise_condition,
    parse_amount,
    parse_price,
)

PRICE_PARSER_CASES = json.loads(
    (Path(__file__).parent / "price_parser_cases.json").read_text(encoding="utf-8")
)["cases"]


@pytest.mark.parametrize(("text", "hint", "amount"), PRICE_PARSER_CASES, ids=lambda v: repr(v)[:40])
def test_price_parser_real_world_strings(text, hint, amount):
    # price-parser's own labelled list of real price strings: we must not regress on any of them.
    assert parse_price(text, hint)[0] == (None if amount is None else Decimal(amount))


@pytest.mark.parametrize(
    ("text", "amount", "currency"),
    [
        ("NZ$1,299.00", "1299.00", "NZD"),
        ("US$ 45", "45", "USD"),
        ("$19.99", "19.99", None),
        ("€ 1.234,56", "1234.56", "EUR"),
        ("1.234,56 €", "1234.56", "EUR"),
        ("1 234,56 €", "1234.56", "EUR"),
        ("1\u00a0234,56\u00a0€", "1234.56", "EUR"),
        ("1'234.56 CHF", "1234.56", "CHF"),
        ("CHF 1’234.50", "1234.50", "CHF"),
        ("£1,234", "1234", "GBP"),
        ("¥3,980", "3980", "JPY"),
        ("3,240円", "3240", "JPY"),
        ("12,99 zł", "12.99", "PLN"),
        ("1 295 kr", "1295", None),
        ("1.295,00 SEK", "1295.00", "SEK"),
        ("12 990 Kč", "12990", "CZK"),
        ("₹1,23,456", "123456", "INR"),
        ("R$ 1.299,90", "1299.90", "BRL"),
        ("12 990 ₽", "12990", "RUB"),
        ("1.249,99 TL", "1249.99", "TRY"),
        ("189,000원", "189000", "KRW"),
        ("١٢٣٫٥٠ ر.س", "123.50", "SAR"),
        ("١٢٣", "123", None),
        ("from $12", "12", None),
        ("From $12.00 – $38.00", "12.00", None),
        ("$10 - $20", "10", None),
        ("ab 189,00 €*", "189.00", "EUR"),
        ("€ 1.299,-", "1299", "EUR"),
        ("12,- €", "12", "EUR"),
        ("Free", "0", None),
        ("Gratis", "0", None),
        ("&#36;24.95", "24.95", None),
        ("24,90&nbsp;&euro;", "24.90", "EUR"),
        ("&amp;euro;5", "5", "EUR"),
        ("{{ product.price }}", None, None),
        ("${price}", None, None),
        ("", None, None),
        ("Price on request", None, None),
    ],
)
def test_parse_price_formats(text, amount, currency):
    assert parse_price(text) == (None if amount is None else Decimal(amount), currency)


def test_hint_resolves_ambiguous_symbols():
    assert parse_price("$19.99", "NZD") == (Decimal("19.99"), "NZD")
    assert parse_price("1 295 kr", "SEK") == (Decimal("1295"), "SEK")
    # An explicit symbol beats the hint.
    assert parse_price("€5", "USD") == (Decimal("5"), "EUR")


def test_numbers_and_machine_amounts():
    assert parse_price(12.5) == (Decimal("12.5"), None)
    assert parse_amount("34.000") == Decimal("34.000")  # schema.org decimals are never thousands
    assert parse_amount(3999) == Decimal(3999)
    assert parse_amount("-5") is None
    assert parse_amount(True) is None
    assert parse_amount("€ 1.234,50") == Decimal("1234.50")


@pytest.mark.parametrize(
    ("raw", "code"),
    [
        ("€", "EUR"),
        ("usd", "USD"),
        ("NZ$", "NZD"),
        ("zł", "PLN"),
        ("руб.", "RUB"),
        ("$", None),
        ("kr", None),
        ("XYZ", None),
        (None, None),
    ],
)
def test_currency_code(raw, code):
    assert currency_code(raw) == code


def test_currency_from_host():
    assert currency_from_host("www.trademe.co.nz") == "NZD"
    assert currency_from_host("shop.example.com") is None
    assert currency_from_host(None) is None


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("https://schema.org/InStock", "in_stock"),
        ("http://schema.org/OutOfStock", "out_of_stock"),
        ("schema:PreOrder", "preorder"),
        ("PreOrder", "preorder"),
        ("BackOrder", "backorder"),
        ("https://schema.org/Discontinued", "discontinued"),
        ("LimitedAvailability", "limited"),
        ("SoldOut", "out_of_stock"),
        ("InStoreOnly", "in_stock"),
        ("in stock", "in_stock"),
        ("out of stock", "out_of_stock"),
        ("Sold out", "out_of_stock"),
        ("Auf Lager", "in_stock"),
        ("Ausverkauft", "out_of_stock"),
        ("Leider ausverkauft", "out_of_stock"),
        ("nicht lieferbar", "out_of_stock"),
        ("En stock", "in_stock"),
        ("Rupture de stock", "out_of_stock"),
        ("Disponible", "in_stock"),
        ("No disponible", "out_of_stock"),
        ("Agotado", "out_of_stock"),
        ("Niedostępny", "out_of_stock"),
        ("Dostępny", "in_stock"),
        ("在庫あり", "in_stock"),
        ("在庫切れ", "out_of_stock"),
        ("Op voorraad", "in_stock"),
        ("Only 3 left in stock", "limited"),
        ("Backordered - ships in 2-3 weeks", "backorder"),
        ("Pre-order now", "preorder"),
        ("Auslaufartikel – nicht mehr lieferbar", "discontinued"),
        (True, "in_stock"),
        (False, "out_of_stock"),
        ("", "unknown"),
        ("Ships from Auckland", "unknown"),
    ],
)
def test_normalise_availability(value, expected):
    assert normalise_availability(value) == expected
    assert expected in AVAILABILITY_VALUES


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("https://schema.org/NewCondition", "new"),
        ("http://schema.org/UsedCondition", "used"),
        ("RefurbishedCondition", "refurbished"),
        ("DamagedCondition", "damaged"),
        ("Used - Good", "used"),
        ("Used - Like New", "used"),
        ("Brand new", "new"),
        ("Refurbished", "refurbished"),
        ("B-Stock", "refurbished"),
        ("Gebraucht", "used"),
        ("Occasion", "used"),
        ("Używany", "used"),
        ("Neu", "new"),
        ("For parts or not working", "damaged"),
        ("中古", "used"),
        ("", "unknown"),
        ("Gut", "unknown"),
    ],
)
def test_normalise_condition(value, expected):
    assert normalise_condition(value) == expected
    assert expected in CONDITION_VALUES


@pytest.mark.parametrize(
    "text",
    [
        "  Samsung\tGalaxy\n S25+  ",
        "$1,840.00",
        "price:\x1c 12",
        "{{ product.price }} 12",
        "__PRICE__ 9",
        "[[price]] 3",
        "<% price %> 4",
        "Fish &amp; Chips",
        "1\u00a0234,56\u00a0€",
        "CHF 1’234.50",
        "١٢٣",
        "",
    ],
)
def test_clean_text_fast_path_matches_the_full_passes(text):
    # Plain ASCII skips the entity/placeholder/digit passes: it must come out exactly as they would make it.
    from retail_pipeline.integrations.suppliers.extraction.prices import _clean_text, clean_text

    assert clean_text(text) == _clean_text.__wrapped__(text)

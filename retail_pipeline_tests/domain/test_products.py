"""The one GTIN definition: GS1 check digits, and normalising what supplier pages print."""

from __future__ import annotations

import pytest

from retail_pipeline.domain.products import gtin_check_digit_ok, gtin_digits, is_valid_gtin, normalise_gtin


@pytest.mark.parametrize(
    ("code", "valid"),
    [
        ("4006381333931", True),  # EAN-13
        ("036000291452", True),  # UPC-A
        ("96385074", True),  # GTIN-8
        ("10614141000415", True),  # GTIN-14
        ("400-638-133-3931", True),  # dashes and spaces are ignored
        ("4006381333932", False),  # wrong check digit
        ("40063813339", False),  # 11 digits: no GTIN length
        ("４００６３８１３３３９３１", False),  # full-width digits are not ASCII digits
    ],
)
def test_is_valid_gtin(code, valid):
    assert is_valid_gtin(code) is valid


def test_check_digit_is_gs1_mod_10():
    assert gtin_check_digit_ok("036000291452") and not gtin_check_digit_ok("036000291453")
    assert gtin_digits("0 36000-29145 2") == "036000291452"


@pytest.mark.parametrize(
    ("raw", "gtin"),
    [
        ("EAN 5901234123457", "5901234123457"),
        ("32429335302", "032429335302"),  # a UPC-A that lost its leading zero gets it back
        ("0-306-40615-2", None),  # ISBN-10
        ("00000000", None),  # a placeholder, though its check digit adds up
        ("4006381333932", None),
        ("abc", None),
        (None, None),
    ],
)
def test_normalise_gtin(raw, gtin):
    assert normalise_gtin(raw) == gtin

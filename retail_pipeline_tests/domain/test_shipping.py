"""Pure pieces: which carrier ships what, parcel weights, and the label check."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest

from retail_pipeline.domain.labels import check_label, compact
from retail_pipeline.domain.shipping import CarrierChoice, NoCarrierRule, choose_carrier, parcel_weight_kg
from retail_pipeline.simulators.canadapost.models import LABEL_FAULTS, Shipment
from retail_pipeline.simulators.canadapost.responses import label_pdf


def test_default_rules_ship_everything_with_canada_post():
    assert choose_carrier("bestbuy", "CA") == CarrierChoice("canada_post", "DOM.EP")
    assert choose_carrier("ebay", "us") == CarrierChoice("canada_post", "USA.EP")
    assert choose_carrier("trademe", "NZ") == CarrierChoice("canada_post", "INT.XP")
    assert choose_carrier("trademe", None) == CarrierChoice("canada_post", "INT.XP")


def test_most_specific_rule_wins():
    rules = {"*:*": "canada_post:INT.XP", "trademe:*": "nz_post:CPOLP", "*:CA": "canada_post:DOM.RP",
             "bestbuy:CA": "canada_post:DOM.XP"}  # fmt: skip
    assert choose_carrier("bestbuy", "CA", rules).service_code == "DOM.XP"
    assert choose_carrier("ebay", "CA", rules).service_code == "DOM.RP"
    assert choose_carrier("trademe", "NZ", rules) == CarrierChoice("nz_post", "CPOLP")
    assert choose_carrier("trademe", "CA", rules).service_code == "DOM.RP"  # country beats channel
    assert choose_carrier("ebay", "DE", rules).service_code == "INT.XP"
    with pytest.raises(NoCarrierRule):
        choose_carrier("ebay", "DE", {"*:CA": "canada_post:DOM.EP"})
    with pytest.raises(NoCarrierRule):
        choose_carrier("ebay", "CA", {"*:CA": "pigeon:FAST"})


def test_parcel_weight():
    assert parcel_weight_kg([1, 2], 1000, 200) == Decimal("3.200")
    assert parcel_weight_kg([], 1000) == Decimal("0.001")
    assert parcel_weight_kg([1], 333, 1) == Decimal("0.334")


def shipment(pin: str = "1234567890123456", postal: str = "M5V2T6") -> Shipment:
    return Shipment(
        id="1", tracking_pin=pin, customer="2004381", artifact_id="9", service_code="DOM.EP",
        shipping_point="K1A0B1", delivery_spec=b"<x/>", destination_name="Zoë Ångström",
        destination_lines=["123 Main St", "Toronto ON"], destination_postal_code=postal,
        destination_country="CA", destination_province="ON", sender_lines=["Retail Pipeline"],
        weight_kg="1.200", reference_1="rp-order-1", reference_2=None, created_at=datetime.now(UTC),
    )  # fmt: skip


def test_good_label_passes_whatever_the_spacing():
    pdf = label_pdf(shipment())
    assert check_label(pdf, "1234567890123456", "M5V 2T6") == []
    assert check_label(pdf, "1234 5678 9012 3456", "m5v2t6") == []
    assert compact(" k1a 0b1\n") == "K1A0B1"


@pytest.mark.parametrize("fault", LABEL_FAULTS)
def test_each_broken_label_is_caught(fault):
    problems = check_label(label_pdf(shipment(), fault), "1234567890123456", "M5V 2T6")
    assert len(problems) >= 1
    expected = {"broken": "does not open", "two_pages": "2 pages", "wrong_pin": "tracking PIN",
                "no_postal_code": "postal code"}[fault]  # fmt: skip
    assert any(expected in p for p in problems), problems


def test_other_labels_fail():
    assert check_label(b"<html>oops</html>", "1234567890123456", "M5V2T6") == ["not a PDF (no %PDF- header)"]
    assert any("tracking PIN" in p for p in check_label(label_pdf(shipment()), "6543210987654321", "M5V2T6"))
    assert any("postal code" in p for p in check_label(label_pdf(shipment()), "1234567890123456", "K1A0B1"))
    assert (
        check_label(label_pdf(shipment(postal="")), "1234567890123456", None) == []
    )  # no postal code to check

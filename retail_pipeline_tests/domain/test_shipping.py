"""Pure pieces: which carrier ships what, parcel weights, and the label check."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from retail_pipeline.domain.labels import check_label, compact
from retail_pipeline.domain.shipping import (
    CarrierChoice,
    MixedOrigins,
    NoCarrierRule,
    Routes,
    choose_carrier,
    route_order,
    ship_from,
)
from retail_pipeline.simulators.canadapost.models import LABEL_FAULTS, Shipment
from retail_pipeline.simulators.canadapost.responses import label_pdf


@pytest.mark.parametrize(
    ("origin", "channel", "destination", "expected"),
    [
        ("CA", "bestbuy", "CA", CarrierChoice("canada_post", "DOM.EP")),
        ("CA", "ebay", "us", CarrierChoice("canada_post", "USA.EP")),
        ("CA", "trademe", "NZ", CarrierChoice("canada_post", "INT.XP")),
        ("CA", "trademe", None, CarrierChoice("canada_post", "INT.XP")),
        ("NZ", "trademe", "NZ", CarrierChoice("manual", "courier")),  # never Canada Post from Auckland
        ("NZ", "ebay", "CA", CarrierChoice("manual", "courier")),
        ("PL", "ebay", "DE", None),  # nobody serves Poland
    ],
)
def test_default_routing_table(origin, channel, destination, expected):
    if expected is None:
        with pytest.raises(NoCarrierRule, match="no carrier serves ebay from PL to DE"):
            choose_carrier(channel, destination, origin=origin)
    else:
        assert choose_carrier(channel, destination, origin=origin) == expected


def test_most_specific_serving_rule_wins():
    rules = {"*:*": "canada_post:INT.XP", "trademe:*": "manual:courier", "*:CA": "canada_post:DOM.RP",
             "bestbuy:CA": "canada_post:DOM.XP", "NZ/*:AU": "manual:air"}  # fmt: skip
    assert choose_carrier("bestbuy", "CA", rules).service_code == "DOM.XP"
    assert choose_carrier("ebay", "CA", rules).service_code == "DOM.RP"
    assert choose_carrier("trademe", "CA", rules).service_code == "DOM.RP"  # country beats channel
    # From Canada, the manual courier serves nothing: its rule is passed over for Canada Post's.
    assert choose_carrier("trademe", "NZ", rules) == CarrierChoice("canada_post", "INT.XP")
    assert choose_carrier("trademe", "NZ", rules, origin="NZ") == CarrierChoice("manual", "courier")
    assert choose_carrier("ebay", "AU", rules, origin="NZ").service_code == "air"  # origin rule first
    with pytest.raises(NoCarrierRule, match=r"passed over.*\*:\* → canada_post"):
        choose_carrier("ebay", "DE", rules, origin="NZ")  # only Canada Post's rule matches
    with pytest.raises(NoCarrierRule):
        choose_carrier("ebay", "DE", {"*:CA": "canada_post:DOM.EP"})
    with pytest.raises(NoCarrierRule):
        choose_carrier("ebay", "CA", {"*:CA": "pigeon:FAST"})
    only_ca = {"canada_post": Routes(frozenset({"CA"}), frozenset({"CA"}))}
    with pytest.raises(NoCarrierRule):
        choose_carrier("ebay", "US", routes=only_ca)


def test_an_order_ships_from_one_place():
    countries = {"ca_ottawa": "CA", "nz_auckland": "NZ", "old": "NZ"}
    route = route_order(
        "trademe", "NZ", ["nz_auckland", "nz_auckland"], countries, default_location="ca_ottawa"
    )
    assert (route.origin, route.choice) == ("nz_auckland", CarrierChoice("manual", "courier"))
    unknown = route_order("bestbuy", "CA", [None], countries, default_location="ca_ottawa")
    assert (unknown.origin, unknown.choice) == ("ca_ottawa", CarrierChoice("canada_post", "DOM.EP"))
    mixed = route_order("trademe", "NZ", ["nz_auckland", None], countries, default_location="ca_ottawa")
    assert mixed.choice is None and "different locations: ca_ottawa, nz_auckland" in mixed.problem
    assert "inactive" in route_order("ebay", "NZ", ["old"], countries, default_location="ca_ottawa",
                                     inactive=frozenset({"old"})).problem  # fmt: skip
    assert "does not exist" in route_order("ebay", "NZ", ["gone"], countries, default_location="x").problem
    with pytest.raises(MixedOrigins):
        ship_from(["a", "b"], "a")


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

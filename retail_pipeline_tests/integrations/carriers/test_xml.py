"""The ncshipment-v4 XML we send validates against Canada Post's own schema, in every shape we build."""

from __future__ import annotations

from decimal import Decimal

from lxml import etree

from retail_pipeline.domain.orders import Address
from retail_pipeline.integrations.carriers.canadapost import (
    NCSHIPMENT_NS,
    CanadaPostSettings,
    parse_messages,
    request_problems,
    shipment_xml,
)
from retail_pipeline.integrations.carriers.xsd import problems
from retail_pipeline_tests.integrations.carriers.label_requests import TORONTO, domestic, to_us

NS = {"n": NCSHIPMENT_NS}
SENDER = CanadaPostSettings(_env_file=None).sender()


def test_domestic_shipment_validates_and_carries_our_reference():
    body = shipment_xml(domestic(), SENDER)
    assert problems("ncshipment", body) == []
    root = etree.fromstring(body)
    assert root.tag == f"{{{NCSHIPMENT_NS}}}non-contract-shipment"
    assert root.findtext("n:delivery-spec/n:references/n:customer-ref-1", namespaces=NS) == "rp-order-1"
    assert root.findtext("n:delivery-spec/n:service-code", namespaces=NS) == "DOM.EP"
    # Canadian postal codes go as Canada Post wants them: upper case, no space
    assert (
        root.findtext("n:delivery-spec/n:destination/n:address-details/n:postal-zip-code", namespaces=NS)
        == "M5V2T6"
    )
    assert root.findtext("n:delivery-spec/n:parcel-characteristics/n:weight", namespaces=NS) == "1.200"
    assert root.findtext("n:requested-shipping-point", namespaces=NS) == "K1A0B1"


def test_us_shipment_with_customs_validates():
    body = shipment_xml(to_us(), SENDER)
    assert problems("ncshipment", body) == []
    root = etree.fromstring(body)
    item = root.find("n:delivery-spec/n:customs/n:sku-list/n:item", NS)
    assert item.findtext("n:customs-value-per-unit", namespaces=NS) == "399.00"
    assert item.findtext("n:unit-weight", namespaces=NS) == "0.800"


def test_long_and_untidy_values_are_cut_to_the_schema_limits():
    untidy = Address(
        name="A very long customer name that goes on and on past forty-four characters",
        street_1="1 Rue\tde la\nMontagne, appartement 1234, escalier B, porte gauche",
        city="Saint-Jean-sur-Richelieu-et-encore-plus-long-que-quarante",
        state="QC", zip_code="J3B 1A1", country_iso_code="ca", company="Company " * 10, phone="1" * 40,
    )  # fmt: skip
    body = shipment_xml(domestic(destination=untidy, reference="x" * 50, reference_2="y" * 50), SENDER)
    assert problems("ncshipment", body) == []


def test_the_schema_catches_what_we_must_not_send():
    bad = shipment_xml(domestic(), SENDER).replace(b"<service-code>DOM.EP</service-code>", b"")
    assert any("service-code" in p for p in problems("ncshipment", bad))
    bad_postal = shipment_xml(domestic(), SENDER.__class__(**{**SENDER.__dict__, "zip_code": "K1A 0B1"}))
    assert problems("ncshipment", bad_postal) == []  # we compact it
    raw = bad_postal.replace(
        b"<postal-zip-code>K1A0B1</postal-zip-code>", b"<postal-zip-code>K1A 0B1</postal-zip-code>"
    )
    assert any("pattern" in p for p in problems("ncshipment", raw))


def test_request_problems_are_said_before_calling():
    assert request_problems(domestic()) == []
    assert request_problems(to_us()) == []
    no_postal = domestic(
        destination=Address(street_1="1 Main", city="Toronto", state="ON", country_iso_code="CA")
    )
    assert any("postal code" in p for p in request_problems(no_postal))
    assert any("USA.*" in p for p in request_problems(domestic(destination=to_us().destination)))
    assert any(
        "customs" in p
        for p in request_problems(domestic(destination=to_us().destination, service_code="USA.EP"))
    )
    assert any("weight" in p for p in request_problems(domestic(weight_kg=Decimal("0"))))
    assert any(
        "street" in p
        for p in request_problems(domestic(destination=Address(country_iso_code="CA", zip_code="K1A0B1")))
    )
    assert request_problems(domestic(destination=TORONTO)) == []


def test_messages_parse():
    body = (
        b'<messages xmlns="http://www.canadapost.ca/ws/messages"><message><code>9111</code>'
        b"<description>bad service</description></message></messages>"
    )
    assert problems("messages", body) == []
    assert parse_messages(body) == (("9111", "bad service"),)
    assert parse_messages(b"<html>503</html>") == ()

"""Canada Post's wire format: the ncshipment-v4 and track documents (valid against the XSDs), and the
label PDF a shipment's artifact link serves (4x6 in, one page, drawn with fpdf2)."""

from __future__ import annotations

from datetime import timedelta

from fpdf import FPDF
from lxml import etree

from .models import NS, RATE_NS, SERVICES, Quote, Shipment

TRACK_NS = "http://www.canadapost.ca/ws/track"
NCSHIPMENT_TYPE = "application/vnd.cpc.ncshipment-v4+xml"
RATE_TYPE = "application/vnd.cpc.ship.rate-v4+xml"


def _el(parent: etree._Element | None, tag: str, text: str | None = None, ns: str = NS, **attrs: str):
    name = f"{{{ns}}}{tag}"
    element = etree.Element(name, nsmap={None: ns}) if parent is None else etree.SubElement(parent, name)
    for key, value in attrs.items():
        element.set(key.replace("_", "-"), value)
    if text is not None:
        element.text = text
    return element


def _xml(root: etree._Element) -> bytes:
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8")


def shipment_href(api: str, shipment: Shipment) -> str:
    return f"{api}/rs/{shipment.customer}/ncshipment/{shipment.id}"


def shipment_info(shipment: Shipment, api: str, username: str) -> bytes:
    """`<non-contract-shipment-info>` with the links Canada Post returns (label = the PDF artifact)."""
    root = _el(None, "non-contract-shipment-info")
    _el(root, "shipment-id", shipment.id)
    _el(root, "tracking-pin", shipment.tracking_pin)
    links = _el(root, "links")
    href = shipment_href(api, shipment)
    _el(links, "link", href=href, rel="self", media_type=NCSHIPMENT_TYPE)
    _el(links, "link", href=f"{href}/details", rel="details", media_type=NCSHIPMENT_TYPE)
    _el(links, "link", href=f"{api}/ers/artifact/{username}/{shipment.artifact_id}/0", rel="label",
        media_type="application/pdf", index="0")  # fmt: skip
    return _xml(root)


def shipment_details(shipment: Shipment) -> bytes:
    root = _el(None, "non-contract-shipment-details")
    _el(root, "final-shipping-point", shipment.shipping_point)
    _el(root, "tracking-pin", shipment.tracking_pin)
    root.append(etree.fromstring(shipment.delivery_spec))
    return _xml(root)


def shipments_list(shipments: list[Shipment], api: str) -> bytes:
    root = _el(None, "non-contract-shipments")
    for shipment in shipments:
        _el(root, "link", href=shipment_href(api, shipment), rel="shipment", media_type=NCSHIPMENT_TYPE)
    return _xml(root)


def tracking_summary(shipment: Shipment) -> bytes:
    """`<tracking-summary>` with the one `<pin-summary>` (every element present, as the XSD wants)."""
    latest = shipment.events[-1]
    accepted = next((e for e in shipment.events if e.kind == "accepted"), None)
    delivered = next((e for e in shipment.events if e.kind == "delivered"), None)
    mailed = accepted.at if accepted else shipment.events[0].at
    values = {
        "pin": shipment.tracking_pin,
        "origin-postal-id": shipment.shipping_point,
        "destination-postal-id": shipment.destination_postal_code,
        "destination-province": shipment.destination_province,
        "service-name": SERVICES.get(shipment.service_code, shipment.service_code),
        "mailed-on-date": mailed.date().isoformat(),
        "expected-delivery-date": (mailed + timedelta(days=3)).date().isoformat(),
        "actual-delivery-date": delivered.at.date().isoformat() if delivered else "",
        "delivery-option-completed-ind": "0",
        "event-date-time": latest.at.strftime("%Y%m%d:%H%M%S"),
        "event-description": latest.description,
        "attempted-date": "",
        "customer-ref-1": shipment.reference_1 or "",
        "customer-ref-2": shipment.reference_2 or "",
        "return-pin": "",
        "event-type": latest.event_type,
        "event-location": "OTTAWA",
        "signatory-name": "",
    }
    root = _el(None, "tracking-summary", ns=TRACK_NS)
    summary = _el(root, "pin-summary", ns=TRACK_NS)
    for tag, text in values.items():
        _el(summary, tag, text, ns=TRACK_NS)
    return _xml(root)


# --- the label


def _latin1(value: str) -> str:
    """Helvetica (a PDF core font) has no glyphs past Latin-1."""
    return value.encode("latin-1", "replace").decode("latin-1")


def _spaced_postal(code: str) -> str:
    return f"{code[:3]} {code[3:]}" if len(code) == 6 else code


def label_pdf(shipment: Shipment, fault: str | None = None) -> bytes:
    """The label: service, from, to (postal code large, spaced as printed: "K1A 0B1"), the PIN as text
    and as an Interleaved 2 of 5 barcode, our references. `fault` draws one of the broken labels."""
    pin = shipment.tracking_pin
    if fault == "wrong_pin":
        pin = str((int(pin) + 1) % 10**16).zfill(16)
    if fault == "broken":  # starts and ends like a PDF, holds nothing readable
        return b"%PDF-1.7\n1 0 obj\n<< /Type /Catalog /Pages 9 0 R >>\nendobj\ngarbage\n%%EOF\n"
    pdf = FPDF(unit="mm", format=(101.6, 152.4))
    pdf.set_auto_page_break(False)
    pdf.set_margins(5, 5, 5)
    pdf.add_page()
    pdf.set_font("Helvetica", "B", 13)
    pdf.cell(0, 7, "Canada Post / Postes Canada", new_x="LMARGIN", new_y="NEXT")
    pdf.set_font("Helvetica", "", 9)
    pdf.cell(0, 5, _latin1(SERVICES.get(shipment.service_code, shipment.service_code)),
             new_x="LMARGIN", new_y="NEXT")  # fmt: skip
    pdf.cell(0, 5, f"Weight: {shipment.weight_kg} kg", new_x="LMARGIN", new_y="NEXT")
    if shipment.dimensions_cm:
        pdf.cell(0, 5, f"Dimensions: {' x '.join(shipment.dimensions_cm)} cm", new_x="LMARGIN", new_y="NEXT")
    pdf.ln(2)
    pdf.set_font("Helvetica", "B", 8)
    pdf.cell(0, 4, "FROM / DE", new_x="LMARGIN", new_y="NEXT")
    pdf.set_font("Helvetica", "", 8)
    for line in shipment.sender_lines:
        pdf.cell(0, 4, _latin1(line), new_x="LMARGIN", new_y="NEXT")
    pdf.ln(3)
    pdf.set_font("Helvetica", "B", 10)
    pdf.cell(0, 5, "TO / A", new_x="LMARGIN", new_y="NEXT")
    pdf.set_font("Helvetica", "", 11)
    for line in [shipment.destination_name, *shipment.destination_lines]:
        if line:
            pdf.cell(0, 6, _latin1(line), new_x="LMARGIN", new_y="NEXT")
    if fault != "no_postal_code":
        pdf.set_font("Helvetica", "B", 18)
        pdf.cell(
            0, 9, _latin1(_spaced_postal(shipment.destination_postal_code)), new_x="LMARGIN", new_y="NEXT"
        )
    pdf.set_font("Helvetica", "B", 11)
    pdf.cell(0, 6, shipment.destination_country, new_x="LMARGIN", new_y="NEXT")
    pdf.ln(4)
    pdf.interleaved2of5(pin, x=8, y=pdf.get_y(), w=0.55, h=16)
    pdf.set_y(pdf.get_y() + 19)
    pdf.set_font("Helvetica", "B", 12)
    pdf.cell(0, 6, " ".join(pin[i : i + 4] for i in range(0, len(pin), 4)), align="C",
             new_x="LMARGIN", new_y="NEXT")  # fmt: skip
    pdf.set_font("Helvetica", "", 8)
    pdf.cell(0, 4, f"PIN {pin}", align="C", new_x="LMARGIN", new_y="NEXT")
    for ref in (shipment.reference_1, shipment.reference_2):
        if ref:
            pdf.cell(0, 4, _latin1(f"Ref: {ref}"), new_x="LMARGIN", new_y="NEXT")
    if fault == "two_pages":
        pdf.add_page()
        pdf.set_font("Helvetica", "", 10)
        pdf.cell(0, 6, "Customs declaration copy", new_x="LMARGIN", new_y="NEXT")
    return bytes(pdf.output())


def price_quotes(quotes: list[Quote], api: str) -> bytes:
    """`<price-quotes>` (rating.xsd): one price-quote per service offered."""
    root = _el(None, "price-quotes", ns=RATE_NS)
    for quote in quotes:
        offer = _el(root, "price-quote", ns=RATE_NS)
        _el(offer, "service-code", quote.service_code, ns=RATE_NS)
        _el(offer, "service-link", ns=RATE_NS, rel="service", href=f"{api}/rs/ship/service/{quote.service_code}",
            media_type="application/vnd.cpc.ship.rate-v4+xml")  # fmt: skip
        _el(offer, "service-name", quote.service_name, ns=RATE_NS)
        details = _el(offer, "price-details", ns=RATE_NS)
        _el(details, "base", str(quote.due), ns=RATE_NS)
        _el(details, "due", str(quote.due), ns=RATE_NS)
        _el(offer, "weight-details", ns=RATE_NS)
        standard = _el(offer, "service-standard", ns=RATE_NS)
        _el(standard, "am-delivery", "false", ns=RATE_NS)
        _el(standard, "guaranteed-delivery", "false", ns=RATE_NS)
        _el(standard, "expected-transit-time", str(quote.transit_days), ns=RATE_NS)
    return _xml(root)

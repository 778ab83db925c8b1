"""The Canada Post simulator on the wire: auth, content types, schema checks with Canada Post's error
shape, and responses that validate against the official XSDs."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from decimal import Decimal

import httpx
import pytest
from lxml import etree

from retail_pipeline.domain.labels import check_label
from retail_pipeline.integrations.carriers.base import Dimensions
from retail_pipeline.integrations.carriers.canadapost import (
    NCSHIPMENT_TYPE,
    RATE_TYPE,
    SIMULATOR_CUSTOMER,
    SIMULATOR_PASSWORD,
    SIMULATOR_USERNAME,
    CanadaPostSettings,
    parse_messages,
    parse_price_quotes,
    parse_shipment_info,
    rating_xml,
    shipment_xml,
)
from retail_pipeline.integrations.carriers.xsd import problems
from retail_pipeline_tests.integrations.carriers.label_requests import domestic

pytestmark = pytest.mark.anyio
AUTH = (SIMULATOR_USERNAME, SIMULATOR_PASSWORD)
URL = f"/canadapost/rs/{SIMULATOR_CUSTOMER}/ncshipment"
HEADERS = {"Content-Type": NCSHIPMENT_TYPE, "Accept": NCSHIPMENT_TYPE}
BODY = shipment_xml(domestic(), CanadaPostSettings(_env_file=None).sender())


@pytest.fixture
def backend(sim):
    return sim.backend("canadapost")


@pytest.fixture
async def http(transport) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(transport=transport, base_url="http://sim") as c:
        yield c


def assert_messages(response: httpx.Response, status: int) -> tuple[tuple[str, str], ...]:
    assert response.status_code == status, response.text
    assert problems("messages", response.content) == []
    messages = parse_messages(response.content)
    assert messages
    return messages


async def test_basic_auth_is_required(http, backend):
    assert_messages(await http.post(URL, content=BODY, headers=HEADERS), 401)
    response = await http.post(URL, content=BODY, headers=HEADERS, auth=(SIMULATOR_USERNAME, "wrong"))
    assert assert_messages(response, 401)[0][0] == "E002"
    assert response.headers["www-authenticate"].startswith("Basic")
    other = await http.post("/canadapost/rs/9999999/ncshipment", content=BODY, headers=HEADERS, auth=AUTH)
    assert "AA004" in assert_messages(other, 401)[0][1]
    assert backend.created_count() == 0


async def test_wrong_content_type_and_accept(http, backend):
    wrong = await http.post(
        URL, content=BODY, headers={**HEADERS, "Content-Type": "application/xml"}, auth=AUTH
    )
    assert_messages(wrong, 415)
    json_accept = await http.post(
        URL, content=BODY, headers={**HEADERS, "Accept": "application/json"}, auth=AUTH
    )
    assert_messages(json_accept, 406)
    assert backend.created_count() == 0


async def test_schema_invalid_body_gets_canada_posts_error(http, backend):
    bad = BODY.replace(
        b"<postal-zip-code>K1A0B1</postal-zip-code>", b"<postal-zip-code>K1A 0B1</postal-zip-code>"
    )
    messages = assert_messages(await http.post(URL, content=bad, headers=HEADERS, auth=AUTH), 400)
    code, description = messages[0]
    assert code == "Server"
    assert description.startswith(f"/rs/{SIMULATOR_CUSTOMER}/ncshipment: cvc-pattern-valid")
    missing = BODY.replace(b"<service-code>DOM.EP</service-code>", b"")
    assert (
        "service-code"
        in assert_messages(await http.post(URL, content=missing, headers=HEADERS, auth=AUTH), 400)[0][1]
    )
    broken = await http.post(URL, content=b"<non-contract-shipment><oops>", headers=HEADERS, auth=AUTH)
    assert "not well-formed" in assert_messages(broken, 400)[0][1]
    assert backend.created_count() == 0


async def test_business_rules(http, backend):
    us_service = BODY.replace(b"DOM.EP", b"USA.EP")
    assert (
        assert_messages(await http.post(URL, content=us_service, headers=HEADERS, auth=AUTH), 400)[0][0]
        == "9122"
    )
    unknown = BODY.replace(b"DOM.EP", b"DOM.ZZ")
    assert (
        assert_messages(await http.post(URL, content=unknown, headers=HEADERS, auth=AUTH), 400)[0][0]
        == "9111"
    )
    # The parcel limits: 30 kg, 2 m on the longest side, 3 m length + girth.
    sender = CanadaPostSettings(_env_file=None).sender()
    for request, code in (
        (domestic(weight_kg=Decimal("30.001")), "9160"),
        (domestic(dimensions=Dimensions(Decimal("20"), Decimal("200.1"), Decimal("10"))), "9161"),
        (domestic(dimensions=Dimensions(Decimal("120"), Decimal("50"), Decimal("40.1"))), "9162"),
    ):
        response = await http.post(URL, content=shipment_xml(request, sender), headers=HEADERS, auth=AUTH)
        assert assert_messages(response, 400)[0][0] == code
    assert backend.created_count() == 0


async def test_create_list_details_label_and_tracking_validate(http, backend):
    response = await http.post(URL, content=BODY, headers=HEADERS, auth=AUTH)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith(NCSHIPMENT_TYPE)
    assert problems("ncshipment", response.content) == []
    info = parse_shipment_info(response.content)
    assert re.fullmatch(r"\d{16}", info.tracking_pin)
    assert info.label_url.startswith("http://sim/canadapost/ers/artifact/")

    listing = await http.get(URL, params={"from": "202506010000"}, headers=HEADERS, auth=AUTH)
    assert problems("ncshipment", listing.content) == []
    links = etree.fromstring(listing.content).findall("{*}link")
    assert [link.get("rel") for link in links] == ["shipment"]
    later = await http.get(URL, params={"from": "203001010000"}, headers=HEADERS, auth=AUTH)
    assert etree.fromstring(later.content).findall("{*}link") == []
    by_pin = await http.get(URL, params={"trackingPIN": info.tracking_pin}, headers=HEADERS, auth=AUTH)
    assert len(etree.fromstring(by_pin.content).findall("{*}link")) == 1
    assert_messages(await http.get(URL, headers=HEADERS, auth=AUTH), 400)  # neither from nor trackingPIN

    details = await http.get(f"{links[0].get('href')}/details", headers=HEADERS, auth=AUTH)
    assert problems("ncshipment", details.content) == []
    assert b"<customer-ref-1>rp-order-1</customer-ref-1>" in details.content

    assert_messages(await http.get(info.label_url, headers={"Accept": "text/html"}, auth=AUTH), 406)
    assert_messages(await http.get(info.label_url, headers={"Accept": "application/pdf"}), 401)
    label = await http.get(info.label_url, headers={"Accept": "application/pdf"}, auth=AUTH)
    assert label.headers["content-type"] == "application/pdf"
    assert check_label(label.content, info.tracking_pin, "M5V 2T6") == []

    track = f"/canadapost/vis/track/pin/{info.tracking_pin}/summary"
    accept = {"Accept": "application/vnd.cpc.track-v2+xml"}
    assert assert_messages(await http.get(track, headers=accept, auth=AUTH), 404)[0] == (
        "004",
        "No Pin History",
    )
    backend.add_tracking_event(info.tracking_pin, "accepted")
    summary = await http.get(track, headers=accept, auth=AUTH)
    assert summary.status_code == 200 and problems("track", summary.content) == []


async def test_throttle_answers_slm_monitor(http, backend):
    backend.throttle_next(1)
    messages = assert_messages(await http.post(URL, content=BODY, headers=HEADERS, auth=AUTH), 503)
    assert messages[0][1] == "Rejected by SLM Monitor"
    assert backend.created_count() == 0
    assert (await http.post(URL, content=BODY, headers=HEADERS, auth=AUTH)).status_code == 200


async def test_control_hooks(http, backend):
    info = parse_shipment_info((await http.post(URL, content=BODY, headers=HEADERS, auth=AUTH)).content)
    assert (
        await http.post("/canadapost/_control/corrupt_next_label", json={"mode": "two_pages"})
    ).status_code == 200
    label = await http.get(info.label_url, headers={"Accept": "application/pdf"}, auth=AUTH)
    assert check_label(label.content, info.tracking_pin, "M5V2T6") == ["has 2 pages, expected exactly 1"]
    again = await http.get(info.label_url, headers={"Accept": "application/pdf"}, auth=AUTH)
    assert check_label(again.content, info.tracking_pin, "M5V2T6") == []  # one-shot
    assert (
        await http.post("/canadapost/_control/corrupt_next_label", json={"mode": "nope"})
    ).status_code == 422
    event = await http.post(
        "/canadapost/_control/tracking_event", json={"pin": info.tracking_pin, "kind": "delivered"}
    )
    assert event.json()["event_type"] == "DELIVERED"
    listed = (await http.get("/canadapost/_control/shipments")).json()
    assert [s["label_downloads"] for s in listed] == [2]


async def test_shipments_survive_a_simulator_restart(http, backend, config, tmp_path):
    from retail_pipeline.simulators import build_simulator_app, get_simulator
    from retail_pipeline.simulators.persistence import load_state, save_state, state_path

    info = parse_shipment_info((await http.post(URL, content=BODY, headers=HEADERS, auth=AUTH)).content)
    sim = get_simulator(http._transport.app)
    assert "canadapost" in save_state(sim, state_path(tmp_path))
    fresh = build_simulator_app(config)  # the same config: the saved state belongs to it
    assert "canadapost" in load_state(get_simulator(fresh), state_path(tmp_path))
    restored = get_simulator(fresh).backend("canadapost")
    assert restored.by_pin(info.tracking_pin).reference_1 == "rp-order-1"


async def test_get_rates_on_the_wire(http):
    body = rating_xml(domestic(), "K1A 0B1", SIMULATOR_CUSTOMER)
    assert problems("rating", body) == []
    headers = {"Content-Type": RATE_TYPE, "Accept": RATE_TYPE}
    ok = await http.post("/canadapost/rs/ship/price", content=body, headers=headers, auth=AUTH)
    assert ok.status_code == 200 and ok.headers["content-type"].startswith(RATE_TYPE)
    assert problems("rating", ok.content) == []
    assert [q.service_code for q in parse_price_quotes(ok.content)] == [
        "DOM.RP",
        "DOM.EP",
        "DOM.XP",
        "DOM.PC",
    ]
    wrong_type = await http.post("/canadapost/rs/ship/price", content=body, headers=HEADERS, auth=AUTH)
    assert_messages(wrong_type, 415)
    other = rating_xml(domestic(), "K1A0B1", "1234567")
    assert (
        assert_messages(
            await http.post("/canadapost/rs/ship/price", content=other, headers=headers, auth=AUTH), 401
        )[0][0]
        == "E002"
    )
    no_origin = body.replace(b"<origin-postal-code>K1A0B1</origin-postal-code>", b"")
    refused = assert_messages(
        await http.post("/canadapost/rs/ship/price", content=no_origin, headers=headers, auth=AUTH), 400
    )
    assert "origin-postal-code" in refused[0][1]

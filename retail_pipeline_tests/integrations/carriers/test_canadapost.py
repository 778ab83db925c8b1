"""The Canada Post client against the simulator: labels, recovery by reference, retries that never buy
twice, and errors that say whether a retry can help."""

from __future__ import annotations

from decimal import Decimal

import httpx
import pytest

from retail_pipeline.domain.labels import check_label
from retail_pipeline.domain.orders import Address
from retail_pipeline.integrations.carriers.base import CarrierError
from retail_pipeline.integrations.carriers.canadapost import CanadaPostSettings
from retail_pipeline.simulators import FaultConfig
from retail_pipeline_tests.integrations.carriers.label_requests import domestic, to_us

pytestmark = pytest.mark.anyio


class ReplyLost(httpx.AsyncBaseTransport):
    """Delivers the first `drops` POSTs to the server, then loses the answer (a read timeout)."""

    def __init__(self, inner: httpx.AsyncBaseTransport, drops: int = 1):
        self.inner, self.drops = inner, drops

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        response = await self.inner.handle_async_request(request)
        if request.method == "POST" and self.drops > 0:
            self.drops -= 1
            await response.aread()
            raise httpx.ReadTimeout("answer lost", request=request)
        return response


async def test_create_download_find_and_track(make_client, backend):
    async with make_client() as client:
        label = await client.create_label(domestic())
        assert label.reference == "rp-order-1" and len(label.tracking_pin) == 16
        pdf = await client.download_label(label)
        assert check_label(pdf, label.tracking_pin, "M5V 2T6") == []
        found = await client.find_shipment("rp-order-1")
        assert (found.shipment_id, found.tracking_pin, found.label_url) == (
            label.shipment_id, label.tracking_pin, label.label_url,
        )  # fmt: skip
        assert found.service_code == "DOM.EP"
        assert await client.find_shipment("rp-order-999") is None
        assert await client.tracking_summary(label.tracking_pin) is None  # no events yet
        backend.add_tracking_event(label.tracking_pin, "accepted")
        backend.add_tracking_event(label.tracking_pin, "delivered")
        summary = await client.tracking_summary(label.tracking_pin)
        assert summary.event_type == "DELIVERED" and summary.delivered and summary.reference == "rp-order-1"
    assert backend.created_count() == 1


async def test_us_parcel_with_customs(make_client, backend):
    async with make_client() as client:
        label = await client.create_label(to_us())
        assert check_label(await client.download_label(label), label.tracking_pin, "98109") == []


async def test_lost_answer_is_looked_up_not_bought_twice(make_client, simulator_app, backend):
    transport = ReplyLost(httpx.ASGITransport(app=simulator_app))
    async with make_client(transport) as client:
        label = await client.create_label(domestic("rp-order-7"))
    assert backend.created_count() == 1
    assert next(iter(backend.shipments.values())).tracking_pin == label.tracking_pin


async def test_throttled_then_succeeds(make_client, backend, sim):
    backend.throttle_next(2)
    async with make_client() as client:
        await client.create_label(domestic())
        assert client.calls == 3
    statuses = [e.status for e in sim.journal.entries("canadapost") if e.method == "POST"]
    assert statuses == [503, 503, 200]
    assert backend.created_count() == 1


async def test_outage_is_retryable_and_creates_nothing(make_client, backend, sim):
    sim.faults.set("canadapost", FaultConfig(error_rate=1.0))
    async with make_client(max_attempts=3) as client:
        with pytest.raises(CarrierError) as caught:
            await client.create_label(domestic())
    assert caught.value.retryable and caught.value.status in (500, 502, 503)
    assert backend.created_count() == 0


async def test_twenty_percent_faults_still_one_shipment_each(make_client, backend, sim):
    sim.faults.set(
        "canadapost", FaultConfig(error_rate=0.1, malformed_rate=0.05, timeout_rate=0.05, hang_seconds=0.01)
    )
    async with make_client(max_attempts=10) as client:
        labels = [await client.create_label(domestic(f"rp-order-{n}")) for n in range(8)]
        for label in labels:
            assert check_label(await client.download_label(label), label.tracking_pin, "M5V2T6") == []
    assert backend.created_count() == 8
    assert sorted(s.reference_1 for s in backend.shipments.values()) == sorted(
        f"rp-order-{n}" for n in range(8)
    )
    assert any(e.fault for e in sim.journal.entries("canadapost"))


async def test_refusal_is_not_retryable_and_carries_messages(make_client, backend):
    async with make_client() as client:
        with pytest.raises(CarrierError) as caught:
            await client.create_label(domestic(service_code="USA.EP"))
    assert not caught.value.retryable and caught.value.status == 400
    assert caught.value.messages[0][0] == "9122"
    assert "9122" in str(caught.value)


async def test_bad_credentials(make_client, backend):
    async with make_client(username="someone", password="wrong") as client:
        with pytest.raises(CarrierError) as caught:
            await client.create_label(domestic())
    assert caught.value.status == 401 and not caught.value.retryable


def test_settings_pick_the_simulator_or_the_real_host(monkeypatch):
    from retail_pipeline.settings import get_settings

    monkeypatch.setenv("SIMULATOR_URL", "http://127.0.0.1:9999")
    get_settings.cache_clear()
    try:
        assert CanadaPostSettings(_env_file=None).base() == "http://127.0.0.1:9999/canadapost"
        monkeypatch.setenv("USE_SIMULATORS", "false")
        get_settings.cache_clear()
        settings = CanadaPostSettings(_env_file=None)
        assert settings.base() == "https://soa-gw.canadapost.ca"
        with pytest.raises(CarrierError, match="CANADAPOST_USERNAME"):
            settings.credentials()
        dev = CanadaPostSettings(_env_file=None, base_url="https://ct.soa-gw.canadapost.ca/")
        assert dev.base() == "https://ct.soa-gw.canadapost.ca"
    finally:
        get_settings.cache_clear()


async def test_get_rates_quotes_the_services_for_the_route_and_weight(make_client, sim):
    async with make_client() as client:
        home = {q.service_code: q for q in await client.rate(domestic())}
        heavy_us = {q.service_code for q in await client.rate(to_us())}
    assert set(home) == {"DOM.RP", "DOM.EP", "DOM.XP", "DOM.PC"}
    # 1.2 kg billed as the cubed weight (30x20x10 cm / 6000 = 1 kg < 1.2 kg): 11.20 + 1.35 * 1.2
    assert home["DOM.EP"].price == Decimal("12.82") and home["DOM.EP"].currency == "CAD"
    assert home["DOM.EP"].transit_days == 3
    assert heavy_us == {"USA.EP", "USA.XP"}  # Tracked Packet USA carries at most 2 kg
    posts = [e for e in sim.journal.entries("canadapost") if e.method == "POST"]
    assert len(posts) == 2 and all(e.path.endswith("/rs/ship/price") for e in posts)


async def test_get_rates_refused_for_a_bad_scenario(make_client):
    bad = domestic(
        destination=Address(street_1="1 Main", city="Toronto", zip_code="NOPE", country_iso_code="CA")
    )
    async with make_client() as client:
        with pytest.raises(CarrierError) as refused:
            await client.rate(bad)
    assert refused.value.status == 400 and not refused.value.retryable
    assert "postal-code" in refused.value.message and "cvc-pattern-valid" in refused.value.message

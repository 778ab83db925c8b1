"""MiraklClient against the Best Buy (Mirakl) simulator: the wire format both sides keep to, checked
against Mirakl's own schemas, and the rules the simulator enforces."""

from __future__ import annotations

import json
from datetime import timedelta

import httpx
import pytest

from retail_pipeline.channels.bestbuy import MiraklClient, MiraklSettings, error_code
from retail_pipeline.integrations.marketplaces.base import ChannelError
from retail_pipeline.integrations.marketplaces.rest import RetryPolicy
from retail_pipeline.simulators import SimulatorConfig, build_simulator_app, get_simulator
from retail_pipeline.simulators.mirakl.conformance import problems

pytestmark = pytest.mark.anyio
QUICK = RetryPolicy(max_attempts=4, backoff_initial=0.001, backoff_max=0.01)
BASE = "http://sim/mirakl/api"


class Recorder(httpx.AsyncBaseTransport):
    """The app's transport, keeping every request and response the client exchanged."""

    def __init__(self, app):
        self.inner = httpx.ASGITransport(app=app)
        self.exchanges: list[tuple[httpx.Request, httpx.Response]] = []
        self.lose_next: str | None = None  # a method: the server acts, the answer never arrives

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        response = await self.inner.handle_async_request(request)
        await response.aread()
        self.exchanges.append((request, response))
        if request.method == self.lose_next:
            self.lose_next = None
            raise httpx.ReadError("connection reset", request=request)
        return response


@pytest.fixture
def simulator_app():
    """The simulators with seed 3 (the Best Buy tests' catalogue)."""
    return build_simulator_app(SimulatorConfig(seed=3))


@pytest.fixture
def backend(sim):
    backend = sim.backend("mirakl")
    backend.add_offer("RP-1", 5, "199.00", "Sony WH-1000XM5 Headphones")
    backend.add_offer("RP-2", 1, "49.50", "Audio cable")
    return backend


@pytest.fixture
def recorder(simulator_app) -> Recorder:
    return Recorder(simulator_app)


@pytest.fixture
async def client(recorder, backend):
    client = MiraklClient(MiraklSettings(_env_file=None, base_url=BASE, api_key="shop-key"), transport=recorder,
                          policy=QUICK)  # fmt: skip
    yield client
    await client.aclose()


async def test_every_call_carries_the_shop_key_without_a_scheme_and_a_bad_key_is_401(
    simulator_app, recorder, client
):
    assert [o async for o in client.orders()] == []
    assert recorder.exchanges[-1][0].headers["authorization"] == "shop-key"
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=simulator_app)) as raw:
        answer = await raw.get(f"{BASE}/orders")
    assert answer.status_code == 401 and answer.json() == {"status": 401, "message": "Unauthorized"}


async def test_orders_page_by_offset_and_filter_by_creation_and_ids(simulator_app, backend, client, recorder):
    clock = get_simulator(simulator_app).clock
    first = backend.buy("RP-1", 1)
    clock.advance(2)
    later = [backend.buy("RP-1", 1).order_id for _ in range(3)]
    assert [o["order_id"] async for o in client.orders()] == [first.order_id, *later]
    since = first.created + timedelta(hours=1)
    assert [o["order_id"] async for o in client.orders(start=since)] == later
    assert [o["order_id"] async for o in client.orders(end=since)] == [first.order_id]
    assert (await client.order(later[1]))["order_id"] == later[1]
    assert await client.order("NOPE-A") is None
    query = recorder.exchanges[-1][0].url.params
    assert query["order_ids"] == "NOPE-A" and query["max"] == "100" and query["offset"] == "0"


async def test_listing_pages_through_more_than_one_page(
    simulator_app, backend, client, recorder, monkeypatch
):
    import retail_pipeline.channels.bestbuy as mirakl

    monkeypatch.setattr(mirakl, "PAGE", 2)
    backend.add_offer("RP-3", 10, "10.00")
    made = [backend.buy("RP-3", 1).order_id for _ in range(5)]
    assert [o["order_id"] async for o in client.orders()] == made
    offsets = [e[0].url.params["offset"] for e in recorder.exchanges]
    assert offsets == ["0", "2", "4"]


async def test_order_json_and_thread_json_conform_to_mirakls_schemas(backend, client, recorder):
    order = backend.buy("RP-1", 2)
    backend.customer_message(order.order_id, "Does it come with a case?")
    [listed] = [o async for o in client.orders()]
    assert problems("OR11_Response_200", recorder.exchanges[-1][1].json()) == []
    assert (
        listed["order_state"] == "WAITING_ACCEPTANCE"
        and listed["customer"]["shipping_address"]["country_iso_code"] == "CAN"
    )
    [thread] = [t async for t in client.threads()]
    assert problems("M11_Response_200", recorder.exchanges[-1][1].json()) == []
    assert problems("M10_Response_200", await client.thread(thread["id"])) == []
    reply = await client.reply(thread["id"], "Yes, a soft case is included.")
    assert problems("M12_Response_201", reply) == []
    sent = recorder.exchanges[-1][0]
    assert sent.headers["content-type"].startswith("multipart/form-data")
    after = await client.thread(thread["id"])
    assert [m["from"]["type"] for m in after["messages"]] == ["CUSTOMER_USER", "SHOP_USER"]
    assert after["messages"][-1]["id"] == reply["message_id"]


async def test_acceptance_takes_every_line_applies_later_and_conforms(backend, client, recorder):
    order = backend.buy("RP-1", 1)
    with pytest.raises(ChannelError) as missing:
        await client.accept(order.order_id, {})
    assert missing.value.status == 400 and error_code(missing.value) == "VALIDATION_ERROR"
    with pytest.raises(ChannelError) as unknown:
        await client.accept(order.order_id, {"OTHER-1": True})
    assert error_code(unknown.value) == "ORDER_LINE_NOT_FOUND"
    await client.accept(order.order_id, {order.lines[0].line_id: True})
    body = json.loads(recorder.exchanges[-1][0].content)
    assert problems("OR21_Request", body) == [] and body == {
        "order_lines": [{"id": order.lines[0].line_id, "accepted": True}]
    }
    # Asynchronous at Mirakl: the next read still shows it waiting, the one after applied.
    assert (await client.order(order.order_id))["order_state"] == "WAITING_ACCEPTANCE"
    with pytest.raises(ChannelError) as again:
        await client.accept(order.order_id, {order.lines[0].line_id: True})
    assert error_code(again.value) == "ORDER_INVALID_STATE"
    applied = await client.order(order.order_id)
    assert (
        applied["order_state"] == "SHIPPING" and applied["order_lines"][0]["order_line_state"] == "SHIPPING"
    )
    assert "acceptance_decision_date" in applied and "customer_debited_date" in applied


async def test_refusing_every_line_refuses_the_order_and_puts_the_units_back_on_offer(backend, client):
    order = backend.buy("RP-2", 1)
    assert "RP-2" not in backend.live_skus()
    await client.accept(order.order_id, {order.lines[0].line_id: False})
    await client.order(order.order_id)
    assert (await client.order(order.order_id))["order_state"] == "REFUSED"
    assert backend.live_skus()["RP-2"] == 1


async def test_tracking_then_ship_and_the_rules_around_them(backend, client, recorder):
    order = backend.buy("RP-1", 1)
    with pytest.raises(ChannelError) as early:
        await client.update_tracking(order.order_id, tracking_number="7023", carrier_code="CPCL")
    assert error_code(early.value) == "ORDER_INVALID_STATE"
    await client.accept(order.order_id, {order.lines[0].line_id: True})
    await client.order(order.order_id), await client.order(order.order_id)
    with pytest.raises(ChannelError) as untracked:
        await client.ship(order.order_id)
    assert error_code(untracked.value) == "ORDER_TRACKING_MISSING"
    with pytest.raises(ChannelError) as bad_carrier:
        await client.update_tracking(order.order_id, tracking_number="7023", carrier_code="NOPE")
    assert error_code(bad_carrier.value) == "CARRIER_NOT_FOUND"
    await client.update_tracking(order.order_id, tracking_number="7023210039414604", carrier_code="CPCL")
    assert problems("OR23_Request", json.loads(recorder.exchanges[-1][0].content)) == []
    await client.ship(order.order_id)
    shipped = await client.order(order.order_id)
    assert shipped["order_state"] == "SHIPPED" and shipped["shipping_tracking"] == "7023210039414604"
    assert (
        shipped["shipping_company"] == "Canada Post"
        and "7023210039414604" in shipped["shipping_tracking_url"]
    )
    with pytest.raises(ChannelError) as twice:
        await client.ship(order.order_id)
    assert error_code(twice.value) == "ORDER_INVALID_STATE" and "SHIPPED" in twice.value.message


async def test_a_lost_reply_answer_is_looked_up_not_posted_twice(simulator_app, backend, client, recorder):
    order = backend.buy("RP-1", 1)
    thread = backend.customer_message(order.order_id, "Where is my parcel?")
    recorder.lose_next = "POST"
    reply = await client.reply(thread.thread_id, "It ships today.")
    assert [e[0].method for e in recorder.exchanges[-2:]] == ["POST", "GET"]  # looked up, not re-posted
    shop_messages = [m for m in backend.thread(thread.thread_id).messages if m.sender_type == "SHOP_USER"]
    assert [m.message_id for m in shop_messages] == [reply["message_id"]]


async def test_no_key_outside_the_simulator_is_a_clear_error(monkeypatch):
    monkeypatch.setenv("USE_SIMULATORS", "false")
    from retail_pipeline.settings import get_settings

    get_settings.cache_clear()
    try:
        with pytest.raises(ChannelError, match="MIRAKL_API_KEY"):
            MiraklClient(MiraklSettings(_env_file=None))
    finally:
        get_settings.cache_clear()


async def test_a_lost_ship_answer_is_read_back_not_sent_again(backend, client, recorder):
    order = backend.buy("RP-1", 1)
    await client.accept(order.order_id, {order.lines[0].line_id: True})
    await client.order(order.order_id), await client.order(order.order_id)
    await client.update_tracking(order.order_id, tracking_number="7023210039414604", carrier_code="CPCL")
    recorder.lose_next = "PUT"
    await client.ship(order.order_id)  # the retry reads the order: SHIPPED, so no second OR24
    assert backend.orders[order.order_id].state == "SHIPPED"
    ships = [r for r, _ in recorder.exchanges if r.method == "PUT" and r.url.path.endswith("/ship")]
    assert len(ships) == 1

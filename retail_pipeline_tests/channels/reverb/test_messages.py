"""Reverb conversations: the simulator's routes (paths from Reverb's guide) and ReverbClient's calls."""

from __future__ import annotations

import httpx
import pytest

from retail_pipeline.channels.reverb import ReverbClient, ReverbSettings
from retail_pipeline.integrations.marketplaces.base import ChannelError
from retail_pipeline.simulators.reverb.models import SHOP_USER_ID
from retail_pipeline_tests.channels.rest_support import QUICK_RETRIES, LoseAnswers
from retail_pipeline_tests.seeds.simulated_orders import reverb_order

from .conftest import API

pytestmark = pytest.mark.anyio
HEADERS = {
    "Authorization": "Bearer t",
    "Accept-Version": "3.0",
    "Accept": "application/hal+json",
    "Content-Type": "application/hal+json",
}


async def test_routes_list_show_reply_and_mark_read(simulator_app, backend):
    order = reverb_order(backend)
    conv = backend.customer_message(order.order_number, "Where is my order?")
    again = backend.customer_message(str(order.order_number), "Hello?")
    assert again.id == conv.id and len(conv.messages) == 2  # the buyer's thread about that order continues
    other = backend.customer_message("RV-1", "Does it come with a box?")  # about the listing, by SKU
    assert other.id != conv.id and other.order_number is None

    transport = httpx.ASGITransport(app=simulator_app)
    async with httpx.AsyncClient(transport=transport, base_url=API, headers=HEADERS) as api:
        listed = (await api.get("/my/conversations", params={"per_page": 1})).json()
        assert listed["total"] == 2 and listed["conversations"][0]["id"] == other.id  # latest activity first
        assert "messages" not in listed["conversations"][0] and "next" in listed["_links"]
        shown = (await api.get(f"/my/conversations/{conv.id}")).json()
        assert shown["order_number"] == str(order.order_number)
        assert [m["body"] for m in shown["messages"]] == ["Where is my order?", "Hello?"]  # oldest first
        assert shown["other_participant"]["id"] == order.buyer_id and shown["unread"] is True

        posted = await api.post(f"/my/conversations/{conv.id}/messages", json={"body": "It shipped today."})
        assert posted.status_code == 201 and posted.json()["sender"]["id"] == SHOP_USER_ID
        assert (await api.get("/my/conversations", params={"unread_only": "true"})).json()["total"] == 1

        blank = await api.post(f"/my/conversations/{conv.id}/messages", json={"body": "  "})
        assert blank.status_code == 412 and blank.json()["errors"] == {"body": ["can't be blank"]}
        assert (await api.post("/my/conversations/999/messages", json={"body": "x"})).status_code == 404
        assert (await api.put(f"/my/conversations/{other.id}", json={"read": True})).json()["unread"] is False
        no_version = await api.get("/my/conversations", headers={"Accept-Version": ""})
        assert no_version.status_code == 400

    async with httpx.AsyncClient(transport=transport) as control:
        made = await control.post(
            "http://sim/reverb/_control/customer_messages", json={"ref": "RV-1", "body": "Price?"}
        )
        assert made.status_code == 201 and made.json()["conversation"]["messages"][-1]["body"] == "Price?"


async def test_client_reads_and_replies(simulator_app, backend):
    conv = backend.customer_message(reverb_order(backend).order_number, "Hi")
    settings = ReverbSettings(base_url=API, token="t")
    async with ReverbClient(
        settings, transport=httpx.ASGITransport(app=simulator_app), policy=QUICK_RETRIES
    ) as c:
        assert [item["id"] async for item in c.conversations()] == [conv.id]
        assert [item["id"] async for item in c.conversations(unread_only=True)] == [conv.id]
        message = await c.send_message(conv.id, "Thanks, we're on it.")
        assert message["body"] == "Thanks, we're on it." and message["sender"]["role"] == "seller"
        assert (await c.conversation(conv.id))["messages"][-1]["id"] == message["id"]
        assert (await c.mark_conversation_read(conv.id, False))["unread"] is True
        with pytest.raises(ChannelError) as refused:
            await c.send_message(conv.id, "")
        assert refused.value.status == 412 and not refused.value.retryable


async def test_a_lost_answer_is_not_posted_twice(simulator_app, backend):
    conv = backend.customer_message(reverb_order(backend).order_number, "Hi")
    lossy = LoseAnswers(httpx.ASGITransport(app=simulator_app), "POST", "/messages", count=1)
    async with ReverbClient(
        ReverbSettings(base_url=API, token="t"), transport=lossy, policy=QUICK_RETRIES
    ) as c:
        message = await c.send_message(conv.id, "Once only")
    assert [m.body for m in backend.conversation(conv.id).messages].count("Once only") == 1
    assert message["body"] == "Once only"

"""Customer-service routes over HTTP: roles, the reply's codes (200 once per key, 409 on a collision, 422,
502 on a refusal), a crash between post and commit recovered by the same key, statuses, read state,
saved replies, and the console page rendering buyers' words inert."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text

from retail_pipeline.api.conversations import inbox_factory
from retail_pipeline.messaging.conversations import sidecar_inbox
from retail_pipeline_tests.console.test_sessions import csrf_of, sign_in
from retail_pipeline_tests.seeds.conversations import latest_message_id, reverb_thread, seller_posts, sync


@pytest.fixture
def reverb(sim):
    return sim.backend("reverb")


@pytest.fixture
def thread(engine, reverb, channels, simulator_url):
    """A Reverb buyer's question about a shipped order; the sidecar reaches Reverb on loopback."""
    return reverb_thread(engine, reverb, channels, "Where is my order?")


def reply(client, headers, conversation, body="It left on Monday.", *, key="reply-key-1", seen, force=False):
    return client.post(
        f"/api/conversations/{conversation}/reply",
        json={"body": body, "idempotency_key": key, "last_seen_message_id": seen, "force": force},
        headers=headers,
    )


def test_viewer_reads_operator_acts(client, engine, viewer, operator, thread):
    conversation, _ = thread
    listed = client.get("/api/conversations", headers=viewer)
    assert listed.status_code == 200 and [c["id"] for c in listed.json()["items"]] == [conversation]
    assert (
        client.get(f"/api/conversations/{conversation}", headers=viewer).json()["order"]["status"]
        == "shipped"
    )
    seen = latest_message_id(engine, conversation)
    assert reply(client, viewer, conversation, seen=seen).status_code == 403
    assert (
        client.post(
            f"/api/conversations/{conversation}/status", json={"status": "resolved"}, headers=viewer
        ).status_code
        == 403
    )
    assert client.post(f"/api/conversations/{conversation}/read", headers=viewer).status_code == 403
    assert (
        client.post("/api/saved-replies", json={"title": "x", "body": "y"}, headers=viewer).status_code == 403
    )
    assert client.get("/api/conversations").status_code == 403  # anonymous


def test_reply_once_per_key_then_a_collision_is_held(client, engine, sim, reverb, channels, operator, thread):
    conversation, remote = thread
    seen = latest_message_id(engine, conversation)
    first = reply(client, operator, conversation, seen=seen)
    assert first.status_code == 200, first.text
    assert first.json()["outcome"] == "sent" and first.json()["message"]["status"] == "sent"
    again = reply(client, operator, conversation, seen=seen)  # the double click
    assert again.status_code == 200 and again.json()["outcome"] == "already_sent" and again.json()["retried"]
    assert seller_posts(sim) == 1

    sim.clock.advance(30)
    reverb.customer_message(reverb.conversation(remote).order_number, "Also, can you add a gift note?")
    sync(engine, channels)
    mine = first.json()["message"]["id"]
    held = reply(client, operator, conversation, "Sure!", key="reply-key-2", seen=mine)
    assert held.status_code == 409
    detail = held.json()["detail"]
    assert detail["field"] == "last_seen_message_id"
    assert [m["body"] for m in detail["new_messages"]] == ["Also, can you add a gift note?"]
    assert seller_posts(sim) == 1
    anyway = reply(client, operator, conversation, "Sure!", key="reply-key-2", seen=mine, force=True)
    assert anyway.status_code == 200 and seller_posts(sim) == 2


def test_bad_replies_are_4xx_and_nothing_is_sent(client, engine, sim, operator, thread):
    conversation, _ = thread
    seen = latest_message_id(engine, conversation)
    empty = reply(client, operator, conversation, "   ", seen=seen)
    assert empty.status_code == 422 and empty.json()["detail"]["field"] == "body"
    no_key = client.post(
        f"/api/conversations/{conversation}/reply",
        json={"body": "Hi", "last_seen_message_id": seen},
        headers=operator,
    )
    assert no_key.status_code == 422 and "idempotency_key" in no_key.text
    assert reply(client, operator, 999999, seen=0).status_code == 404
    assert seller_posts(sim) == 0


def test_a_refused_reply_is_502_and_kept_failed(client, engine, reverb, operator, thread):
    conversation, remote = thread
    del reverb.conversations[remote]  # gone on Reverb: 404
    refused = reply(client, operator, conversation, seen=latest_message_id(engine, conversation))
    assert refused.status_code == 502 and "refused" in refused.json()["detail"]["message"]
    with engine.connect() as conn:
        assert (
            conn.scalar(text("SELECT status FROM retail.messages WHERE direction = 'outbound'")) == "failed"
        )


class LostAnswer(Exception):
    """The connection dropped after Reverb had posted the reply: we cannot tell whether it went."""


def test_a_lost_answer_keeps_the_reply_and_the_same_key_recovers_it(
    app, client, engine, sim, reverb, operator, thread
):
    conversation, remote = thread
    seen = latest_message_id(engine, conversation)

    def losing(channel):
        inbox = sidecar_inbox(channel)
        post = inbox.reply

        async def post_then_lose(thread_id, body):
            await post(thread_id, body)
            raise LostAnswer("connection reset by peer")

        inbox.reply = post_then_lose
        return inbox

    app.dependency_overrides[inbox_factory] = lambda: losing
    kept = reply(client, operator, conversation, seen=seen)
    assert kept.status_code == 202 and kept.json()["outcome"] == "retry_later"
    assert kept.json()["message"]["status"] == "pending" and seller_posts(sim) == 1
    app.dependency_overrides.clear()
    sign_in(client, _key(engine, "operator"))  # the page offers to retry it with its own key
    assert 'data-retry-key="reply-key-1"' in client.get(f"/console/conversations/{conversation}").text

    # the page's retry (same key) reads the thread first, finds the post and records it
    retried = reply(client, operator, conversation, seen=seen)
    assert retried.status_code == 200 and retried.json()["outcome"] == "recovered"
    assert seller_posts(sim) == 1
    assert [m.body for m in reverb.conversation(remote).messages if m.sender_role == "seller"] == [
        "It left on Monday."
    ]


def test_status_read_and_saved_reply_routes(client, engine, operator, viewer, thread):
    conversation, _ = thread
    url = f"/api/conversations/{conversation}"
    snoozed = client.post(
        f"{url}/status", json={"status": "snoozed", "until": "2099-01-01T09:00:00Z"}, headers=operator
    )
    assert snoozed.status_code == 200 and snoozed.json()["status"] == "snoozed"
    assert (
        client.get("/api/conversations?status=snoozed", headers=viewer).json()["counts"]["snoozed"]["total"]
        == 1
    )
    no_until = client.post(f"{url}/status", json={"status": "snoozed"}, headers=operator)
    assert no_until.status_code == 422 and no_until.json()["detail"]["field"] == "until"
    assert client.post(f"{url}/status", json={"status": "closed"}, headers=operator).status_code == 422
    assert (
        client.post("/api/conversations/999999/status", json={"status": "open"}, headers=operator).status_code
        == 404
    )

    assert client.get(url, headers=viewer).json()["unread_count"] == 1
    assert client.post(f"{url}/read", headers=operator).json() == {
        "id": conversation,
        "unread_count": 0,
        "changed": True,
    }
    assert client.get("/api/conversations?unread=true&status=snoozed", headers=viewer).json()["items"] == []
    assert client.get("/api/conversations?channel=nowhere", headers=viewer).status_code == 422
    assert client.get("/api/conversations?cursor=nope", headers=viewer).json()["detail"]["field"] == "cursor"

    filled = client.get(f"/api/saved-replies?conversation_id={conversation}", headers=viewer).json()
    assert filled and all("{name}" not in r["filled"] for r in filled)
    created = client.post(
        "/api/saved-replies", json={"title": "Gift note", "body": "Added a gift note."}, headers=operator
    )
    assert created.status_code == 201
    duplicate = client.post(
        "/api/saved-replies", json={"title": "Gift note", "body": "again"}, headers=operator
    )
    assert duplicate.status_code == 409 and duplicate.json()["detail"]["field"] == "title"


def test_the_console_page_lists_threads_and_renders_buyer_text_inert(
    client, engine, sim, reverb, channels, thread
):
    conversation, remote = thread
    reverb.customer_message(reverb.conversation(remote).order_number, '<img src=x onerror="alert(1)"> hello?')
    sync(engine, channels)
    assert sign_in(client, _key(engine, "viewer")).status_code == 303
    listing = client.get("/console/conversations")
    assert listing.status_code == 200 and f'data-id="{conversation}"' in listing.text
    page = client.get(f"/console/conversations/{conversation}")
    assert page.status_code == 200
    assert "&lt;img src=x onerror=" in page.text and "<img src=x" not in page.text
    assert 'id="reply"' not in page.text  # a viewer gets no reply box
    assert client.get("/console/conversations/999999", headers={"accept": "text/html"}).status_code == 404


def test_operator_page_carries_a_fresh_key_and_what_it_has_seen(client, engine, thread):
    conversation, _ = thread
    sign_in(client, _key(engine, "operator"))
    csrf_of(client)
    first = client.get(f"/console/conversations/{conversation}").text
    second = client.get(f"/console/conversations/{conversation}").text
    key = _value(first, 'id="idempotency-key" value="')
    assert len(key) >= 16 and key != _value(second, 'id="idempotency-key" value="')
    assert _value(first, 'id="last-seen" value="') == str(latest_message_id(engine, conversation))


def _value(html: str, marker: str) -> str:
    start = html.index(marker) + len(marker)
    return html[start : html.index('"', start)]


def _key(engine, role):
    from retail_pipeline.api.keys import create_api_key

    return create_api_key(engine, role)


def test_json_routes_work_from_a_console_session_with_csrf(client: TestClient, engine, sim, thread):
    conversation, _ = thread
    sign_in(client, _key(engine, "operator"))
    token = csrf_of(client)
    seen = latest_message_id(engine, conversation)
    body = {"body": "Hello!", "idempotency_key": "session-key-1", "last_seen_message_id": seen}
    assert client.post(f"/api/conversations/{conversation}/reply", json=body).status_code == 403  # no CSRF
    sent = client.post(f"/api/conversations/{conversation}/reply", json=body, headers={"X-CSRF-Token": token})
    assert sent.status_code == 200 and seller_posts(sim) == 1

"""messaging.conversations against the Reverb simulator: a person's reply posted once (double submit,
crash between post and commit), held on a collision, statuses and snoozes, read state, saved replies."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import text

from retail_pipeline.defs.messages.assets import reply_channel
from retail_pipeline.defs.messages.settings import MessagingSettings
from retail_pipeline.domain.conversations import InvalidChange
from retail_pipeline.messaging import conversations as cs
from retail_pipeline_tests.seeds.conversations import (
    latest_message_id,
    reverb_thread,
    seller_posts,
    sync,
    tracking_pin,
)


class Crash(BaseException):
    """A process dying: not an Exception, so nothing on the way up records it."""


@pytest.fixture
def reverb(sim):
    return sim.backend("reverb")


def send(engine, channels, conversation, body="Thanks, it ships today.", *, key="key-0001", seen=None, **kw):
    seen = latest_message_id(engine, conversation) if seen is None else seen
    return asyncio.run(
        cs.send_reply(
            engine, channels.inbox, conversation, body=body, idempotency_key=key, last_seen_message_id=seen,
            author_name="Dana", actor="api_key:test", **kw,
        )
    )  # fmt: skip


def outbound(engine) -> list[tuple]:
    with engine.connect() as conn:
        return [
            tuple(r)
            for r in conn.execute(
                text(
                    """SELECT idempotency_key, status, external_message_id IS NOT NULL, author_type, author_name
                         FROM retail.messages WHERE direction = 'outbound' ORDER BY id"""
                )
            )
        ]


def shop_messages(reverb, remote_id) -> list[str]:
    return [m.body for m in reverb.conversation(remote_id).messages if m.sender_role == "seller"]


def test_a_reply_is_posted_marked_sent_and_read(engine, sim, reverb, channels):
    conversation, remote = reverb_thread(engine, reverb, channels, "Where is my order?")
    assert cs.conversation(engine, conversation)["unread_count"] == 1

    outcome = send(engine, channels, conversation)
    assert outcome.delivery.outcome == "sent" and not outcome.retried
    assert shop_messages(reverb, remote) == ["Thanks, it ships today."]
    assert outbound(engine) == [("key-0001", "sent", True, "shop", "Dana")]
    thread = cs.conversation(engine, conversation)
    assert thread["unread_count"] == 0 and thread["last_outbound_at"] is not None
    assert not thread["awaiting_reply"]
    before = outbound(engine)
    sync(engine, channels)  # the sync knows the channel's id: nothing new
    assert outbound(engine) == before


def test_the_same_key_twice_posts_once(engine, sim, reverb, channels):
    conversation, remote = reverb_thread(engine, reverb, channels)
    first = send(engine, channels, conversation)
    # the second click carries the id the page saw, which is now older than our own reply: no collision
    second = send(engine, channels, conversation, seen=first.message["id"] - 1)
    assert second.retried and second.delivery.outcome == "already_sent"
    assert second.message["id"] == first.message["id"]
    assert seller_posts(sim) == 1 and len(shop_messages(reverb, remote)) == 1


def test_concurrent_double_click_posts_once(engine, sim, reverb, channels):
    conversation, remote = reverb_thread(engine, reverb, channels)
    seen = latest_message_id(engine, conversation)

    async def both():
        def one():
            return cs.send_reply(
                engine, channels.inbox, conversation, body="On its way!", idempotency_key="dbl-click-1",
                last_seen_message_id=seen,
            )  # fmt: skip

        return await asyncio.gather(
            asyncio.to_thread(lambda: asyncio.run(one())), asyncio.to_thread(lambda: asyncio.run(one()))
        )

    results = asyncio.run(both())
    assert sorted(r.delivery.outcome for r in results) == ["already_sent", "sent"]
    assert seller_posts(sim) == 1 and shop_messages(reverb, remote) == ["On its way!"]


def test_crash_between_post_and_commit_is_recovered_without_a_second_post(engine, sim, reverb, channels):
    conversation, remote = reverb_thread(engine, reverb, channels)

    def die(message_id, external_id):
        raise Crash

    with pytest.raises(Crash):
        send(engine, channels, conversation, after_send=die)
    assert seller_posts(sim) == 1 and outbound(engine) == [("key-0001", "pending", False, "shop", "Dana")]

    # the page retries with the same key: the thread is read first, the post is found, nothing is sent
    again = send(engine, channels, conversation)
    assert again.retried and again.delivery.outcome == "recovered"
    assert seller_posts(sim) == 1 and len(shop_messages(reverb, remote)) == 1
    assert outbound(engine) == [("key-0001", "sent", True, "shop", "Dana")]


def test_a_crashed_manual_reply_is_recovered_by_the_auto_reply_pass(engine, sim, reverb, channels):
    conversation, remote = reverb_thread(engine, reverb, channels, "Is the pedal true bypass?")

    def die(message_id, external_id):
        raise Crash

    with pytest.raises(Crash):
        send(engine, channels, conversation, "Yes, it is true bypass.", after_send=die)
    result = reply_channel(
        engine,
        channels.inbox("reverb"),
        settings=MessagingSettings(quiet_hours_start=None, quiet_hours_end=None),
    )
    assert result.counts["recovered"] == 1 and result.counts["sent"] == 0
    assert seller_posts(sim) == 1 and shop_messages(reverb, remote) == ["Yes, it is true bypass."]
    assert outbound(engine) == [("key-0001", "sent", True, "shop", "Dana")]


def test_a_collision_holds_the_reply_until_forced(engine, sim, reverb, channels):
    conversation, remote = reverb_thread(engine, reverb, channels, "Where is my order?")
    seen = latest_message_id(engine, conversation)
    sim.clock.advance(60)
    reverb.customer_message(reverb.conversation(remote).order_number, "Never mind, it just arrived!")
    sync(engine, channels)

    with pytest.raises(cs.Collision) as held:
        send(engine, channels, conversation, "It left on Monday.", seen=seen)
    assert [m["body"] for m in held.value.new_messages] == ["Never mind, it just arrived!"]
    assert seller_posts(sim) == 0 and outbound(engine) == []

    forced = send(engine, channels, conversation, "Glad it arrived!", seen=seen, force=True)
    assert forced.delivery.outcome == "sent" and shop_messages(reverb, remote) == ["Glad it arrived!"]


def test_an_auto_reply_in_flight_is_a_collision_too(engine, sim, reverb, channels):
    conversation, _ = reverb_thread(engine, reverb, channels, "Hello")
    seen = latest_message_id(engine, conversation)
    reply_channel(engine, channels.inbox("reverb"), settings=MessagingSettings(quiet_hours_start=None))
    with pytest.raises(cs.Collision) as held:
        send(engine, channels, conversation, seen=seen)
    assert held.value.new_messages[0]["author_type"] == "system"


def test_a_reply_is_validated_before_anything_is_written(engine, reverb, channels):
    conversation, _ = reverb_thread(engine, reverb, channels)
    with pytest.raises(InvalidChange) as empty:
        send(engine, channels, conversation, "   ")
    assert empty.value.field == "body"
    with pytest.raises(InvalidChange) as short_key:
        send(engine, channels, conversation, key="x")
    assert short_key.value.field == "idempotency_key"
    with pytest.raises(cs.NotFound):
        send(engine, channels, 999999, seen=0)
    assert outbound(engine) == []


def test_a_key_from_another_thread_is_refused(engine, reverb, channels):
    first, _ = reverb_thread(engine, reverb, channels, sku="RV-1")
    second, _ = reverb_thread(engine, reverb, channels, "Can I pick it up?", sku="RV-2", title="MXR Phase 90")
    send(engine, channels, first, key="same-key-123")
    with pytest.raises(InvalidChange) as reused:
        send(engine, channels, second, key="same-key-123")
    assert reused.value.field == "idempotency_key"


def test_statuses_snooze_wake_and_a_new_message_reopens(engine, sim, reverb, channels):
    conversation, remote = reverb_thread(engine, reverb, channels)
    now = datetime.now(UTC)
    resolved = cs.set_status(engine, conversation, "resolved", actor="api_key:test")
    assert resolved["changed"] and resolved["previous"] == "open"
    assert not cs.set_status(engine, conversation, "resolved")["changed"]  # nothing to write

    reverb.customer_message(reverb.conversation(remote).order_number, "One more question")
    assert sync_reopened(engine, channels) == 1
    assert cs.conversation(engine, conversation)["status"] == "open"

    with pytest.raises(InvalidChange):
        cs.set_status(engine, conversation, "snoozed")  # no until
    with pytest.raises(InvalidChange):
        cs.set_status(engine, conversation, "snoozed", until=now - timedelta(minutes=1))
    cs.set_status(engine, conversation, "snoozed", until=now + timedelta(hours=2))
    assert cs.list_conversations(engine, status="snoozed", now=now)["counts"]["snoozed"]["total"] == 1
    woken = cs.list_conversations(engine, status="open", now=now + timedelta(hours=3))
    assert [c["id"] for c in woken["items"]] == [conversation] and woken["items"][0]["snoozed_until"] is None
    with engine.connect() as conn:
        audit = conn.scalars(
            text(
                "SELECT details->>'to' FROM retail.activity_log WHERE action = 'conversation.status' ORDER BY id"
            )
        ).all()
    assert audit == ["resolved", "snoozed"]


def sync_reopened(engine, channels) -> int:
    from retail_pipeline.defs.messages.assets import sync_channel

    return sync_channel(engine, channels.inbox("reverb")).counts["reopened"]


def test_unread_counts_follow_inbound_messages_and_read_marks(engine, sim, reverb, channels):
    conversation, remote = reverb_thread(engine, reverb, channels, "Hi")
    order_number = reverb.conversation(remote).order_number
    for body in ("Are you there?", "Hello?"):
        sim.clock.advance(10)
        reverb.customer_message(order_number, body)
    sync(engine, channels)
    assert cs.conversation(engine, conversation)["unread_count"] == 3
    assert [c["id"] for c in cs.list_conversations(engine, unread=True)["items"]] == [conversation]

    first = cs.conversation(engine, conversation)["messages"][0]["id"]
    assert cs.mark_read(engine, conversation, first) == {
        "id": conversation,
        "unread_count": 2,
        "changed": True,
    }
    assert cs.mark_read(engine, conversation)["unread_count"] == 0
    assert not cs.mark_read(engine, conversation, first)["changed"]  # never backwards
    assert cs.list_conversations(engine, unread=True)["items"] == []


def test_list_filters_search_and_keyset_pages(engine, sim, reverb, channels):
    ids = []
    for n in range(5):
        sim.clock.advance(60)
        ids.append(
            reverb_thread(engine, reverb, channels, f"Question {n}", sku=f"RV-{n}", title=f"Pedal {n}")[0]
        )
    cs.set_status(engine, ids[0], "resolved")
    page = cs.list_conversations(engine, limit=2)
    assert [c["id"] for c in page["items"]] == [ids[4], ids[3]]
    assert page["counts"]["open"]["total"] == 4 and page["counts"]["resolved"]["total"] == 1
    rest = cs.list_conversations(engine, limit=2, cursor=page["next_cursor"])
    last = cs.list_conversations(engine, limit=2, cursor=rest["next_cursor"])
    assert [c["id"] for c in rest["items"] + last["items"]] == [ids[2], ids[1], ids[0]]
    assert last["next_cursor"] is None
    assert [c["id"] for c in cs.list_conversations(engine, status="resolved")["items"]] == [ids[0]]
    assert cs.list_conversations(engine, channel="bestbuy")["items"] == []
    first_item = page["items"][0]
    assert first_item["last_message"] == "Question 4" and first_item["channel_title"] == "Reverb"
    by_order = cs.list_conversations(engine, q=first_item["external_order_id"])["items"]
    assert [c["id"] for c in by_order] == [ids[4]]
    assert cs.list_conversations(engine, q="100%_")["items"] == []
    name = first_item["customer_name"]
    by_name = {c["id"] for c in cs.list_conversations(engine, q=name.split(" ")[0][:3].upper())["items"]}
    assert ids[4] in by_name
    assert [
        c["id"]
        for c in cs.list_conversations(engine, q=f"{name} #{first_item['external_order_id']}")["items"]
    ] == [ids[4]]
    assert [c["id"] for c in cs.list_conversations(engine, q=str(ids[2]))["items"]] == [ids[2]]


def test_a_common_search_walks_the_list_instead(engine, sim, reverb, channels, monkeypatch):
    for n in range(3):
        sim.clock.advance(60)
        reverb_thread(engine, reverb, channels, f"Question {n}", sku=f"RV-{n}", title=f"Pedal {n}")
    few = [c["id"] for c in cs.list_conversations(engine, q="order", limit=2)["items"]]
    monkeypatch.setattr(cs, "FEW_MATCHES", 1)  # 3 matches are now "many"
    page = cs.list_conversations(engine, q="order", limit=2)
    assert [c["id"] for c in page["items"]] == few and page["next_cursor"]
    assert len(cs.list_conversations(engine, q="order", cursor=page["next_cursor"])["items"]) == 1
    with pytest.raises(InvalidChange):
        cs.list_conversations(engine, cursor="garbage")


def test_the_thread_shows_its_order(engine, reverb, channels):
    conversation, _ = reverb_thread(engine, reverb, channels, title="MXR Phase 90", price="129.00")
    thread = cs.conversation(engine, conversation)
    order = thread["order"]
    pin = tracking_pin(order["external_order_id"])
    assert order["status"] == "shipped" and order["tracking_pin"] == pin
    assert order["carrier_name"] == "Canada Post" and pin in order["tracking_url"]
    assert [(line["title"], line["quantity"]) for line in order["lines"]] == [("MXR Phase 90", 1)]
    assert [m["body"] for m in thread["messages"]] == ["Where is my order?"]
    assert thread["latest_message_id"] == thread["messages"][-1]["id"]


def test_saved_replies_are_seeded_filled_and_added(engine, reverb, channels):
    conversation, remote = reverb_thread(engine, reverb, channels)
    seeded = cs.saved_replies(engine)
    assert len(seeded) >= 4 and all("{name}" in r["body"] or "{order}" in r["body"] for r in seeded)
    filled = {r["title"]: r["filled"] for r in cs.saved_replies(engine, conversation)}
    buyer_first_name = reverb.conversation(remote).buyer_name.split(" ")[0]
    assert filled["Tracking details"].startswith(f"Hello {buyer_first_name},")
    assert str(reverb.conversation(remote).order_number) in filled["Tracking details"]
    added = cs.add_saved_reply(engine, "Price match", "We cannot match that price, sorry.", actor="api_key:x")
    assert added["title"] == "Price match"
    with pytest.raises(cs.DuplicateTitle):
        cs.add_saved_reply(engine, "Price match", "again")

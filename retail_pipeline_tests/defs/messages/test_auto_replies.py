"""auto_replies: once per trigger, never to ourselves, quiet hours, crash between send and commit."""

from __future__ import annotations

from datetime import time

import dagster as dg
import pytest
from sqlalchemy import text

from retail_pipeline.defs.messages.assets import auto_replies, customer_messages, reply_channel, sync_channel
from retail_pipeline.defs.messages.schedules import customer_messages_every_10_minutes
from retail_pipeline.defs.messages.settings import MessagingSettings
from retail_pipeline.defs.resources import ChannelsResource, DatabaseResource
from retail_pipeline_tests.channels.rest_support import QUICK_RETRIES
from retail_pipeline_tests.seeds.simulated_orders import reverb_order

from .conftest import (
    NIGHT,
    NOON,
    Crash,
    bestbuy_order,
    local_order,
    reverb_posts,
    seller_messages,
    shop_replies,
    snapshot,
)


def outbound(engine) -> list[tuple]:
    with engine.connect() as conn:
        return [
            tuple(r)
            for r in conn.execute(
                text(
                    """SELECT auto_reply_key, status, external_message_id IS NOT NULL, author_type
                         FROM retail.messages WHERE direction = 'outbound' ORDER BY id"""
                )
            )
        ]


def cycle(engine, source, settings, now=NOON, channel="reverb", **kwargs):
    """A sync then a reply pass, each with its own client (as two steps of a run)."""

    def inbox():
        return source.inbox(channel) if isinstance(source, ChannelsResource) else source

    sync_channel(engine, inbox())
    return reply_channel(engine, inbox(), settings=settings, now=lambda: now, **kwargs)


def test_tracking_reply_sent_once_even_if_run_twice(engine, sim, reverb, inbox_resource, settings):
    order = reverb_order(reverb)
    local_order(engine, "reverb", str(order.order_number), pin="7023210039414604")
    conv = reverb.customer_message(order.order_number, "Where is my order?")

    first = cycle(engine, inbox_resource, settings)
    assert first.counts["sent"] == 1 and first.counts["decided"] == 1
    [reply] = seller_messages(reverb, conv.id)
    assert "7023210039414604" in reply and "Canada Post" in reply
    assert outbound(engine) == [("tracking:7023210039414604", "sent", True, "system")]

    second = cycle(engine, inbox_resource, settings)
    assert second.counts["sent"] == 0 and second.counts["candidates"] == 0
    assert reverb_posts(sim) == 1 and len(seller_messages(reverb, conv.id)) == 1
    with engine.connect() as conn:
        log = [
            tuple(r)
            for r in conn.execute(text("SELECT action, outcome FROM retail.activity_log ORDER BY id"))
        ]
        times = conn.execute(text("SELECT last_inbound_at, last_outbound_at FROM retail.conversations")).one()
    assert log == [("message.auto_reply", "intent"), ("message.auto_reply", "succeeded")]
    assert times.last_outbound_at is not None  # a tracking answer counts as answered


def test_the_unique_key_makes_a_second_reply_impossible(engine, reverb, inbox_resource, settings):
    conv = reverb.customer_message(reverb_order(reverb).order_number, "Hello")
    cycle(engine, inbox_resource, settings)
    with engine.begin() as conn:
        conversation_id = conn.scalar(text("SELECT id FROM retail.conversations"))
        with (
            pytest.raises(Exception, match="messages_conversation_id_auto_reply_key_key"),
            conn.begin_nested(),
        ):
            conn.execute(
                text(
                    """INSERT INTO retail.messages (conversation_id, direction, author_type, body, status, auto_reply_key)
                           VALUES (:c, 'outbound', 'system', 'again', 'pending', 'ack:new_thread')"""
                ),
                {"c": conversation_id},
            )
    assert len(seller_messages(reverb, conv.id)) == 1


def test_never_replies_to_our_own_message(engine, sim, reverb, inbox_resource, settings):
    conv = reverb.customer_message(reverb_order(reverb).order_number, "Where is my order?")
    sim.clock.advance(0.1)
    reverb.seller_message(conv.id, "It left this morning.")  # a person answered on reverb.com
    result = cycle(engine, inbox_resource, settings)
    assert result.counts["candidates"] == 0 and reverb_posts(sim) == 0
    assert outbound(engine) == [(None, "sent", True, "shop")]


def test_resolved_conversation_gets_nothing(engine, sim, reverb, inbox_resource, settings):
    reverb.customer_message(reverb_order(reverb).order_number, "Hello")
    sync_channel(engine, inbox_resource.inbox("reverb"))
    with engine.begin() as conn:
        conn.execute(text("UPDATE retail.conversations SET status = 'resolved'"))
    result = reply_channel(engine, inbox_resource.inbox("reverb"), settings=settings, now=lambda: NOON)
    assert result.counts["candidates"] == 0 and reverb_posts(sim) == 0


def test_quiet_hours_notice_then_nothing_more_that_night(engine, sim, reverb, inbox_resource, settings):
    order = reverb_order(reverb)
    local_order(engine, "reverb", str(order.order_number), pin="PIN1")
    conv = reverb.customer_message(order.order_number, "Where is my order?")
    cycle(engine, inbox_resource, settings, now=NIGHT)
    [notice] = seller_messages(reverb, conv.id)
    assert "away until 08:00" in notice
    assert outbound(engine) == [("out_of_hours:2025-06-02", "sent", True, "system")]
    with engine.connect() as conn:  # a holding reply: the thread still waits for a person
        assert conn.scalar(text("SELECT last_outbound_at FROM retail.conversations")) is None

    sim.clock.advance(0.5)
    reverb.customer_message(order.order_number, "Hello??")
    cycle(engine, inbox_resource, settings, now=NIGHT)
    assert len(seller_messages(reverb, conv.id)) == 1  # one notice a night


def test_quiet_hours_hold_sends_in_the_morning(engine, sim, reverb, inbox_resource):
    hold = MessagingSettings(quiet_hours_start=time(21), quiet_hours_end=time(8), quiet_hours_mode="hold")
    order = reverb_order(reverb)
    local_order(engine, "reverb", str(order.order_number), pin="PIN1")
    conv = reverb.customer_message(order.order_number, "Has it shipped yet?")
    assert cycle(engine, inbox_resource, hold, now=NIGHT).counts["decided"] == 0
    assert seller_messages(reverb, conv.id) == []
    cycle(engine, inbox_resource, hold, now=NIGHT.replace(hour=14))
    assert outbound(engine) == [("tracking:PIN1", "sent", True, "system")]


def test_crash_between_send_and_commit_never_sends_twice(engine, sim, reverb, inbox_resource, settings):
    conv = reverb.customer_message(reverb_order(reverb).order_number, "Is it still available?")

    def die(message_id, external_id):
        raise Crash

    with pytest.raises(Crash):
        cycle(engine, inbox_resource, settings, after_send=die)
    assert reverb_posts(sim) == 1 and outbound(engine) == [("ack:new_thread", "pending", False, "system")]

    # the re-run looks in the thread first, finds the reply it posted, and marks it sent
    again = reply_channel(engine, inbox_resource.inbox("reverb"), settings=settings, now=lambda: NOON)
    assert again.counts["recovered"] == 1 and again.counts["sent"] == 0
    assert reverb_posts(sim) == 1 and len(seller_messages(reverb, conv.id)) == 1
    assert outbound(engine) == [("ack:new_thread", "sent", True, "system")]
    before = snapshot(engine)
    sync_channel(engine, inbox_resource.inbox("reverb"))  # the sync sees it as known: nothing new
    assert snapshot(engine) == before


def test_crash_then_sync_adopts_the_reply(engine, sim, reverb, inbox_resource, settings):
    reverb.customer_message(reverb_order(reverb).order_number, "Is it still available?")

    def die(message_id, external_id):
        raise Crash

    with pytest.raises(Crash):
        cycle(engine, inbox_resource, settings, after_send=die)
    sync = sync_channel(engine, inbox_resource.inbox("reverb"))
    assert sync.counts["replies_adopted"] == 1 and sync.counts["messages_new"] == 0
    assert outbound(engine) == [("ack:new_thread", "sent", True, "system")]
    assert (
        reply_channel(engine, inbox_resource.inbox("reverb"), settings=settings).counts["pending_found"] == 0
    )
    assert reverb_posts(sim) == 1


def test_pending_row_never_posted_is_sent_on_retry(engine, sim, reverb, inbox_resource, settings):
    """Crash after the intent commit, before the post: the lookup finds nothing, so it is sent now."""
    conv = reverb.customer_message(reverb_order(reverb).order_number, "Hello")
    inbox = inbox_resource.inbox("reverb")

    async def never(*args):
        raise Crash

    inbox.reply = never
    sync_channel(engine, inbox_resource.inbox("reverb"))
    with pytest.raises(Crash):
        reply_channel(engine, inbox, settings=settings, now=lambda: NOON)
    assert reverb_posts(sim) == 0 and outbound(engine) == [("ack:new_thread", "pending", False, "system")]
    again = reply_channel(engine, inbox_resource.inbox("reverb"), settings=settings, now=lambda: NOON)
    assert again.counts["sent"] == 1 and len(seller_messages(reverb, conv.id)) == 1


def test_a_refused_reply_is_failed_with_an_ops_task(engine, reverb, inbox_resource, settings):
    conv = reverb.customer_message(reverb_order(reverb).order_number, "Hello")
    sync_channel(engine, inbox_resource.inbox("reverb"))
    del reverb.conversations[conv.id]  # gone on Reverb: 404
    result = reply_channel(engine, inbox_resource.inbox("reverb"), settings=settings, now=lambda: NOON)
    assert result.counts["failed"] == 1
    assert outbound(engine) == [("ack:new_thread", "failed", False, "system")]
    with engine.connect() as conn:
        task = conn.execute(text("SELECT kind, channel, status FROM retail.ops_tasks")).one()
    assert tuple(task) == ("message_waiting", "reverb", "open")


def test_both_channels_reply_and_recover(
    engine, sim, reverb, inbox_resource, settings, mirakl, lost_mirakl_answers
):
    order_id = bestbuy_order(mirakl)
    local_order(engine, "bestbuy", order_id, pin="BBPIN9")
    mirakl.customer_message(order_id, "Where is my order?")
    reverb.customer_message(reverb_order(reverb).order_number, "I want a refund")
    lost_mirakl_answers.count = 1  # posted, but the answer never came back

    first = cycle(engine, inbox_resource, settings, channel="bestbuy")
    assert first.counts["retry_later"] == 1 and shop_replies(mirakl) == 1
    cycle(engine, inbox_resource, settings)
    second = cycle(
        engine, inbox_resource, settings, channel="bestbuy"
    )  # the sync adopts it: nothing posted again
    assert shop_replies(mirakl) == 1 and second.counts["sent"] == 0
    assert outbound(engine) == [
        ("tracking:BBPIN9", "sent", True, "system"),
        ("returns:policy", "sent", True, "system"),
    ]


def test_recovery_lookup_on_bestbuy_without_sync(
    engine, settings, mirakl, inbox_resource, lost_mirakl_answers
):
    mirakl.customer_message(bestbuy_order(mirakl), "Hello")
    lost_mirakl_answers.count = 1
    cycle(engine, inbox_resource, settings, channel="bestbuy")
    again = reply_channel(
        engine, inbox_resource.inbox("bestbuy"), settings=settings, now=lambda: NOON
    )  # no sync between
    assert again.counts["recovered"] == 1 and shop_replies(mirakl) == 1


def test_through_materialize_and_the_schedule(engine, db_url, sim, reverb, simulator_url, monkeypatch):
    monkeypatch.setenv("MESSAGES_QUIET_HOURS_START", "00:00")
    monkeypatch.setenv("MESSAGES_QUIET_HOURS_END", "00:00")  # no quiet hours: the wall clock decides nothing
    conv = reverb.customer_message(reverb_order(reverb).order_number, "Hello")
    resources = {
        "db": DatabaseResource(url=db_url),
        "channels": ChannelsResource(),
    }  # the simulators on loopback
    for _ in range(2):
        result = dg.materialize(
            [customer_messages, auto_replies], partition_key="reverb", resources=resources
        )
        assert result.success
    assert len(seller_messages(reverb, conv.id)) == 1
    metadata = result.asset_materializations_for_node("customer_messages")[0].metadata
    assert metadata["messages_new"].value == 0 and metadata["cursor"].value != "start"

    monkeypatch.setenv("MESSAGES_AUTO_REPLIES_ENABLED", "false")
    reverb.customer_message("RV-1", "Another question")
    result = dg.materialize([customer_messages, auto_replies], partition_key="reverb", resources=resources)
    assert result.asset_materializations_for_node("auto_replies")[0].metadata["enabled"].value is False

    context = dg.build_schedule_context(scheduled_execution_time=NOON)
    requests = customer_messages_every_10_minutes(context)
    assert "reverb" in [r.partition_key for r in requests]
    assert all(r.run_key.endswith(NOON.isoformat()) for r in requests)


def test_bestbuy_through_the_real_mirakl_client_and_simulator(engine, sim, inbox_resource, settings):
    mirakl = sim.backend("mirakl")
    mirakl.add_offer("BB-1", 2, "59.00", "Audio cable")
    order = mirakl.buy("BB-1", 1)
    local_order(engine, "bestbuy", order.order_id, pin="7023210039414699")
    thread = mirakl.customer_message(order.order_id, "Where is my order?")

    def bestbuy_cycle():
        sync_channel(engine, inbox_resource.inbox("bestbuy"))
        return reply_channel(engine, inbox_resource.inbox("bestbuy"), settings=settings, now=lambda: NOON)

    first = bestbuy_cycle()
    assert first.counts["sent"] == 1
    replies = [m for m in mirakl.thread(thread.thread_id).messages if m.sender_type == "SHOP_USER"]
    assert len(replies) == 1 and "7023210039414699" in replies[0].body
    assert [r["type"] for r in replies[0].to] == ["CUSTOMER"]
    assert bestbuy_cycle().counts["sent"] == 0
    posts = [e for e in sim.journal.entries() if e.system == "mirakl" and e.method == "POST"]
    assert len(posts) == 1
    with engine.connect() as conn:
        authors = [r[0] for r in conn.execute(text("SELECT author_type FROM retail.messages ORDER BY id"))]
    assert authors == ["customer", "system"]  # our auto-reply, adopted by the second sync


def test_a_kaufland_ticket_is_synced_and_answered_with_tracking_once(engine, sim, transport, settings):
    """Kaufland's tickets through the same sync and replier (its inbox adapter over the signed client)."""
    from retail_pipeline.channels.kaufland import SIMULATOR_CLIENT_KEY, SIMULATOR_SECRET_KEY, KauflandSettings

    kaufland = sim.backend("kaufland")
    unit = kaufland.create_unit(
        "de",
        {"ean": "4548736132580", "id_offer": "KL-1", "listing_price": 1999, "handling_time": 1, "amount": 2},
    )
    unit.status = "AVAILABLE"  # its product data is ready (the client's own tests make it so)
    bought = kaufland.buy("KL-1", 1)
    local_order(engine, "kaufland", bought.order_id, pin="7023210039414604")
    ticket = kaufland.customer_message(bought.order_id, "Where is my order?")
    resource = ChannelsResource().with_transport(
        transport,
        kaufland={
            "settings": KauflandSettings(
                _env_file=None,
                base_url="http://sim/kaufland/v2",
                client_key=SIMULATOR_CLIENT_KEY,
                secret_key=SIMULATOR_SECRET_KEY,
            ),
            "policy": QUICK_RETRIES,
        },
    )

    first = cycle(engine, resource, settings, channel="kaufland")
    assert first.counts["sent"] == 1
    [reply] = [m.text for m in ticket.messages if m.role == "seller"]
    assert "7023210039414604" in reply
    second = cycle(engine, resource, settings, channel="kaufland")
    assert second.counts["sent"] == 0 and [m.role for m in ticket.messages] == ["buyer", "seller"]
    with engine.connect() as conn:
        linked = conn.execute(
            text(
                "SELECT count(*) FROM retail.conversations WHERE channel = 'kaufland' AND order_id IS NOT NULL"
            )
        ).scalar()
    assert linked == 1  # the ticket is about the order we hold

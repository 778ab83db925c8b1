"""customer_messages: threads into customers / conversations / messages, incrementally, idempotently."""

from __future__ import annotations

from sqlalchemy import text

from retail_pipeline.defs.messages.assets import sync_channel
from retail_pipeline_tests.seeds.simulated_orders import reverb_order

from .conftest import bestbuy_order, local_order, snapshot


def test_reverb_sync_links_orders_and_a_second_run_writes_nothing(engine, sim, reverb, inbox_resource):
    order = reverb_order(reverb)
    order_id = local_order(engine, "reverb", str(order.order_number))
    about_listing = reverb.customer_message("RV-1", "Is it true bypass?")
    sim.clock.advance(1)
    about_order = reverb.customer_message(order.order_number, "Where is my order?")
    sim.clock.advance(0.1)
    reverb.seller_message(about_order.id, "Checking now.")  # answered on reverb.com by hand

    first = sync_channel(engine, inbox_resource.inbox("reverb"))
    assert first.counts | {} == {
        "threads_seen": 2, "customers_written": 2, "conversations_new": 2, "conversations_updated": 0,
        "messages_new": 3, "replies_adopted": 0, "reopened": 0, "threads_failed": 0,
    }  # fmt: skip
    with engine.connect() as conn:
        rows = {
            r.external_thread_id: r
            for r in conn.execute(
                text(
                    """SELECT c.*, cu.external_customer_id, cu.name FROM retail.conversations c
                       JOIN retail.customers cu ON cu.id = c.customer_id"""
                )
            )
        }
        messages = list(
            conn.execute(text("SELECT direction, author_type, status, body FROM retail.messages ORDER BY id"))
        )
    linked = rows[str(about_order.id)]
    assert linked.order_id == order_id and linked.subject == f"Order #{order.order_number}"
    assert linked.external_customer_id == str(order.buyer_id) and linked.name == order.buyer.name
    assert linked.last_outbound_at > linked.last_inbound_at  # the person's reply answered it
    assert (
        rows[str(about_listing.id)].order_id is None and rows[str(about_listing.id)].last_outbound_at is None
    )
    assert sorted(tuple(m) for m in messages) == [
        ("inbound", "customer", "received", "Is it true bypass?"),
        ("inbound", "customer", "received", "Where is my order?"),
        ("outbound", "shop", "sent", "Checking now."),
    ]

    before = snapshot(engine)
    second = sync_channel(engine, inbox_resource.inbox("reverb"))
    assert second.cursor is not None
    assert sum(v for k, v in second.counts.items() if k != "threads_seen") == 0
    assert snapshot(engine) == before  # not one row written, updated_at included

    sim.clock.advance(1)
    reverb.customer_message(order.order_number, "Any news?")
    third = sync_channel(engine, inbox_resource.inbox("reverb"))
    # only the thread active since the cursor (the last inbound message, less 5 minutes) is read
    assert third.counts["messages_new"] == 1 and third.counts["threads_seen"] == 1
    with engine.connect() as conn:
        waiting = conn.execute(
            text("SELECT last_inbound_at > last_outbound_at FROM retail.conversations WHERE id = :id"),
            {"id": linked.id},
        ).scalar()
    assert waiting  # the customer has the last word again


def test_an_order_synced_later_links_when_the_thread_is_seen_again(engine, sim, reverb, inbox_resource):
    order = reverb_order(reverb)
    reverb.customer_message(order.order_number, "Hi")
    sync_channel(engine, inbox_resource.inbox("reverb"))
    order_id = local_order(engine, "reverb", str(order.order_number))
    sim.clock.advance(1)
    reverb.customer_message(order.order_number, "Hello?")
    result = sync_channel(engine, inbox_resource.inbox("reverb"))
    assert result.counts["conversations_updated"] == 1
    with engine.connect() as conn:
        assert conn.scalar(text("SELECT order_id FROM retail.conversations")) == order_id


def test_bestbuy_threads_sync_with_their_authors(engine, mirakl, inbox_resource):
    external_id = bestbuy_order(mirakl)
    order_id = local_order(engine, "bestbuy", external_id)
    thread = mirakl.customer_message(external_id, "Where is my order?", topic=f"About order {external_id}")
    mirakl.operator_message(thread.thread_id, "Please answer the customer.")
    first = sync_channel(engine, inbox_resource.inbox("bestbuy"))
    assert first.counts["messages_new"] == 2 and first.counts["conversations_new"] == 1
    with engine.connect() as conn:
        conv = conn.execute(text("SELECT * FROM retail.conversations")).one()
        authors = list(conn.execute(text("SELECT direction, author_type FROM retail.messages ORDER BY id")))
    assert conv.order_id == order_id and conv.subject == f"About order {external_id}"
    assert [tuple(a) for a in authors] == [("inbound", "customer"), ("inbound", "operator")]
    before = snapshot(engine)
    assert sync_channel(engine, inbox_resource.inbox("bestbuy")).counts["messages_new"] == 0
    assert snapshot(engine) == before


def test_one_bad_thread_is_recorded_and_the_rest_sync(engine, mirakl, inbox_resource):
    mirakl.customer_message(bestbuy_order(mirakl, "BB-1"), "fine")
    bad = mirakl.customer_message(bestbuy_order(mirakl, "BB-2"), "\x00 NUL is refused by PostgreSQL text")
    result = sync_channel(engine, inbox_resource.inbox("bestbuy"), run_id="r1")
    assert result.counts["threads_failed"] == 1 and result.counts["messages_new"] == 1
    with engine.connect() as conn:
        logged = conn.execute(
            text("SELECT action, outcome, entity_id FROM retail.activity_log WHERE run_id = 'r1'")
        ).one()
    assert tuple(logged) == ("messages.sync", "failed", bad.thread_id)

"""Buyer threads for the customer-service tests: a real Reverb order and conversation on the simulator,
our copy of the order (lines, status, shipment), synced into retail.conversations / messages by the
same sync the pipeline runs."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import Engine, text

from retail_pipeline.defs.messages.assets import sync_channel
from retail_pipeline_tests.seeds.ops import add_order, add_shipment

SHIPPED = ("pending_acceptance", "accepted", "label_created", "shipped")
PLACED_BEFORE = timedelta(days=3)  # buyers write a few days after ordering
SHIPPED_DAY_AFTER = text(
    """UPDATE retail.shipments s SET shipped_at = o.placed_at + interval '1 day'
         FROM retail.orders o WHERE o.id = s.order_id AND s.order_id = :id"""
)


def reverb_thread(
    engine: Engine,
    reverb,
    channels,
    body: str = "Where is my order?",
    *,
    sku: str = "RV-1",
    title: str = "Boss DS-1 Distortion pedal",
    price: str = "89.00",
    statuses: tuple[str, ...] = SHIPPED,
    shipped: bool = True,
) -> tuple[int, int]:
    """A buyer's order of `title` (shipped with Canada Post, PIN `tracking_pin(order number)`) and their
    message about it, synced; (our conversation id, Reverb's)."""
    reverb.create_foreign_listing(title, sku=sku, price=price, quantity=3)
    order = reverb.buy(sku)
    with engine.begin() as conn:
        order_id = add_order(
            conn, str(order.order_number), statuses, channel="reverb", currency="CAD", lines=[(sku, 1, price)],
            shipping_address=address(order.buyer), placed_at=reverb.clock.now() - PLACED_BEFORE,
        )  # fmt: skip
        conn.execute(
            text("UPDATE retail.order_lines SET title = :t WHERE order_id = :id"),
            {"t": title, "id": order_id},
        )
        if shipped:
            add_shipment(
                conn,
                order_id,
                "shipped",
                tracking_pin=tracking_pin(order.order_number),
                label_path=f"labels/{order.order_number}.pdf",
            )
            conn.execute(SHIPPED_DAY_AFTER, {"id": order_id})
    remote = reverb.customer_message(order.order_number, body)
    sync(engine, channels)
    return conversation_id(engine, remote.id), remote.id


def address(buyer) -> dict[str, str]:
    return {
        "name": buyer.name,
        "city": buyer.city,
        "state": buyer.province_code,
        "country_iso_code": buyer.country_code,
    }


def bestbuy_thread(
    engine: Engine,
    mirakl,
    channels,
    body: str,
    *,
    sku: str,
    title: str,
    price: str,
    topic: str,
    shipped: bool = True,
) -> int:
    """A Best Buy customer's order of our offer and their message about it, synced; our conversation id."""
    mirakl.add_offer(sku, 5, price, title)
    order = mirakl.buy(sku, 1)
    statuses = SHIPPED if shipped else SHIPPED[:2]
    with engine.begin() as conn:
        order_id = add_order(
            conn, order.order_id, statuses, channel="bestbuy", currency="CAD", lines=[(sku, 1, price)],
            shipping_address=address(order.buyer), placed_at=mirakl.clock.now() - PLACED_BEFORE,
        )  # fmt: skip
        conn.execute(
            text("UPDATE retail.order_lines SET title = :t WHERE order_id = :id"),
            {"t": title, "id": order_id},
        )
        if shipped:
            add_shipment(
                conn,
                order_id,
                "shipped",
                tracking_pin=f"7023{order_id:012d}",
                label_path=f"labels/{order_id}.pdf",
            )
            conn.execute(SHIPPED_DAY_AFTER, {"id": order_id})
    thread = mirakl.customer_message(order.order_id, body, topic)
    sync_channel(engine, channels.inbox("bestbuy"))
    with engine.connect() as conn:
        return conn.scalar(
            text("SELECT id FROM retail.conversations WHERE channel = 'bestbuy' AND external_thread_id = :t"),
            {"t": str(thread.thread_id)},
        )


def tracking_pin(order_number: int) -> str:
    return f"7023{int(order_number):012d}"


def sync(engine: Engine, channels) -> None:
    sync_channel(engine, channels.inbox("reverb"))


def conversation_id(engine: Engine, remote_id: int) -> int:
    with engine.connect() as conn:
        return conn.scalar(
            text("SELECT id FROM retail.conversations WHERE channel = 'reverb' AND external_thread_id = :t"),
            {"t": str(remote_id)},
        )


def seller_posts(sim) -> int:
    """Replies our client posted to Reverb (the simulator's journal)."""
    return sum(
        1
        for e in sim.journal.entries("reverb")
        if e.method == "POST" and e.path.endswith("/messages") and e.status == 201
    )


def latest_message_id(engine: Engine, conversation: int) -> int:
    with engine.connect() as conn:
        return conn.scalar(
            text("SELECT coalesce(max(id), 0) FROM retail.messages WHERE conversation_id = :c"),
            {"c": conversation},
        )

"""Normalised orders into retail.customers / orders / order_lines / order_status_history, idempotently,
and what a sale does to our stock. The one write path for polled and webhook orders alike.

Per order, one transaction (one bad order is recorded and skipped, never fails the batch):
1. Customer and order upserted on their natural keys; a row is rewritten only when a value changed,
   so a second pass over the same orders writes nothing (the counts say so).
2. Lines upserted on (order, external line id), linked to our listing by (channel, sku).
3. Status: the order row is locked, then the first history row is written only when the order has none;
   later, a move the channel made by itself (payment arrived, cancelled, refunded) is appended only when
   the state machine allows it (`channel_transition`). Two writers of one order (poll and webhook) queue
   on the lock, so neither duplicates a status row.
4. Stock, when a line is first inserted (so exactly once per sold line): our stock
   (`products.stock_quantity`, falling back to the supplier's count as the listing code does) goes down
   by the quantity; the selling channel's own listing loses those units (it sold them); every listing of
   the product gets at most the stock left, or, at zero, is marked to be withdrawn. `stock.push_stock`
   then carries the marks out on the channels.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Connection, Engine, text

from retail_pipeline.db.activity import log_activity
from retail_pipeline.db.ops_tasks import open_task
from retail_pipeline.db.order_workflow import APPEND_STATUS, LOCK_ORDER
from retail_pipeline.domain.order_sources import channel_transition
from retail_pipeline.domain.orders import ChannelOrder

PREVIEW = 5

UPSERT_CUSTOMER = text(
    """
    INSERT INTO retail.customers AS t (channel, external_customer_id, name, email, phone, locale)
    VALUES (:channel, :external_id, :name, :email, :phone, :locale)
    ON CONFLICT (channel, external_customer_id) DO UPDATE
       SET name = coalesce(EXCLUDED.name, t.name), email = coalesce(EXCLUDED.email, t.email),
           phone = coalesce(EXCLUDED.phone, t.phone), locale = coalesce(EXCLUDED.locale, t.locale)
     WHERE (coalesce(EXCLUDED.name, t.name), coalesce(EXCLUDED.email, t.email),
            coalesce(EXCLUDED.phone, t.phone), coalesce(EXCLUDED.locale, t.locale))
           IS DISTINCT FROM (t.name, t.email, t.phone, t.locale)
    RETURNING id, (xmax = 0) AS inserted
    """
)
CUSTOMER_ID = text(
    "SELECT id FROM retail.customers WHERE channel = :channel AND external_customer_id = :external_id"
)

# `raw` is refreshed with any real change but does not count as one: it carries fields (view counts,
# the listing's remaining quantity) that change without the order changing.
UPSERT_ORDER = text(
    """
    INSERT INTO retail.orders AS o
           (channel, external_order_id, customer_id, remote_state, currency, subtotal, shipping_total,
            tax_total, total, shipping_address, shipping_deadline, raw, placed_at)
    VALUES (:channel, :external_id, :customer_id, :remote_state, :currency, :subtotal, :shipping_total,
            :tax_total, :total, CAST(:address AS jsonb), :deadline, CAST(:raw AS jsonb), :placed_at)
    ON CONFLICT (channel, external_order_id) DO UPDATE
       SET customer_id = coalesce(EXCLUDED.customer_id, o.customer_id), remote_state = EXCLUDED.remote_state,
           currency = EXCLUDED.currency, subtotal = EXCLUDED.subtotal, shipping_total = EXCLUDED.shipping_total,
           tax_total = EXCLUDED.tax_total, total = EXCLUDED.total,
           shipping_address = coalesce(EXCLUDED.shipping_address, o.shipping_address),
           shipping_deadline = coalesce(EXCLUDED.shipping_deadline, o.shipping_deadline),
           raw = EXCLUDED.raw, placed_at = EXCLUDED.placed_at
     WHERE (coalesce(EXCLUDED.customer_id, o.customer_id), EXCLUDED.remote_state, EXCLUDED.currency,
            EXCLUDED.subtotal, EXCLUDED.shipping_total, EXCLUDED.tax_total, EXCLUDED.total,
            coalesce(EXCLUDED.shipping_address, o.shipping_address),
            coalesce(EXCLUDED.shipping_deadline, o.shipping_deadline), EXCLUDED.placed_at)
           IS DISTINCT FROM (o.customer_id, o.remote_state, o.currency, o.subtotal, o.shipping_total,
            o.tax_total, o.total, o.shipping_address, o.shipping_deadline, o.placed_at)
    RETURNING id, (xmax = 0) AS inserted
    """
)
ORDER_ID = text("SELECT id FROM retail.orders WHERE channel = :channel AND external_order_id = :external_id")

UPSERT_LINE = text(
    """
    INSERT INTO retail.order_lines AS l
           (order_id, external_line_id, channel_listing_id, sku, title, quantity, unit_price, remote_state)
    VALUES (:order_id, :external_id,
            (SELECT id FROM retail.channel_listings WHERE channel = :channel AND sku = :sku),
            :sku, :title, :quantity, :unit_price, :remote_state)
    ON CONFLICT (order_id, external_line_id) DO UPDATE
       SET channel_listing_id = coalesce(l.channel_listing_id, EXCLUDED.channel_listing_id),
           sku = EXCLUDED.sku, title = EXCLUDED.title, quantity = EXCLUDED.quantity,
           unit_price = EXCLUDED.unit_price, remote_state = EXCLUDED.remote_state
     WHERE (coalesce(l.channel_listing_id, EXCLUDED.channel_listing_id), EXCLUDED.sku, EXCLUDED.title,
            EXCLUDED.quantity, EXCLUDED.unit_price, EXCLUDED.remote_state)
           IS DISTINCT FROM (l.channel_listing_id, l.sku, l.title, l.quantity, l.unit_price, l.remote_state)
    RETURNING id, (xmax = 0) AS inserted, channel_listing_id
    """
)


# The product a sold line is ours: through its listing, else our SKU.
LINE_PRODUCT = text(
    """
    SELECT coalesce((SELECT product_id FROM retail.channel_listings WHERE id = :listing_id),
                    (SELECT id FROM retail.products WHERE sku = :sku)) AS product_id
    """
)
DECREMENT_STOCK = text(
    """
    UPDATE retail.products p
       SET stock_quantity = greatest(coalesce(p.stock_quantity, sp.stock_quantity, 1) - :quantity, 0)
      FROM retail.supplier_products sp
     WHERE sp.id = p.supplier_product_id AND p.id = :product_id
    RETURNING coalesce(p.stock_quantity, 0) AS stock
    """
)
# The selling channel sold these units itself; a listing left with none is closed there.
SOLD_ON_CHANNEL = text(
    """
    UPDATE retail.channel_listings
       SET actual_quantity = greatest(coalesce(actual_quantity, desired_quantity) - :quantity, 0),
           actual_state = CASE WHEN coalesce(actual_quantity, desired_quantity) - :quantity <= 0
                               THEN 'sold' ELSE actual_state END
     WHERE product_id = :product_id AND channel = :channel AND actual_state = 'live'
    """
)
# What every channel may still sell: the stock left, or nothing (withdraw; it stays withdrawn).
LIMIT_LISTINGS = text(
    """
    UPDATE retail.channel_listings
       SET desired_quantity = least(desired_quantity, :stock)
     WHERE product_id = :product_id AND desired_state = 'live' AND :stock > 0
       AND desired_quantity > :stock
    """
)
WITHDRAW_LISTINGS = text(
    """
    UPDATE retail.channel_listings
       SET desired_state = 'withdrawn', withdraw_reason = :reason
     WHERE product_id = :product_id AND desired_state = 'live' AND :stock = 0
    """
)

COUNTS = (
    "customers_inserted", "customers_updated", "orders_inserted", "orders_updated", "lines_inserted",
    "lines_updated", "status_rows", "stock_decrements", "listings_limited", "listings_to_withdraw",
)  # fmt: skip


@dataclass
class UpsertResult:
    counts: dict[str, int] = field(default_factory=lambda: dict.fromkeys(COUNTS, 0))
    failed: list[dict[str, Any]] = field(default_factory=list)  # {external_order_id, error}
    new_orders: list[str] = field(default_factory=list)
    sold_products: set[int] = field(default_factory=set)

    def merge(self, other: UpsertResult) -> None:
        for name, number in other.counts.items():
            self.counts[name] = self.counts.get(name, 0) + number
        self.failed += other.failed
        self.new_orders += other.new_orders
        self.sold_products |= other.sold_products

    @property
    def rows_written(self) -> int:
        """Rows inserted or changed in the order tables and the listings (the idempotency measure)."""
        return sum(self.counts.values())

    def metadata(self) -> dict[str, Any]:
        return {
            **self.counts,
            "rows_written": self.rows_written,
            "failed": len(self.failed),
            "new_orders_preview": self.new_orders[:PREVIEW],
            "failed_preview": self.failed[:PREVIEW],
        }


def _json(value: Any) -> str:
    return json.dumps(value, default=str)


def _customer_id(conn: Connection, order: ChannelOrder, result: UpsertResult) -> int | None:
    customer = order.customer
    if customer is None:
        return None
    key = {"channel": order.channel, "external_id": customer.external_customer_id}
    row = conn.execute(
        UPSERT_CUSTOMER,
        {**key, "name": customer.name, "email": customer.email, "phone": customer.phone,
         "locale": customer.locale},
    ).first()  # fmt: skip
    if row is None:
        return conn.execute(CUSTOMER_ID, key).scalar_one()
    result.counts["customers_inserted" if row.inserted else "customers_updated"] += 1
    return row.id


def sell_line(
    conn: Connection, order: ChannelOrder, line, listing_id: int | None, result: UpsertResult, run_id
) -> None:
    """Takes a sold line's units off our stock; at zero every other channel's listing is withdrawn."""
    product_id = conn.execute(LINE_PRODUCT, {"listing_id": listing_id, "sku": line.sku}).scalar()
    if product_id is None:
        return  # not one of our products (a listing made outside the pipeline)
    sell_units(
        conn, channel=order.channel, product_id=product_id, quantity=line.quantity, sku=line.sku,
        sale=f"{order.channel} order {order.external_order_id}",
        key=f"sale:{order.channel}:{order.external_order_id}:{line.external_line_id}", result=result, run_id=run_id,
    )  # fmt: skip


def sell_units(
    conn: Connection, *, channel: str, product_id: int, quantity: int, sku: str | None, sale: str, key: str,
    result: UpsertResult, run_id: str | None,
) -> int:  # fmt: skip
    """`quantity` units of the product sold on `channel`: off our stock, the selling listing closed
    when none are left, every listing cut to the stock left or (at zero) marked withdrawn; the marks
    are pushed to the channels by `push_stock`. Returns the stock left."""
    stock = conn.execute(DECREMENT_STOCK, {"quantity": quantity, "product_id": product_id}).scalar_one()
    result.counts["stock_decrements"] += 1
    result.sold_products.add(product_id)
    params = {"product_id": product_id, "stock": stock}
    conn.execute(SOLD_ON_CHANNEL, {"product_id": product_id, "channel": channel, "quantity": quantity})
    result.counts["listings_limited"] += conn.execute(LIMIT_LISTINGS, params).rowcount
    result.counts["listings_to_withdraw"] += conn.execute(
        WITHDRAW_LISTINGS, {**params, "reason": f"sold out: {sale}"}
    ).rowcount
    log_activity(
        conn, action="stock.sale", outcome="succeeded", run_id=run_id, channel=channel,
        entity_type="product", entity_id=product_id, key=key,
        details={"sku": sku, "quantity": quantity, "stock_left": stock},
    )  # fmt: skip
    return stock


def _upsert_one(conn: Connection, order: ChannelOrder, result: UpsertResult, *, source: str, run_id) -> None:
    customer_id = _customer_id(conn, order, result)
    key = {"channel": order.channel, "external_id": order.external_order_id}
    row = conn.execute(
        UPSERT_ORDER,
        {**key, "customer_id": customer_id, "remote_state": order.remote_state, "currency": order.currency,
         "subtotal": order.subtotal, "shipping_total": order.shipping_total, "tax_total": order.tax_total,
         "total": order.total,
         "address": _json(order.shipping_address.as_json()) if order.shipping_address else None,
         "deadline": order.shipping_deadline, "raw": _json(order.raw), "placed_at": order.placed_at},
    ).first()  # fmt: skip
    if row is None:
        order_id = conn.execute(ORDER_ID, key).scalar_one()
    else:
        order_id = row.id
        result.counts["orders_inserted" if row.inserted else "orders_updated"] += 1
        if row.inserted:
            result.new_orders.append(f"{order.channel}:{order.external_order_id}")

    current = conn.execute(LOCK_ORDER, {"id": order_id}).scalar()
    new = channel_transition(current, order.initial_status)
    if new is not None:
        reason = "first seen" if current is None else f"the channel reports {order.remote_state}"
        conn.execute(
            APPEND_STATUS,
            {"id": order_id, "status": new, "reason": reason, "source": source, "run_id": run_id,
             "details": _json({"remote_state": order.remote_state, "channel": order.channel})},
        )  # fmt: skip
        result.counts["status_rows"] += 1

    for line in order.lines:
        written = conn.execute(
            UPSERT_LINE,
            {"order_id": order_id, "external_id": line.external_line_id, "channel": order.channel,
             "sku": line.sku, "title": line.title, "quantity": line.quantity, "unit_price": line.unit_price,
             "remote_state": line.remote_state},
        ).first()  # fmt: skip
        if written is None:
            continue
        result.counts["lines_inserted" if written.inserted else "lines_updated"] += 1
        # An order waiting for our acceptance is not a sale yet: acceptance takes the units it accepts.
        if written.inserted and order.initial_status not in ("cancelled", "pending_acceptance"):
            sell_line(conn, order, line, written.channel_listing_id, result, run_id)


def upsert_orders(
    engine: Engine, orders: Iterable[ChannelOrder], *, source: str, run_id: str | None = None
) -> UpsertResult:
    """Upsert each order in its own transaction; a failing one is recorded (ops task) and skipped."""
    result = UpsertResult()
    for order in orders:
        one = UpsertResult()  # counted into the result only once its transaction has committed
        try:
            with engine.begin() as conn:
                _upsert_one(conn, order, one, source=source, run_id=run_id)
            result.merge(one)
        except Exception as error:  # noqa: BLE001 - per-order isolation: record, go on
            message = f"{type(error).__name__}: {str(error).strip().splitlines()[0] if str(error) else ''}"
            result.failed.append({"external_order_id": order.external_order_id, "error": message})
            with engine.begin() as conn:
                open_task(
                    conn, kind="other", key=f"order_sync:{order.channel}:{order.external_order_id}",
                    title=f"{order.channel} order {order.external_order_id} could not be stored: {message[:200]}",
                    details={"error": message}, channel=order.channel, entity_type="order",
                    entity_id=order.external_order_id, run_id=run_id,
                )  # fmt: skip
    return result

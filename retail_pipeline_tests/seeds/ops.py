"""Rows for the ops inbox and summary tests, in plain SQL against the business schema."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import Connection, text


def ago(**delta: float) -> datetime:
    return datetime.now(UTC) - timedelta(**delta)


def add_command(
    conn: Connection, status: str, *, created_at: datetime | None = None, error: str | None = None
) -> int:
    return conn.scalar(
        text(
            "INSERT INTO retail.operator_commands (command_type, channel, status, error, requested_by, created_at)"
            " VALUES ('PUBLISH_LISTING', 'trademe', :status, :error, 'ops@example', coalesce(:created_at, now()))"
            " RETURNING id"
        ),
        {
            "status": status,
            "error": error
            or (f"needs a person ({status})" if status in ("failed", "human_required") else None),
            "created_at": created_at,
        },
    )


def add_order(
    conn: Connection,
    external_id: str,
    statuses: Sequence[str | tuple[str, str | None]],
    *,
    channel: str = "bestbuy",
    currency: str = "CAD",
    total: Decimal | None = None,
    placed_at: datetime | None = None,
    shipping_address: dict[str, Any] | None = None,
    lines: Sequence[tuple[str, int, str]] = (),
) -> int:
    """An order, its lines [(sku, quantity, unit price), ...] (each `<external_id>-<n>`, accepted) and its
    status history, oldest first: statuses as names or (name, reason). The total defaults to the lines'
    sum, or 100.00 without lines."""
    if total is None:
        total = sum((Decimal(price) * quantity for _, quantity, price in lines), Decimal(0)) or Decimal(
            "100.00"
        )
    order_id = conn.scalar(
        text(
            "INSERT INTO retail.orders (channel, external_order_id, currency, total, shipping_address, placed_at)"
            " VALUES (:channel, :ext, :currency, :total, CAST(:address AS jsonb), coalesce(:placed_at, now()))"
            " RETURNING id"
        ),
        {
            "channel": channel,
            "ext": external_id,
            "currency": currency,
            "total": total,
            "address": json.dumps(shipping_address) if shipping_address is not None else None,
            "placed_at": placed_at,
        },
    )
    for n, (sku, quantity, price) in enumerate(lines):
        conn.execute(
            text(
                "INSERT INTO retail.order_lines (order_id, external_line_id, sku, title, quantity, unit_price, status)"
                " VALUES (:id, :line, :sku, :title, :quantity, :price, 'accepted')"
            ),
            {"id": order_id, "line": f"{external_id}-{n}", "sku": sku, "title": f"Item {sku}",
             "quantity": quantity, "price": price},
        )  # fmt: skip
    for entry in statuses:  # one statement each: clock_timestamp() orders them
        status, reason = (entry, None) if isinstance(entry, str) else entry
        conn.execute(
            text(
                "INSERT INTO retail.order_status_history (order_id, status, reason, source)"
                " VALUES (:id, :status, :reason, 'test')"
            ),
            {"id": order_id, "status": status, "reason": reason},
        )
    return order_id


def add_shipment(
    conn: Connection,
    order_id: int,
    status: str,
    error: str | None = None,
    *,
    tracking_pin: str | None = None,
    label_path: str | None = None,
) -> None:
    """A shipment row; a shipped one gets its shipped_at."""
    conn.execute(
        text(
            "INSERT INTO retail.shipments (order_id, status, error, tracking_pin, label_path, shipped_at)"
            " VALUES (:id, :status, :error, :pin, :label, CASE WHEN :status = 'shipped' THEN now() END)"
        ),
        {"id": order_id, "status": status, "error": error, "pin": tracking_pin, "label": label_path},
    )


def add_task(
    conn: Connection,
    kind: str,
    key: str,
    *,
    status: str = "open",
    created_at: datetime | None = None,
    details: dict[str, Any] | None = None,
    channel: str | None = None,
) -> int:
    return conn.scalar(
        text(
            "INSERT INTO retail.ops_tasks (kind, dedupe_key, status, title, details, channel, created_at,"
            " resolved_at)"
            " VALUES (:kind, :key, :status, :title, CAST(:details AS jsonb), :channel, coalesce(:created_at, now()),"
            " CASE WHEN :status IN ('resolved', 'dismissed') THEN now() END) RETURNING id"
        ),
        {
            "kind": kind,
            "key": key,
            "status": status,
            "title": f"{kind} {key}",
            "details": json.dumps(details or {}),
            "channel": channel,
            "created_at": created_at,
        },
    )


def add_conversation(
    conn: Connection,
    thread: str,
    *,
    status: str = "open",
    inbound_at: datetime | None,
    outbound_at: datetime | None = None,
    body: str = "Where is my order?",
) -> int:
    conversation_id = conn.scalar(
        text(
            "INSERT INTO retail.conversations (channel, external_thread_id, subject, status, last_inbound_at,"
            " last_outbound_at) VALUES ('bestbuy', :thread, 'Order question', :status, :inbound, :outbound)"
            " RETURNING id"
        ),
        {"thread": thread, "status": status, "inbound": inbound_at, "outbound": outbound_at},
    )
    if inbound_at is not None:
        conn.execute(
            text(
                "INSERT INTO retail.messages (conversation_id, external_message_id, direction, author_type, body,"
                " created_at) VALUES (:c, :m, 'inbound', 'customer', :body, :at)"
            ),
            {"c": conversation_id, "m": f"{thread}-1", "body": body, "at": inbound_at},
        )
    return conversation_id

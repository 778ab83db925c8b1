"""Rows for the ops inbox and summary tests, in plain SQL against the business schema."""

from __future__ import annotations

import json
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
    statuses: list[tuple[str, str | None]],
    *,
    channel: str = "bestbuy",
    currency: str = "CAD",
    total: Decimal = Decimal("100.00"),
    placed_at: datetime | None = None,
) -> int:
    """An order and its status history, oldest first: [(status, reason), ...]."""
    order_id = conn.scalar(
        text(
            "INSERT INTO retail.orders (channel, external_order_id, currency, total, placed_at)"
            " VALUES (:channel, :ext, :currency, :total, coalesce(:placed_at, now())) RETURNING id"
        ),
        {
            "channel": channel,
            "ext": external_id,
            "currency": currency,
            "total": total,
            "placed_at": placed_at,
        },
    )
    for status, reason in statuses:  # one statement each: clock_timestamp() orders them
        conn.execute(
            text(
                "INSERT INTO retail.order_status_history (order_id, status, reason, source)"
                " VALUES (:id, :status, :reason, 'test')"
            ),
            {"id": order_id, "status": status, "reason": reason},
        )
    return order_id


def add_shipment(conn: Connection, order_id: int, status: str, error: str | None = None) -> None:
    conn.execute(
        text("INSERT INTO retail.shipments (order_id, status, error) VALUES (:id, :status, :error)"),
        {"id": order_id, "status": status, "error": error},
    )


def add_draft(
    conn: Connection, product_id: int, channel: str, status: str, errors: list[Any] | None = None
) -> int:
    return conn.scalar(
        text(
            "INSERT INTO retail.listing_drafts (product_id, channel, sku, title, price, currency, status,"
            " validation_errors, validated_at)"
            " VALUES (:product_id, :channel, 'RP-' || :product_id, 'A title', 259.00, 'NZD', :status,"
            " CAST(:errors AS jsonb), now()) RETURNING id"
        ),
        {"product_id": product_id, "channel": channel, "status": status, "errors": json.dumps(errors or [])},
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

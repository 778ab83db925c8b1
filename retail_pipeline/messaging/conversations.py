"""Customer service over retail.conversations / messages: the thread list, one thread with its order,
status changes, read state, saved replies, and a person's reply. The sidecar's JSON routes and its
console pages call these same functions (no FastAPI, no Dagster here).

A reply (`send_reply`) is written 'pending' under the idempotency key its form was rendered with, in
the transaction that locks the thread and checks for collisions, then posted by
`outbound.deliver` (the auto-replies' path): a double click, or a retry after a crash between post
and commit, finds the same row and never posts twice.
"""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, Engine, text

from retail_pipeline.channels.registry import channel as channel_plugin
from retail_pipeline.db.activity import log_activity
from retail_pipeline.domain import conversations as rules
from retail_pipeline.domain.buyer_messages import Inbox
from retail_pipeline.domain.shipping import CARRIER_NAMES, TRACKING_URLS
from retail_pipeline.messaging.outbound import Delivery, deliver

PAGE_SIZE = 50
SNIPPET_CHARS = 140


class NotFound(LookupError):
    pass


class DuplicateTitle(rules.InvalidChange):
    pass


@dataclass
class Collision(Exception):
    """Messages arrived since the agent's page loaded: the reply is held until they have seen them."""

    new_messages: list[dict[str, Any]] = field(default_factory=list)

    @property
    def message(self) -> str:
        n = len(self.new_messages)
        return f"{n} new message{'s' if n != 1 else ''} since you opened this thread; read, then send anyway or edit"


# --- the list


WAKE_SNOOZED = text(
    """
    UPDATE retail.conversations SET status = 'open', snoozed_until = NULL
     WHERE status = 'snoozed' AND snoozed_until <= :now
    """
)

# The tabs' counts, from the deltas a trigger keeps in kpi_counts (see sql/007).
STATUS_COUNTS = text(
    """
    SELECT dim1 AS status, sum(n) AS total, sum(n) FILTER (WHERE dim2 = 'unread') AS unread
      FROM retail.kpi_counts WHERE metric = 'conversations' GROUP BY dim1
    """
)

# Threads matching a search: every word by prefix in the subject, the buyer's name, the order or thread
# id (conversations.search_words, kept by a trigger), or the thread's own id. The planner cannot tell a
# rare word from a common one, so the list asks first how many match (up to FEW_MATCHES): a few are
# found through the GIN index and then ordered; many are found by walking the activity index, which
# meets a page of them at once.
MATCHES = "(c.search_words @@ to_tsquery('simple', :words) OR c.id = :term_id)"
FEW_MATCHES = 500
COUNT_MATCHES = text(
    f"SELECT count(*) FROM (SELECT 1 FROM retail.conversations c WHERE {MATCHES} LIMIT :few) s"
)
SEARCH = f"""
    WITH found AS MATERIALIZED (SELECT c.id FROM retail.conversations c WHERE {MATCHES})"""

_LIST = """{search}
    SELECT c.id, c.channel, c.external_thread_id, c.subject, c.status, c.snoozed_until, c.unread_count,
           c.last_activity_at, c.last_inbound_at, c.last_outbound_at, c.order_id, c.created_at,
           cu.name AS customer_name, o.external_order_id, o.current_status AS order_status,
           left(m.body, {snippet}) AS last_message, m.direction AS last_direction, m.author_type AS last_author
      FROM retail.conversations c {found}
      LEFT JOIN retail.customers cu ON cu.id = c.customer_id
      LEFT JOIN retail.orders o ON o.id = c.order_id
      LEFT JOIN retail.messages m ON m.id = c.last_message_id
     WHERE {where}
     ORDER BY c.last_activity_at DESC, c.id DESC
     LIMIT :limit
"""


def wake_snoozed(conn: Connection, now: datetime) -> int:
    """Snoozed threads whose time has come are open again (one range scan of a partial index)."""
    return conn.execute(WAKE_SNOOZED, {"now": now}).rowcount


def encode_cursor(at: datetime, conversation_id: int) -> str:
    raw = json.dumps([at.isoformat(), conversation_id]).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[datetime, int]:
    try:
        at, conversation_id = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
        return datetime.fromisoformat(at), int(conversation_id)
    except (ValueError, TypeError) as error:
        raise rules.InvalidChange("cursor", "not a cursor this list gave out") from error


def list_conversations(
    engine: Engine,
    *,
    status: str | None = None,
    channel: str | None = None,
    unread: bool = False,
    q: str | None = None,
    cursor: str | None = None,
    limit: int = PAGE_SIZE,
    now: datetime | None = None,
) -> dict[str, Any]:
    """A page of threads, newest activity first, with the tab counts and the next page's cursor."""
    now = now or datetime.now(UTC)
    if status is not None and status not in rules.STATUSES:
        raise rules.InvalidChange("status", f"unknown status {status!r}; one of {', '.join(rules.STATUSES)}")
    where, params = ["true"], {"limit": limit + 1}
    if status:
        where.append("c.status = :status")
        params["status"] = status
    if channel:
        where.append("c.channel = CAST(:channel AS retail.channel)")
        params["channel"] = channel
    if unread:
        where.append("c.unread_count > 0")
    searching = bool(q and q.strip())
    if searching:
        term = q.strip().lstrip("#")
        params |= {
            "words": prefix_query(term),
            "term_id": int(term) if re.fullmatch(r"[0-9]{1,18}", term) else None,
        }
    if cursor:
        at, after_id = decode_cursor(cursor)
        where.append("(c.last_activity_at, c.id) < (:after_at, :after_id)")
        params |= {"after_at": at, "after_id": after_id}
    with engine.begin() as conn:
        wake_snoozed(conn, now)
        few = searching and conn.scalar(COUNT_MATCHES, params | {"few": FEW_MATCHES}) < FEW_MATCHES
        if searching and not few:
            where.append(MATCHES)
        rows = [
            dict(r._mapping)
            for r in conn.execute(
                text(
                    _LIST.format(
                        search=SEARCH if few else "",
                        found="JOIN found USING (id)" if few else "",
                        snippet=SNIPPET_CHARS,
                        where=" AND ".join(where),
                    )
                ),
                params,
            )
        ]
        counts = {s: {"total": 0, "unread": 0} for s in rules.STATUSES}
        for row in conn.execute(STATUS_COUNTS):
            if row.status in counts:
                counts[row.status] = {"total": int(row.total), "unread": int(row.unread or 0)}
    more = len(rows) > limit
    rows = rows[:limit]
    for row in rows:
        row["channel_title"] = channel_plugin(row["channel"]).title
        row["awaiting_reply"] = _awaiting(row)
    next_cursor = encode_cursor(rows[-1]["last_activity_at"], rows[-1]["id"]) if more and rows else None
    return {"items": rows, "counts": counts, "next_cursor": next_cursor}


def _awaiting(row: dict[str, Any]) -> bool:
    inbound, outbound = row.get("last_inbound_at"), row.get("last_outbound_at")
    return inbound is not None and (outbound is None or outbound < inbound)


def prefix_query(term: str) -> str:
    """'chloe ro' → 'chloe:* & ro:*' (every word of 2+ characters, by prefix: one letter would match
    half the index); '' when nothing is left."""
    words = [w for w in re.findall(r"[^\W_]+", term.lower()) if len(w) > 1]
    return " & ".join(f"{word}:*" for word in words[:8])


# --- one thread


HEAD = text(
    """
    SELECT c.id, c.channel, c.external_thread_id, c.subject, c.status, c.snoozed_until, c.unread_count,
           c.last_read_message_id, c.last_message_id, c.last_activity_at, c.last_inbound_at,
           c.last_outbound_at, c.order_id, c.created_at, cu.name AS customer_name, cu.email AS customer_email
      FROM retail.conversations c LEFT JOIN retail.customers cu ON cu.id = c.customer_id
     WHERE c.id = :id
    """
)
MESSAGES = text(
    """
    SELECT id, direction, author_type, author_name, body, status, error, auto_reply_key, idempotency_key,
           coalesce(sent_at, created_at) AS at
      FROM retail.messages WHERE conversation_id = :id AND id > :after ORDER BY id
    """
)
ORDER = text(
    """
    SELECT o.id, o.channel, o.external_order_id, o.current_status AS status, o.current_status_at AS status_at,
           o.currency, o.total, o.placed_at, o.shipping_address->>'name' AS ship_to,
           concat_ws(', ', o.shipping_address->>'city', o.shipping_address->>'state',
                     o.shipping_address->>'country_iso_code') AS ship_to_place,
           s.carrier, s.tracking_pin, s.status AS shipment_status, s.shipped_at
      FROM retail.orders o LEFT JOIN retail.shipments s ON s.order_id = o.id
     WHERE o.id = :id
    """
)
ORDER_LINES = text(
    """
    SELECT sku, title, quantity, unit_price, status FROM retail.order_lines WHERE order_id = :id ORDER BY id
    """
)


def _messages(conn: Connection, conversation_id: int, after: int = 0) -> list[dict[str, Any]]:
    return [dict(r._mapping) for r in conn.execute(MESSAGES, {"id": conversation_id, "after": after})]


def conversation(engine: Engine, conversation_id: int) -> dict[str, Any]:
    """The thread, its messages (oldest first) and the order beside it (lines, status, tracking)."""
    with engine.connect() as conn:
        head = conn.execute(HEAD, {"id": conversation_id}).first()
        if head is None:
            raise NotFound(f"no conversation {conversation_id}")
        thread = dict(head._mapping)
        thread["channel_title"] = channel_plugin(thread["channel"]).title
        thread["messages"] = _messages(conn, conversation_id)
        thread["order"] = None
        if head.order_id is not None and (row := conn.execute(ORDER, {"id": head.order_id}).first()):
            order = dict(row._mapping)
            order["lines"] = [dict(r._mapping) for r in conn.execute(ORDER_LINES, {"id": head.order_id})]
            order["carrier_name"] = CARRIER_NAMES.get(order["carrier"], order["carrier"])
            link = TRACKING_URLS.get(order["carrier"] or "")
            order["tracking_url"] = (
                link.format(pin=order["tracking_pin"]) if link and order["tracking_pin"] else None
            )
            thread["order"] = order
    thread["latest_message_id"] = max((m["id"] for m in thread["messages"]), default=0)
    thread["awaiting_reply"] = _awaiting(thread)
    return thread


# --- actions


LOCK_THREAD = text(
    """
    SELECT c.id, c.channel, c.status, c.snoozed_until, c.external_thread_id
      FROM retail.conversations c WHERE c.id = :id FOR UPDATE
    """
)
SET_STATUS = text(
    """
    UPDATE retail.conversations SET status = :status, snoozed_until = :until
     WHERE id = :id AND (status, snoozed_until) IS DISTINCT FROM (:status, CAST(:until AS timestamptz))
    """
)
MARK_READ = text(
    """
    UPDATE retail.conversations c
       SET last_read_message_id = s.upto,
           unread_count = (SELECT count(*) FROM retail.messages
                            WHERE conversation_id = c.id AND direction = 'inbound' AND id > s.upto)
      FROM (SELECT coalesce(CAST(:upto AS bigint), (SELECT max(id) FROM retail.messages
                                                     WHERE conversation_id = :id), 0) AS upto) s
     WHERE c.id = :id AND s.upto > coalesce(c.last_read_message_id, 0)
    RETURNING c.unread_count, c.last_read_message_id
    """
)


def set_status(
    engine: Engine, conversation_id: int, status: str, *, until: datetime | None = None, actor: str | None = None,
    now: datetime | None = None,
) -> dict[str, Any]:  # fmt: skip
    """open / pending / snoozed (with `until`) / resolved; audited. {"status", "snoozed_until", "changed", "previous"}."""
    change = rules.status_change(status, until=until, now=now or datetime.now(UTC))
    with engine.begin() as conn:
        head = conn.execute(LOCK_THREAD, {"id": conversation_id}).first()
        if head is None:
            raise NotFound(f"no conversation {conversation_id}")
        changed = (
            conn.execute(
                SET_STATUS, {"id": conversation_id, "status": change.status, "until": change.snoozed_until}
            ).rowcount
            > 0
        )
        if changed:
            log_activity(
                conn, actor=actor, action="conversation.status", outcome="succeeded", channel=head.channel,
                entity_type="conversation", entity_id=conversation_id,
                details={"from": head.status, "to": change.status,
                         "until": change.snoozed_until.isoformat() if change.snoozed_until else None},
            )  # fmt: skip
    return {
        "id": conversation_id,
        "status": change.status,
        "snoozed_until": change.snoozed_until,
        "previous": head.status,
        "changed": changed,
    }


def mark_read(engine: Engine, conversation_id: int, upto: int | None = None) -> dict[str, Any]:
    """Read up to message `upto` (default: the newest). Never moves backwards."""
    with engine.begin() as conn:
        row = conn.execute(MARK_READ, {"id": conversation_id, "upto": upto}).first()
        if row is None:
            head = conn.execute(HEAD, {"id": conversation_id}).first()
            if head is None:
                raise NotFound(f"no conversation {conversation_id}")
            return {"id": conversation_id, "unread_count": head.unread_count, "changed": False}
    return {"id": conversation_id, "unread_count": row.unread_count, "changed": True}


# --- saved replies


SAVED_REPLIES = text("SELECT id, title, body FROM retail.saved_replies ORDER BY title")
ADD_SAVED_REPLY = text(
    """
    INSERT INTO retail.saved_replies (title, body, created_by) VALUES (:title, :body, :by)
    ON CONFLICT (title) DO NOTHING
    RETURNING id, title, body
    """
)


def saved_replies(engine: Engine, conversation_id: int | None = None) -> list[dict[str, Any]]:
    """Every saved reply; with a thread, {name} and {order} filled for it (`filled`)."""
    with engine.connect() as conn:
        replies = [dict(r._mapping) for r in conn.execute(SAVED_REPLIES)]
        if conversation_id is None:
            return replies
        head = conn.execute(
            text(
                """SELECT cu.name, o.external_order_id FROM retail.conversations c
                     LEFT JOIN retail.customers cu ON cu.id = c.customer_id
                     LEFT JOIN retail.orders o ON o.id = c.order_id WHERE c.id = :id"""
            ),
            {"id": conversation_id},
        ).first()
    if head is None:
        raise NotFound(f"no conversation {conversation_id}")
    for reply in replies:
        reply["filled"] = rules.fill_saved_reply(
            reply["body"], customer_name=head.name, order_ref=head.external_order_id
        )
    return replies


def add_saved_reply(engine: Engine, title: str, body: str, *, actor: str | None = None) -> dict[str, Any]:
    title, body = title.strip(), body.strip()
    if not title:
        raise rules.InvalidChange("title", "a saved reply needs a title")
    if not body:
        raise rules.InvalidChange("body", "a saved reply needs a body")
    with engine.begin() as conn:
        row = conn.execute(ADD_SAVED_REPLY, {"title": title, "body": body, "by": actor}).first()
        if row is None:
            raise DuplicateTitle("title", f"a saved reply titled {title!r} already exists")
        log_activity(conn, actor=actor, action="saved_reply.create", outcome="succeeded",
                     entity_type="saved_reply", entity_id=row.id, details={"title": title})  # fmt: skip
    return dict(row._mapping)


# --- a person's reply


BY_KEY = text("SELECT id, conversation_id FROM retail.messages WHERE idempotency_key = :key")
MESSAGE_AT = text(
    "SELECT coalesce(sent_at, created_at) FROM retail.messages WHERE id = :id AND conversation_id = :c"
)
INTENT = text(
    """
    INSERT INTO retail.messages (conversation_id, direction, author_type, author_name, body, status,
                                 idempotency_key, raw)
    VALUES (:id, 'outbound', 'shop', :author, :body, 'pending', :key, CAST(:raw AS jsonb))
    RETURNING id
    """
)
MESSAGE = text(
    """
    SELECT id, direction, author_type, author_name, body, status, error, auto_reply_key,
           coalesce(sent_at, created_at) AS at
      FROM retail.messages WHERE id = :id
    """
)


@dataclass(frozen=True)
class ReplyOutcome:
    delivery: Delivery
    message: dict[str, Any]
    retried: bool  # the key was known: a double click or a retry after a crash


InboxFor = Callable[[str], Inbox]


def sidecar_inbox(channel: str) -> Inbox:
    """A channel's buyer inbox outside Dagster: its plug-in's client with its own settings."""
    return channel_plugin(channel).new_inbox()


async def send_reply(
    engine: Engine,
    inbox_for: InboxFor,
    conversation_id: int,
    *,
    body: str,
    idempotency_key: str,
    last_seen_message_id: int | None,
    force: bool = False,
    author_name: str | None = None,
    actor: str | None = None,
    after_send: Callable[[int, str], None] | None = None,
) -> ReplyOutcome:
    """Posts a person's reply once. Raises NotFound, InvalidChange, or Collision (nothing written)
    when messages arrived after `last_seen_message_id` and not `force`."""
    text_to_send = rules.reply_body(body)
    key = (idempotency_key or "").strip()
    if not 8 <= len(key) <= 200:
        raise rules.InvalidChange("idempotency_key", "an idempotency key of 8 to 200 characters is required")
    with engine.begin() as conn:
        head = conn.execute(LOCK_THREAD, {"id": conversation_id}).first()  # one writer per thread at a time
        if head is None:
            raise NotFound(f"no conversation {conversation_id}")
        known = conn.execute(BY_KEY, {"key": key}).first()
        if known is not None:
            if known.conversation_id != conversation_id:
                raise rules.InvalidChange(
                    "idempotency_key", "this key was used for a reply in another thread"
                )
            message_id, retried = known.id, True
        else:
            newer = rules.newer_messages(
                _messages(conn, conversation_id, last_seen_message_id or 0), last_seen_message_id
            )
            if newer and not force:
                raise Collision([_public(m) for m in newer])
            seen_at = conn.scalar(MESSAGE_AT, {"id": last_seen_message_id or 0, "c": conversation_id})
            raw = {"in_reply_to": last_seen_message_id, "in_reply_to_at": seen_at.isoformat() if seen_at else None,
                   "forced_over": [m["id"] for m in newer]}  # fmt: skip
            message_id = conn.scalar(
                INTENT,
                {
                    "id": conversation_id,
                    "author": author_name,
                    "body": text_to_send,
                    "key": key,
                    "raw": json.dumps(raw),
                },
            )
            log_activity(
                conn, actor=actor, action="message.reply", outcome="intent", channel=head.channel,
                entity_type="conversation", entity_id=conversation_id, key=key,
                details={"message_id": message_id, "forced_over": raw["forced_over"]},
            )  # fmt: skip
            retried = False
    inbox = inbox_for(head.channel)
    try:
        delivery = await deliver(
            engine, inbox, message_id, recover=retried, wait=True, actor=actor, after_send=after_send
        )
    finally:
        await inbox.aclose()
    if delivery.posted:
        mark_read(engine, conversation_id, message_id)
    with engine.connect() as conn:
        message = dict(conn.execute(MESSAGE, {"id": message_id}).one()._mapping)
    return ReplyOutcome(delivery, _public(message), retried)


def _public(message: Any) -> dict[str, Any]:
    return {k: message[k] for k in ("id", "direction", "author_type", "author_name", "body", "status", "at")}

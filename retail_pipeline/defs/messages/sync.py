"""Buyer threads of one channel into retail.customers / conversations / messages, incrementally.

Cursor: the latest inbound message we hold for the channel (`sent_at`, the channel's own clock),
less a small overlap; the channel is asked for threads updated since then (with an
`updated_since` filter where the channel has one; otherwise only the active ones are fetched). Our own
replies do not move the cursor: their time may be our clock, not the channel's.

Upserts: a customer by (channel, external_customer_id), a conversation by (channel,
external_thread_id), a message by (conversation_id, external_message_id); each only writes when
something differs, so a second run over the same threads writes nothing. A shop message we hold as
a 'pending' auto-reply (same body, no channel id yet, posted after the message it answers) is that
reply whose commit was lost: it is adopted (marked sent with the channel's id), never duplicated.
A thread about an order is linked to the order by the channel's order id once we hold that order.
Conversation status is ours (the channels have no closed state we can read): only a new inbound
message changes it, reopening a pending, snoozed or resolved thread ('open').

Per-thread isolation: a thread that fails to store is counted and logged (activity_log) and the others
go on; a failed read from the channel fails the run before anything is stored (the next run reads
the same window again); authentication failures stop the run.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, Engine, text

from retail_pipeline.db.activity import log_activity
from retail_pipeline.domain.buyer_messages import Inbox, RemoteMessage, RemoteThread
from retail_pipeline.messaging.outbound import refresh_times

OVERLAP = timedelta(minutes=5)
PREVIEW = 5

CURSOR = text(
    """
    SELECT max(m.sent_at)
      FROM retail.messages m JOIN retail.conversations c ON c.id = m.conversation_id
     WHERE c.channel = :channel AND m.direction = 'inbound'
    """
)

UPSERT_CUSTOMER = text(
    """
    INSERT INTO retail.customers AS t (channel, external_customer_id, name)
    VALUES (:channel, :external_id, :name)
    ON CONFLICT (channel, external_customer_id) DO UPDATE SET name = EXCLUDED.name
     WHERE EXCLUDED.name IS NOT NULL AND t.name IS DISTINCT FROM EXCLUDED.name
    RETURNING id, (xmax = 0) AS inserted
    """
)
CUSTOMER_ID = text(
    "SELECT id FROM retail.customers WHERE channel = :channel AND external_customer_id = :external_id"
)

ORDER_ID = text("SELECT id FROM retail.orders WHERE channel = :channel AND external_order_id = :ref")

UPSERT_CONVERSATION = text(
    """
    INSERT INTO retail.conversations AS t (channel, external_thread_id, customer_id, order_id, subject)
    VALUES (:channel, :thread_id, :customer_id, :order_id, :subject)
    ON CONFLICT (channel, external_thread_id) DO UPDATE
       SET customer_id = coalesce(EXCLUDED.customer_id, t.customer_id),
           order_id = coalesce(t.order_id, EXCLUDED.order_id),
           subject = coalesce(EXCLUDED.subject, t.subject)
     WHERE (coalesce(EXCLUDED.customer_id, t.customer_id), coalesce(t.order_id, EXCLUDED.order_id),
            coalesce(EXCLUDED.subject, t.subject))
           IS DISTINCT FROM (t.customer_id, t.order_id, t.subject)
    RETURNING id, (xmax = 0) AS inserted
    """
)
CONVERSATION_ID = text(
    "SELECT id FROM retail.conversations WHERE channel = :channel AND external_thread_id = :thread_id"
)

KNOWN_MESSAGES = text(
    "SELECT external_message_id FROM retail.messages WHERE conversation_id = :id AND external_message_id IS NOT NULL"
)

# A pending reply of ours with this body, posted after the message it answers (channel clock).
ADOPT_PENDING = text(
    """
    UPDATE retail.messages SET status = 'sent', external_message_id = :external_id, sent_at = :at, error = NULL
     WHERE id = (SELECT id FROM retail.messages
                  WHERE conversation_id = :id AND direction = 'outbound' AND status = 'pending'
                    AND external_message_id IS NULL AND btrim(body) = btrim(:body)
                    AND (raw->>'in_reply_to_at' IS NULL OR CAST(raw->>'in_reply_to_at' AS timestamptz) <= :at)
                  ORDER BY id LIMIT 1)
    RETURNING id, auto_reply_key
    """
)

INSERT_MESSAGE = text(
    """
    INSERT INTO retail.messages
           (conversation_id, external_message_id, direction, author_type, author_name, body, status, raw, sent_at)
    VALUES (:id, :external_id, :direction, :author_type, :author_name, :body, :status, CAST(:raw AS jsonb), :at)
    ON CONFLICT (conversation_id, external_message_id) DO NOTHING
    RETURNING id
    """
)

# A new message from the buyer (or the marketplace's staff) makes any thread need us again.
REOPEN = text(
    """
    UPDATE retail.conversations SET status = 'open', snoozed_until = NULL
     WHERE id = :id AND status <> 'open'
    """
)


@dataclass
class SyncResult:
    counts: dict[str, int] = field(
        default_factory=lambda: {
            "threads_seen": 0, "customers_written": 0, "conversations_new": 0, "conversations_updated": 0,
            "messages_new": 0, "replies_adopted": 0, "reopened": 0, "threads_failed": 0,
        }
    )  # fmt: skip
    cursor: datetime | None = None
    new_messages: list[dict[str, Any]] = field(default_factory=list)
    failed: list[dict[str, Any]] = field(default_factory=list)


def adopt_or_insert(conn: Connection, conversation_id: int, message: RemoteMessage) -> str | None:
    """'adopted', 'inserted' or None (already held)."""
    params = {"id": conversation_id, "external_id": message.external_message_id, "at": message.created_at}
    if (
        message.direction == "outbound"
        and conn.execute(ADOPT_PENDING, params | {"body": message.body}).first()
    ):
        return "adopted"
    inserted = conn.execute(
        INSERT_MESSAGE,
        params
        | {
            "direction": message.direction,
            "author_type": message.author_type,
            "author_name": message.author_name,
            "body": message.body,
            "status": "received" if message.direction == "inbound" else "sent",
            "raw": json.dumps(message.raw, default=str),
        },
    ).first()
    return "inserted" if inserted else None


class MessageSync:
    def __init__(
        self, engine: Engine, inbox: Inbox, *, run_id: str | None = None, overlap: timedelta = OVERLAP
    ):
        self.engine, self.inbox, self.run_id, self.overlap = engine, inbox, run_id, overlap
        self.channel = inbox.channel
        self.result = SyncResult()

    def cursor(self) -> datetime | None:
        with self.engine.connect() as conn:
            latest = conn.scalar(CURSOR, {"channel": self.channel})
        return latest - self.overlap if latest else None

    def store(self, thread: RemoteThread) -> None:
        """One thread in one transaction."""
        counts, channel = self.result.counts, self.channel
        with self.engine.begin() as conn:
            customer_id = None
            if thread.customer_id:
                key = {"channel": channel, "external_id": thread.customer_id}
                row = conn.execute(UPSERT_CUSTOMER, key | {"name": thread.customer_name}).first()
                counts["customers_written"] += row is not None
                customer_id = row.id if row else conn.scalar(CUSTOMER_ID, key)
            order_id = (
                conn.scalar(ORDER_ID, {"channel": channel, "ref": thread.order_ref})
                if thread.order_ref
                else None
            )
            key = {"channel": channel, "thread_id": thread.external_thread_id}
            row = conn.execute(
                UPSERT_CONVERSATION,
                key | {"customer_id": customer_id, "order_id": order_id, "subject": thread.subject},
            ).first()
            if row is not None:
                counts["conversations_new" if row.inserted else "conversations_updated"] += 1
            conversation_id = row.id if row else conn.scalar(CONVERSATION_ID, key)
            known = set(conn.scalars(KNOWN_MESSAGES, {"id": conversation_id}))
            for message in thread.messages:
                if message.external_message_id in known:
                    continue
                outcome = adopt_or_insert(conn, conversation_id, message)
                if outcome == "adopted":
                    counts["replies_adopted"] += 1
                    log_activity(
                        conn, run_id=self.run_id, action="message.reply", outcome="succeeded", channel=channel,
                        entity_type="conversation", entity_id=conversation_id,
                        details={"adopted_by_sync": True, "external_message_id": message.external_message_id},
                    )  # fmt: skip
                elif outcome == "inserted":
                    counts["messages_new"] += 1
                    if message.direction == "inbound":
                        counts["reopened"] += conn.execute(REOPEN, {"id": conversation_id}).rowcount
                    if len(self.result.new_messages) < PREVIEW:
                        self.result.new_messages.append(
                            {"thread": thread.external_thread_id, "author": message.author_type,
                             "body": message.body[:80]}
                        )  # fmt: skip
            refresh_times(conn, conversation_id)

    async def run(self) -> SyncResult:
        self.result.cursor = since = self.cursor()
        # Oldest first, and only once all are read: the cursor (derived from what is stored) can then
        # never pass a thread a failed read left behind.
        threads = sorted([t async for t in self.inbox.threads(since)], key=lambda t: t.updated_at)
        for thread in threads:
            self.result.counts["threads_seen"] += 1
            try:
                self.store(thread)
            except Exception as error:  # one bad thread never stops the others
                self._failed(thread.external_thread_id, error)
        return self.result

    def _failed(self, thread_id: str, error: Exception) -> None:
        self.result.counts["threads_failed"] += 1
        self.result.failed.append({"thread": thread_id, "error": str(error)[:300]})
        with self.engine.begin() as conn:
            log_activity(
                conn, run_id=self.run_id, action="messages.sync", outcome="failed", channel=self.channel,
                entity_type="conversation", entity_id=thread_id, details={"error": str(error)[:1000]},
            )  # fmt: skip

"""Auto-replies for one channel, crash-safely: never two replies for one trigger, never one twice.

A pass:
1. Recovery: every outbound row of the channel still 'pending' (an auto-reply from an earlier run, or
   a person's reply from the console whose post or commit failed) may have been posted before its
   process died. The remote thread is read first: a message of ours (shop) with the same body,
   posted after the message it answers (the channel's clock: ours may differ) and not yet held
   locally, is that reply: it is marked sent, not sent again. Only if none is found is it sent.
   A pending reply whose conversation was closed, or that a person has answered meanwhile, is
   dropped ('failed' with the reason) instead; a person's reply is never dropped.
2. Decisions: each open conversation whose last message is a customer's is locked (FOR UPDATE),
   `domain.auto_replies.decide` picks at most one reply, and the row is written 'pending' with its
   `auto_reply_key` (UNIQUE per conversation: a duplicate is impossible) plus an 'intent' activity
   row, and committed, before any call.
3. Sending: posted through the channel; marked 'sent' with the channel's message id. A refusal
   (4xx) marks it 'failed' with an ops task (the thread waits for a person); an outage leaves it
   'pending' for step 1 of the next run; authentication failures fail the run.

Steps 1 and 3 are `messaging.outbound.deliver`: the one crash-safe post, which the sidecar's manual
replies take too. `after_send(message_id, external_message_id)` is a test hook called between the post and the
commit (raise there to simulate a crash).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, Engine, text

from retail_pipeline.channels.registry import channel as channel_plugin
from retail_pipeline.db.activity import log_activity
from retail_pipeline.domain import auto_replies as rules
from retail_pipeline.domain.buyer_messages import Inbox
from retail_pipeline.messaging.outbound import NOTE_ERROR, Delivery, deliver, systemic

PREVIEW = 5

PENDING = text(
    """
    SELECT m.id, m.conversation_id, m.body, m.auto_reply_key, m.raw, c.external_thread_id, c.status AS conversation_status
      FROM retail.messages m JOIN retail.conversations c ON c.id = m.conversation_id
     WHERE c.channel = :channel AND m.direction = 'outbound' AND m.status = 'pending'
     ORDER BY m.id
    """
)

# Open conversations whose latest message (insertion order) is a customer's.
CANDIDATES = text(
    """
    SELECT c.id
      FROM retail.conversations c
      JOIN LATERAL (SELECT direction, author_type FROM retail.messages
                     WHERE conversation_id = c.id ORDER BY id DESC LIMIT 1) last ON true
     WHERE c.channel = :channel AND c.status = 'open'
       AND last.direction = 'inbound' AND last.author_type = 'customer'
     ORDER BY c.last_inbound_at NULLS LAST, c.id
    """
)

LOCK = text(
    """
    SELECT c.id, c.channel, c.status, c.subject, c.order_id, c.external_thread_id, cu.name AS customer_name
      FROM retail.conversations c LEFT JOIN retail.customers cu ON cu.id = c.customer_id
     WHERE c.id = :id
       FOR UPDATE OF c
    """
)

MESSAGES = text(
    """
    SELECT id, direction, author_type, body, coalesce(sent_at, created_at) AS at, auto_reply_key, status
      FROM retail.messages WHERE conversation_id = :id ORDER BY id
    """
)

ORDER_FACTS = text(
    """
    SELECT o.external_order_id, o.current_status, s.carrier, s.tracking_pin, s.status AS shipment_status,
           s.shipped_at
      FROM retail.orders o LEFT JOIN retail.shipments s ON s.order_id = o.id
     WHERE o.id = :id
    """
)

INTENT = text(
    """
    INSERT INTO retail.messages (conversation_id, direction, author_type, author_name, body, status, auto_reply_key, raw)
    VALUES (:id, 'outbound', 'system', 'auto-reply', :body, 'pending', :key, CAST(:raw AS jsonb))
    ON CONFLICT (conversation_id, auto_reply_key) DO NOTHING
    RETURNING id
    """
)


@dataclass
class ReplyResult:
    counts: dict[str, int] = field(
        default_factory=lambda: {
            "pending_found": 0, "recovered": 0, "candidates": 0, "decided": 0, "sent": 0,
            "failed": 0, "retry_later": 0, "dropped": 0,
        }
    )  # fmt: skip
    sent: list[dict[str, Any]] = field(default_factory=list)
    failed: list[dict[str, Any]] = field(default_factory=list)


def _conversation(conn: Connection, head: Any) -> rules.Conversation:
    messages = tuple(
        rules.Message(m.id, m.direction, m.author_type, m.body, m.at, m.auto_reply_key)
        for m in conn.execute(MESSAGES, {"id": head.id})
    )
    order = None
    if head.order_id is not None and (row := conn.execute(ORDER_FACTS, {"id": head.order_id}).first()):
        order = rules.OrderFacts(
            row.external_order_id, row.current_status, row.carrier, row.tracking_pin, row.shipment_status,
            row.shipped_at,
        )  # fmt: skip
    return rules.Conversation(
        head.channel,
        head.status,
        messages,
        head.customer_name,
        head.subject,
        order,
        channel_plugin(head.channel).title,
    )


class AutoReplier:
    def __init__(
        self,
        engine: Engine,
        inbox: Inbox,
        *,
        policy: rules.ReplyPolicy,
        now: Callable[[], datetime] | None = None,
        run_id: str | None = None,
        after_send: Callable[[int, str], None] | None = None,
    ):
        self.engine, self.inbox, self.policy, self.run_id = engine, inbox, policy, run_id
        self.now = now or (lambda: datetime.now(UTC))
        self.after_send = after_send
        self.channel = inbox.channel
        self.result = ReplyResult()

    def _log(
        self, conn: Connection, outcome: str, conversation_id: int, key: str | None, details: dict
    ) -> None:
        log_activity(
            conn, run_id=self.run_id, action="message.auto_reply", outcome=outcome, channel=self.channel,
            entity_type="conversation", entity_id=conversation_id, key=key, details=details,
        )  # fmt: skip

    def _count(self, delivery: Delivery, row: Any) -> None:
        counts = self.result.counts
        if delivery.outcome in ("sent", "recovered"):
            counts[delivery.outcome] += 1
            if len(self.result.sent) < PREVIEW:
                self.result.sent.append({"conversation_id": row.conversation_id, "key": row.auto_reply_key})
        elif delivery.outcome == "failed":
            counts["failed"] += 1
            self.result.failed.append({"conversation_id": row.conversation_id, "error": delivery.error[:200]})
        elif delivery.outcome in ("dropped", "retry_later"):
            counts[delivery.outcome] += 1
        elif delivery.outcome == "busy":  # another process (the sidecar) is posting it right now
            counts["retry_later"] += 1

    async def _deliver(self, row: Any, *, recover: bool) -> None:
        delivery = await deliver(
            self.engine, self.inbox, row.id, recover=recover, wait=False, run_id=self.run_id,
            now=self.now, after_send=self.after_send,
        )  # fmt: skip
        self._count(delivery, row)

    async def _send(self, row: Any) -> None:
        await self._deliver(row, recover=False)

    async def _recover(self, row: Any) -> None:
        """A reply left 'pending' by an earlier run (or a person's, by the sidecar): look in the
        remote thread before sending."""
        await self._deliver(row, recover=True)

    def _decide(self, conversation_id: int) -> Any | None:
        """Locks the conversation, decides, and commits the 'pending' reply with its key (or nothing)."""
        with self.engine.begin() as conn:
            head = conn.execute(LOCK, {"id": conversation_id}).first()
            if head is None:
                return None
            conversation = _conversation(conn, head)
            reply = rules.decide(conversation, now=self.now(), policy=self.policy)
            if reply is None:
                return None
            answered = next(m for m in conversation.messages if m.id == reply.in_reply_to)
            raw = {"rule": reply.rule, "trigger": reply.trigger, "in_reply_to": reply.in_reply_to,
                   "in_reply_to_at": answered.at.isoformat()}  # fmt: skip
            message_id = conn.scalar(
                INTENT, {"id": conversation_id, "body": reply.body, "key": reply.key, "raw": json.dumps(raw)}
            )
            if message_id is None:  # the key is taken: that trigger has had its reply
                return None
            self._log(
                conn, "intent", conversation_id, reply.key, {"message_id": message_id, "rule": reply.rule}
            )
            self.result.counts["decided"] += 1
            return conn.execute(
                text(
                    """SELECT m.id, m.conversation_id, m.body, m.auto_reply_key, m.raw, c.external_thread_id,
                              c.status AS conversation_status
                         FROM retail.messages m JOIN retail.conversations c ON c.id = m.conversation_id
                        WHERE m.id = :id"""
                ),
                {"id": message_id},
            ).one()

    async def run(self) -> ReplyResult:
        counts = self.result.counts
        with self.engine.connect() as conn:
            pending = list(conn.execute(PENDING, {"channel": self.channel}))
        counts["pending_found"] = len(pending)
        for row in pending:
            await self._isolated(self._recover, row)
        with self.engine.connect() as conn:
            candidates = list(conn.scalars(CANDIDATES, {"channel": self.channel}))
        counts["candidates"] = len(candidates)
        for conversation_id in candidates:
            row = self._decide(conversation_id)
            if row is not None:
                await self._isolated(self._send, row)
        return self.result

    async def _isolated(self, step: Callable[[Any], Any], row: Any) -> None:
        try:
            await step(row)
        except Exception as error:
            if systemic(error):
                raise
            # e.g. the thread could not be read during recovery: the row stays pending for next time
            self.result.counts["retry_later"] += 1
            with self.engine.begin() as conn:
                conn.execute(NOTE_ERROR, {"id": row.id, "error": str(error)[:2000]})

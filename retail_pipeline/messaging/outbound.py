"""Posting one outbound message to a buyer, crash-safely: the one path for auto-replies (the
`auto_replies` asset) and a person's replies (the sidecar). No Dagster, no FastAPI here.

The caller has already committed the message as a 'pending' row (with its auto_reply_key, or the
idempotency key of the reply form). `deliver` then, in one transaction that holds the row's lock:
1. re-reads the row: already 'sent' (a double click that waited for the first) or 'failed': nothing to do;
2. on `recover` (the row may have been posted before a crash): reads the remote thread first; a shop
   message with the same body, posted after the message it answers and not yet held locally, is that
   post: the row is marked sent, nothing is posted again. An auto-reply whose thread is no longer open,
   or that a person has answered meanwhile, is dropped instead;
3. posts it through the channel's inbox, then (after the `after_send` test hook: raise there to simulate
   a crash between post and commit) marks it 'sent' with the channel's id and commits.
A refusal (4xx) marks it 'failed' (an auto-reply also opens an ops task: the thread waits for a
person); an outage leaves it 'pending' for a retry (the next auto-reply pass recovers every pending
row of its channel, a person's too); authentication failures raise.

The row lock makes a concurrent second sender of the same row wait (`wait=True`, up to
LOCK_WAIT_MS) or skip it (`wait=False`), so two processes never post one row twice.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal

from sqlalchemy import Connection, Engine, text
from sqlalchemy.exc import OperationalError

from retail_pipeline.db.activity import log_activity
from retail_pipeline.db.ops_tasks import open_task
from retail_pipeline.domain.auto_replies import HOLDING_RULES
from retail_pipeline.domain.buyer_messages import Inbox

LOCK_WAIT_MS = 10_000  # a post takes seconds at worst; a second click waits for it, not forever
LOCK_NOT_AVAILABLE = "55P03"  # lock_timeout passed: another sender still holds the row

Outcome = Literal["sent", "recovered", "already_sent", "failed", "dropped", "retry_later", "busy"]

_ROW = """
    SELECT m.id, m.conversation_id, m.body, m.status, m.auto_reply_key, m.idempotency_key, m.raw, m.error,
           m.external_message_id, m.author_name, c.channel, c.external_thread_id,
           c.status AS conversation_status
      FROM retail.messages m JOIN retail.conversations c ON c.id = m.conversation_id
     WHERE m.id = :id AND m.direction = 'outbound'
       FOR UPDATE OF m
"""
LOCK_WAITING = text(_ROW)
LOCK_OR_SKIP = text(_ROW + " SKIP LOCKED")

MARK_SENT = text(
    """
    UPDATE retail.messages SET status = 'sent', external_message_id = :external_id, sent_at = :at, error = NULL
     WHERE id = :id AND status = 'pending'
    """
)
MARK_FAILED = text(
    "UPDATE retail.messages SET status = 'failed', error = :error WHERE id = :id AND status = 'pending'"
)
NOTE_ERROR = text("UPDATE retail.messages SET error = :error WHERE id = :id")
KNOWN_IDS = text(
    "SELECT external_message_id FROM retail.messages WHERE conversation_id = :id AND external_message_id IS NOT NULL"
)
# A person's (or the channel's) reply after the message this one answers: an auto-reply now is stale.
ANSWERED_SINCE = text(
    """
    SELECT EXISTS (SELECT 1 FROM retail.messages
                    WHERE conversation_id = :id AND direction = 'outbound' AND status = 'sent'
                      AND id > :after AND id <> :own)
    """
)

# last_inbound_at: the customer's last message; last_outbound_at: our last answer that was sent (a
# person's, or an answering auto-reply: holding ones, ack and out-of-hours, leave the thread waiting).
REFRESH_TIMES = text(
    """
    UPDATE retail.conversations c SET last_inbound_at = s.li, last_outbound_at = s.lo
      FROM (SELECT max(sent_at) FILTER (WHERE direction = 'inbound' AND author_type = 'customer') AS li,
                   max(sent_at) FILTER (WHERE direction = 'outbound' AND status = 'sent'
                                          AND (auto_reply_key IS NULL
                                               OR split_part(auto_reply_key, ':', 1) <> ALL(:holding))) AS lo
              FROM retail.messages WHERE conversation_id = :id) s
     WHERE c.id = :id AND (c.last_inbound_at, c.last_outbound_at) IS DISTINCT FROM (s.li, s.lo)
    """
)


def refresh_times(conn: Connection, conversation_id: int) -> bool:
    return conn.execute(REFRESH_TIMES, {"id": conversation_id, "holding": sorted(HOLDING_RULES)}).rowcount > 0


def error_facts(error: BaseException) -> tuple[int | None, bool, str]:
    """(HTTP status, worth retrying, message) of any client's error (ChannelError or alike)."""
    status = getattr(error, "status", None)
    retryable = getattr(error, "retryable", None)
    if retryable is None:
        retryable = status is None or status == 429 or status >= 500
    return status, bool(retryable), str(getattr(error, "message", None) or error)


def systemic(error: BaseException) -> bool:
    """Authentication failures: every other thread would fail the same way."""
    return getattr(error, "status", None) in (401, 403)


@dataclass(frozen=True)
class Delivery:
    message_id: int
    conversation_id: int | None
    outcome: Outcome
    external_message_id: str | None = None
    error: str | None = None

    @property
    def posted(self) -> bool:
        """The channel holds the message (now or before)."""
        return self.outcome in ("sent", "recovered", "already_sent")


async def deliver(
    engine: Engine,
    inbox: Inbox,
    message_id: int,
    *,
    recover: bool,
    wait: bool = True,
    actor: str | None = None,
    run_id: str | None = None,
    now: Callable[[], datetime] | None = None,
    after_send: Callable[[int, str], None] | None = None,
) -> Delivery:
    """Posts the pending outbound message `message_id` at most once (see the module docstring)."""
    clock = now or (lambda: datetime.now(UTC))
    with engine.connect() as conn, conn.begin():
        if wait:
            conn.exec_driver_sql(f"SET LOCAL lock_timeout = {LOCK_WAIT_MS}")
        try:
            row = conn.execute(LOCK_WAITING if wait else LOCK_OR_SKIP, {"id": message_id}).first()
        except OperationalError as error:
            if getattr(error.orig, "sqlstate", None) != LOCK_NOT_AVAILABLE:
                raise
            return Delivery(message_id, None, "busy")
        if row is None:  # skipped: another process is sending it
            return Delivery(message_id, None, "busy")
        if row.status == "sent":
            return Delivery(row.id, row.conversation_id, "already_sent", row.external_message_id)
        if row.status == "failed":
            return Delivery(row.id, row.conversation_id, "failed", error=row.error)
        log = _Log(conn, row, actor=actor, run_id=run_id)
        if recover:
            found = await _recover(conn, inbox, row, log)
            if found is not None:
                return found
        try:
            external_id = await inbox.reply(row.external_thread_id, row.body)
        except Exception as error:
            if systemic(error):
                raise
            _, retryable, message = error_facts(error)
            if not retryable:
                return log.give_up(message, task=row.auto_reply_key is not None)
            conn.execute(NOTE_ERROR, {"id": row.id, "error": message[:2000]})
            log("failed", {"error": message, "retryable": True})
            return Delivery(row.id, row.conversation_id, "retry_later", error=message)
        if after_send is not None:
            after_send(row.id, external_id)
        return log.sent(external_id, clock(), recovered=False)


async def _recover(conn: Connection, inbox: Inbox, row: Any, log: _Log) -> Delivery | None:
    """A row left 'pending' by an earlier attempt: was it posted? (None: no, post it now.)"""
    raw = row.raw or {}
    if row.auto_reply_key is not None:  # a person's reply is theirs to withdraw; an auto-reply goes stale
        if row.conversation_status != "open":
            return log.give_up("conversation closed before the reply was sent", task=False, dropped=True)
        answered = conn.scalar(
            ANSWERED_SINCE, {"id": row.conversation_id, "after": raw.get("in_reply_to") or 0, "own": row.id}
        )
        if answered:
            return log.give_up(
                "answered meanwhile; the auto-reply is no longer needed", task=False, dropped=True
            )
    known = set(conn.scalars(KNOWN_IDS, {"id": row.conversation_id}))
    after = datetime.fromisoformat(raw["in_reply_to_at"]) if raw.get("in_reply_to_at") else None
    thread = await inbox.thread(row.external_thread_id)
    for message in thread.messages:
        if (
            message.author_type == "shop"
            and message.external_message_id not in known
            and message.body.strip() == row.body.strip()
            and (after is None or message.created_at >= after)
        ):
            return log.sent(message.external_message_id, message.created_at, recovered=True)
    return None


class _Log:
    """The row's local writes, in the delivering transaction, each with its activity_log row."""

    def __init__(self, conn: Connection, row: Any, *, actor: str | None, run_id: str | None):
        self.conn, self.row, self.actor, self.run_id = conn, row, actor, run_id

    def __call__(self, outcome: str, details: dict[str, Any]) -> None:
        row = self.row
        log_activity(
            self.conn, actor=self.actor, run_id=self.run_id,
            action="message.auto_reply" if row.auto_reply_key else "message.reply", outcome=outcome,
            channel=row.channel, entity_type="conversation", entity_id=row.conversation_id,
            key=row.auto_reply_key or row.idempotency_key, details={"message_id": row.id, **details},
        )  # fmt: skip

    def sent(self, external_id: str, at: datetime, *, recovered: bool) -> Delivery:
        row = self.row
        self.conn.execute(MARK_SENT, {"id": row.id, "external_id": external_id, "at": at})
        refresh_times(self.conn, row.conversation_id)
        self("succeeded", {"external_message_id": external_id, "recovered": recovered})
        return Delivery(row.id, row.conversation_id, "recovered" if recovered else "sent", external_id)

    def give_up(self, reason: str, *, task: bool, dropped: bool = False) -> Delivery:
        row = self.row
        self.conn.execute(MARK_FAILED, {"id": row.id, "error": reason[:2000]})
        self("failed", {"error": reason})
        if task:
            open_task(
                self.conn, kind="message_waiting", key=f"auto_reply:{row.conversation_id}", severity="warning",
                title=f"Auto-reply to conversation {row.conversation_id} failed: {reason[:160]}",
                details={"message_id": row.id, "auto_reply_key": row.auto_reply_key, "error": reason},
                channel=row.channel, entity_type="conversation", entity_id=row.conversation_id,
                run_id=self.run_id,
            )  # fmt: skip
        return Delivery(row.id, row.conversation_id, "dropped" if dropped else "failed", error=reason)

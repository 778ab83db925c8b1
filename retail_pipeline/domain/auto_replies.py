"""Auto-reply rules for buyer messages (seed 004, "Customer Service Sync"), as pure functions.

`decide(conversation, now=…, policy=…)` looks at one conversation (its messages, oldest first, and
what we know of its order) and returns at most one `AutoReply`, or None. It does no I/O: the
`auto_replies` asset loads the conversation, calls it, writes the reply 'pending' under its
`key` (UNIQUE per conversation in retail.messages) and only then sends it.

What is answered: the customer's messages since our last outbound message (the "unanswered batch").
So one auto-reply answers a batch and a second one is never sent for the same inbound message:
once anything of ours (a person's reply, an auto-reply, even one still pending) follows the
customer's last message, there is nothing to answer until the customer writes again.

Never replied to: a conversation that is not open (pending, snoozed or resolved); a thread whose last word is ours (shop, operator, system),
or the marketplace's staff (a marketplace operator, stored as an inbound 'operator' message) and not
a customer's; a conversation with no customer message at all.

Rules, by priority (each has a trigger: `key = f"{rule}:{trigger}"`, at most one per conversation):
- out_of_hours (trigger: the local date the quiet window began) — during quiet hours.
- returns (trigger "policy") — a return / refund / exchange request: the policy text.
- tracking (trigger: the tracking PIN) — "where is my order" when the order has a shipment with a
  PIN: carrier, PIN, tracking link and where the parcel is. A new PIN may be told again; the same
  PIN only once (asked again, a person answers).
- ack (trigger "new_thread") — the first question of a conversation, when nothing above applies.

Quiet hours (decided): during the configured local window the *only* auto-reply is the
out-of-hours notice (mode "notice", the default), once per conversation per night; every other
rule waits. With mode "hold" nothing at all is sent during quiet hours and the rules apply to the
still-unanswered batch when the window ends. The notice answers its inbound message like any
auto-reply, so the morning brings no second auto-reply for it: the thread waits for a person.

Holding replies (ack, out_of_hours) say "we'll get back to you"; they do not answer the question,
so they do not count as an answer for the ops inbox (`answers_customer`): `last_outbound_at` moves
only for a person's reply or an answering rule (returns, tracking).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Literal
from zoneinfo import ZoneInfo

from retail_pipeline.domain.shipping import CARRIER_NAMES, TRACKING_URLS

AuthorType = Literal["customer", "shop", "operator", "system"]
Direction = Literal["inbound", "outbound"]
QuietMode = Literal["notice", "hold"]

ACK, TRACKING, RETURNS, OUT_OF_HOURS = "ack", "tracking", "returns", "out_of_hours"
RULES = (OUT_OF_HOURS, RETURNS, TRACKING, ACK)  # priority order
HOLDING_RULES = frozenset({ACK, OUT_OF_HOURS})  # "we'll get back to you": not an answer

# English and French (Canadian buyers) phrasings. Word boundaries keep "turn" out of "return".
_WHERE_IS_MY_ORDER = re.compile(
    r"\b(where\s+is|where'?s|status\s+of)\s+(my|the)\s+(order|parcel|package|item|shipment)"
    r"|\btrack(ing)?\b|\b(has|have)\s+(it|my\s+order|the\s+order)\s+(been\s+)?shipped"
    r"|\bshipped\s+yet\b|\b(not|never)\s+(yet\s+)?(received|arrived)\b|\bhaven'?t\s+(yet\s+)?received\b"
    r"|\bhasn'?t\s+(yet\s+)?arrived\b|\bwhen\s+will\s+(it|my\s+order|the\s+order)\s+(arrive|ship|be\s+delivered)"
    r"|\bo[uù]\s+est\s+ma\s+commande\b|\bsuivi\b|\bpas\s+(encore\s+)?re[cç]u",
    re.IGNORECASE,
)
_RETURN_OR_REFUND = re.compile(
    r"\b(return(ing|ed)?\s+(it|this|the|my|an?)\b|returns?\s+(policy|label|request)|\brefund(ed|s)?\b"
    r"|\bmoney\s+back\b|\bsend\s+(it|this)\s+back\b|\bexchange\b|\bwant\s+to\s+return\b"
    r"|\brembourse(ment|r)?\b|\bretour(ner)?\b|\b[ée]change\b)",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class QuietHours:
    """A local window, e.g. 21:00–08:00 America/Toronto; start > end spans midnight; start == end: none."""

    start: time
    end: time
    timezone: str = "America/Toronto"
    mode: QuietMode = "notice"

    def window_start(self, now: datetime) -> date | None:
        """The local date the quiet window containing `now` began on, or None outside quiet hours."""
        if self.start == self.end:
            return None
        local = now.astimezone(ZoneInfo(self.timezone))
        clock = local.time().replace(tzinfo=None)
        if self.start < self.end:
            return local.date() if self.start <= clock < self.end else None
        if clock >= self.start:
            return local.date()
        if clock < self.end:
            return local.date() - timedelta(days=1)
        return None


@dataclass(frozen=True)
class Templates:
    """The replies' wording; {placeholders} filled from the conversation."""

    ack: str = (
        "Hello {name},\n\nThank you for your message about {about}. We have received it and a member of "
        "our team will reply within one business day.\n\n{signature}"
    )
    tracking: str = (
        "Hello {name},\n\nYour order {order} {progress} with {carrier}. Tracking number: {pin}.{link}\n\n"
        "{signature}"
    )
    returns: str = (
        "Hello {name},\n\nWe are sorry the item did not work out. You may return it within {return_days} "
        "days of delivery in its original condition. Please open the return request{for_order} from "
        "your {channel_name} account; once we receive the item, the refund goes back to your original "
        "payment method within 5 business days. If the item arrived damaged or faulty, reply with a photo "
        "and we will arrange it at no cost to you.\n\n{signature}"
    )
    out_of_hours: str = (
        "Hello {name},\n\nThank you for your message. Our customer service team is away until {reopens} "
        "({timezone}) and will reply then.\n\n{signature}"
    )


@dataclass(frozen=True)
class ReplyPolicy:
    quiet_hours: QuietHours | None = None
    signature: str = "Customer Service"
    return_days: int = 30
    enabled_rules: frozenset[str] = frozenset(RULES)
    templates: Templates = field(default_factory=Templates)


@dataclass(frozen=True)
class Message:
    id: int | str  # any stable id (the local row id)
    direction: Direction
    author_type: AuthorType
    body: str
    at: datetime  # when it was posted (channel time)
    auto_reply_key: str | None = None


@dataclass(frozen=True)
class OrderFacts:
    external_order_id: str
    status: str | None = None  # order_status_history's latest (orders.current_status)
    carrier: str | None = None
    tracking_pin: str | None = None
    shipment_status: str | None = None  # shipments.status
    shipped_at: datetime | None = None


@dataclass(frozen=True)
class Conversation:
    channel: str
    status: Literal["open", "pending", "snoozed", "resolved"]
    messages: tuple[Message, ...]  # oldest first
    customer_name: str | None = None
    subject: str | None = None
    order: OrderFacts | None = None
    channel_title: str | None = None  # as buyers know it; the name when unset


@dataclass(frozen=True)
class AutoReply:
    rule: str
    trigger: str
    body: str
    in_reply_to: int | str  # the customer's last message of the batch it answers

    @property
    def key(self) -> str:
        return f"{self.rule}:{self.trigger}"

    @property
    def answers_customer(self) -> bool:
        return answers_customer(self.key)


def answers_customer(auto_reply_key: str | None) -> bool:
    """A person's reply (no key) or an answering rule's; holding replies (ack, notice) are not."""
    return auto_reply_key is None or auto_reply_key.split(":", 1)[0] not in HOLDING_RULES


def unanswered(messages: tuple[Message, ...]) -> tuple[Message, ...]:
    """The customer's messages after our last outbound one (empty when the last word is not theirs)."""
    batch: list[Message] = []
    for message in reversed(messages):
        if message.direction == "outbound":
            break
        if message.author_type == "customer":
            batch.append(message)
    if not messages or messages[-1].author_type != "customer" or messages[-1].direction != "inbound":
        return ()  # the last word is ours or the marketplace's staff: never reply to it
    return tuple(reversed(batch))


def asks_where_is_order(text: str) -> bool:
    return bool(_WHERE_IS_MY_ORDER.search(text))


def asks_return_or_refund(text: str) -> bool:
    return bool(_RETURN_OR_REFUND.search(text))


def decide(conversation: Conversation, *, now: datetime, policy: ReplyPolicy) -> AutoReply | None:
    """The one auto-reply this conversation should get now, or None (see the module docstring)."""
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    if conversation.status != "open":
        return None
    batch = unanswered(conversation.messages)
    if not batch:
        return None
    used = {m.auto_reply_key for m in conversation.messages if m.auto_reply_key}
    enabled = policy.enabled_rules
    last = batch[-1]
    order = conversation.order

    def reply(rule: str, trigger: str, **values: str) -> AutoReply | None:
        if rule not in enabled or f"{rule}:{trigger}" in used:
            return None
        body = getattr(policy.templates, rule).format(**_common(conversation, policy) | values)
        return AutoReply(rule, trigger, body, last.id)

    quiet = policy.quiet_hours
    night = quiet.window_start(now) if quiet else None
    if quiet is not None and night is not None:
        if quiet.mode == "hold":
            return None
        return reply(
            OUT_OF_HOURS,
            night.isoformat(),
            reopens=quiet.end.strftime("%H:%M"),
            timezone=quiet.timezone,
        )

    text = "\n".join(m.body for m in batch)
    if asks_return_or_refund(text) and (found := reply(RETURNS, "policy")):
        return found
    if asks_where_is_order(text) and order is not None and order.tracking_pin:
        carrier = order.carrier or "canada_post"
        link = TRACKING_URLS.get(carrier, "")
        found = reply(
            TRACKING,
            order.tracking_pin,
            progress=_progress(order),
            carrier=CARRIER_NAMES.get(carrier, carrier),
            pin=order.tracking_pin,
            link=f" Track it here: {link.format(pin=order.tracking_pin)}" if link else "",
        )
        if found:
            return found
    return reply(ACK, "new_thread")


def _progress(order: OrderFacts) -> str:
    if order.shipment_status == "delivered" or order.status == "delivered":
        return "has been delivered"
    if order.shipped_at is not None or order.status == "shipped" or order.shipment_status == "shipped":
        when = f" on {order.shipped_at:%B} {order.shipped_at.day}" if order.shipped_at else ""
        return f"was shipped{when}"
    return "is packed and will be handed over shortly"


def _common(conversation: Conversation, policy: ReplyPolicy) -> dict[str, str]:
    order = conversation.order
    first_name = (conversation.customer_name or "").split(" ")[0].strip()
    about = f"order {order.external_order_id}" if order else (conversation.subject or "your enquiry")
    return {
        "name": first_name or "there",
        "about": about,
        "order": order.external_order_id if order else "",
        "for_order": f" for order {order.external_order_id}" if order else "",
        "signature": policy.signature,
        "return_days": str(policy.return_days),
        "channel_name": conversation.channel_title or conversation.channel,
    }

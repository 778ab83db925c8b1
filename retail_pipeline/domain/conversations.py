"""Customer-service rules for buyer threads, as pure functions (no I/O).

Statuses: open (needs us), pending (we wait for the buyer), snoozed (hidden until a time), resolved.
Any new inbound message reopens a thread (the message sync does it). A snooze needs a
time in the future; leaving 'snoozed' clears it.

Collision detection: the reply form carries the id of the newest message the agent has seen; any
message after it (the buyer wrote again, a colleague or an auto-reply answered) holds the reply
until the agent has seen them and chooses to send anyway.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

Status = Literal["open", "pending", "snoozed", "resolved"]
STATUSES: tuple[Status, ...] = ("open", "pending", "snoozed", "resolved")
MAX_REPLY_CHARS = 5000  # the channels' own limits are higher; no buyer reads more


class InvalidChange(ValueError):
    """A status change or reply that cannot be applied as asked; `field` names the input at fault."""

    def __init__(self, field: str, message: str):
        super().__init__(message)
        self.field, self.message = field, message


@dataclass(frozen=True)
class StatusChange:
    status: Status
    snoozed_until: datetime | None


def status_change(status: str, *, until: datetime | None, now: datetime) -> StatusChange:
    """The status (and snooze time) to store, or InvalidChange."""
    if status not in STATUSES:
        raise InvalidChange("status", f"unknown status {status!r}; one of {', '.join(STATUSES)}")
    if status != "snoozed":
        if until is not None:
            raise InvalidChange("until", "only a snoozed thread has an until time")
        return StatusChange(status, None)  # type: ignore[arg-type]
    if until is None:
        raise InvalidChange("until", "snoozing needs an until time")
    if until.tzinfo is None:
        raise InvalidChange("until", "until needs a time zone offset, e.g. 2026-01-31T09:00:00Z")
    if until <= now:
        raise InvalidChange("until", "until must be in the future")
    return StatusChange("snoozed", until)


def newer_messages(
    messages: Iterable[Mapping[str, Any]], last_seen_id: int | None
) -> list[Mapping[str, Any]]:
    """The messages an agent who saw up to `last_seen_id` has not seen (ids grow with insertion)."""
    return [m for m in messages if last_seen_id is None or m["id"] > last_seen_id]


def reply_body(body: str) -> str:
    """The body to post, or InvalidChange: trailing blanks go, an empty or oversized one is refused."""
    cleaned = body.strip()
    if not cleaned:
        raise InvalidChange("body", "the reply is empty")
    if len(cleaned) > MAX_REPLY_CHARS:
        raise InvalidChange("body", f"the reply is {len(cleaned)} characters; at most {MAX_REPLY_CHARS}")
    return cleaned


def fill_saved_reply(body: str, *, customer_name: str | None, order_ref: str | None) -> str:
    """A saved reply with {name} and {order} filled from the thread ("there" / nothing without)."""
    first_name = (customer_name or "").split(" ")[0].strip() or "there"
    filled = body.replace("{name}", first_name).replace("{order}", order_ref or "")
    return re.sub(r"(?<=\S) {2,}(?=\S)", " ", filled)  # "order  is" when there is no order

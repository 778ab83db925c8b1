"""One buyer-inbox shape for every channel we answer (pure data, no I/O).

`RemoteThread` / `RemoteMessage` are what the sync writes and the auto-replier reads back; each
channel's inbox adapter (in its module, `retail_pipeline/channels/<name>.py`) turns its client's wire objects into
them and posts replies. Author types follow retail.messages: customer (the buyer), shop (us, through
the channel), operator (the marketplace's own staff), system (never from a channel).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol


@dataclass(frozen=True)
class RemoteMessage:
    external_message_id: str
    author_type: str  # customer | shop | operator
    author_name: str | None
    body: str
    created_at: datetime
    raw: dict[str, Any] = field(default_factory=dict, compare=False)

    @property
    def direction(self) -> str:
        return "outbound" if self.author_type == "shop" else "inbound"


@dataclass(frozen=True)
class RemoteThread:
    external_thread_id: str
    updated_at: datetime
    messages: tuple[RemoteMessage, ...]  # oldest first
    subject: str | None = None
    customer_id: str | None = None
    customer_name: str | None = None
    order_ref: str | None = None  # the channel's order id when the thread is about an order


class Inbox(Protocol):
    channel: str

    def threads(self, updated_since: datetime | None) -> AsyncIterator[RemoteThread]: ...

    async def thread(self, external_thread_id: str) -> RemoteThread: ...

    async def reply(self, external_thread_id: str, body: str) -> str:
        """Posts `body` as the shop; returns the channel's message id."""
        ...

    async def aclose(self) -> None: ...


def message_time(value: Any) -> datetime:
    moment = (
        value if isinstance(value, datetime) else datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    )
    if moment.tzinfo is None:
        raise ValueError(f"time without an offset from the channel: {value!r}")
    return moment

"""One buyer-inbox shape for every channel we answer, and the adapters that fill it.

`RemoteThread` / `RemoteMessage` are what the sync writes and the auto-replier reads back; each
channel's adapter (`ReverbInbox`, `MiraklInbox`) turns its client's wire objects into them and posts
replies. Author types follow retail.messages: customer (the buyer), shop (us, through the channel),
operator (the marketplace's own staff: Mirakl OPERATOR_USER), system (never from a channel).

Settings (`MessagingSettings`, MESSAGES_* variables): quiet hours (MESSAGES_QUIET_HOURS_START/END as
HH:MM, MESSAGES_TIMEZONE, MESSAGES_QUIET_HOURS_MODE notice|hold), MESSAGES_SIGNATURE,
MESSAGES_RETURN_DAYS, MESSAGES_AUTO_REPLIES_ENABLED (false: sync only, never send).
"""

from __future__ import annotations

import importlib
import importlib.util
import inspect
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import datetime, time
from typing import Any, Protocol

import dagster as dg
from pydantic import Field, PrivateAttr
from pydantic_settings import BaseSettings, SettingsConfigDict

from retail_pipeline.domain.auto_replies import QuietHours, QuietMode, ReplyPolicy

# Best Buy's inbox needs the Mirakl client; until that module ships, the channel is left out rather
# than failing every run (its partition appears by itself once the client is there).
CHANNELS = tuple(
    channel
    for channel, module in (("bestbuy", "retail_pipeline.integrations.marketplaces.mirakl"), ("reverb", None))
    if module is None or importlib.util.find_spec(module) is not None
)


class MessagingSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="MESSAGES_", env_file=".env", extra="ignore")

    quiet_hours_start: time | None = Field(default=time(21, 0), description="Local; unset = no quiet hours.")
    quiet_hours_end: time | None = Field(default=time(8, 0))
    timezone: str = Field(default="America/Toronto", description="The quiet hours' zone (IANA).")
    quiet_hours_mode: QuietMode = Field(default="notice", description="notice: only the out-of-hours notice.")
    signature: str = "Customer Service"
    return_days: int = Field(default=30, ge=0)
    auto_replies_enabled: bool = True

    def policy(self) -> ReplyPolicy:
        quiet = None
        if self.quiet_hours_start is not None and self.quiet_hours_end is not None:
            quiet = QuietHours(
                self.quiet_hours_start, self.quiet_hours_end, self.timezone, self.quiet_hours_mode
            )
        return ReplyPolicy(quiet_hours=quiet, signature=self.signature, return_days=self.return_days)


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


def _time(value: Any) -> datetime:
    moment = (
        value if isinstance(value, datetime) else datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    )
    if moment.tzinfo is None:
        raise ValueError(f"time without an offset from the channel: {value!r}")
    return moment


# --- Reverb


class ReverbInbox:
    channel = "reverb"

    def __init__(self, client: Any):
        self.client = client  # a ReverbClient

    @staticmethod
    def _message(item: dict[str, Any]) -> RemoteMessage:
        sender = item.get("sender") or {}
        return RemoteMessage(
            external_message_id=str(item["id"]),
            author_type="shop" if sender.get("role") == "seller" else "customer",
            author_name=sender.get("name"),
            body=item.get("body") or "",
            created_at=_time(item["created_at"]),
            raw=item,
        )

    def _thread(self, item: dict[str, Any]) -> RemoteThread:
        other = item.get("other_participant") or {}
        return RemoteThread(
            external_thread_id=str(item["id"]),
            updated_at=_time(item["updated_at"]),
            messages=tuple(self._message(m) for m in item.get("messages") or ()),
            subject=item.get("subject"),
            customer_id=str(other["id"]) if other.get("id") is not None else None,
            customer_name=other.get("name"),
            order_ref=str(item["order_number"]) if item.get("order_number") else None,
        )

    async def threads(self, updated_since: datetime | None) -> AsyncIterator[RemoteThread]:
        # Reverb's list takes no date filter: the whole list is read (50 a page, no messages) and only
        # the conversations active since the cursor are fetched with their messages.
        active = [
            item
            async for item in self.client.conversations()
            if updated_since is None or _time(item["updated_at"]) >= updated_since
        ]
        for item in sorted(active, key=lambda item: _time(item["updated_at"])):
            try:
                yield await self.thread(str(item["id"]))
            except Exception as error:
                if getattr(error, "status", None) != 404:  # gone since it was listed: nothing to sync
                    raise

    async def thread(self, external_thread_id: str) -> RemoteThread:
        return self._thread(await self.client.conversation(external_thread_id))

    async def reply(self, external_thread_id: str, body: str) -> str:
        return str((await self.client.send_message(external_thread_id, body))["id"])

    async def aclose(self) -> None:
        await self.client.aclose()


# --- Mirakl (Best Buy): M11 threads, M10 thread, M12 reply


MIRAKL_AUTHORS = {"CUSTOMER_USER": "customer", "SHOP_USER": "shop", "OPERATOR_USER": "operator"}


def _plain(value: Any) -> Any:
    """A Mirakl thread/message as JSON, whether the client hands back dicts or pydantic models."""
    if hasattr(value, "model_dump"):
        return value.model_dump(mode="json", by_alias=True)
    return value


class MiraklInbox:
    """Over `MiraklClient` (threads(updated_since=, entity_id=) with paging, thread(id), reply(id, body,
    to=)), reading the M10/M11 thread JSON of the Mirakl seller spec."""

    channel = "bestbuy"

    def __init__(self, client: Any):
        self.client = client

    @staticmethod
    def _message(item: dict[str, Any]) -> RemoteMessage:
        sender = item.get("from") or {}
        return RemoteMessage(
            external_message_id=str(item["id"]),
            author_type=MIRAKL_AUTHORS.get(sender.get("type", ""), "operator"),
            author_name=sender.get("display_name"),
            body=item.get("body") or "",
            created_at=_time(item["date_created"]),
            raw=item,
        )

    def _thread(self, item: Any) -> RemoteThread:
        item = _plain(item)
        customer = next(
            (p for p in item.get("current_participants") or item.get("authorized_participants") or ()
             if p.get("type") == "CUSTOMER"),
            {},
        )  # fmt: skip
        order = next((e for e in item.get("entities") or () if e.get("type") == "MMP_ORDER"), None)
        topic = item.get("topic") or {}
        messages = sorted(
            (self._message(_plain(m)) for m in item.get("messages") or ()), key=lambda m: m.created_at
        )
        return RemoteThread(
            external_thread_id=str(item["id"]),
            updated_at=_time(item["date_updated"]),
            messages=tuple(messages),
            subject=topic.get("value"),
            customer_id=customer.get("id"),
            customer_name=customer.get("display_name"),
            order_ref=order["id"] if order else None,
        )

    async def threads(self, updated_since: datetime | None) -> AsyncIterator[RemoteThread]:
        found = self.client.threads(updated_since=updated_since)
        if inspect.isawaitable(found):
            found = await found
        items = [item async for item in found] if hasattr(found, "__aiter__") else list(found)
        for item in items:
            item = _plain(item)
            if "messages" not in item:  # listed without with_messages: M10 has them
                yield await self.thread(str(item["id"]))
            else:
                yield self._thread(item)

    async def thread(self, external_thread_id: str) -> RemoteThread:
        found = self.client.thread(external_thread_id)
        return self._thread(await found if inspect.isawaitable(found) else found)

    async def reply(self, external_thread_id: str, body: str) -> str:
        answer = self.client.reply(external_thread_id, body, to=("CUSTOMER",))
        answer = _plain(await answer if inspect.isawaitable(answer) else answer)
        return str(answer["message_id"] if isinstance(answer, dict) else answer)

    async def aclose(self) -> None:
        close = getattr(self.client, "aclose", None)
        if close is not None:
            await close()


# "module:Class" of each channel's client, imported on first use (mirakl.py is another engineer's).
INBOX_CLIENTS = {
    "reverb": ("retail_pipeline.integrations.marketplaces.reverb:ReverbClient", ReverbInbox),
    "bestbuy": ("retail_pipeline.integrations.marketplaces.mirakl:MiraklClient", MiraklInbox),
}


class InboxResource(dg.ConfigurableResource):
    """Creates the buyer inbox of a channel; each client reads its own settings (REVERB_*, MIRAKL_*).
    Tests bind clients to an in-process simulator with `InboxResource().with_transport(transport)`."""

    _kwargs: dict[str, Any] = PrivateAttr(default_factory=dict)
    _per_channel: dict[str, dict[str, Any]] = PrivateAttr(default_factory=dict)

    def with_transport(self, transport: Any = None, /, **per_channel: dict[str, Any]) -> InboxResource:
        if transport is not None:
            self._kwargs["transport"] = transport
        self._per_channel.update(per_channel)
        return self

    def inbox(self, channel: str) -> Inbox:
        try:
            target, adapter = INBOX_CLIENTS[channel]
        except KeyError:
            raise ValueError(f"no inbox for channel {channel!r}; known: {sorted(INBOX_CLIENTS)}") from None
        module_name, class_name = target.split(":")
        client_class = getattr(importlib.import_module(module_name), class_name)
        return adapter(client_class(**{**self._kwargs, **self._per_channel.get(channel, {})}))

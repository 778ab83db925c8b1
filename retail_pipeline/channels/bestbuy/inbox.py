"""Best Buy's buyer threads through Mirakl: M11 threads, M10 thread, M12 reply."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import datetime
from typing import TYPE_CHECKING, Any

from retail_pipeline.domain.buyer_messages import RemoteMessage, RemoteThread, message_time

if TYPE_CHECKING:
    from retail_pipeline.channels.bestbuy.client import MiraklClient

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

    def __init__(self, client: MiraklClient):
        self.client = client

    @staticmethod
    def _message(item: dict[str, Any]) -> RemoteMessage:
        sender = item.get("from") or {}
        return RemoteMessage(
            external_message_id=str(item["id"]),
            author_type=MIRAKL_AUTHORS.get(sender.get("type", ""), "operator"),
            author_name=sender.get("display_name"),
            body=item.get("body") or "",
            created_at=message_time(item["date_created"]),
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
            updated_at=message_time(item["date_updated"]),
            messages=tuple(messages),
            subject=topic.get("value"),
            customer_id=customer.get("id"),
            customer_name=customer.get("display_name"),
            order_ref=order["id"] if order else None,
        )

    async def threads(self, updated_since: datetime | None) -> AsyncIterator[RemoteThread]:
        items = [item async for item in self.client.threads(updated_since=updated_since)]
        for item in items:
            item = _plain(item)
            if "messages" not in item:  # listed without with_messages: M10 has them
                yield await self.thread(str(item["id"]))
            else:
                yield self._thread(item)

    async def thread(self, external_thread_id: str) -> RemoteThread:
        return self._thread(await self.client.thread(external_thread_id))

    async def reply(self, external_thread_id: str, body: str) -> str:
        answer = await self.client.reply(external_thread_id, body, to=("CUSTOMER",))
        return str(answer["message_id"])

    async def aclose(self) -> None:
        await self.client.aclose()

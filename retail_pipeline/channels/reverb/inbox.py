"""Reverb conversations as buyer threads (GET my/conversations, my/conversations/{id}, POST messages)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import datetime
from typing import Any

from retail_pipeline.domain.buyer_messages import RemoteMessage, RemoteThread, message_time


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
            created_at=message_time(item["created_at"]),
            raw=item,
        )

    def _thread(self, item: dict[str, Any]) -> RemoteThread:
        other = item.get("other_participant") or {}
        return RemoteThread(
            external_thread_id=str(item["id"]),
            updated_at=message_time(item["updated_at"]),
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
            if updated_since is None or message_time(item["updated_at"]) >= updated_since
        ]
        for item in sorted(active, key=lambda item: message_time(item["updated_at"])):
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

"""Best Buy Canada through the Mirakl seller API: orders (OR11), acceptance (OR21), tracking (OR23),
shipping (OR24) and the buyer inbox (M10, M11, M12).

Every call carries `Authorization: <shop API key>` (Mirakl's scheme has no "Bearer" word). OR11 pages
by offset (`max` ≤ 100); M11 by `next_page_token`. Errors come as `{"status", "message"}`, with a
`code` (ORDER_INVALID_STATE, …) and field `errors` on a 400; `ChannelError.details` keeps the body,
`error_code(error)` reads the code. Retries (the shared marketplace HTTP layer): timeouts, 429
(after Retry-After), 5xx. Mirakl recommends OR11 at most once a minute asynchronously; the order
assets poll it on their own schedules, acceptance polls a single order by id.

Acceptance is asynchronous at Mirakl: after OR21 answers 204 the order still shows
WAITING_ACCEPTANCE until Mirakl has processed it, so the caller polls `order(id)`.

Configuration (`MiraklSettings`, MIRAKL_* variables): MIRAKL_BASE_URL (default: the simulator at
{SIMULATOR_URL}/mirakl/api when USE_SIMULATORS, else Best Buy Canada's
https://marketplace.bestbuy.ca/api), MIRAKL_API_KEY (the shop key from the back office; against the
simulator, any), MIRAKL_SHOP_ID (only for keys that reach several shops).
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any, ClassVar

import httpx
from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

from retail_pipeline.integrations.marketplaces.base import ChannelError
from retail_pipeline.integrations.marketplaces.rest import ChannelHTTP, RetryPolicy
from retail_pipeline.settings import get_settings

BESTBUY_API = "https://marketplace.bestbuy.ca/api"
SIMULATOR_KEY = "mirakl-simulator-shop-key"
PAGE = 100  # OR11's largest page


class MiraklSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="MIRAKL_", env_file=".env", extra="ignore")

    base_url: str | None = Field(
        default=None, description="Unset: the simulator when simulating, else Best Buy."
    )
    api_key: SecretStr | None = None
    shop_id: int | None = None
    timeout_seconds: float = Field(default=30.0, gt=0)
    max_attempts: int = Field(default=5, ge=1)

    def base(self) -> str:
        return get_settings().service_base(self.base_url, "mirakl/api", BESTBUY_API)

    def key(self) -> str:
        if self.api_key:
            return self.api_key.get_secret_value()
        if get_settings().at_simulator(self.base(), "mirakl"):
            return SIMULATOR_KEY
        raise ChannelError("bestbuy", "set MIRAKL_API_KEY (the shop API key from the Mirakl back office)")


def describe_error(body: Any) -> str:
    """Mirakl's `{"status", "message", "code", "errors": [{field, message}]}` as one line."""
    if not isinstance(body, dict):
        return str(body)
    head = " ".join(str(part) for part in (body.get("code"), body.get("message")) if part)
    fields = "; ".join(
        f"{e.get('field')}: {e.get('message')}" for e in body.get("errors") or () if isinstance(e, dict)
    )
    return " | ".join(part for part in (head, fields) if part)


def error_code(error: ChannelError) -> str | None:
    """Mirakl's error code (ORDER_INVALID_STATE, ORDER_NOT_FOUND, …) of a failed call, if it sent one."""
    return error.details.get("code") if isinstance(error.details, dict) else None


def _time(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


class MiraklClient:
    channel: ClassVar[str] = "bestbuy"

    def __init__(
        self,
        settings: MiraklSettings | None = None,
        *,
        transport: httpx.AsyncBaseTransport | None = None,
        policy: RetryPolicy | None = None,
    ):
        self.settings = settings or MiraklSettings()
        self._api = self.settings.base()
        self._http = ChannelHTTP(
            self.channel,
            headers={"Authorization": self.settings.key(), "Accept": "application/json"},
            describe=describe_error,
            transport=transport,
            timeout=self.settings.timeout_seconds,
            policy=policy or RetryPolicy(max_attempts=self.settings.max_attempts),
        )

    @property
    def calls(self) -> int:
        return self._http.calls

    async def aclose(self) -> None:
        await self._http.aclose()

    def _params(self, **params: Any) -> dict[str, Any]:
        if self.settings.shop_id is not None:
            params["shop_id"] = self.settings.shop_id
        return {k: v for k, v in params.items() if v is not None}

    # --- orders

    async def orders(
        self,
        *,
        start: datetime | None = None,
        end: datetime | None = None,
        updated_since: datetime | None = None,
        states: tuple[str, ...] = (),
        order_ids: tuple[str, ...] = (),
    ) -> AsyncIterator[dict[str, Any]]:
        """OR11, every page: orders created in [start, end] (both ends included by Mirakl)."""
        offset = 0
        while True:
            params = self._params(
                start_date=_time(start) if start else None,
                end_date=_time(end) if end else None,
                start_update_date=_time(updated_since) if updated_since else None,
                order_state_codes=",".join(states) or None,
                order_ids=",".join(order_ids) or None,
                max=PAGE,
                offset=offset,
            )
            reply = await self._http.call("GET", f"{self._api}/orders", params=params)
            page = reply.data.get("orders") or []
            for order in page:
                yield order
            offset += len(page)
            if not page or offset >= int(reply.data.get("total_count") or 0):
                return

    async def order(self, order_id: str) -> dict[str, Any] | None:
        """One order by id (OR11 `order_ids`), None when Mirakl has no such order."""
        async for order in self.orders(order_ids=(order_id,)):
            if order.get("order_id") == order_id:
                return order
        return None

    async def accept(self, order_id: str, decisions: dict[str, bool]) -> None:
        """OR21: accept (True) or refuse (False) each line; Mirakl wants a decision for every line.
        A retry after a lost answer may meet ORDER_INVALID_STATE: read the order to see what happened."""
        body = {"order_lines": [{"id": line_id, "accepted": ok} for line_id, ok in decisions.items()]}
        await self._http.call(
            "PUT", f"{self._api}/orders/{order_id}/accept", params=self._params(), json_body=body
        )

    async def update_tracking(
        self,
        order_id: str,
        *,
        tracking_number: str,
        carrier_code: str | None = None,
        carrier_name: str | None = None,
        carrier_url: str | None = None,
    ) -> None:
        """OR23 (repeatable: the last tracking wins). A registered carrier by code; otherwise its
        name and tracking URL."""
        body = {"tracking_number": tracking_number}
        if carrier_code:
            body["carrier_code"] = carrier_code
        else:
            body |= {k: v for k, v in (("carrier_name", carrier_name), ("carrier_url", carrier_url)) if v}
        await self._http.call(
            "PUT", f"{self._api}/orders/{order_id}/tracking", params=self._params(), json_body=body
        )

    async def ship(self, order_id: str) -> None:
        """OR24: the order leaves SHIPPING for SHIPPED. A retry after a lost answer reads the order
        first: one already SHIPPED was shipped by the attempt that lost its answer."""
        url = f"{self._api}/orders/{order_id}/ship"

        async def attempt(after_ambiguous: bool) -> None:
            if after_ambiguous and ((await self.order(order_id)) or {}).get("order_state") == "SHIPPED":
                return
            await self._http.send("PUT", url, params=self._params())

        await self._http.retrying(attempt)

    # --- inbox

    async def threads(
        self, *, updated_since: datetime | None = None, entity_id: str | None = None
    ) -> AsyncIterator[dict[str, Any]]:
        """M11, every page, with their messages: threads about orders, newest change first."""
        token: str | None = None
        while True:
            params = self._params(
                entity_type="MMP_ORDER",
                entity_id=entity_id,
                updated_since=_time(updated_since) if updated_since else None,
                with_messages="true",
                page_token=token,
            )
            reply = await self._http.call("GET", f"{self._api}/inbox/threads", params=params)
            for thread in reply.data.get("data") or []:
                yield thread
            token = reply.data.get("next_page_token")
            if not token:
                return

    async def thread(self, thread_id: str) -> dict[str, Any]:
        """M10: one thread with its messages."""
        return (
            await self._http.call("GET", f"{self._api}/inbox/threads/{thread_id}", params=self._params())
        ).data

    async def reply(
        self, thread_id: str, body: str, *, to: tuple[str, ...] = ("CUSTOMER",)
    ) -> dict[str, Any]:
        """M12: a message from the shop; `{"message_id", "thread_id"}`. Not retried after a lost answer
        (a second post would be a second message): the caller checks the thread first."""
        message_input = json.dumps({"body": body, "to": [{"type": kind} for kind in to]})
        files = {"message_input": (None, message_input, "application/json")}
        url = f"{self._api}/inbox/threads/{thread_id}/message"

        async def attempt(after_ambiguous: bool) -> dict[str, Any]:
            if after_ambiguous:
                thread = await self.thread(thread_id)
                for message in reversed(thread.get("messages") or []):
                    if (message.get("from") or {}).get("type") == "SHOP_USER" and message.get("body") == body:
                        return {"message_id": message["id"], "thread_id": thread_id}
            return (await self._http.send("POST", url, params=self._params(), files=files)).data

        return await self._http.retrying(attempt)

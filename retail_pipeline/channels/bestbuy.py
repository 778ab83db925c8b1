"""Best Buy Canada (a Mirakl marketplace): orders, acceptance line by line (OR21), tracking (OR23 +
OR24), buyers' threads (M10/M11/M12). We do not list on it from here: its offers come from our shop.

Best Buy Canada through the Mirakl seller API: orders (OR11), acceptance (OR21), tracking (OR23),
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
from collections.abc import AsyncIterator, Mapping
from datetime import UTC, datetime
from typing import Any, ClassVar

import httpx
from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

from retail_pipeline.channels.plugin import Channel, ChannelCarrier, OrderAcceptance
from retail_pipeline.domain.buyer_messages import RemoteMessage, RemoteThread, message_time
from retail_pipeline.domain.order_sources import (
    Window,
    clean,
    country,
    money,
    parse_time,
)
from retail_pipeline.domain.orders import Address, ChannelOrder, Customer, OrderLine, OrderStatus
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


# --- its orders: Best Buy's orders (Mirakl OR11) as our orders


MIRAKL_STATUS: dict[str, OrderStatus] = {
    "STAGING": "pending_payment",  # fraud check; the shop cannot act yet
    "WAITING_ACCEPTANCE": "pending_acceptance",
    "WAITING_DEBIT": "accepted",
    "WAITING_DEBIT_PAYMENT": "accepted",
    "SHIPPING": "accepted",  # accepted in the back office by hand
    "SHIPPED": "shipped",
    "TO_COLLECT": "shipped",
    "RECEIVED": "delivered",
    "CLOSED": "delivered",
    "REFUSED": "refused",
    "CANCELED": "cancelled",
}


def order_from_mirakl(raw: Mapping[str, Any]) -> ChannelOrder:
    """A Mirakl order (OR11): lines are offers (`offer_sku` is our SKU); countries come as alpha-3."""
    customer_raw = raw.get("customer") or {}
    shipping = customer_raw.get("shipping_address") or {}
    name = " ".join(p for p in (clean(shipping.get("firstname")), clean(shipping.get("lastname"))) if p)
    address = None
    if shipping:
        address = Address(
            name=name or None,
            street_1=clean(shipping.get("street_1")),
            street_2=clean(shipping.get("street_2")),
            city=clean(shipping.get("city")),
            state=clean(shipping.get("state")),
            zip_code=clean(shipping.get("zip_code")),
            country_iso_code=country(
                clean(shipping.get("country_iso_code")) or clean(shipping.get("country"))
            ),
            phone=clean(shipping.get("phone")),
            company=clean(shipping.get("company")),
        )
    customer = None
    if customer_raw.get("customer_id"):
        full = " ".join(
            p for p in (clean(customer_raw.get("firstname")), clean(customer_raw.get("lastname"))) if p
        )
        customer = Customer(
            external_customer_id=str(customer_raw["customer_id"]),
            name=full or None,
            phone=clean(shipping.get("phone")),
            locale=clean(customer_raw.get("locale")),
        )
    state = str(raw["order_state"])
    return ChannelOrder(
        channel="bestbuy",
        external_order_id=str(raw["order_id"]),
        placed_at=parse_time(raw["created_date"]),
        currency=raw.get("currency_iso_code") or "CAD",
        total=money(raw.get("total_price")),
        subtotal=money(raw.get("price")),
        shipping_total=money(raw.get("shipping_price")),
        lines=tuple(
            OrderLine(
                external_line_id=str(line["order_line_id"]),
                sku=clean(line.get("offer_sku")),
                title=line.get("product_title"),
                quantity=int(line.get("quantity") or 1),
                unit_price=money(line.get("price_unit")),
                remote_state=line.get("order_line_state"),
            )
            for line in raw.get("order_lines") or ()
        ),
        initial_status=MIRAKL_STATUS.get(state, "pending_payment"),
        remote_state=state,
        customer=customer,
        shipping_address=address,
        shipping_deadline=parse_time(raw["shipping_deadline"]) if raw.get("shipping_deadline") else None,
        raw=dict(raw),
    )


async def bestbuy_orders(client: Any, window: Window) -> AsyncIterator[ChannelOrder]:
    # Mirakl's date range includes both ends; the caller's window test drops the end instant.
    async for raw in client.orders(start=window.start, end=window.end):
        yield order_from_mirakl(raw)


# --- its buyers' messages: Best Buy's buyer threads through Mirakl: M11 threads, M10 thread, M12 reply


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


# --- the plug-in: what the channel can do, for the registry


SHIPPED = frozenset({"SHIPPED", "TO_COLLECT", "RECEIVED", "CLOSED"})
# Mirakl's order states once a decision has been applied, and the status each gives our history.
DECIDED = {
    "WAITING_DEBIT": "accepted", "WAITING_DEBIT_PAYMENT": "accepted", "SHIPPING": "accepted",
    "SHIPPED": "accepted", "TO_COLLECT": "accepted", "RECEIVED": "accepted", "CLOSED": "accepted",
    "REFUSED": "refused", "CANCELED": "cancelled",
}  # fmt: skip


async def order_state(client: Any, order_id: str) -> str | None:
    remote = await client.order(order_id)
    return remote.get("order_state") if remote else None


async def send_decision(client: Any, order_id: str, decisions: dict[str, bool]) -> bool:
    """OR21. ORDER_INVALID_STATE means our decision is already in (sent before a crash)."""
    try:
        await client.accept(order_id, decisions)
    except ChannelError as error:
        if error_code(error) != "ORDER_INVALID_STATE":
            raise
        return False
    return True


async def push_tracking(client: Any, order, lines: list, shipment, carrier: ChannelCarrier) -> dict[str, Any]:
    """OR23 (repeatable: the last tracking wins), then OR24 (the client reads the order after a lost answer)."""
    await client.update_tracking(
        order.external_order_id,
        tracking_number=shipment.tracking_pin,
        carrier_code=carrier.code,
        carrier_name=carrier.name,
        carrier_url=carrier.url,
    )
    await client.ship(order.external_order_id)
    return {"order_id": order.external_order_id}


async def find_tracking(client: Any, order, lines: list, shipment) -> dict[str, Any] | None:
    remote = await client.order(order.external_order_id)
    if (
        remote
        and remote.get("order_state") in SHIPPED
        and remote.get("shipping_tracking") == shipment.tracking_pin
    ):
        return {"order_id": order.external_order_id, "state": remote["order_state"]}
    return None


CHANNEL = Channel(
    name="bestbuy",
    title="Best Buy",
    client=f"{__name__}:MiraklClient",
    orders=bestbuy_orders,
    acceptance=OrderAcceptance(
        read_state=order_state, send=send_decision, waiting_state="WAITING_ACCEPTANCE", decided=DECIDED
    ),
    push_tracking=push_tracking,
    find_tracking=find_tracking,
    inbox=MiraklInbox,
    carrier_names={"canada_post": "Canada Post", "nz_post": "NZ Post"},  # carrier_name
    # carrier_code: Best Buy's registered carriers; "CPCL" is Canada Post in our Mirakl simulator's list:
    # check it against Best Buy's CA01 before going live. Without a code: sent unregistered (name + url).
    carrier_codes={"canada_post": "CPCL"},
)

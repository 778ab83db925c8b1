"""Messages fixtures: a fresh database, the simulators in-process, an inbox bound to them, orders to
link, and a Mirakl client stand-in speaking the seller spec's thread JSON (M10/M11/M12)."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, time, timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import Engine, text

from retail_pipeline.channels.bestbuy.inbox import MiraklInbox
from retail_pipeline.channels.reverb.client import ReverbSettings
from retail_pipeline.defs.messages.settings import MessagingSettings
from retail_pipeline.defs.resources import ChannelsResource
from retail_pipeline_tests.channels.rest_support import QUICK_RETRIES

API = "http://sim/reverb/api"
NOON = datetime(2025, 6, 2, 17, 0, tzinfo=UTC)  # 13:00 in Toronto
NIGHT = datetime(2025, 6, 3, 3, 0, tzinfo=UTC)  # 23:00 in Toronto


class Crash(BaseException):
    """A process dying: not an Exception, so nothing on the way up records it."""


@pytest.fixture
def reverb(sim):
    return sim.backend("reverb")


@pytest.fixture
def inbox_resource(transport) -> ChannelsResource:
    """Inboxes on the simulators; Reverb's client with quick retries."""
    settings = ReverbSettings(base_url=API, token="reverb-test-token", currency="NZD")
    return ChannelsResource().with_transport(
        transport, reverb={"settings": settings, "policy": QUICK_RETRIES}
    )


@pytest.fixture
def settings() -> MessagingSettings:
    return MessagingSettings(quiet_hours_start=time(21), quiet_hours_end=time(8), timezone="America/Toronto")


def reverb_posts(sim) -> int:
    """Replies our client posted to Reverb (the simulator's journal)."""
    return sum(
        1
        for e in sim.journal.entries("reverb")
        if e.method == "POST" and e.path.endswith("/messages") and e.status == 201
    )


def seller_messages(reverb, conversation_id: int) -> list[str]:
    return [m.body for m in reverb.conversation(conversation_id).messages if m.sender_role == "seller"]


def local_order(engine: Engine, channel: str, external_id: str, *, pin: str | None = None) -> int:
    with engine.begin() as conn:
        order_id = conn.scalar(
            text(
                """INSERT INTO retail.orders (channel, external_order_id, currency, total, placed_at)
                   VALUES (:c, :e, 'CAD', 10, now()) RETURNING id"""
            ),
            {"c": channel, "e": external_id},
        )
        if pin:
            conn.execute(
                text(
                    """INSERT INTO retail.shipments (order_id, status, tracking_pin, label_path, shipped_at)
                       VALUES (:o, 'shipped', :p, 'labels/2025/x.pdf', now())"""
                ),
                {"o": order_id, "p": pin},
            )
    return order_id


def snapshot(engine: Engine) -> dict[str, list]:
    with engine.connect() as conn:
        return {
            table: [tuple(r) for r in conn.execute(text(f"SELECT * FROM retail.{table} ORDER BY id"))]
            for table in ("customers", "conversations", "messages")
        }


# --- a fast in-memory Mirakl inbox for the sync/reply rules (the real client against the simulator:
# test_auto_replies.py::test_bestbuy_through_the_real_mirakl_client_and_simulator)


class FakeMirakl:
    """MiraklClient's interface (threads / thread / reply) over spec-shaped thread JSON."""

    def __init__(self) -> None:
        self.clock = datetime(2025, 6, 2, 9, 0, tzinfo=UTC)
        self.ids = itertools.count(1)
        self.threads_by_id: dict[str, dict[str, Any]] = {}
        self.replies = 0
        self.lose_next_reply_answer = False

    def _tick(self) -> str:
        self.clock += timedelta(minutes=1)
        return self.clock.isoformat().replace("+00:00", "Z")

    def customer_message(self, order_id: str, body: str, customer: str = "Olivia Tremblay") -> str:
        thread = next((t for t in self.threads_by_id.values() if t["entities"][0]["id"] == order_id), None)
        if thread is None:
            thread_id = f"thr-{next(self.ids)}"
            thread = self.threads_by_id[thread_id] = {
                "id": thread_id,
                "date_created": self._tick(),
                "entities": [{"id": order_id, "label": order_id, "type": "MMP_ORDER"}],
                "topic": {"type": "FREE_TEXT", "value": f"About order {order_id}"},
                "current_participants": [
                    {"display_name": customer, "id": "cust-1", "type": "CUSTOMER"},
                    {"display_name": "RP Shop", "id": "2001", "type": "SHOP"},
                ],
                "messages": [],
            }
        self._post(thread, body, {"display_name": customer, "type": "CUSTOMER_USER"})
        return thread["id"]

    def _post(self, thread: dict[str, Any], body: str, sender: dict[str, Any]) -> str:
        message_id = f"msg-{next(self.ids)}"
        at = self._tick()
        thread["messages"].append(
            {"id": message_id, "body": body, "date_created": at, "from": sender, "to": []}
        )
        thread["date_updated"] = at
        return message_id

    async def threads(self, *, updated_since=None, entity_id=None):
        for thread in list(self.threads_by_id.values()):
            if updated_since is None or datetime.fromisoformat(thread["date_updated"]) >= updated_since:
                yield thread

    async def thread(self, thread_id: str) -> dict[str, Any]:
        return self.threads_by_id[thread_id]

    async def reply(self, thread_id: str, body: str, *, to=("CUSTOMER",)) -> dict[str, Any]:
        assert to == ("CUSTOMER",)
        self.replies += 1
        message_id = self._post(
            self.threads_by_id[thread_id], body, {"display_name": "RP Shop", "type": "SHOP_USER"}
        )
        if self.lose_next_reply_answer:
            self.lose_next_reply_answer = False
            raise httpx.ReadTimeout("answer lost after the post")
        return {"message_id": message_id, "thread_id": thread_id}

    async def aclose(self) -> None:
        pass


@pytest.fixture
def mirakl() -> FakeMirakl:
    return FakeMirakl()


@pytest.fixture
def bestbuy_inbox(mirakl) -> MiraklInbox:
    return MiraklInbox(mirakl)

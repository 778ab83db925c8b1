"""Messages fixtures: inboxes bound to the in-process simulators (Reverb, and Best Buy through the real
Mirakl client), orders to link, and what the simulators hold afterwards."""

from __future__ import annotations

from datetime import UTC, datetime, time
from decimal import Decimal

import pytest
from sqlalchemy import Engine, text

from retail_pipeline.channels.bestbuy import MiraklSettings
from retail_pipeline.channels.reverb import ReverbSettings
from retail_pipeline.defs.messages.settings import MessagingSettings
from retail_pipeline.defs.resources import ChannelsResource
from retail_pipeline.integrations.marketplaces.rest import RetryPolicy
from retail_pipeline.simulators.mirakl import MiraklBackend
from retail_pipeline_tests.channels.rest_support import QUICK_RETRIES, LoseAnswers
from retail_pipeline_tests.seeds.ops import add_order, add_shipment

API = "http://sim/reverb/api"
NOON = datetime(2025, 6, 2, 17, 0, tzinfo=UTC)  # 13:00 in Toronto
NIGHT = datetime(2025, 6, 3, 3, 0, tzinfo=UTC)  # 23:00 in Toronto


class Crash(BaseException):
    """A process dying: not an Exception, so nothing on the way up records it."""


@pytest.fixture
def reverb(sim):
    return sim.backend("reverb")


@pytest.fixture
def mirakl(sim) -> MiraklBackend:
    """Best Buy's simulator (Mirakl): its orders and buyer threads."""
    return sim.backend("mirakl")


@pytest.fixture
def lost_mirakl_answers(transport) -> LoseAnswers:
    """Best Buy's connection: set `count` to lose the answers of that many replies (M12) after Mirakl
    has posted them."""
    return LoseAnswers(transport, "POST", "/message", count=0)


@pytest.fixture
def inbox_resource(transport, lost_mirakl_answers) -> ChannelsResource:
    """Inboxes on the simulators: Reverb's client with quick retries; Best Buy's (the real Mirakl client)
    trying each call once, so a lost answer reaches the replier, whose recovery these tests are about."""
    settings = ReverbSettings(base_url=API, token="reverb-test-token", currency="NZD")
    return ChannelsResource().with_transport(
        transport,
        reverb={"settings": settings, "policy": QUICK_RETRIES},
        bestbuy={
            "settings": MiraklSettings(_env_file=None),
            "policy": RetryPolicy(max_attempts=1),
            "transport": lost_mirakl_answers,
        },
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


def bestbuy_order(mirakl: MiraklBackend, sku: str = "BB-1") -> str:
    """A buyer's Best Buy order (of an offer of ours); its order id."""
    mirakl.add_offer(sku, 5, "59.00", "Audio cable")
    return mirakl.buy(sku, 1).order_id


def shop_replies(mirakl: MiraklBackend) -> int:
    """Replies the shop posted to Best Buy's threads (the simulator's state)."""
    return sum(m.sender_type == "SHOP_USER" for t in mirakl.threads.values() for m in t.messages)


def seller_messages(reverb, conversation_id: int) -> list[str]:
    return [m.body for m in reverb.conversation(conversation_id).messages if m.sender_role == "seller"]


def local_order(engine: Engine, channel: str, external_id: str, *, pin: str | None = None) -> int:
    """Our copy of a channel's order (total 10 CAD), shipped with `pin` when given."""
    with engine.begin() as conn:
        order_id = add_order(conn, external_id, (), channel=channel, total=Decimal(10))
        if pin:
            add_shipment(conn, order_id, "shipped", tracking_pin=pin, label_path="labels/2025/x.pdf")
    return order_id


def snapshot(engine: Engine) -> dict[str, list]:
    with engine.connect() as conn:
        return {
            table: [tuple(r) for r in conn.execute(text(f"SELECT * FROM retail.{table} ORDER BY id"))]
            for table in ("customers", "conversations", "messages")
        }

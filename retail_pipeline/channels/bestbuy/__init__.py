"""Best Buy Canada (a Mirakl marketplace): orders, acceptance line by line (OR21), tracking (OR23 +
OR24), buyers' threads (M10/M11/M12). We do not list on it from here: its offers come from our shop.

Client and settings (MIRAKL_*): `client.py`; its orders: `orders.py`; its inbox: `inbox.py`.
"""

from __future__ import annotations

from typing import Any

from retail_pipeline.channels.plugin import Channel, ChannelCarrier, OrderAcceptance
from retail_pipeline.integrations.marketplaces.base import ChannelError

from .inbox import MiraklInbox
from .orders import bestbuy_orders

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
    from .client import error_code

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
    client=f"{__name__}.client:MiraklClient",
    orders=bestbuy_orders,
    acceptance=OrderAcceptance(
        read_state=order_state, send=send_decision, waiting_state="WAITING_ACCEPTANCE", decided=DECIDED
    ),
    push_tracking=push_tracking,
    find_tracking=find_tracking,
    inbox=MiraklInbox,
    carrier_names={"canada_post": "Canada Post"},  # carrier_name
    # carrier_code: Best Buy's registered carriers; "CPCL" is Canada Post in our Mirakl simulator's list:
    # check it against Best Buy's CA01 before going live. Without a code: sent unregistered (name + url).
    carrier_codes={"canada_post": "CPCL"},
)

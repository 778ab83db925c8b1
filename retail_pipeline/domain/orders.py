"""Orders as every channel reports them, in one shape, and the order state machine (seed 004).

Each channel client returns its own wire objects; one normaliser per channel (beside its client)
turns them into `ChannelOrder`, which is all the order assets read. The status of an order is the
latest row of the append-only `order_status_history`; `TRANSITIONS` says which rows may follow which,
so every workflow picks its orders by their latest status and a failed step is simply retried.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any, Literal

OrderStatus = Literal[
    "pending_payment",
    "pending_acceptance",
    "accepted",
    "acceptance_failed",
    "refused",
    "label_created",
    "label_failed",
    "packed",
    "tracking_failed",
    "shipped",
    "delivered",
    "cancelled",
    "refunded",
]

# Which status may follow which (the history only ever grows along these edges). A failed step may be
# retried into its success state; cancellation can arrive from the channel until the parcel ships.
TRANSITIONS: dict[str, frozenset[str]] = {
    "pending_payment": frozenset({"pending_acceptance", "accepted", "cancelled"}),
    "pending_acceptance": frozenset({"accepted", "acceptance_failed", "refused", "cancelled"}),
    "acceptance_failed": frozenset({"accepted", "refused", "cancelled"}),
    "accepted": frozenset({"label_created", "label_failed", "cancelled"}),
    "label_failed": frozenset({"label_created", "cancelled"}),
    # `packed` (pick & pack) sits between the label and the tracking push; a shop without a warehouse
    # step ships straight from label_created (PACKING_REQUIRED=false).
    "label_created": frozenset({"packed", "shipped", "tracking_failed", "cancelled"}),
    "packed": frozenset({"shipped", "tracking_failed", "cancelled"}),
    "tracking_failed": frozenset({"shipped", "cancelled"}),
    "shipped": frozenset({"delivered", "refunded"}),
    "delivered": frozenset({"refunded"}),
    "refused": frozenset(),
    "cancelled": frozenset({"refunded"}),
    "refunded": frozenset(),
}


def can_move(current: str | None, new: str) -> bool:
    """True when `new` may be appended after `current` (None: the order has no history yet)."""
    if current is None:
        return new in TRANSITIONS
    return new in TRANSITIONS.get(current, frozenset())


@dataclass(frozen=True)
class Address:
    """A delivery address in the columns every carrier needs (country as ISO 3166-1 alpha-2)."""

    name: str | None = None
    street_1: str | None = None
    street_2: str | None = None
    city: str | None = None
    state: str | None = None  # province / region code
    zip_code: str | None = None
    country_iso_code: str | None = None
    phone: str | None = None
    company: str | None = None

    def as_json(self) -> dict[str, Any]:
        return {k: v for k, v in self.__dict__.items() if v is not None}


@dataclass(frozen=True)
class Customer:
    external_customer_id: str
    name: str | None = None
    email: str | None = None
    phone: str | None = None
    locale: str | None = None


@dataclass(frozen=True)
class OrderLine:
    external_line_id: str
    sku: str | None
    title: str | None
    quantity: int
    unit_price: Decimal
    remote_state: str | None = None


@dataclass(frozen=True)
class ChannelOrder:
    """One order from one channel, normalised. `remote_state` keeps the channel's own word
    (WAITING_ACCEPTANCE, PAID, ...); `initial_status` is where our history starts."""

    channel: str
    external_order_id: str
    placed_at: datetime  # timezone-aware; its UTC day is the order's partition
    currency: str
    total: Decimal
    lines: tuple[OrderLine, ...]
    initial_status: OrderStatus
    subtotal: Decimal = Decimal(0)
    shipping_total: Decimal = Decimal(0)
    tax_total: Decimal = Decimal(0)
    remote_state: str | None = None
    customer: Customer | None = None
    shipping_address: Address | None = None
    shipping_deadline: datetime | None = None
    raw: dict[str, Any] = field(default_factory=dict)

"""What every channel's order normaliser shares (pure: no I/O): the time window an order sync asks
for, the rule for which of the channel's own moves our history takes, and the parsing helpers.

Each channel's normaliser lives in its own module (`retail_pipeline/channels/<name>.py`) and
turns the order as its API sends it into one `ChannelOrder`. Where our history starts
(`initial_status`) follows one rule for channels without an acceptance step: a cancelled order is
`cancelled`, a refunded one `refunded`, a paid one `accepted` (it is ours to ship), anything else
`pending_payment`; a channel whose orders wait for our acceptance starts them at `pending_acceptance`.
Later the channel may move an order on by itself; `channel_transition` says which of those moves our
history takes (payment arriving, cancellation, refund), never one that would undo our own work (a
label, a shipment).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from typing import Any

from retail_pipeline.domain.orders import can_move

DAY = timedelta(days=1)
# How far back the light "new sales" poll looks: one page of each channel's most recent orders.
RECENT = timedelta(hours=1)


@dataclass(frozen=True)
class Window:
    """Orders placed in [start, end) by the channel's clock, asked at the channel's `now`."""

    start: datetime
    end: datetime
    now: datetime

    def __contains__(self, moment: datetime) -> bool:
        return self.start <= moment < self.end

    @classmethod
    def day(cls, day: date, now: datetime) -> Window:
        start = datetime.combine(day, time(0), tzinfo=UTC)
        return cls(start, start + DAY, now)

    @classmethod
    def recent(cls, now: datetime, span: timedelta = RECENT) -> Window:
        return cls(now - span, now + timedelta(seconds=1), now)


class OutOfReach(Exception):
    """The channel no longer lists orders this old (some keep only weeks of sales)."""


# Statuses the channel itself may move an order to after we hold it (the rest are our own steps).
CHANNEL_DRIVEN: frozenset[str] = frozenset({"accepted", "cancelled", "refunded"})

COUNTRY_CODES = {"new zealand": "NZ", "canada": "CA", "australia": "AU", "united states": "US"}


def channel_transition(current: str | None, remote: str) -> str | None:
    """The status to append when the channel now reports `remote` for an order whose latest status is
    `current`; None = nothing to append. Payment arriving only moves an order that waits for it."""
    if current is None:
        return remote
    if remote == current or remote not in CHANNEL_DRIVEN:
        return None
    if remote == "accepted" and current != "pending_payment":
        return None  # e.g. "shipping" reported after our own acceptance, or a paid order we already ship
    return remote if can_move(current, remote) else None


def utc(moment: datetime) -> datetime:
    if moment.tzinfo is None:
        raise ValueError(f"timestamp without a timezone: {moment.isoformat()}")
    return moment.astimezone(UTC)


def parse_time(value: str) -> datetime:
    """ISO 8601 with an offset or Z, as an aware UTC datetime."""
    return utc(datetime.fromisoformat(value.replace("Z", "+00:00")))


def money(value: Any) -> Decimal:
    """A number, a numeric string, or a money object ({value}/{amount}), as a Decimal (0 if absent)."""
    if value is None:
        return Decimal(0)
    if isinstance(value, Mapping):
        value = value.get("value", value.get("amount"))
        if value is None:
            return Decimal(0)
    return Decimal(str(value))


def clean(value: Any) -> str | None:
    text = str(value).strip() if value is not None else ""
    return text or None


# ISO 3166-1 alpha-3 (some channels send these) for the countries we ship to.
ALPHA3 = {"CAN": "CA", "USA": "US", "NZL": "NZ", "AUS": "AU", "GBR": "GB", "MEX": "MX"}


def country(name: str | None) -> str | None:
    if not name:
        return None
    name = name.strip()
    if len(name) == 2:
        return name.upper()
    return ALPHA3.get(name.upper()) or COUNTRY_CODES.get(name.lower())

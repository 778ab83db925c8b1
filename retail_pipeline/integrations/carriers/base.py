"""One interface for every carrier that sells us labels (Canada Post first; others by config later).

The label asset speaks only this interface. Crash safety rests on `find_shipment`: our reference (one
per order, e.g. `rp-order-42`) travels with the shipment (Canada Post customer-ref-1), the caller
commits its intent before `create_label`, and after a crash asks `find_shipment` before ever calling
`create_label` again, so a killed run never buys two labels.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any, ClassVar

from retail_pipeline.domain.orders import Address


@dataclass(frozen=True)
class Dimensions:
    """Centimetres, one decimal (what Canada Post's DimensionMeasurementType allows)."""

    length_cm: Decimal
    width_cm: Decimal
    height_cm: Decimal


@dataclass(frozen=True)
class CustomsItem:
    """One line of a customs declaration (needed outside the domestic service)."""

    description: str
    quantity: int
    unit_value: Decimal
    unit_weight_kg: Decimal
    sku: str | None = None
    country_of_origin: str | None = None


@dataclass(frozen=True)
class LabelRequest:
    """What we want shipped. `reference` is our idempotency key (unique per order, ≤ 35 chars);
    `sender` None = the carrier client's configured sender address."""

    reference: str
    destination: Address
    weight_kg: Decimal
    service_code: str
    dimensions: Dimensions | None = None
    sender: Address | None = None
    reference_2: str | None = None  # a second reference shown on the label (the channel's order id)
    currency: str = "CAD"
    customs: tuple[CustomsItem, ...] = ()
    notify_email: str | None = None


@dataclass(frozen=True)
class CreatedLabel:
    """A shipment the carrier holds, with where its label can be fetched."""

    shipment_id: str
    tracking_pin: str | None
    label_url: str | None
    reference: str | None = None
    service_code: str | None = None
    raw: dict[str, Any] | None = None


@dataclass(frozen=True)
class RateQuote:
    """One service the carrier offers for a parcel, at the price it quotes (taxes included)."""

    service_code: str
    service_name: str | None
    price: Decimal
    currency: str
    transit_days: int | None = None


@dataclass(frozen=True)
class TrackingSummary:
    """The latest tracking state of one parcel, as the carrier summarises it."""

    pin: str
    event_type: str | None
    event_description: str | None
    event_at: str | None  # as the carrier writes it (Canada Post: "2025-06-03 10:15:00")
    mailed_on: str | None = None
    expected_delivery: str | None = None
    delivered_on: str | None = None
    destination_postal_code: str | None = None
    reference: str | None = None

    @property
    def delivered(self) -> bool:
        return bool(self.delivered_on)


class CarrierError(Exception):
    """A failed carrier call. `retryable`: worth trying again later (throttled, 5xx, timeouts);
    otherwise the request itself is wrong (an address, a service code) and a person must look.
    `messages` holds the carrier's own (code, description) pairs."""

    def __init__(
        self,
        carrier: str,
        message: str,
        *,
        status: int | None = None,
        retryable: bool = False,
        messages: tuple[tuple[str, str], ...] = (),
    ) -> None:
        super().__init__(f"{carrier}: {message}")
        self.carrier, self.message, self.status = carrier, message, status
        self.retryable, self.messages = retryable, messages


class Carrier(ABC):
    """Async client for one carrier. Use as `async with carrier:`."""

    carrier: ClassVar[str]  # the value of retail.shipments.carrier

    async def __aenter__(self) -> Carrier:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    @abstractmethod
    async def aclose(self) -> None: ...

    def problems(self, request: LabelRequest) -> list[str]:
        """What this carrier would refuse in `request`, checked locally before any call ([] = fine)."""
        return []

    @abstractmethod
    async def rate(self, request: LabelRequest) -> list[RateQuote]:
        """The services (with prices) the carrier offers for this parcel from its sender to its
        destination; the label is bought only for a service listed here."""

    @abstractmethod
    async def create_label(self, request: LabelRequest) -> CreatedLabel:
        """Buy the label. Not idempotent remotely: callers commit intent first (see module doc)."""

    @abstractmethod
    async def download_label(self, label: CreatedLabel) -> bytes:
        """The label document (PDF bytes) behind `label.label_url`."""

    @abstractmethod
    async def find_shipment(self, reference: str, *, since: datetime | None = None) -> CreatedLabel | None:
        """Our shipment carrying `reference`, created since `since` (default: a recent window), or None."""

    @abstractmethod
    async def tracking_summary(self, pin: str) -> TrackingSummary | None:
        """Latest tracking state; None while the carrier has no history for the PIN yet."""

"""Our Canada Post account: rate quotes, non-contract shipments, their labels and tracking (moto-style).

What Canada Post enforces is enforced here: one API key pair (HTTP Basic) that may mail only for its
own customer number, request bodies valid against ncshipment.xsd, known service codes that fit the
destination (DOM.* inside Canada, USA.* to the US, INT.* elsewhere), a customs declaration for a parcel
leaving Canada, a Canadian destination postal code that is one, and a throttle per key ("Rejected by
SLM Monitor", blocked for a minute) when `requests_per_minute` is set. PINs are 16 digits like real
non-contract PINs; shipment ids 18 digits; timestamps follow the simulated clock. Get Rates answers a
rating.xsd-valid mailing scenario with the services for its destination (domestic / united-states /
international, never CA or US as "international") that carry its billed weight, at indicative prices.

Test hooks: `corrupt_next_label(mode)` (the next label served is broken / two pages / shows the wrong
PIN / lacks the postal code), `throttle_next(n)`, `add_tracking_event(pin, kind)`.
"""

from __future__ import annotations

import random
import re
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import TYPE_CHECKING, Literal

from lxml import etree
from pydantic import BaseModel, ConfigDict
from pydantic_settings import BaseSettings, SettingsConfigDict

from .exceptions import business, not_found, throttled, unauthorized

if TYPE_CHECKING:
    from ..app import Simulator

NS = "http://www.canadapost.ca/ws/ncshipment-v4"
LabelFault = Literal["broken", "two_pages", "wrong_pin", "no_postal_code"]
LABEL_FAULTS: tuple[str, ...] = ("broken", "two_pages", "wrong_pin", "no_postal_code")
# Canada Post's non-contract services (Get Services), by where they may go.
SERVICES = {
    "DOM.RP": "Regular Parcel", "DOM.EP": "Expedited Parcel", "DOM.XP": "Xpresspost", "DOM.PC": "Priority",
    "USA.EP": "Expedited Parcel USA", "USA.TP": "Tracked Packet USA", "USA.XP": "Xpresspost USA",
    "INT.XP": "Xpresspost International", "INT.TP": "Tracked Packet International",
    "INT.IP.AIR": "International Parcel Air", "INT.IP.SURF": "International Parcel Surface",
}  # fmt: skip
# Get Rates: what each service costs (CAD: base + per kg of the billed weight, the greater of the actual
# and the cubed weight, L*W*H/6000), its heaviest parcel and its transit days. Indicative figures.
RATES = {
    "DOM.RP": ("9.50", "1.10", 30, 6), "DOM.EP": ("11.20", "1.35", 30, 3), "DOM.XP": ("16.80", "1.90", 30, 2),
    "DOM.PC": ("24.50", "2.60", 30, 1), "USA.EP": ("19.90", "3.40", 30, 6), "USA.TP": ("14.20", "6.50", 2, 8),
    "USA.XP": ("29.80", "4.60", 30, 3), "INT.XP": ("49.50", "9.80", 30, 6), "INT.TP": ("22.40", "14.00", 2, 10),
    "INT.IP.AIR": ("39.00", "11.50", 30, 8), "INT.IP.SURF": ("27.00", "5.20", 30, 45),
}  # fmt: skip
RATE_NS = "http://www.canadapost.ca/ws/ship/rate-v4"
TRACKING_EVENTS = {
    "accepted": ("INDUCTION", "Item accepted at the Post Office"),
    "in_transit": ("IN_TRANSIT", "Item processed"),
    "out_for_delivery": ("OUT", "Item out for delivery"),
    "delivered": ("DELIVERED", "Delivered"),
}
_CA_POSTAL = re.compile(r"[A-Z]\d[A-Z]\d[A-Z]\d")
# Parcel limits of the non-contract parcel services: 30 kg; 2 m longest side; length + girth 3 m.
MAX_WEIGHT_KG = 30.0
MAX_LENGTH_CM = 200.0
MAX_LENGTH_PLUS_GIRTH_CM = 300.0


class CanadaPostSimulatorConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    username: str = "6e93d53968881714"
    password: str = "0bfa9fcb9853d1f51ee57a"
    customer_number: str = "2004381"
    requests_per_minute: int | None = None  # None = no throttle

    @classmethod
    def from_env(cls) -> CanadaPostSimulatorConfig:
        """SIMULATOR_CANADAPOST_USERNAME, _PASSWORD, _CUSTOMER_NUMBER, _REQUESTS_PER_MINUTE, each optional."""
        return cls.model_validate(_FromEnvironment().model_dump())


class _FromEnvironment(BaseSettings, CanadaPostSimulatorConfig):
    model_config = SettingsConfigDict(env_prefix="SIMULATOR_CANADAPOST_", extra="ignore")


@dataclass(frozen=True)
class Quote:
    service_code: str
    service_name: str
    due: Decimal
    transit_days: int


@dataclass
class TrackingEvent:
    kind: str
    event_type: str
    description: str
    at: datetime


@dataclass
class Shipment:
    id: str
    tracking_pin: str
    customer: str
    artifact_id: str
    service_code: str
    shipping_point: str
    delivery_spec: bytes  # the request's <delivery-spec>, echoed by /details
    destination_name: str
    destination_lines: list[str]
    destination_postal_code: str
    destination_country: str
    destination_province: str
    sender_lines: list[str]
    weight_kg: str
    reference_1: str | None
    reference_2: str | None
    created_at: datetime
    dimensions_cm: tuple[str, str, str] | None = None  # length, width, height (cm) as sent
    events: list[TrackingEvent] = field(default_factory=list)
    label_downloads: int = 0


def _text(root: etree._Element, path: str) -> str | None:
    found = root.find("/".join(f"{{{NS}}}{part}" for part in path.split("/")))
    return found.text.strip() if found is not None and found.text else None


def _check_parcel(weight_kg: float, sides_cm: list[float] | None) -> None:
    """The parcel limits, as Canada Post refuses an oversized or overweight parcel (codes indicative)."""
    if weight_kg > MAX_WEIGHT_KG:
        raise business(
            "9160", f"The parcel weight {weight_kg} kg exceeds the maximum of {MAX_WEIGHT_KG:g} kg."
        )
    if sides_cm is None:
        return
    shortest, middle, longest = sorted(sides_cm)
    if longest > MAX_LENGTH_CM:
        raise business("9161", f"The parcel length {longest} cm exceeds the maximum of {MAX_LENGTH_CM:g} cm.")
    if round(longest + 2 * (shortest + middle), 1) > MAX_LENGTH_PLUS_GIRTH_CM:
        raise business(
            "9162",
            f"The parcel length plus girth {longest + 2 * (shortest + middle):.1f} cm exceeds the maximum of"
            f" {MAX_LENGTH_PLUS_GIRTH_CM:g} cm.",
        )


class CanadaPostBackend:
    def __init__(self, sim: Simulator, config: CanadaPostSimulatorConfig):
        self.sim, self.config = sim, config
        self._lock = threading.Lock()
        self._rng = random.Random(f"{sim.config.seed}:canadapost")
        self.shipments: dict[str, Shipment] = {}
        self._by_artifact: dict[str, str] = {}
        self._label_faults: list[str] = []
        self._throttle_next = 0
        self._window: list[float] = []  # request times (monotonic) in the last minute
        self._blocked_until = 0.0

    # --- the gate

    def accepts(self, username: str, password: str) -> bool:
        return (username, password) == (self.config.username, self.config.password)

    def may_mail_for(self, customer: str) -> bool:
        return customer == self.config.customer_number

    def count_request(self) -> None:
        """Raises the throttle error when the key is over its rate (or a test asked for it)."""
        with self._lock:
            if self._throttle_next > 0:
                self._throttle_next -= 1
                raise throttled()
            limit = self.config.requests_per_minute
            if not limit:
                return
            now = time.monotonic()
            if now < self._blocked_until:
                raise throttled()
            self._window = [t for t in self._window if now - t < 60] + [now]
            if len(self._window) > limit:
                self._blocked_until = now + 60
                raise throttled()

    # --- shipments

    def _new_number(self, digits: int) -> str:
        return str(self._rng.randrange(10 ** (digits - 1), 10**digits))

    def create(self, customer: str, document: etree._Element) -> Shipment:
        """A shipment from a schema-valid <non-contract-shipment>; business rules checked here."""
        service = _text(document, "delivery-spec/service-code") or ""
        country = (_text(document, "delivery-spec/destination/address-details/country-code") or "").upper()
        postal = _text(document, "delivery-spec/destination/address-details/postal-zip-code") or ""
        if service not in SERVICES:
            raise business("9111", f"The service code {service} is not valid for this shipment.")
        expected = "DOM." if country == "CA" else "USA." if country == "US" else "INT."
        if not service.startswith(expected):
            raise business(
                "9122", f"The service {service} is not available to destination country {country}."
            )
        if country == "CA" and not _CA_POSTAL.fullmatch(postal):
            raise business(
                "8520", f"The destination postal code {postal!r} is not a valid Canadian postal code."
            )
        if country != "CA" and document.find(f"{{{NS}}}delivery-spec/{{{NS}}}customs") is None:
            raise business("8036", "Customs information is required for shipments outside Canada.")
        parcel = "delivery-spec/parcel-characteristics/"
        weight = _text(document, parcel + "weight") or ""
        dimensions = tuple(
            _text(document, f"{parcel}dimensions/{side}") for side in ("length", "width", "height")
        )
        _check_parcel(float(weight), [float(d) for d in dimensions] if all(dimensions) else None)  # type: ignore[arg-type]
        spec = document.find(f"{{{NS}}}delivery-spec")
        dest = "delivery-spec/destination/address-details/"
        sender = "delivery-spec/sender/address-details/"
        with self._lock:
            shipment_id = self._new_number(18)
            while shipment_id in self.shipments:
                shipment_id = self._new_number(18)
            pins = {s.tracking_pin for s in self.shipments.values()}
            pin = self._new_number(16)
            while pin in pins:
                pin = self._new_number(16)
            shipment = Shipment(
                id=shipment_id,
                tracking_pin=pin,
                customer=customer,
                artifact_id=self._new_number(8),
                service_code=service,
                shipping_point=_text(document, "requested-shipping-point") or _text(document, sender + "postal-zip-code") or "",
                delivery_spec=etree.tostring(spec),
                destination_name=_text(document, "delivery-spec/destination/name")
                or _text(document, "delivery-spec/destination/company") or "",
                destination_lines=[v for v in (
                    _text(document, dest + "address-line-1"), _text(document, dest + "address-line-2"),
                    " ".join(filter(None, (_text(document, dest + "city"), _text(document, dest + "prov-state")))),
                ) if v],
                destination_postal_code=postal,
                destination_country=country,
                destination_province=_text(document, dest + "prov-state") or "",
                sender_lines=[v for v in (
                    _text(document, "delivery-spec/sender/company"), _text(document, sender + "address-line-1"),
                    " ".join(filter(None, (_text(document, sender + "city"), _text(document, sender + "prov-state"),
                                           _text(document, sender + "postal-zip-code")))),
                ) if v],
                weight_kg=weight,
                dimensions_cm=dimensions if all(dimensions) else None,  # type: ignore[arg-type]
                reference_1=_text(document, "delivery-spec/references/customer-ref-1"),
                reference_2=_text(document, "delivery-spec/references/customer-ref-2"),
                created_at=self.sim.clock.now(),
            )  # fmt: skip
            self.shipments[shipment_id] = shipment
            self._by_artifact[shipment.artifact_id] = shipment_id
            return shipment

    def rate(self, document: etree._Element) -> list[Quote]:
        """The quotes for a schema-valid <mailing-scenario>: the services that go to its destination
        and carry its weight (those asked for, when it names some)."""

        def get(path: str) -> str | None:
            found = document.find("/".join(f"{{{RATE_NS}}}{part}" for part in path.split("/")))
            return found.text.strip() if found is not None and found.text else None

        customer = get("customer-number")
        if customer is not None and not self.may_mail_for(customer):
            raise unauthorized("AA004: You cannot mail on behalf of the requested customer.")
        if get("destination/domestic/postal-code"):
            prefix = "DOM."
        elif get("destination/united-states/zip-code"):
            prefix = "USA."
        else:
            prefix = "INT."
            country = (get("destination/international/country-code") or "").upper()
            if country in ("CA", "US"):
                raise business(
                    "9122", f"Destination country {country} must be rated as domestic or united-states."
                )
        asked = [e.text.strip() for e in document.iter(f"{{{RATE_NS}}}service-code") if e.text]
        for code in asked:
            if code not in SERVICES:
                raise business("9111", f"The service code {code} is not valid.")
        weight = Decimal(get("parcel-characteristics/weight") or "0")
        dims = [get(f"parcel-characteristics/dimensions/{side}") for side in ("length", "width", "height")]
        if all(dims):
            cubed = Decimal(dims[0]) * Decimal(dims[1]) * Decimal(dims[2]) / 6000  # type: ignore[arg-type]
            weight = max(weight, cubed)
        quotes = []
        for code, (base, per_kg, max_kg, days) in RATES.items():
            if not code.startswith(prefix) or (asked and code not in asked) or weight > max_kg:
                continue
            due = (Decimal(base) + Decimal(per_kg) * weight).quantize(Decimal("0.01"), ROUND_HALF_UP)
            quotes.append(Quote(code, SERVICES[code], due, days))
        return quotes

    def shipment(self, customer: str, shipment_id: str) -> Shipment:
        shipment = self.shipments.get(shipment_id)
        if shipment is None or shipment.customer != customer:
            raise not_found(f"Shipment {shipment_id} was not found.")
        return shipment

    def list_shipments(
        self, customer: str, start: datetime | None, end: datetime | None, pin: str | None
    ) -> list[Shipment]:
        with self._lock:
            found = [s for s in self.shipments.values() if s.customer == customer]
        if pin is not None:
            return [s for s in found if s.tracking_pin == pin]
        end = end or self.sim.clock.now() + timedelta(minutes=1)
        return sorted(
            (s for s in found if (start is None or s.created_at >= start) and s.created_at <= end),
            key=lambda s: (s.created_at, s.id),
        )

    def label(self, artifact_id: str) -> tuple[Shipment, str | None]:
        """The shipment behind a label artifact and the fault to draw it with (None = a good label)."""
        with self._lock:
            shipment_id = self._by_artifact.get(artifact_id)
            if shipment_id is None:
                raise not_found(f"Artifact {artifact_id} was not found.")
            shipment = self.shipments[shipment_id]
            shipment.label_downloads += 1
            fault = self._label_faults.pop(0) if self._label_faults else None
            return shipment, fault

    def by_pin(self, pin: str) -> Shipment | None:
        with self._lock:
            return next((s for s in self.shipments.values() if s.tracking_pin == pin), None)

    # --- test hooks

    def corrupt_next_label(self, mode: LabelFault = "broken", count: int = 1) -> None:
        if mode not in LABEL_FAULTS:
            raise ValueError(f"label fault {mode!r}; known: {LABEL_FAULTS}")
        with self._lock:
            self._label_faults.extend([mode] * count)

    def throttle_next(self, count: int = 1) -> None:
        with self._lock:
            self._throttle_next += count

    def add_tracking_event(self, pin: str, kind: str) -> TrackingEvent:
        if kind not in TRACKING_EVENTS:
            raise ValueError(f"tracking event {kind!r}; known: {sorted(TRACKING_EVENTS)}")
        shipment = self.by_pin(pin)
        if shipment is None:
            raise not_found(f"PIN {pin} was not found.")
        event_type, description = TRACKING_EVENTS[kind]
        event = TrackingEvent(kind, event_type, description, self.sim.clock.now())
        with self._lock:
            shipment.events.append(event)
        return event

    def created_count(self) -> int:
        return len(self.shipments)

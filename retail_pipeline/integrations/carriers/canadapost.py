"""Canada Post non-contract shipping (ncshipment v4) behind `Carrier`, and tracking summaries.

Wire format, as Canada Post documents it (and as the XSDs in `xsd/` pin it down):
- HTTP Basic with the API key's username and password; every path carries our customer number.
- `POST /rs/{customer}/ncshipment` with `Content-Type`/`Accept: application/vnd.cpc.ncshipment-v4+xml`,
  body `<non-contract-shipment xmlns="http://www.canadapost.ca/ws/ncshipment-v4">` (requested-shipping-point,
  delivery-spec{service-code, sender, destination, parcel-characteristics, preferences, references,
  customs outside Canada}) → `<non-contract-shipment-info>` {shipment-id, tracking-pin, links}.
- The label: GET the `rel="label"` link exactly as returned, Basic auth, `Accept: application/pdf`.
- Recovery: `GET /rs/{customer}/ncshipment?from=YYYYMMDDhhmm` → `<non-contract-shipments>` of
  `rel="shipment"` links; `GET {link}/details` → `<non-contract-shipment-details>` whose
  `references/customer-ref-1` is our reference; `GET {link}` → the info with the label link.
- Tracking: `GET /vis/track/pin/{pin}/summary` (`application/vnd.cpc.track-v2+xml`).
- Get Rates: `POST /rs/ship/price` with `Content-Type`/`Accept: application/vnd.cpc.ship.rate-v4+xml`, body
  `<mailing-scenario xmlns="http://www.canadapost.ca/ws/ship/rate-v4">` (customer-number, quote-type,
  parcel-characteristics, origin-postal-code, destination domestic/united-states/international) →
  `<price-quotes>` of price-quote{service-code, service-name, price-details/due, service-standard}.
- Errors: `<messages xmlns="http://www.canadapost.ca/ws/messages"><message><code/><description/>`.
  Throttling answers "Rejected by SLM Monitor" and blocks the key for up to a minute.

Retries (`integrations.retrying`): timeouts, dropped connections, 429, 5xx, bodies cut short and throttling, with
exponential backoff (and `throttle_wait_seconds` after "Rejected by SLM Monitor"). A retry after a
failure the server may have acted on (5xx, read timeout, body cut short) is *ambiguous*: before POSTing
a shipment again the client looks for it by reference, so a retry never buys a second label. Other 4xx
raise `CarrierError(retryable=False)` carrying Canada Post's messages.

Configuration (`CanadaPostSettings`, CANADAPOST_* variables): CANADAPOST_BASE_URL (default: the
simulator at {SIMULATOR_URL}/canadapost when USE_SIMULATORS, else https://soa-gw.canadapost.ca; the
development environment is https://ct.soa-gw.canadapost.ca), CANADAPOST_USERNAME / CANADAPOST_PASSWORD
(the API key pair), CANADAPOST_CUSTOMER_NUMBER, CANADAPOST_SENDER_* (the sender of a request that names
none; the label asset sends its ship-from location).
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any, ClassVar, TypeVar
from urllib.parse import quote

import httpx
from lxml import etree
from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

from retail_pipeline.domain.labels import compact
from retail_pipeline.domain.orders import Address
from retail_pipeline.integrations.http import retry_after_seconds, tls_context
from retail_pipeline.integrations.retrying import Transient, exponential_backoff, retry_transient
from retail_pipeline.settings import get_settings

from .base import Carrier, CarrierError, CreatedLabel, LabelRequest, RateQuote, TrackingSummary

T = TypeVar("T")
CANADAPOST_API = "https://soa-gw.canadapost.ca"
CANADAPOST_DEV_API = "https://ct.soa-gw.canadapost.ca"
NCSHIPMENT_NS = "http://www.canadapost.ca/ws/ncshipment-v4"
MESSAGES_NS = "http://www.canadapost.ca/ws/messages"
TRACK_NS = "http://www.canadapost.ca/ws/track"
NCSHIPMENT_TYPE = "application/vnd.cpc.ncshipment-v4+xml"
TRACK_TYPE = "application/vnd.cpc.track-v2+xml"
RATE_NS = "http://www.canadapost.ca/ws/ship/rate-v4"
RATE_TYPE = "application/vnd.cpc.ship.rate-v4+xml"
THROTTLED = "Rejected by SLM Monitor"
NO_PIN_HISTORY = "004"  # tracking: the PIN has no events yet
# Canada Post's parcel limits (non-contract parcel services): 30 kg, 2 m on the longest side, and
# length + girth (2 × (width + height)) at most 3 m.
MAX_WEIGHT_KG = Decimal(30)
MAX_LENGTH_CM = Decimal(200)
MAX_LENGTH_PLUS_GIRTH_CM = Decimal(300)
RETRYABLE_STATUS = frozenset({429, 500, 502, 503, 504})
# The simulator's own key pair and customer (it refuses any other; see simulators/canadapost/models.py).
SIMULATOR_USERNAME, SIMULATOR_PASSWORD, SIMULATOR_CUSTOMER = (
    "6e93d53968881714",
    "0bfa9fcb9853d1f51ee57a",
    "2004381",
)
CA_POSTAL = re.compile(r"[A-Z]\d[A-Z]\d[A-Z]\d")
_WS = re.compile(r"\s+")


class CanadaPostSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="CANADAPOST_", env_file=".env", extra="ignore")

    base_url: str | None = Field(default=None, description="Unset: the simulator when simulating, else live.")
    username: str | None = None
    password: SecretStr | None = None
    customer_number: str | None = Field(default=None, pattern=r"^\d{1,10}$")
    sender_name: str | None = "Shipping Desk"
    sender_company: str = "Retail Pipeline"
    sender_phone: str = "613-555-0100"
    sender_address_line_1: str = "2701 Riverside Dr"
    sender_address_line_2: str | None = None
    sender_city: str = "Ottawa"
    sender_province: str = "ON"
    sender_postal_code: str = "K1A0B1"
    timeout_seconds: float = Field(default=30.0, gt=0)
    max_attempts: int = Field(default=5, ge=1)
    backoff_initial_seconds: float = Field(default=0.5, ge=0)
    backoff_max_seconds: float = Field(default=10.0, ge=0)
    throttle_wait_seconds: float = Field(
        default=60.0, ge=0, description="The SLM monitor blocks up to a minute."
    )
    lookback_days: int = Field(default=14, ge=1, description="How far back find_shipment looks.")

    def base(self) -> str:
        return get_settings().service_base(self.base_url, "canadapost", CANADAPOST_API)

    @property
    def simulated(self) -> bool:
        return get_settings().at_simulator(self.base(), "canadapost")

    def credentials(self) -> tuple[str, str]:
        if self.username and self.password:
            return self.username, self.password.get_secret_value()
        if self.simulated:
            return SIMULATOR_USERNAME, SIMULATOR_PASSWORD
        raise CarrierError("canada_post", "set CANADAPOST_USERNAME and CANADAPOST_PASSWORD (the API key)")

    def customer(self) -> str:
        if self.customer_number:
            return self.customer_number
        if self.simulated:
            return SIMULATOR_CUSTOMER
        raise CarrierError("canada_post", "set CANADAPOST_CUSTOMER_NUMBER")

    def sender(self) -> Address:
        return Address(
            name=self.sender_name,
            company=self.sender_company,
            phone=self.sender_phone,
            street_1=self.sender_address_line_1,
            street_2=self.sender_address_line_2,
            city=self.sender_city,
            state=self.sender_province,
            zip_code=self.sender_postal_code,
            country_iso_code="CA",
        )


# --- the XML we send


def _text(value: object, limit: int) -> str:
    """A normalizedString within Canada Post's length limit."""
    return _WS.sub(" ", str(value)).strip()[:limit]


def postal_code(address: Address) -> str | None:
    """Canadian postal codes as Canada Post wants them (K1A0B1); others as given."""
    if not address.zip_code:
        return None
    if (address.country_iso_code or "").upper() == "CA":
        return compact(address.zip_code)
    return _text(address.zip_code, 14)


def _sub(
    parent: etree._Element, tag: str, value: object | None = None, ns: str = NCSHIPMENT_NS
) -> etree._Element:
    element = etree.SubElement(parent, f"{{{ns}}}{tag}")
    if value is not None:
        element.text = value if isinstance(value, str) else str(value)
    return element


def _parcel_characteristics(parent: etree._Element, request: LabelRequest, ns: str) -> None:
    """Weight and box, the same element in a shipment and in a rating request (each in its namespace)."""
    parcel = _sub(parent, "parcel-characteristics", ns=ns)
    _sub(parcel, "weight", _decimal(request.weight_kg, 3), ns=ns)
    if request.dimensions:
        dims = _sub(parcel, "dimensions", ns=ns)
        _sub(dims, "length", _decimal(request.dimensions.length_cm, 1), ns=ns)
        _sub(dims, "width", _decimal(request.dimensions.width_cm, 1), ns=ns)
        _sub(dims, "height", _decimal(request.dimensions.height_cm, 1), ns=ns)


def _decimal(value: Decimal, places: int) -> str:
    return f"{Decimal(value).quantize(Decimal(1).scaleb(-places)):f}"


def shipment_xml(request: LabelRequest, sender: Address) -> bytes:
    """The `<non-contract-shipment>` body for `request` (valid against ncshipment.xsd)."""
    root = etree.Element(f"{{{NCSHIPMENT_NS}}}non-contract-shipment", nsmap={None: NCSHIPMENT_NS})
    _sub(root, "requested-shipping-point", compact(sender.zip_code or ""))
    spec = _sub(root, "delivery-spec")
    _sub(spec, "service-code", request.service_code)

    sender_el = _sub(spec, "sender")
    if sender.name:
        _sub(sender_el, "name", _text(sender.name, 44))
    _sub(sender_el, "company", _text(sender.company or sender.name or "", 44))
    _sub(sender_el, "contact-phone", _text(sender.phone or "", 25))
    details = _sub(sender_el, "address-details")
    _sub(details, "address-line-1", _text(sender.street_1 or "", 44))
    if sender.street_2:
        _sub(details, "address-line-2", _text(sender.street_2, 44))
    _sub(details, "city", _text(sender.city or "", 40))
    _sub(details, "prov-state", _text(sender.state or "", 2))
    _sub(details, "postal-zip-code", compact(sender.zip_code or ""))

    to = request.destination
    dest = _sub(spec, "destination")
    if to.name:
        _sub(dest, "name", _text(to.name, 44))
    if to.company:
        _sub(dest, "company", _text(to.company, 44))
    if to.phone:
        _sub(dest, "client-voice-number", _text(to.phone, 25))
    details = _sub(dest, "address-details")
    _sub(details, "address-line-1", _text(to.street_1 or "", 44))
    if to.street_2:
        _sub(details, "address-line-2", _text(to.street_2, 44))
    if to.city:
        _sub(details, "city", _text(to.city, 40))
    if to.state:
        _sub(details, "prov-state", _text(to.state, 20))
    _sub(details, "country-code", (to.country_iso_code or "").upper())
    if code := postal_code(to):
        _sub(details, "postal-zip-code", code)

    _parcel_characteristics(spec, request, NCSHIPMENT_NS)

    if request.notify_email:
        note = _sub(spec, "notification")
        _sub(note, "email", request.notify_email)
        _sub(note, "on-shipment", "true")
        _sub(note, "on-exception", "false")
        _sub(note, "on-delivery", "true")

    prefs = _sub(spec, "preferences")
    _sub(prefs, "show-packing-instructions", "true")
    _sub(prefs, "show-postage-rate", "false")
    _sub(prefs, "show-insured-value", "false")

    refs = _sub(spec, "references")
    _sub(refs, "customer-ref-1", _text(request.reference, 35))
    if request.reference_2:
        _sub(refs, "customer-ref-2", _text(request.reference_2, 35))

    if request.customs:
        customs = _sub(spec, "customs")
        _sub(customs, "currency", request.currency)
        _sub(customs, "reason-for-export", "SOG")  # sale of goods
        items = _sub(customs, "sku-list")
        for item in request.customs:
            el = _sub(items, "item")
            _sub(el, "customs-number-of-units", item.quantity)
            _sub(el, "customs-description", _text(item.description, 45) or "Merchandise")
            if item.sku:
                _sub(el, "sku", _text(item.sku, 15))
            _sub(el, "unit-weight", _decimal(item.unit_weight_kg, 3))
            _sub(el, "customs-value-per-unit", _decimal(item.unit_value, 2))
            if item.country_of_origin:
                _sub(el, "country-of-origin", item.country_of_origin.upper())
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8")


def rating_xml(request: LabelRequest, origin_postal_code: str, customer: str) -> bytes:
    """The Get Rates `<mailing-scenario>` for `request`'s parcel (valid against rating.xsd): every
    service Canada Post offers from our postal code to the destination, at counter (non-contract) rates."""

    def sub(parent: etree._Element, tag: str, value: str | None = None) -> etree._Element:
        element = etree.SubElement(parent, f"{{{RATE_NS}}}{tag}")
        element.text = value
        return element

    root = etree.Element(f"{{{RATE_NS}}}mailing-scenario", nsmap={None: RATE_NS})
    sub(root, "customer-number", customer)
    sub(root, "quote-type", "counter")
    _parcel_characteristics(root, request, RATE_NS)
    sub(root, "origin-postal-code", compact(origin_postal_code))
    to = request.destination
    country = (to.country_iso_code or "").upper()
    destination = sub(root, "destination")
    if country == "CA":
        sub(sub(destination, "domestic"), "postal-code", postal_code(to) or "")
    elif country == "US":
        sub(sub(destination, "united-states"), "zip-code", (to.zip_code or "").strip())
    else:
        international = sub(destination, "international")
        sub(international, "country-code", country)
        if to.zip_code:
            sub(international, "postal-code", _text(to.zip_code, 14))
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8")


def parse_price_quotes(body: bytes) -> list[RateQuote]:
    root = etree.fromstring(body)
    if root.tag != f"{{{RATE_NS}}}price-quotes":
        raise ValueError(f"expected price-quotes, got {root.tag}")
    quotes = []
    for offer in root.findall(f"{{{RATE_NS}}}price-quote"):
        due = _find(offer, "price-details/due", RATE_NS)
        code = _find(offer, "service-code", RATE_NS)
        if not code or due is None:
            raise ValueError("a price-quote without its service-code or price-details/due")
        transit = _find(offer, "service-standard/expected-transit-time", RATE_NS)
        quotes.append(
            RateQuote(code, _find(offer, "service-name", RATE_NS), Decimal(due), "CAD",
                      int(transit) if transit else None)
        )  # fmt: skip
    return quotes


def request_problems(request: LabelRequest) -> list[str]:
    """What Canada Post would refuse, said before calling (an order with no address never gets far)."""
    to, problems = request.destination, []
    country = (to.country_iso_code or "").upper()
    if not to.street_1:
        problems.append("destination has no street address")
    if not re.fullmatch(r"[A-Z]{2}", country):
        problems.append(f"destination country {to.country_iso_code!r} is not an ISO alpha-2 code")
    if country == "CA":
        if not request.service_code.startswith("DOM."):
            problems.append(f"service {request.service_code} is not a domestic (DOM.*) service")
        if not to.city or not to.state:
            problems.append("a Canadian destination needs a city and a province")
        if not CA_POSTAL.fullmatch(postal_code(to) or ""):
            problems.append(f"postal code {to.zip_code!r} is not a Canadian postal code (A1A 1A1)")
    elif country == "US":
        if not request.service_code.startswith("USA."):
            problems.append(f"service {request.service_code} is not a USA.* service")
        if not re.fullmatch(r"\d{5}(-\d{4})?", to.zip_code or ""):
            problems.append(f"ZIP code {to.zip_code!r} is not a US ZIP code")
    elif country and not request.service_code.startswith("INT."):
        problems.append(f"service {request.service_code} is not an international (INT.*) service")
    if country and country != "CA" and not request.customs:
        problems.append("a parcel leaving Canada needs a customs declaration (order lines)")
    if not Decimal(0) < request.weight_kg <= MAX_WEIGHT_KG:
        problems.append(f"weight {request.weight_kg} kg is outside 0-{MAX_WEIGHT_KG} kg")
    if request.dimensions:
        sides = sorted(
            (request.dimensions.length_cm, request.dimensions.width_cm, request.dimensions.height_cm)
        )
        if sides[0] <= 0:
            problems.append("every parcel side must be more than 0 cm")
        if sides[2] > MAX_LENGTH_CM:
            problems.append(f"the longest side {sides[2]} cm is over {MAX_LENGTH_CM} cm")
        elif sides[2] + 2 * (sides[0] + sides[1]) > MAX_LENGTH_PLUS_GIRTH_CM:
            problems.append(
                f"length + girth {sides[2] + 2 * (sides[0] + sides[1])} cm is over {MAX_LENGTH_PLUS_GIRTH_CM} cm"
            )
    if not request.reference or len(request.reference) > 35:
        problems.append("the reference must be 1 to 35 characters")
    sender = request.sender
    if sender is not None and (sender.country_iso_code or "").upper() != "CA":
        problems.append(f"Canada Post mails from Canada only, not from {sender.country_iso_code!r}")
    elif sender is not None and not CA_POSTAL.fullmatch(compact(sender.zip_code or "")):
        problems.append(f"sender postal code {sender.zip_code!r} is not a Canadian postal code")
    return problems


# --- the XML we receive


def _find(element: etree._Element, path: str, ns: str = NCSHIPMENT_NS) -> str | None:
    found = element.find("/".join(f"{{{ns}}}{part}" for part in path.split("/")))
    return found.text.strip() if found is not None and found.text else None


def _links(element: etree._Element) -> dict[str, str]:
    return {
        link.get("rel"): link.get("href")
        for link in element.iter(f"{{{NCSHIPMENT_NS}}}link")
        if link.get("rel") and link.get("href")
    }


def parse_shipment_info(body: bytes, reference: str | None = None) -> CreatedLabel:
    root = etree.fromstring(body)
    if root.tag != f"{{{NCSHIPMENT_NS}}}non-contract-shipment-info":
        raise ValueError(f"expected non-contract-shipment-info, got {root.tag}")
    shipment_id = _find(root, "shipment-id")
    if not shipment_id:
        raise ValueError("non-contract-shipment-info without a shipment-id")
    links = _links(root)
    return CreatedLabel(
        shipment_id=shipment_id,
        tracking_pin=_find(root, "tracking-pin"),
        label_url=links.get("label"),
        reference=reference,
        raw={"links": links},
    )


def parse_messages(body: bytes) -> tuple[tuple[str, str], ...]:
    """Canada Post's `<messages>` as (code, description) pairs; () when the body is something else."""
    try:
        root = etree.fromstring(body)
    except etree.XMLSyntaxError:
        return ()
    if root.tag != f"{{{MESSAGES_NS}}}messages":
        return ()
    return tuple(
        (_find(m, "code", MESSAGES_NS) or "", _find(m, "description", MESSAGES_NS) or "")
        for m in root.findall(f"{{{MESSAGES_NS}}}message")
    )


def parse_tracking_summary(body: bytes) -> TrackingSummary | None:
    root = etree.fromstring(body)
    summary = root.find(f"{{{TRACK_NS}}}pin-summary")
    if summary is None:
        return None

    def get(tag: str) -> str | None:
        return _find(summary, tag, TRACK_NS)

    return TrackingSummary(
        pin=get("pin") or "",
        event_type=get("event-type"),
        event_description=get("event-description"),
        event_at=get("event-date-time"),
        mailed_on=get("mailed-on-date"),
        expected_delivery=get("expected-delivery-date"),
        delivered_on=get("actual-delivery-date"),
        destination_postal_code=get("destination-postal-id"),
        reference=get("customer-ref-1"),
    )


# --- the client


@dataclass(frozen=True)
class _Reply:
    status: int
    body: bytes
    headers: httpx.Headers


def _describe(messages: tuple[tuple[str, str], ...], fallback: str) -> str:
    return "; ".join(f"{code}: {text}" for code, text in messages) or fallback


class CanadaPostClient(Carrier):
    carrier: ClassVar[str] = "canada_post"

    def __init__(
        self,
        settings: CanadaPostSettings | None = None,
        *,
        transport: httpx.AsyncBaseTransport | None = None,
        clock: Callable[[], datetime] | None = None,
    ):
        """`clock` says what "now" is for find_shipment's window (tests pass the simulator's)."""
        self.settings = settings or CanadaPostSettings()
        self._base = self.settings.base()
        self._customer = self.settings.customer()
        self._clock = clock
        self.calls = 0  # HTTP requests sent, retries included
        self._client = httpx.AsyncClient(
            auth=httpx.BasicAuth(*self.settings.credentials()),
            headers={"Accept-Language": "en-CA"},
            transport=transport,
            timeout=self.settings.timeout_seconds,
            verify=tls_context(),
        )
        self._backoff = exponential_backoff(
            self.settings.backoff_initial_seconds, self.settings.backoff_max_seconds
        )

    async def aclose(self) -> None:
        await self._client.aclose()

    @property
    def shipments_url(self) -> str:
        return f"{self._base}/rs/{self._customer}/ncshipment"

    def problems(self, request: LabelRequest) -> list[str]:
        return request_problems(request)

    # --- HTTP

    async def _send(
        self,
        method: str,
        url: str,
        *,
        accept: str,
        content: bytes | None = None,
        content_type: str = NCSHIPMENT_TYPE,
    ) -> _Reply:
        """One attempt: a reply for 2xx, `Transient` for what a retry may fix, else CarrierError."""
        headers = {"Accept": accept}
        if content is not None:
            headers["Content-Type"] = content_type
        self.calls += 1
        try:
            response = await self._client.request(method, url, content=content, headers=headers)
        except (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout) as error:
            raise Transient(f"{type(error).__name__}: {error}", ambiguous=False) from error
        except httpx.TransportError as error:  # sent, then the answer never came whole
            raise Transient(f"{type(error).__name__}: {error}", ambiguous=True) from error
        status, body = response.status_code, response.content
        messages = parse_messages(body) if status >= 400 else ()
        if any(THROTTLED in text for _, text in messages) or (status >= 400 and THROTTLED.encode() in body):
            # Refused at the gateway before any work: not ambiguous; the key stays blocked a while.
            raise Transient(
                THROTTLED, ambiguous=False, status=status, wait=self.settings.throttle_wait_seconds
            )
        if status in RETRYABLE_STATUS:
            wait = retry_after_seconds(response) if status == 429 else None
            raise Transient(
                f"HTTP {status}: {_describe(messages, response.reason_phrase)}",
                ambiguous=status != 429,
                status=status,
                wait=wait,
            )
        if status >= 400:
            raise CarrierError(
                self.carrier,
                f"HTTP {status}: {_describe(messages, body[:300].decode(errors='replace'))}",
                status=status,
                retryable=False,
                messages=messages,
            )
        return _Reply(status, body, response.headers)

    async def _retrying(self, attempt: Callable[[bool], Awaitable[T]]) -> T:
        """Runs `attempt(after_ambiguous)` until it succeeds, fails for good, or attempts run out."""
        try:
            return await retry_transient(
                attempt, max_attempts=self.settings.max_attempts, backoff=self._backoff
            )
        except Transient as error:
            raise CarrierError(
                self.carrier, f"{error.reason} (gave up after retrying)", status=error.status, retryable=True
            ) from error

    async def _xml(self, url: str, accept: str = NCSHIPMENT_TYPE) -> etree._Element:
        """A GET of an XML document, with retries (a body that does not parse is retried too)."""

        async def attempt(_ambiguous: bool) -> etree._Element:
            reply = await self._send("GET", url, accept=accept)
            try:
                return etree.fromstring(reply.body)
            except etree.XMLSyntaxError as error:
                raise Transient(f"unreadable XML body: {error}", ambiguous=False) from error

        return await self._retrying(attempt)

    # --- Carrier

    async def rate(self, request: LabelRequest) -> list[RateQuote]:
        sender = request.sender or self.settings.sender()
        body = rating_xml(request, sender.zip_code or "", self._customer)

        async def attempt(_ambiguous: bool) -> list[RateQuote]:  # a quote buys nothing: safe to repeat
            reply = await self._send(
                "POST", f"{self._base}/rs/ship/price", accept=RATE_TYPE, content=body, content_type=RATE_TYPE
            )
            try:
                return parse_price_quotes(reply.body)
            except (etree.XMLSyntaxError, ValueError, ArithmeticError) as error:
                raise Transient(f"unreadable price quotes: {error}", ambiguous=False) from error

        return await self._retrying(attempt)

    async def create_label(self, request: LabelRequest) -> CreatedLabel:
        body = shipment_xml(request, request.sender or self.settings.sender())

        async def attempt(after_ambiguous: bool) -> CreatedLabel:
            if after_ambiguous:  # the last POST may have created it: look before buying again
                found = await self.find_shipment(request.reference)
                if found is not None:
                    return found
            reply = await self._send("POST", self.shipments_url, accept=NCSHIPMENT_TYPE, content=body)
            try:
                label = parse_shipment_info(reply.body, request.reference)
            except (etree.XMLSyntaxError, ValueError) as error:
                raise Transient(f"unreadable shipment info: {error}", ambiguous=True) from error
            return CreatedLabel(
                label.shipment_id, label.tracking_pin, label.label_url, request.reference,
                request.service_code, label.raw,
            )  # fmt: skip

        return await self._retrying(attempt)

    async def download_label(self, label: CreatedLabel) -> bytes:
        if not label.label_url:
            raise CarrierError(self.carrier, f"shipment {label.shipment_id} has no label link")

        async def attempt(_ambiguous: bool) -> bytes:
            reply = await self._send("GET", label.label_url, accept="application/pdf")
            # A PDF ends with %%EOF: one without it was cut short in transit (retry), whereas a
            # complete but wrong document is for the label check to judge.
            if reply.body.startswith(b"%PDF-") and not reply.body.rstrip().endswith(b"%%EOF"):
                raise Transient("label PDF cut short", ambiguous=False)
            return reply.body

        return await self._retrying(attempt)

    async def _now(self) -> datetime:
        if self._clock is not None:
            return self._clock()
        if self.settings.simulated:  # the simulated world keeps its own time (GET / says it)
            root = self._base.rsplit("/canadapost", 1)[0]
            try:
                data: dict[str, Any] = (await self._client.get(f"{root}/")).json()
                return datetime.fromisoformat(data["now"])
            except (httpx.HTTPError, ValueError, KeyError):
                pass
        return datetime.now(UTC)

    async def find_shipment(self, reference: str, *, since: datetime | None = None) -> CreatedLabel | None:
        since = since or (await self._now()) - timedelta(days=self.settings.lookback_days)
        listing = await self._xml(f"{self.shipments_url}?from={since.astimezone(UTC):%Y%m%d%H%M}")
        hrefs = [
            link.get("href")
            for link in listing.iter(f"{{{NCSHIPMENT_NS}}}link")
            if link.get("rel") == "shipment" and link.get("href")
        ]
        for href in reversed(hrefs):  # newest last: a recovery looks for a recent shipment
            details = await self._xml(f"{href}/details")
            if _find(details, "delivery-spec/references/customer-ref-1") != _text(reference, 35):
                continue
            info = await self._xml(href)
            label = parse_shipment_info(etree.tostring(info), reference)
            return CreatedLabel(
                label.shipment_id, label.tracking_pin or _find(details, "tracking-pin"), label.label_url,
                reference, _find(details, "delivery-spec/service-code"), label.raw,
            )  # fmt: skip
        return None

    async def tracking_summary(self, pin: str) -> TrackingSummary | None:
        url = f"{self._base}/vis/track/pin/{quote(pin, safe='')}/summary"
        try:
            root = await self._xml(url, accept=TRACK_TYPE)
        except CarrierError as error:
            if error.status == 404 and any(code == NO_PIN_HISTORY for code, _ in error.messages):
                return None
            raise
        return parse_tracking_summary(etree.tostring(root))

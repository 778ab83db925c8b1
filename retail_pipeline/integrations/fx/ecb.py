"""The European Central Bank's euro foreign exchange reference rates (eurofxref XML).

The ECB publishes one set of reference rates per TARGET business day at around 16:00 CET, each
currency quoted per euro, as public XML files (no authentication):
- `/stats/eurofxref/eurofxref-daily.xml`: the latest business day
- `/stats/eurofxref/eurofxref-hist-90d.xml`: the business days of the last 90 days, newest first

Format: `<gesmes:Envelope xmlns:gesmes="http://www.gesmes.org/xml/2002-08-01"
xmlns="http://www.ecb.int/vocabulary/2002-08-01/eurofxref">` holding a `Cube` of `Cube time="YYYY-MM-DD"`,
each holding `Cube currency="USD" rate="1.1345"`. Parsed with the standard library's ElementTree (a
document of ours or the ECB's: no DTDs or entities are expanded by it).

Retries (`integrations.retrying`): timeouts, dropped connections, 429, 5xx and bodies cut short, with
exponential backoff honouring Retry-After. Other answers raise `FxError(retryable=False)`.

Configuration (`EcbSettings`, ECB_* variables): ECB_BASE_URL (default: the simulator at
{SIMULATOR_URL}/ecb when USE_SIMULATORS, else https://www.ecb.europa.eu), ECB_TIMEOUT_SECONDS,
ECB_MAX_ATTEMPTS.
"""

from __future__ import annotations

import xml.etree.ElementTree as ElementTree
from dataclasses import dataclass
from datetime import date
from decimal import Decimal, InvalidOperation
from typing import Any

import httpx
from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from retail_pipeline.integrations.http import retry_after_seconds, tls_context
from retail_pipeline.integrations.retrying import Transient, exponential_backoff, retry_transient
from retail_pipeline.settings import get_settings

ECB_SITE = "https://www.ecb.europa.eu"
GESMES_NS = "http://www.gesmes.org/xml/2002-08-01"
EUROFXREF_NS = "http://www.ecb.int/vocabulary/2002-08-01/eurofxref"
DAILY = "/stats/eurofxref/eurofxref-daily.xml"
HISTORY_90D = "/stats/eurofxref/eurofxref-hist-90d.xml"
SOURCE = "ecb"
RETRYABLE = frozenset({408, 425, 429, 500, 502, 503, 504})
USER_AGENT = "retail-pipeline/0.1 (+https://github.com/retail-pipeline/retail_pipeline; fx rates)"


class EcbSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="ECB_", env_file=".env", extra="ignore")

    base_url: str | None = Field(default=None, description="Unset: the simulator when simulating, else live.")
    timeout_seconds: float = Field(default=30.0, gt=0)
    max_attempts: int = Field(default=5, ge=1)
    backoff_initial_seconds: float = Field(default=0.5, ge=0)
    backoff_max_seconds: float = Field(default=10.0, ge=0)

    def base(self) -> str:
        return get_settings().service_base(self.base_url, "ecb", ECB_SITE)


class FxError(Exception):
    def __init__(self, message: str, *, retryable: bool = False, status: int | None = None):
        super().__init__(message)
        self.message, self.retryable, self.status = message, retryable, status


@dataclass(frozen=True)
class DailyRates:
    day: date
    rates: dict[str, Decimal]  # currency → units per euro


def parse_eurofxref(body: bytes) -> list[DailyRates]:
    """Every `Cube time=` of an eurofxref document, in document order. FxError for anything else."""
    try:
        root = ElementTree.fromstring(body)
    except ElementTree.ParseError as error:
        raise FxError(f"eurofxref: not XML ({error})") from None
    if root.tag != f"{{{GESMES_NS}}}Envelope":
        raise FxError(f"eurofxref: root element {root.tag!r}, expected gesmes:Envelope")
    cube = root.find(f"{{{EUROFXREF_NS}}}Cube")
    if cube is None:
        raise FxError("eurofxref: no Cube in the envelope")
    days: list[DailyRates] = []
    for day_cube in cube.findall(f"{{{EUROFXREF_NS}}}Cube"):
        try:
            day = date.fromisoformat(day_cube.attrib["time"])
            rates = {
                c.attrib["currency"]: Decimal(c.attrib["rate"])
                for c in day_cube.findall(f"{{{EUROFXREF_NS}}}Cube")
            }
        except (KeyError, ValueError, InvalidOperation) as error:
            raise FxError(f"eurofxref: a malformed Cube ({error!r})") from None
        bad = [c for c, r in rates.items() if len(c) != 3 or not c.isalpha() or not c.isupper() or r <= 0]
        if bad:
            raise FxError(f"eurofxref {day}: malformed rates for {bad}")
        days.append(DailyRates(day, rates))
    return days


class EcbClient:
    def __init__(
        self, settings: EcbSettings | None = None, *, transport: httpx.AsyncBaseTransport | None = None
    ):
        self.settings = settings or EcbSettings()
        self.base_url = self.settings.base()
        self._transport = transport

    def _client(self) -> httpx.AsyncClient:
        kwargs: dict[str, Any] = (
            {"transport": self._transport} if self._transport else {"verify": tls_context()}
        )
        return httpx.AsyncClient(
            base_url=self.base_url,
            timeout=self.settings.timeout_seconds,
            headers={"User-Agent": USER_AGENT, "Accept": "text/xml, application/xml"},
            **kwargs,
        )

    async def _get(self, path: str) -> list[DailyRates]:
        async with self._client() as http:

            async def attempt(_: bool) -> list[DailyRates]:
                try:
                    response = await http.get(path)
                except httpx.TransportError as error:
                    raise Transient(f"{path}: {type(error).__name__}", ambiguous=False) from None
                if response.status_code in RETRYABLE:
                    raise Transient(
                        f"{path}: HTTP {response.status_code}",
                        ambiguous=False,
                        status=response.status_code,
                        wait=retry_after_seconds(response),
                    )
                if response.status_code != 200:
                    raise FxError(f"ECB {path}: HTTP {response.status_code}", status=response.status_code)
                try:
                    return parse_eurofxref(response.content)
                except FxError as error:  # a body cut short is worth another attempt
                    raise Transient(error.message, ambiguous=False) from None

            try:
                return await retry_transient(
                    attempt,
                    max_attempts=self.settings.max_attempts,
                    backoff=exponential_backoff(
                        self.settings.backoff_initial_seconds, self.settings.backoff_max_seconds
                    ),
                )
            except Transient as error:
                raise FxError(f"ECB {path}: {error.reason}", retryable=True, status=error.status) from None

    async def daily(self) -> list[DailyRates]:
        return await self._get(DAILY)

    async def history_90d(self) -> list[DailyRates]:
        return await self._get(HISTORY_90D)

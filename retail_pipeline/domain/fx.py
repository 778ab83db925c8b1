"""Exchange rates as pricing needs them: the reference rates per EUR of one day (the European Central
Bank's), cross rates through EUR, and the TARGET calendar the ECB publishes on. No I/O: the
`fx_rates` asset stores the rates, the drafts read the latest on or before their day into `FxRates`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import ROUND_HALF_EVEN, Decimal

BASE = "EUR"  # the ECB quotes every currency per euro
RATE_PLACES = Decimal("0.000001")  # a cross rate as recorded (and used) with a price
CENT = Decimal("0.01")


def easter_sunday(year: int) -> date:
    """Gregorian Easter (the anonymous algorithm, Meeus/Jones/Butcher)."""
    a, b, c = year % 19, year // 100, year % 100
    d, e = divmod(b, 4)
    g = (8 * b + 13) // 25
    h = (19 * a + b - d - g + 15) % 30
    i, k = divmod(c, 4)
    l_ = (32 + 2 * e + 2 * i - h - k) % 7
    m = (a + 11 * h + 22 * l_) // 451
    month, day = divmod(h + l_ - 7 * m + 114, 31)
    return date(year, month, day + 1)


def target_holidays(year: int) -> frozenset[date]:
    """TARGET2 closing days (no euro reference rates): New Year's Day, Good Friday, Easter Monday,
    Labour Day, Christmas Day and Boxing Day."""
    easter = easter_sunday(year)
    return frozenset(
        {
            date(year, 1, 1),
            easter - timedelta(days=2),
            easter + timedelta(days=1),
            date(year, 5, 1),
            date(year, 12, 25),
            date(year, 12, 26),
        }
    )


def is_rate_day(day: date) -> bool:
    """Whether the ECB publishes reference rates on `day` (a TARGET business day)."""
    return day.weekday() < 5 and day not in target_holidays(day.year)


def allowed_age_days(latest: date, today: date, *, base_days: int = 4) -> int:
    """How old the latest rates may be on `today`: `base_days` (a weekend and a day's lag), plus one for
    every weekday TARGET holiday since `latest` (Easter and Christmas close two weekdays)."""
    closed = sum(
        1
        for n in range(1, (today - latest).days + 1)
        if (d := latest + timedelta(days=n)).weekday() < 5 and not is_rate_day(d)
    )
    return base_days + closed


@dataclass(frozen=True)
class Rate:
    """One currency's reference rate: `per_eur` units of it buy one euro, published for `day`."""

    currency: str
    per_eur: Decimal
    day: date
    source: str


@dataclass(frozen=True)
class Conversion:
    amount: Decimal
    rate: Decimal  # from → to, as used
    day: date | None  # the rates' date (the older of the two legs); None when no conversion was needed
    source: str | None

    def record(self, from_currency: str, to_currency: str) -> dict[str, str | None]:
        """What a price records of its conversion (the draft's `pricing`, price history)."""
        return {
            "fx_pair": f"{from_currency}→{to_currency}",
            "fx_rate": str(self.rate),
            "fx_date": self.day.isoformat() if self.day else None,
            "fx_source": self.source,
        }


class MissingRate(LookupError):
    def __init__(self, from_currency: str, to_currency: str, on: date | None):
        self.from_currency, self.to_currency, self.on = from_currency, to_currency, on
        when = f" on or before {on.isoformat()}" if on else ""
        super().__init__(f"no exchange rate {from_currency}→{to_currency}{when}: materialise fx_rates")


@dataclass(frozen=True)
class FxRates:
    """The latest reference rate on or before `on` for each currency that has one."""

    on: date
    rates: Mapping[str, Rate] = field(default_factory=dict)

    @classmethod
    def of(cls, on: date, rates: Iterable[Rate]) -> FxRates:
        latest: dict[str, Rate] = {}
        for rate in rates:
            if rate.day <= on and (rate.currency not in latest or rate.day > latest[rate.currency].day):
                latest[rate.currency] = rate
        return cls(on, latest)

    def _leg(self, currency: str) -> tuple[Decimal, date | None, str | None] | None:
        if currency == BASE:
            return Decimal(1), None, None
        rate = self.rates.get(currency)
        return None if rate is None else (rate.per_eur, rate.day, rate.source)

    def rate(self, from_currency: str, to_currency: str) -> tuple[Decimal, date | None, str | None]:
        """The cross rate through EUR (rate[to] / rate[from]), its date and source; MissingRate without one."""
        if from_currency == to_currency:
            return Decimal(1), None, None
        source_leg, target_leg = self._leg(from_currency), self._leg(to_currency)
        if source_leg is None or target_leg is None:
            raise MissingRate(from_currency, to_currency, self.on)
        rate = (target_leg[0] / source_leg[0]).quantize(RATE_PLACES, ROUND_HALF_EVEN)
        days = [d for d in (source_leg[1], target_leg[1]) if d is not None]
        return rate, min(days) if days else None, source_leg[2] or target_leg[2]

    def convert(self, amount: Decimal, from_currency: str, to_currency: str) -> Conversion:
        """`amount` in `to_currency` (to the cent) and the rate used; MissingRate without a rate."""
        rate, day, source = self.rate(from_currency, to_currency)
        return Conversion((amount * rate).quantize(CENT, ROUND_HALF_EVEN), rate, day, source)

"""The ECB's euro reference rates, moving by a seeded random walk (moto-style state).

As the ECB does: one set of rates per TARGET business day (none on weekends, New Year's Day, Good
Friday, Easter Monday, 1 May, 25 and 26 December), published around 16:00 CET, each currency quoted
per euro with its usual number of decimals. The walk is anchored at the simulator's start date (the
starting rates are late-May-2025 levels) and is a function of the seed and the day only, so any day's
rates are the same whichever is asked first. The BGN is the lev's fixed conversion rate until Bulgaria
adopted the euro (1 January 2026); the DKK barely moves (ERM II).

Test hook: `set_rate(day, currency, rate)` pins a published rate (a jump the tests can see).
"""

from __future__ import annotations

import math
import random
import threading
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from decimal import ROUND_HALF_EVEN, Decimal
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

from retail_pipeline.domain.fx import is_rate_day

if TYPE_CHECKING:
    from ..app import Simulator

FRANKFURT = ZoneInfo("Europe/Berlin")  # CET/CEST
PUBLISHED_AT = time(16, 0)
HISTORY_DAYS = 90
EURO_ADOPTED = {"BGN": date(2026, 1, 1)}  # quoted until the day before


@dataclass(frozen=True)
class Quote:
    start: str  # the rate at the anchor, as published (its decimals are the currency's)
    daily_sigma: float = 0.004
    daily_drift: float = 0.0


# The ECB's list, in its order.
CURRENCIES: dict[str, Quote] = {
    "USD": Quote("1.1345"), "JPY": Quote("163.36", 0.005), "BGN": Quote("1.9558", 0.0),
    "CZK": Quote("24.939", 0.002), "DKK": Quote("7.4598", 0.0001), "GBP": Quote("0.84215", 0.003),
    "HUF": Quote("403.18", 0.004), "PLN": Quote("4.2378", 0.003), "RON": Quote("5.0853", 0.001),
    "SEK": Quote("10.8985", 0.004), "CHF": Quote("0.9325", 0.003), "ISK": Quote("145.10", 0.004),
    "NOK": Quote("11.5150", 0.004), "TRY": Quote("44.5103", 0.004, 0.0012), "AUD": Quote("1.7633", 0.005),
    "BRL": Quote("6.4832", 0.007), "CAD": Quote("1.5616", 0.004), "CNY": Quote("8.1659", 0.003),
    "HKD": Quote("8.8939", 0.004), "IDR": Quote("18502.75", 0.004), "ILS": Quote("3.9950", 0.005),
    "INR": Quote("97.0560", 0.004), "KRW": Quote("1565.34", 0.005), "MXN": Quote("21.9625", 0.006),
    "MYR": Quote("4.8205", 0.003), "NZD": Quote("1.8997", 0.005), "PHP": Quote("63.177", 0.004),
    "SGD": Quote("1.4644", 0.003), "THB": Quote("37.143", 0.004), "ZAR": Quote("20.3626", 0.007),
}  # fmt: skip


def published_at(day: date) -> datetime:
    return datetime.combine(day, PUBLISHED_AT, FRANKFURT)


def latest_published(now: datetime) -> date:
    """The last business day whose rates are out at `now`."""
    day = now.astimezone(FRANKFURT).date()
    while not is_rate_day(day) or published_at(day) > now:
        day -= timedelta(days=1)
    return day


class EcbBackend:
    def __init__(self, seed: int, anchor: date, now):
        self.seed, self.now = seed, now
        self.anchor = anchor
        while not is_rate_day(self.anchor):
            self.anchor -= timedelta(days=1)
        self._walk: dict[date, dict[str, float]] = {self.anchor: dict.fromkeys(CURRENCIES, 0.0)}
        self._pinned: dict[tuple[date, str], Decimal] = {}
        self._lock = threading.Lock()

    @classmethod
    def for_simulator(cls, sim: Simulator) -> EcbBackend:
        return cls(sim.config.seed, sim.config.start_time.date(), sim.clock.now)

    def _steps(self, day: date) -> dict[str, float]:
        rng = random.Random(f"ecb:{self.seed}:{day.isoformat()}")
        return {c: q.daily_drift + rng.gauss(0.0, q.daily_sigma) for c, q in CURRENCIES.items()}

    def _log_moves(self, day: date) -> dict[str, float]:
        """Log-move from the anchor to `day` per currency (a business day), memoised."""
        if day in self._walk:
            return self._walk[day]
        if day > self.anchor:
            before = day - timedelta(days=1)
            while not is_rate_day(before):
                before -= timedelta(days=1)
            prior, steps = self._log_moves(before), self._steps(day)
            moves = {c: prior[c] + steps[c] for c in CURRENCIES}
        else:
            after = day + timedelta(days=1)
            while not is_rate_day(after):
                after += timedelta(days=1)
            later, steps = self._log_moves(after), self._steps(after)
            moves = {c: later[c] - steps[c] for c in CURRENCIES}
        self._walk[day] = moves
        return moves

    def rates(self, day: date) -> dict[str, Decimal]:
        """The reference rates published for `day` (a business day), in the ECB's order."""
        with self._lock:
            moves = self._log_moves(day)
        out: dict[str, Decimal] = {}
        for currency, quote in CURRENCIES.items():
            if currency in EURO_ADOPTED and day >= EURO_ADOPTED[currency]:
                continue
            pinned = self._pinned.get((day, currency))
            start = Decimal(quote.start)
            value = pinned or Decimal(repr(float(start) * math.exp(moves[currency])))
            out[currency] = value.quantize(start, ROUND_HALF_EVEN)  # the currency's own decimals
        return out

    def published_days(self, days: int = 1) -> list[date]:
        """The business days with published rates within the last `days` calendar days, newest first
        (the daily file: the latest one only)."""
        latest = latest_published(self.now())
        if days <= 1:
            return [latest]
        first = self.now().astimezone(FRANKFURT).date() - timedelta(days=days)
        found, day = [], latest
        while day > first:
            if is_rate_day(day):
                found.append(day)
            day -= timedelta(days=1)
        return found

    def set_rate(self, day: date, currency: str, rate: Decimal) -> None:
        if currency not in CURRENCIES:
            raise ValueError(f"the ECB quotes no {currency}")
        self._pinned[(day, currency)] = Decimal(rate)

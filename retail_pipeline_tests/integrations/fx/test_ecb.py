"""The ECB's eurofxref files: the parser on the published layout, the simulator's calendar and walk
through the client, and cross rates through EUR."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path

import pytest

from retail_pipeline.domain.fx import FxRates, MissingRate, Rate, allowed_age_days, easter_sunday, is_rate_day
from retail_pipeline.integrations.fx import EcbClient, EcbSettings, FxError, parse_eurofxref

SAMPLE = Path(__file__).with_name("eurofxref-sample.xml")  # the ECB's layout, verbatim (a few currencies)


def client(transport) -> EcbClient:
    return EcbClient(EcbSettings(_env_file=None, backoff_initial_seconds=0), transport=transport)


def test_parses_the_published_layout():
    days = parse_eurofxref(SAMPLE.read_bytes())
    assert [d.day for d in days] == [date(2025, 5, 30), date(2025, 5, 29)]
    assert days[0].rates["USD"] == Decimal("1.1345") and days[0].rates["IDR"] == Decimal("18502.75")
    assert list(days[1].rates) == ["USD", "JPY", "GBP", "PLN", "NZD", "IDR"]
    with pytest.raises(FxError, match="gesmes:Envelope"):
        parse_eurofxref(b"<Cube xmlns='http://www.ecb.int/vocabulary/2002-08-01/eurofxref'/>")
    with pytest.raises(FxError, match="not XML"):
        parse_eurofxref(SAMPLE.read_bytes()[:400])  # a body cut short


def test_target_calendar():
    assert easter_sunday(2025) == date(2025, 4, 20) and easter_sunday(2026) == date(2026, 4, 5)
    closed = [date(2025, 1, 1), date(2025, 4, 18), date(2025, 4, 21), date(2025, 5, 1), date(2025, 12, 25),
              date(2025, 12, 26), date(2025, 5, 31)]  # fmt: skip
    assert not any(map(is_rate_day, closed)) and is_rate_day(date(2025, 4, 17))
    # Thursday before Easter to Tuesday after: 5 days, allowed as Good Friday and Easter Monday close
    assert allowed_age_days(date(2025, 4, 17), date(2025, 4, 22)) == 6
    assert allowed_age_days(date(2025, 5, 30), date(2025, 6, 2)) == 4


@pytest.mark.anyio
async def test_simulator_serves_business_days_as_published(transport, sim):
    ecb = client(transport)
    daily = await ecb.daily()  # Monday 2 June 2025, 09:00 UTC: Friday's rates are the latest
    assert [d.day for d in daily] == [date(2025, 5, 30)]
    currencies = set(daily[0].rates)
    assert {"USD", "JPY", "NZD", "CAD", "AUD", "GBP", "PLN", "CZK", "BGN"} <= currencies and len(
        currencies
    ) == 30
    assert daily[0].rates["BGN"] == Decimal("1.9558")  # the lev's fixed rate
    history = await ecb.history_90d()
    days = [d.day for d in history]
    assert days == sorted(days, reverse=True) and days[0] == date(2025, 5, 30) and len(days) in range(58, 66)
    assert (
        all(is_rate_day(d) for d in days) and date(2025, 4, 18) not in days and date(2025, 5, 1) not in days
    )
    assert history[0].rates == daily[0].rates
    assert len({h.rates["USD"] for h in history}) > 20  # it moves
    assert all(Decimal("0.9") < h.rates["USD"] < Decimal("1.4") for h in history)  # plausibly
    sim.clock.advance_to(datetime(2025, 6, 2, 14, 5, tzinfo=UTC))  # 16:05 in Frankfurt (CEST)
    assert [d.day for d in await ecb.daily()] == [date(2025, 6, 2)]


def test_cross_rates_through_eur_and_the_latest_on_or_before():
    friday = date(2025, 5, 30)
    rates = [Rate("USD", Decimal("1.1345"), friday, "ecb"), Rate("NZD", Decimal("1.8997"), friday, "ecb"),
             Rate("NZD", Decimal("1.9100"), date(2025, 6, 2), "ecb")]  # fmt: skip
    weekend = FxRates.of(date(2025, 6, 1), rates)  # Sunday: Friday's rate
    converted = weekend.convert(Decimal("100.00"), "NZD", "USD")
    assert (
        converted.rate == Decimal("0.597200")
        and converted.day == friday
        and converted.amount == Decimal("59.72")
    )
    assert weekend.convert(Decimal("10"), "EUR", "NZD").rate == Decimal("1.899700")
    assert FxRates.of(date(2025, 6, 2), rates).rate("NZD", "USD")[1] == friday  # the older leg's date
    with pytest.raises(
        MissingRate, match="no exchange rate NZD→PLN on or before 2025-06-01: materialise fx_rates"
    ):
        weekend.convert(Decimal("1"), "NZD", "PLN")

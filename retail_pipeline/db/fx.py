"""The stored exchange rates (`retail.fx_rates`, migration 010): written by the `fx_rates` asset, read by
pricing as `FxRates` (the latest rate on or before a day, per currency)."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date
from decimal import Decimal

from sqlalchemy import Connection, text

from retail_pipeline.domain.fx import FxRates, Rate

LATEST = text(
    """
    SELECT DISTINCT ON (currency) CAST(currency AS text) AS currency, rate, rate_date, source
      FROM retail.fx_rates WHERE rate_date <= :on
     ORDER BY currency, rate_date DESC
    """
)

UPSERT = text(
    """
    INSERT INTO retail.fx_rates AS f (rate_date, currency, rate, source)
    SELECT * FROM unnest(CAST(:days AS date[]), CAST(:currencies AS text[]), CAST(:rates AS numeric[]),
                         CAST(:sources AS text[]))
    ON CONFLICT (rate_date, currency) DO UPDATE SET rate = EXCLUDED.rate, source = EXCLUDED.source,
                                                    fetched_at = now()
    WHERE (f.rate, f.source) IS DISTINCT FROM (EXCLUDED.rate, EXCLUDED.source)
    RETURNING (xmax = 0) AS inserted
    """
)


def rates_on(conn: Connection, on: date) -> FxRates:
    """The latest stored rate on or before `on` for every currency."""
    rows = conn.execute(LATEST, {"on": on})
    return FxRates(on, {r.currency: Rate(r.currency, Decimal(r.rate), r.rate_date, r.source) for r in rows})


def store_rates(conn: Connection, rates: Iterable[tuple[date, str, Decimal]], source: str) -> dict[str, int]:
    """Upsert (day, currency, rate) rows; an unchanged row is left as it is. Counts inserted/updated/unchanged."""
    rows = list(rates)
    written = conn.execute(
        UPSERT,
        {
            "days": [d for d, _, _ in rows],
            "currencies": [c for _, c, _ in rows],
            "rates": [r for _, _, r in rows],
            "sources": [source] * len(rows),
        },
    ).all()
    inserted = sum(1 for w in written if w.inserted)
    return {"inserted": inserted, "updated": len(written) - inserted, "unchanged": len(rows) - len(written)}


def latest_rate_date(conn: Connection) -> date | None:
    return conn.scalar(text("SELECT max(rate_date) FROM retail.fx_rates"))

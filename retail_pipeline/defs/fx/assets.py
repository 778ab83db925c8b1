"""`fx_rates`: the European Central Bank's euro reference rates of the last 90 days, upserted into
`retail.fx_rates`; `fx_rates_fresh` checks the latest is no older than weekends and holidays allow.

Unpartitioned on purpose: every run reads the 90-day file and upserts it (unchanged rows untouched),
so a missed day, or weeks without a run, backfill themselves on the next run with no partition
bookkeeping, and a rerun is harmless. A daily-partitioned asset would also put `listing_drafts`
downstream of a time-partitioned asset, which run-once (and the schedules' order) treats as the
outside world's sync that runs after listings are out. Older history than 90 days is out of scope.
"""

# No `from __future__ import annotations`: Dagster inspects the context annotations at runtime.

import asyncio
from datetime import date
from typing import Any

import dagster as dg
from sqlalchemy import Engine

from retail_pipeline.db.fx import latest_rate_date, store_rates
from retail_pipeline.defs.resources import DatabaseResource, FxResource
from retail_pipeline.domain.fx import allowed_age_days
from retail_pipeline.integrations.fx.ecb import SOURCE, EcbClient


async def _fetch(client: EcbClient) -> list:
    return await client.history_90d()


def refresh_fx_rates(engine: Engine, client: EcbClient) -> dict[str, Any]:
    """Fetch the 90-day file and upsert it; the counts (inserted/updated/unchanged), days, currencies."""
    days = asyncio.run(_fetch(client))
    if not days:
        raise dg.Failure("the ECB's 90-day file holds no rates")
    rows = [(d.day, currency, rate) for d in days for currency, rate in d.rates.items()]
    with engine.begin() as conn:
        counts = store_rates(conn, rows, SOURCE)
    return {
        **counts,
        "days": len(days),
        "currencies": len({currency for _, currency, _ in rows}),
        "latest_rate_date": max(d.day for d in days).isoformat(),
    }


def freshness(engine: Engine, today: date) -> dg.AssetCheckResult:
    """Passed when the latest rates are at most 4 days old on `today`, plus the TARGET holidays between."""
    with engine.connect() as conn:
        latest = latest_rate_date(conn)
    if latest is None:
        return dg.AssetCheckResult(
            passed=False, metadata={"latest_rate_date": None, "today": today.isoformat()}
        )
    age, allowed = (today - latest).days, allowed_age_days(latest, today)
    return dg.AssetCheckResult(
        passed=age <= allowed,
        metadata={"latest_rate_date": latest.isoformat(), "today": today.isoformat(), "age_days": age,
                  "allowed_days": allowed},
    )  # fmt: skip


@dg.asset(group_name="fx", kinds={"postgres"}, pool="ecb_api")
def fx_rates(context: dg.AssetExecutionContext, db: DatabaseResource, fx: FxResource) -> dg.MaterializeResult:
    """The ECB's reference rates (per EUR) of every business day of the last 90 days, upserted by
    (day, currency): pricing converts with the latest on or before its day."""
    return dg.MaterializeResult(metadata=refresh_fx_rates(db.engine, fx.client()))


@dg.asset_check(asset=fx_rates, description="The latest rates are at most 4 days old (plus TARGET holidays).")
def fx_rates_fresh(db: DatabaseResource, fx: FxResource) -> dg.AssetCheckResult:
    """By the rates' clock (the simulated one against the simulators)."""
    return freshness(db.engine, fx.now().date())

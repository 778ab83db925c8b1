"""`fx_rates` against the simulated ECB, and pricing with the day's rate: the draft's `pricing` and the
price history record the rate used, its date and source; no rate, no price."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal

import pytest
from sqlalchemy import text

from retail_pipeline.defs.fx.assets import freshness, refresh_fx_rates
from retail_pipeline.defs.listings.drafts import build_drafts
from retail_pipeline.defs.listings.publish import run_publish
from retail_pipeline.integrations.fx import EcbClient, EcbSettings
from retail_pipeline_tests.seeds.listed_products import seed_products, signed

ROWS = "SELECT rate_date, currency, rate, source, fetched_at FROM retail.fx_rates ORDER BY 1, 2"


@pytest.fixture
def fx(transport) -> EcbClient:
    return EcbClient(EcbSettings(_env_file=None, backoff_initial_seconds=0), transport=transport)


def materialise(engine, fx) -> dict:
    """What the `fx_rates` asset does (its body), against the in-process simulators."""
    return refresh_fx_rates(engine, fx)


def ebay_draft(conn, sku: str = "RP-1001"):
    return conn.execute(
        text("SELECT price, pricing, status, validation_errors FROM retail.listing_drafts "
             "WHERE channel = 'ebay' AND sku = :sku"), {"sku": sku},
    ).one()  # fmt: skip


def test_asset_upserts_the_90_days_and_a_rerun_changes_nothing(engine, db, fx, channels, sim):
    first = materialise(engine, fx)
    assert first["latest_rate_date"] == "2025-05-30" and first["currencies"] == 30
    assert first["inserted"] == first["days"] * 30 and first["updated"] == first["unchanged"] == 0
    with engine.connect() as conn:
        rows = conn.execute(text(ROWS)).all()
    again = materialise(engine, fx)
    assert again["inserted"] == again["updated"] == 0 and again["unchanged"] == len(rows)
    with engine.connect() as conn:
        assert conn.execute(text(ROWS)).all() == rows  # the same rows, fetched_at included
    assert freshness(engine, channels.now().date()).passed  # Monday morning, Friday's rates
    sim.clock.advance_to(datetime(2025, 6, 10, 9, tzinfo=UTC))  # a week on, nothing fetched since
    stale = freshness(engine, channels.now().date())
    assert not stale.passed and stale.metadata["age_days"].value == 11


def test_drafts_price_with_the_days_rate_and_publish_records_it(engine, db, fx, settings_env, sim, channels):
    seed_products(engine, settings_env.media_dir)
    with engine.begin() as conn:
        conn.execute(text("DELETE FROM retail.fx_rates"))  # as a fresh install: fx_rates not materialised
        build_drafts(conn, "ebay", today=date(2025, 6, 2))
        missing = ebay_draft(conn)
    assert missing.status == "invalid"
    assert (
        "no exchange rate NZD→USD on or before 2025-06-02: materialise fx_rates" in missing.validation_errors
    )

    materialise(engine, fx)
    with engine.begin() as conn:
        build_drafts(conn, "ebay", today=date(2025, 6, 1))  # a Sunday: Friday's rate
        friday = ebay_draft(conn)
        usd, nzd = (conn.scalar(text("SELECT rate FROM retail.fx_rates WHERE rate_date = '2025-05-30' "
                                     "AND currency = :c"), {"c": c}) for c in ("USD", "NZD"))  # fmt: skip
    assert friday.status == "valid" and friday.pricing["fx_date"] == "2025-05-30"
    assert friday.pricing["fx_rate"] == str((usd / nzd).quantize(Decimal("0.000001")))
    assert friday.pricing["fx_source"] == "ecb" and friday.pricing["supplier_cost"] == "399.00"
    result = run_publish(engine, channels.client("ebay"), media_url=signed)
    assert result.counts["created"] == 3, result.errors

    # Monday's rates are out (the NZD weaker); the next pass prices with them and reprices the listing.
    sim.clock.advance_to(datetime(2025, 6, 2, 15, tzinfo=UTC))
    sim.backend("ecb").set_rate(date(2025, 6, 2), "NZD", Decimal("2.0500"))
    materialise(engine, fx)
    with engine.begin() as conn:
        build_drafts(conn, "ebay", today=date(2025, 6, 2))
        monday = ebay_draft(conn)
    assert monday.pricing["fx_date"] == "2025-06-02" and Decimal(monday.pricing["fx_rate"]) < Decimal(
        friday.pricing["fx_rate"]
    )
    assert monday.price < friday.price
    result = run_publish(engine, channels.client("ebay"), media_url=signed)
    assert result.counts["repriced"] == 3, result.errors
    with engine.connect() as conn:
        history = conn.execute(
            text("""SELECT ph.source, ph.new_price, ph.fx_rate, ph.fx_date, ph.fx_source FROM retail.price_history ph
                      JOIN retail.channel_listings cl ON cl.id = ph.channel_listing_id
                     WHERE cl.sku = 'RP-1001' AND cl.channel = 'ebay' ORDER BY ph.id""")
        ).all()  # fmt: skip
    assert [(h.source, h.fx_date) for h in history] == [
        ("publish", date(2025, 5, 30)), ("reprice", date(2025, 6, 2))
    ]  # fmt: skip
    assert history[1].new_price == monday.price and str(history[1].fx_rate) == monday.pricing["fx_rate"]
    assert history[1].fx_source == "ecb" and history[0].fx_rate == Decimal(friday.pricing["fx_rate"])

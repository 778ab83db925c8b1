"""The Dagster assets end to end: drafts and channel listings materialised per channel partition,
with the `channels` resource's clients talking to the simulators on loopback."""

from __future__ import annotations

import dagster as dg
import pytest
from sqlalchemy import text

from retail_pipeline.channels.registry import channel, channel_names
from retail_pipeline.defs.listings.assets import channel_listings
from retail_pipeline.defs.listings.drafts import listing_drafts
from retail_pipeline.defs.resources import ChannelsResource, DatabaseResource
from retail_pipeline_tests.simulated_channels import CHANNELS, LISTING_CHANNELS

from .conftest import listing_rows


def test_registry_knows_every_channel():
    assert set(channel_names("listings")) == set(LISTING_CHANNELS)
    assert {channel(c).client_class().channel for c in CHANNELS} == set(CHANNELS)
    with pytest.raises(ValueError, match="unknown channel"):
        channel("etsy")


@pytest.mark.parametrize("channel", CHANNELS)
def test_materialise_drafts_and_listings(channel, engine, seeded, simulator_url, db_url):
    resources = {"db": DatabaseResource(url=db_url), "channels": ChannelsResource()}
    result = dg.materialize([listing_drafts, channel_listings], partition_key=channel, resources=resources)
    assert result.success
    meta = result.asset_materializations_for_node("channel_listings")[0].metadata
    assert meta["created"].value == 3 and meta["deferred"].value == 0
    assert {r["actual_state"] for r in listing_rows(engine, channel).values()} == {"live"}
    again = dg.materialize([listing_drafts, channel_listings], partition_key=channel, resources=resources)
    meta = again.asset_materializations_for_node("channel_listings")[0].metadata
    assert meta["created"].value == 0
    assert again.asset_materializations_for_node("listing_drafts")[0].metadata["unchanged"].value == 3


def test_dry_run_config(engine, seeded, simulator_url, db_url):
    resources = {"db": DatabaseResource(url=db_url), "channels": ChannelsResource()}
    result = dg.materialize(
        [listing_drafts, channel_listings],
        partition_key="trademe",
        resources=resources,
        run_config={"ops": {"channel_listings": {"config": {"dry_run": True}}}},
    )
    meta = result.asset_materializations_for_node("channel_listings")[0].metadata
    assert meta["dry_run"].value == 3 and len(meta["dry_run_payloads"].value) == 3
    with engine.connect() as conn:
        assert conn.scalar(text("SELECT count(*) FROM retail.channel_listings")) == 0
        assert conn.scalar(text("SELECT count(*) FROM retail.activity_log WHERE dry_run")) == 3


def test_trademe_budget_spent_the_run_succeeds_deferred_and_the_next_hour_finishes(
    engine, seeded, sim, simulator_url, db_url
):
    """Trade Me itself (the simulator, on its clock) allows 6 calls an hour; the listings need 8. The
    first run is refused mid-way (429) and succeeds with the rest deferred; so does a second run in
    the same hour; an hour later a run lists the rest, each SKU once."""
    from .conftest import create_calls

    sim.backend("trademe").hourly_call_limit = 6
    resources = {"db": DatabaseResource(url=db_url), "channels": ChannelsResource()}
    first = dg.materialize([listing_drafts, channel_listings], partition_key="trademe", resources=resources)
    assert first.success
    meta = first.asset_materializations_for_node("channel_listings")[0].metadata
    assert meta["deferred"].value >= 1 and meta["created"].value < 3, meta
    assert meta["budget"].value["remaining"] == 0
    assert create_calls(sim, "trademe") == meta["created"].value
    same_hour = dg.materialize([channel_listings], partition_key="trademe", resources=resources)
    assert same_hour.success
    assert same_hour.asset_materializations_for_node("channel_listings")[0].metadata["created"].value == 0

    sim.clock.advance(1)
    # The resource's clients count their shared budget on the wall clock, not the simulated one: the
    # window Trade Me's 429 used up is a past hour for them too now.
    with engine.begin() as conn:
        conn.execute(text("DELETE FROM retail.call_budgets WHERE api = 'trademe'"))
    second = dg.materialize([channel_listings], partition_key="trademe", resources=resources)
    assert second.success
    assert second.asset_materializations_for_node("channel_listings")[0].metadata["deferred"].value == 0
    assert {r["actual_state"] for r in listing_rows(engine, "trademe").values()} == {"live"}
    assert create_calls(sim, "trademe") == 3

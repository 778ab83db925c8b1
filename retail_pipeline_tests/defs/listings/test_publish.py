"""Publishing on every channel against the simulators: crash safety, idempotence, reprice, withdraw."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import text

from retail_pipeline.defs.listings.drafts import build_drafts
from retail_pipeline.defs.listings.publish import run_publish
from retail_pipeline_tests.seeds.listed_products import signed
from retail_pipeline_tests.simulated_channels import CHANNELS

from .conftest import create_calls, listing_rows


def drafts(engine, channel):
    with engine.begin() as conn:
        return build_drafts(conn, channel)


def publish(engine, client, **kwargs):
    return run_publish(engine, client, media_url=signed, **kwargs)


async def _remote_all(client, skus):
    async with client:
        return {sku: await client.find_by_sku(sku) for sku in skus}


def remote(make_client, channel, skus):
    return asyncio.run(_remote_all(make_client(channel), skus))


@pytest.mark.parametrize("channel", CHANNELS)
def test_publish_on_each_channel_then_second_run_creates_nothing(channel, engine, seeded, sim, make_client):
    counts = drafts(engine, channel)
    assert counts["valid"] == 3, counts
    first = publish(engine, make_client(channel))
    assert first.counts["created"] == 3, (first.counts, listing_rows(engine, channel))
    rows = listing_rows(engine, channel)
    assert {r["actual_state"] for r in rows.values()} == {"live"}
    assert create_calls(sim, channel) == 3
    # the simulator's own state agrees with channel_listings
    found = remote(make_client, channel, rows)
    for sku, row in rows.items():
        assert found[sku] is not None and found[sku].external_id == row["external_listing_id"]
        assert found[sku].price == row["actual_price"] == row["desired_price"]
        assert found[sku].state == "live"
    second = publish(engine, make_client(channel))
    assert second.counts["created"] == 0 and create_calls(sim, channel) == 3
    with engine.connect() as conn:
        assert conn.scalar(text("SELECT count(*) FROM retail.activity_log WHERE channel = :c AND outcome = 'succeeded'"),
                           {"c": channel}) == 3  # fmt: skip
        assert conn.scalar(text("SELECT count(*) FROM retail.price_history WHERE source = 'publish'")) == 3


class Crash(RuntimeError):
    pass


@pytest.mark.parametrize("channel", CHANNELS)
def test_crash_between_remote_create_and_local_commit_leaves_one_listing(
    channel, engine, seeded, sim, make_client
):
    drafts(engine, channel)

    def crash(sku, remote_listing):
        if sku == "RP-1002":
            raise Crash("killed after the create call, before the commit")

    with pytest.raises(Crash):
        publish(engine, make_client(channel), after_create=crash)
    row = listing_rows(engine, channel)["RP-1002"]
    assert row["actual_state"] == "pending" and row["remote_ids"]["create_attempted"] is True
    rerun = publish(engine, make_client(channel))
    # RP-1002 is adopted, not created again; RP-1003 may have finished before the crash stopped its sibling
    assert rerun.counts["adopted"] == 1 and rerun.counts["created"] <= 1, rerun.counts
    assert create_calls(sim, channel) == 3  # exactly one remote create per SKU
    rows = listing_rows(engine, channel)
    assert {r["actual_state"] for r in rows.values()} == {"live"}
    found = remote(make_client, channel, ["RP-1002"])["RP-1002"]
    assert found.external_id == rows["RP-1002"]["external_listing_id"]


@pytest.mark.parametrize("channel", CHANNELS)
def test_supplier_price_change_reprices_with_history(channel, engine, seeded, sim, make_client):
    drafts(engine, channel)
    publish(engine, make_client(channel))
    old = listing_rows(engine, channel)["RP-1001"]["actual_price"]
    with engine.begin() as conn:
        conn.execute(text("UPDATE retail.supplier_products SET price = 459.00 WHERE sku = 'RP-1001'"))
    drafts(engine, channel)
    result = publish(engine, make_client(channel))
    assert result.counts["repriced"] == 1 and result.counts["created"] == 0
    row = listing_rows(engine, channel)["RP-1001"]
    assert row["actual_price"] == row["desired_price"] > old
    assert remote(make_client, channel, ["RP-1001"])["RP-1001"].price == row["actual_price"]
    with engine.connect() as conn:
        history = conn.execute(
            text(
                "SELECT old_price, new_price FROM retail.price_history WHERE channel_listing_id = :id AND source = 'reprice'"
            ),
            {"id": row["id"]},
        ).all()
    assert [(h.old_price, h.new_price) for h in history] == [(old, row["actual_price"])]


@pytest.mark.parametrize("channel", CHANNELS)
def test_removed_or_out_of_stock_product_is_withdrawn(channel, engine, seeded, sim, make_client):
    drafts(engine, channel)
    publish(engine, make_client(channel))
    with engine.begin() as conn:
        conn.execute(text("UPDATE retail.supplier_products SET removed_at = now() WHERE sku = 'RP-1001'"))
        conn.execute(
            text("UPDATE retail.supplier_products SET availability = 'out_of_stock' WHERE sku = 'RP-1003'")
        )
    drafts(engine, channel)
    result = publish(engine, make_client(channel))
    assert result.counts["withdrawn"] == 2
    rows = listing_rows(engine, channel)
    assert rows["RP-1001"]["actual_state"] == "withdrawn" and "removed" in rows["RP-1001"]["withdraw_reason"]
    assert rows["RP-1003"]["actual_state"] == "withdrawn" and "stock" in rows["RP-1003"]["withdraw_reason"]
    assert rows["RP-1002"]["actual_state"] == "live"
    found = remote(make_client, channel, ["RP-1001", "RP-1003"])
    assert all(f is None or f.state != "live" for f in found.values())
    assert publish(engine, make_client(channel)).counts["withdrawn"] == 0


def test_trademe_budget_exhausted_defers_then_next_window_finishes(engine, seeded, sim, make_client):
    drafts(engine, "trademe")
    first = publish(engine, make_client("trademe", hourly_call_limit=4))
    assert first.counts["deferred"] >= 1 and first.counts["created"] < 3
    assert first.budget["remaining"] == 0
    pending = [r for r in listing_rows(engine, "trademe").values() if r["actual_state"] == "pending"]
    assert len(pending) == first.counts["deferred"]
    second = publish(engine, make_client("trademe"))  # the next hour: a fresh budget
    assert {r["actual_state"] for r in listing_rows(engine, "trademe").values()} == {"live"}
    assert second.counts["deferred"] == 0
    assert create_calls(sim, "trademe") == 3


def test_budget_is_spent_on_withdrawals_and_prices_before_new_listings(engine, seeded, sim, make_client):
    drafts(engine, "trademe")
    publish(engine, make_client("trademe"))
    with engine.begin() as conn:
        conn.execute(text("UPDATE retail.supplier_products SET removed_at = now() WHERE sku = 'RP-1001'"))
        conn.execute(text("UPDATE retail.supplier_products SET price = 1300 WHERE sku = 'RP-1002'"))
    seed_more(engine)
    drafts(engine, "trademe")
    spent = make_client("trademe").budget().used  # the hour's budget is shared by every client
    result = publish(engine, make_client("trademe", hourly_call_limit=spent + 5))
    assert result.counts["withdrawn"] == 1 and result.counts["repriced"] == 1
    assert result.deferred == {"create": 1}


def seed_more(engine):
    from retail_pipeline.settings import get_settings
    from retail_pipeline_tests.seeds.listed_products import seed_products

    seed_products(engine, get_settings().media_dir,
                  [("RP-1004", "Boss Katana 50 MkII Guitar Amplifier", "Guitars", "450.00", 1, "Boss", "KTN50", 3)])  # fmt: skip


@pytest.mark.parametrize("channel", CHANNELS)
def test_injected_5xx_and_429_faults_all_work_completes(channel, engine, seeded, sim, make_client):
    from retail_pipeline.simulators import FaultConfig

    drafts(engine, channel)
    sim.faults.set(channel, FaultConfig(error_rate=0.1, rate_limit_rate=0.1, retry_after_seconds=0))
    for _ in range(3):  # a retryable error that outlasts the client's retries waits for the next run
        publish(engine, make_client(channel), concurrency=8)
        if {r["actual_state"] for r in listing_rows(engine, channel).values()} == {"live"}:
            break
    sim.faults.set(channel, FaultConfig())
    rows = listing_rows(engine, channel)
    assert {r["actual_state"] for r in rows.values()} == {"live"}
    found = remote(make_client, channel, rows)
    assert all(found[s].external_id == r["external_listing_id"] for s, r in rows.items())
    assert len({f.external_id for f in found.values()}) == 3


def test_non_retryable_error_marks_the_row_failed_without_failing_the_run(engine, seeded, sim, make_client):
    drafts(engine, "trademe")
    with engine.begin() as conn:  # a category Trade Me refuses
        conn.execute(text("""UPDATE retail.listing_drafts SET payload = jsonb_set(payload, '{fields,Category}', '"nonsense"')
                              WHERE sku = 'RP-1002' AND channel = 'trademe'"""))  # fmt: skip
    result = publish(engine, make_client("trademe"))
    assert result.counts["failed"] == 1 and result.counts["created"] == 2
    row = listing_rows(engine, "trademe")["RP-1002"]
    assert row["actual_state"] == "failed" and "ategory" in row["last_error"]
    with engine.connect() as conn:
        assert conn.scalar(text("SELECT count(*) FROM retail.ops_tasks WHERE kind = 'publish_failed'")) == 1
        assert conn.scalar(text("SELECT count(*) FROM retail.activity_log WHERE outcome = 'failed'")) == 1


@pytest.mark.parametrize("channel", CHANNELS)
def test_dry_run_builds_the_exact_payloads_without_calling(channel, engine, seeded, sim, make_client):
    drafts(engine, channel)
    result = publish(engine, make_client(channel), dry_run=True)
    assert result.counts["dry_run"] == 3 and len(result.payloads) == 3
    assert sim.journal.entries(channel) == [] and listing_rows(engine, channel) == {}
    request = next(p["request"] for p in result.payloads if p["sku"] == "RP-1001")
    if channel == "trademe":
        body = request["POST /v1/Selling.json"]
        assert body["SKU"] == body["ExternalReferenceId"] == "RP-1001" and body["Category"] == "7261"
        assert body["StartPrice"] == body["BuyNowPrice"] and len(request["photos_to_upload"]) == 2
    else:
        assert "RP-1001" in str(request)


def test_concurrent_publish_with_budget_defers_then_finishes(engine, seeded, sim, make_client):
    seed_more(engine)
    drafts(engine, "trademe")
    first = publish(engine, make_client("trademe", hourly_call_limit=6), concurrency=4)
    assert first.counts["deferred"] >= 1 and first.budget["remaining"] == 0
    second = publish(engine, make_client("trademe"), concurrency=4)
    assert second.counts["deferred"] == 0
    assert {r["actual_state"] for r in listing_rows(engine, "trademe").values()} == {"live"}
    assert create_calls(sim, "trademe") == 4

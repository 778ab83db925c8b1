"""listing_state: detection into sync_events, one reconciliation step, unknown listings → ops inbox."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from decimal import Decimal

import pytest
from sqlalchemy import text

from retail_pipeline.defs.listings.publish import _listing_draft, _remote
from retail_pipeline.defs.listings.state import _selling, detect, diff, reconcile
from retail_pipeline_tests.seeds.listed_products import signed
from retail_pipeline_tests.simulated_channels import CHANNELS, LISTING_CHANNELS

from .conftest import listing_rows
from .test_publish import drafts, publish


def test_diff_is_pure():
    from retail_pipeline.integrations.marketplaces.base import RemoteListing

    row = {"actual_state": "live", "actual_price": Decimal("10.00"), "actual_quantity": 2}
    live = RemoteListing("1", "A", Decimal("10.00"), 2, "live")
    assert diff(row, live) == []
    assert [k for k, *_ in diff(row, replace(live, price=Decimal("9")))] == ["price"]
    assert [k for k, *_ in diff(row, replace(live, state="sold"))] == ["status"]
    assert [k for k, *_ in diff(row, None)] == ["removed"]
    assert [k for k, *_ in diff(None, live)] == ["unknown_listing"]


async def _tamper(client, row, draft):
    async with client:
        await client.update_price(_remote(row), Decimal(row["actual_price"]) + 7)
        return await client.create(replace(draft, sku="ROGUE-1", title="Made by hand in the channel UI"))


class Row(dict):
    __getattr__ = dict.__getitem__


@pytest.mark.parametrize("channel", CHANNELS)
def test_detect_and_reconcile(channel, engine, seeded, sim, make_client):
    drafts(engine, channel)
    publish(engine, make_client(channel))
    rows = listing_rows(engine, channel)
    with engine.connect() as conn:
        draft_row = conn.execute(
            text("""SELECT cl.*, d.title, d.payload FROM retail.channel_listings cl
                    JOIN retail.listing_drafts d ON d.id = cl.draft_id WHERE cl.channel = :c AND cl.sku = 'RP-1001'"""),
            {"c": channel},
        ).one()  # fmt: skip
    rogue = asyncio.run(
        _tamper(make_client(channel), Row(rows["RP-1001"]), _listing_draft(draft_row, "", signed))
    )

    remote = asyncio.run(_selling(make_client(channel)))
    detected = detect(engine, channel, remote)
    assert detected.get("price") == 1, detected
    assert detected.get("unknown_listing", 0) >= 1
    applied = reconcile(engine, channel)
    assert applied["processed"] == sum(v for k, v in detected.items() if k != "remote_listings")
    row = listing_rows(engine, channel)["RP-1001"]
    assert row["actual_price"] == row["desired_price"] + 7  # our record now says what the channel says
    with engine.connect() as conn:
        task = conn.execute(
            text("SELECT * FROM retail.ops_tasks WHERE kind = 'listing_adoption' AND entity_id = :e"),
            {"e": rogue.external_id},
        ).one()
        assert conn.scalar(text("SELECT count(*) FROM retail.sync_events WHERE status = 'pending'")) == 0
        assert conn.scalar(text("SELECT count(*) FROM retail.channel_listings WHERE sku = 'ROGUE-1'")) == 0
    assert task.channel == channel
    # the next publish pass pushes our desired price back
    assert publish(engine, make_client(channel)).counts["repriced"] == 1
    # and detection is idempotent: nothing new on a quiet channel except the still-unknown listing
    again = detect(engine, channel, asyncio.run(_selling(make_client(channel))))
    assert set(again) <= {"remote_listings", "unknown_listing"}


@pytest.mark.parametrize("channel", CHANNELS)
def test_unknown_remote_listing_opens_one_ops_task_however_often_it_is_seen(
    channel, engine, seeded, sim, make_client
):
    drafts(engine, channel)
    publish(engine, make_client(channel))
    with engine.connect() as conn:
        draft_row = conn.execute(
            text("""SELECT cl.*, d.title, d.payload FROM retail.channel_listings cl
                    JOIN retail.listing_drafts d ON d.id = cl.draft_id WHERE cl.channel = :c AND cl.sku = 'RP-1002'"""),
            {"c": channel},
        ).one()  # fmt: skip
    rogue = asyncio.run(_create_rogue(make_client(channel), _listing_draft(draft_row, "", signed)))
    for _ in range(3):
        detect(engine, channel, asyncio.run(_selling(make_client(channel))))
        reconcile(engine, channel)
    with engine.connect() as conn:
        tasks = conn.execute(
            text("SELECT * FROM retail.ops_tasks WHERE kind = 'listing_adoption' AND status = 'open'")
        ).all()
        ours = conn.scalar(
            text("SELECT count(*) FROM retail.channel_listings WHERE channel = :c"), {"c": channel}
        )
    assert len(tasks) == 1, tasks  # one inbox row, by dedupe_key, however many syncs see it
    task = tasks[0]
    assert task.dedupe_key == f"listing_adoption:{channel}:{rogue.external_id}"
    assert task.occurrences == 3 and task.entity_id == rogue.external_id and "ROGUE-2" in task.title
    assert ours == 3  # never adopted


async def _create_rogue(client, draft):
    async with client:
        return await client.create(
            replace(draft, sku="ROGUE-2", title="Listed by hand in the channel's own UI")
        )


def test_schedules_request_one_run_per_channel():
    import dagster as dg

    from retail_pipeline.defs.listings.schedules import listing_state_every_30_minutes

    with dg.instance_for_test() as instance:
        from datetime import UTC, datetime

        context = dg.build_schedule_context(
            instance=instance, scheduled_execution_time=datetime(2026, 1, 1, tzinfo=UTC)
        )
        requests = listing_state_every_30_minutes(context)
    assert sorted(r.partition_key for r in requests) == sorted(LISTING_CHANNELS)

"""listing_state: detection into sync_events, one reconciliation step, unknown listings → ops inbox."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from decimal import Decimal

import pytest
from sqlalchemy import text

from retail_pipeline.db.admin import create_database, drop_database
from retail_pipeline.db.engine import get_engine
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
    rogue = _tampered_channel(engine, make_client, channel)

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


def test_the_detect_only_schedule_is_off_by_default_and_requests_detection_per_channel():
    from datetime import UTC, datetime

    import dagster as dg

    from retail_pipeline.defs.listings.schedules import listing_sync_detect_every_30_minutes as schedule

    assert schedule.default_status == dg.DefaultScheduleStatus.STOPPED
    assert schedule.job_name == "listing_sync_detect"
    tick = datetime(2026, 1, 1, tzinfo=UTC)
    context = dg.build_schedule_context(
        instance=dg.DagsterInstance.ephemeral(), scheduled_execution_time=tick
    )
    requests = schedule(context)
    assert sorted(r.partition_key for r in requests) == sorted(LISTING_CHANNELS)
    assert requests[0].run_key.startswith("detect:")


# --- sync you can review: detection-only runs, applying later (by run, by event, all), per-event isolation

SYNC_CHANNEL = "reverb"
# What two syncs that ended alike agree on (ids, timestamps and run ids differ by construction).
LISTING_COLUMNS = "sku, external_listing_id, actual_state, actual_price, actual_quantity, last_error"
TASK_COLUMNS = (
    "kind, dedupe_key, status, severity, title, details, channel, entity_type, entity_id, occurrences"
)
EVENT_COLUMNS = (
    "channel_listing_id, external_listing_id, event_type, local_value, remote_value, status, error"
)


def _rows(engine, sql: str) -> list[tuple]:
    with engine.connect() as conn:
        return [tuple(r) for r in conn.execute(text(sql))]


def _world(engine) -> dict[str, list[tuple]]:
    """What a sync changes: channel_listings, the ops inbox and the audit trail, and the events."""
    return {
        "listings": _rows(engine, f"SELECT {LISTING_COLUMNS} FROM retail.channel_listings ORDER BY id"),
        "tasks": _rows(engine, f"SELECT {TASK_COLUMNS} FROM retail.ops_tasks ORDER BY kind, dedupe_key"),
        "activity": _rows(engine, "SELECT action, entity_id, details FROM retail.activity_log ORDER BY id"),
        "events": _rows(engine, f"SELECT {EVENT_COLUMNS} FROM retail.sync_events ORDER BY id"),
    }


def _tampered_channel(engine, make_client, channel: str = SYNC_CHANNEL):
    """Our three listings published, then one repriced by hand in the channel and one made there."""
    drafts(engine, channel)
    publish(engine, make_client(channel))
    rows = listing_rows(engine, channel)
    with engine.connect() as conn:
        draft_row = conn.execute(
            text("""SELECT cl.*, d.title, d.payload FROM retail.channel_listings cl
                    JOIN retail.listing_drafts d ON d.id = cl.draft_id WHERE cl.channel = :c AND cl.sku = 'RP-1001'"""),
            {"c": channel},
        ).one()  # fmt: skip
    return asyncio.run(
        _tamper(make_client(channel), Row(rows["RP-1001"]), _listing_draft(draft_row, "", signed))
    )


def _resources(db_url: str):
    from retail_pipeline.defs.resources import ChannelsResource, DatabaseResource

    return {"db": DatabaseResource(url=db_url), "channels": ChannelsResource()}


def _apply_config(**config):
    return {"ops": {"apply_sync_events": {"config": config}}}


def test_detect_only_run_then_apply_run_end_exactly_like_one_sync_run(
    engine, seeded, sim, simulator_url, db_url, pg_server_url, make_client
):
    """Two worlds from one start (the channel tampered with: a listing repriced by hand, one made there):
    a detection-only run, then an apply run of its events; and the scheduled detect+apply asset run on a
    copy of the same database. The detection changes nothing but sync_events; both worlds end alike."""
    import dagster as dg

    from retail_pipeline.db.urls import app_url
    from retail_pipeline.defs.listings.state import listing_state
    from retail_pipeline.defs.listings.sync_jobs import listing_sync_apply_job, listing_sync_detect_job

    rogue = _tampered_channel(engine, make_client)
    twin_url = app_url(_clone(pg_server_url, engine))
    twin = get_engine(twin_url)
    try:
        instance = dg.DagsterInstance.ephemeral()
        detected = listing_sync_detect_job.execute_in_process(
            partition_key=SYNC_CHANNEL, resources=_resources(db_url), instance=instance
        )
        assert detected.output_for_node("detect_listing_differences") == {
            "remote_listings": 4, "price": 1, "unknown_listing": 1,
        }  # fmt: skip
        after_detection, start = _world(engine), _world(twin)
        assert {k: v for k, v in after_detection.items() if k != "events"} == {
            k: v for k, v in start.items() if k != "events"
        }  # nothing changed but the events
        repriced = listing_rows(engine, SYNC_CHANNEL)["RP-1001"]
        events = _rows(
            engine, "SELECT event_type, external_listing_id, status, run_id FROM retail.sync_events"
        )
        assert sorted(events) == [
            ("price", repriced["external_listing_id"], "pending", detected.run_id),
            ("unknown_listing", rogue.external_id, "pending", detected.run_id),
        ]
        assert instance.get_latest_materialization_event(dg.AssetKey("listing_state")) is None

        applied = listing_sync_apply_job.execute_in_process(
            partition_key=SYNC_CHANNEL, resources=_resources(db_url), instance=instance,
            run_config=_apply_config(detect_run_id=detected.run_id),
        )  # fmt: skip
        one_run = dg.materialize(
            [listing_state], partition_key=SYNC_CHANNEL, resources=_resources(twin_url), instance=instance
        )
        assert applied.success and one_run.success
        materialized = applied.asset_materializations_for_node("apply_sync_events")
        assert [(m.asset_key.to_user_string(), m.partition) for m in materialized] == [
            ("listing_state", "reverb")
        ]
        ours, theirs = _world(engine), _world(twin)
    finally:
        twin.dispose()
        drop_database(pg_server_url, twin.url.database)
    assert ours == theirs
    assert len(ours["tasks"]) == 1 and {e[-2] for e in ours["events"]} == {"processed"}
    assert listing_rows(engine, SYNC_CHANNEL)["RP-1001"]["actual_price"] == repriced["desired_price"] + 7
    assert _rows(engine, "SELECT DISTINCT applied_run_id FROM retail.sync_events") == [(applied.run_id,)]


def _clone(server_url: str, engine) -> str:
    """A copy of the test's database (PostgreSQL copies only a database nobody is connected to)."""
    from retail_pipeline.db.urls import with_database

    source = engine.url.database
    engine.dispose()
    with engine.connect() as conn:
        conn.execute(
            text("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = :d AND pid <> pg_backend_pid()"),
            {"d": source},
        )  # fmt: skip
    engine.dispose()
    name = f"{source}_twin"
    create_database(server_url, name, template=source)
    return with_database(server_url, name)


def _remote_of(rows, **changes) -> list:
    """The channel's selling list as our rows say it is, with `changes` {sku: {field: value}} applied."""
    from retail_pipeline.integrations.marketplaces.base import RemoteListing

    return [
        replace(
            RemoteListing(
                r["external_listing_id"], sku, r["actual_price"], r["actual_quantity"], r["actual_state"]
            ),
            **changes.get(sku.replace("-", "_"), {}),
        )
        for sku, r in rows.items()
    ]


def live_listings(engine, channel: str) -> dict[str, dict]:
    """Our three listings live on the channel, as a publish pass leaves them, written without calling the
    channel: for tests that hand detection the channel's selling list themselves."""
    drafts(engine, channel)
    with engine.begin() as conn:
        conn.execute(
            text("""INSERT INTO retail.channel_listings
                        (channel, sku, product_id, draft_id, external_listing_id, currency, desired_price,
                         actual_price, desired_quantity, actual_quantity, actual_state)
                    SELECT channel, sku, product_id, id, 'R-' || sku, currency, price, price, quantity, quantity, 'live'
                      FROM retail.listing_drafts WHERE channel = :c"""),
            {"c": channel},
        )  # fmt: skip
    return listing_rows(engine, channel)


def test_apply_by_event_by_detection_run_then_all_and_twice_changes_nothing(engine, seeded, db_url):
    import dagster as dg

    from retail_pipeline.defs.listings.sync_jobs import listing_sync_apply_job
    from retail_pipeline.defs.resources import DatabaseResource

    rows = live_listings(engine, SYNC_CHANNEL)
    price = rows["RP-1001"]["actual_price"] + 5
    assert detect(engine, SYNC_CHANNEL, _remote_of(rows, RP_1001={"price": price}), "detect-a")["price"] == 1
    second = detect(
        engine,
        SYNC_CHANNEL,
        _remote_of(rows, RP_1002={"quantity": 9}, RP_1003={"state": "ended"}),
        "detect-b",
    )
    assert (second["quantity"], second["status"]) == (1, 1)
    ids = dict(_rows(engine, "SELECT event_type, id FROM retail.sync_events"))

    assert reconcile(engine, SYNC_CHANNEL, "by-event", event_ids=[ids["quantity"]]) == {
        "processed": 1,
        "failed": 0,
    }
    rows = listing_rows(engine, SYNC_CHANNEL)
    assert rows["RP-1002"]["actual_quantity"] == 9
    assert (rows["RP-1001"]["actual_price"], rows["RP-1003"]["actual_state"]) == (price - 5, "live")

    instance = dg.DagsterInstance.ephemeral()
    by_run = listing_sync_apply_job.execute_in_process(
        partition_key=SYNC_CHANNEL, resources={"db": DatabaseResource(url=db_url)}, instance=instance,
        run_config=_apply_config(detect_run_id="detect-a"),
    )  # fmt: skip
    assert by_run.output_for_node("apply_sync_events") == {"processed": 1, "failed": 0}
    rows = listing_rows(engine, SYNC_CHANNEL)
    assert (rows["RP-1001"]["actual_price"], rows["RP-1003"]["actual_state"]) == (price, "live")
    assert reconcile(engine, SYNC_CHANNEL, "again", detect_run_id="detect-a") == {"processed": 0, "failed": 0}
    # another channel's pending events are not this channel's to apply
    assert reconcile(engine, "ebay", "elsewhere", event_ids=[ids["status"]]) == {"processed": 0, "failed": 0}

    assert reconcile(engine, SYNC_CHANNEL, "all") == {"processed": 1, "failed": 0}
    assert listing_rows(engine, SYNC_CHANNEL)["RP-1003"]["actual_state"] == "ended"
    settled = _world(engine)
    assert reconcile(engine, SYNC_CHANNEL, "twice") == {"processed": 0, "failed": 0}
    assert _world(engine) == settled
    assert sorted(_rows(engine, "SELECT event_type, status, applied_run_id FROM retail.sync_events")) == [
        ("price", "processed", by_run.run_id), ("quantity", "processed", "by-event"), ("status", "processed", "all"),
    ]  # fmt: skip


def test_an_event_that_fails_is_marked_failed_with_its_error_and_the_others_apply(engine, seeded):
    rows = live_listings(engine, SYNC_CHANNEL)
    # a state our schema does not know (a channel's new word for it) cannot be stored: that event fails
    remote = _remote_of(
        rows, RP_1001={"quantity": 4}, RP_1002={"state": "on_vacation"}, RP_1003={"quantity": 6}
    )
    detect(engine, SYNC_CHANNEL, remote, "detect")
    assert reconcile(engine, SYNC_CHANNEL, "apply") == {"processed": 2, "failed": 1}
    after = listing_rows(engine, SYNC_CHANNEL)
    assert (after["RP-1001"]["actual_quantity"], after["RP-1003"]["actual_quantity"]) == (4, 6)
    assert after["RP-1002"]["actual_state"] == "live"  # its effect rolled back with it
    failed = _rows(
        engine,
        "SELECT event_type, error, processed_at IS NOT NULL FROM retail.sync_events WHERE status = 'failed'",
    )
    assert len(failed) == 1 and failed[0][0] == "status" and failed[0][2], failed
    assert "CheckViolation" in failed[0][1] and "channel_listings" in failed[0][1], failed
    with engine.connect() as conn:  # nothing of the failed event's effect is left, its audit row neither
        logged = conn.scalars(
            text("SELECT entity_id FROM retail.activity_log WHERE action = 'listing.sync'")
        ).all()
    assert sorted(logged) == sorted(str(after[s]["id"]) for s in ("RP-1001", "RP-1003"))
    # a failed event is not retried by applying again; the next detection that still sees it makes a new one
    assert reconcile(engine, SYNC_CHANNEL, "again") == {"processed": 0, "failed": 0}
    assert detect(engine, SYNC_CHANNEL, remote, "detect-2") == {"remote_listings": 3, "status": 1}


def test_a_kill_mid_apply_leaves_each_event_whole_and_the_rerun_finishes(engine, seeded, monkeypatch):
    from retail_pipeline.defs.listings import state

    rows = live_listings(engine, SYNC_CHANNEL)
    detect(engine, SYNC_CHANNEL, _remote_of(rows, RP_1001={"quantity": 4}, RP_1002={"quantity": 5}), "detect")
    apply_one = state._apply
    calls = []

    def killed_on_the_second(conn, channel, event, run_id, *more):
        calls.append(event.id)
        apply_one(
            conn, channel, event, run_id, *more
        )  # its effect is written, then the process dies uncommitted
        if len(calls) == 2:
            raise KeyboardInterrupt("killed mid-way")

    monkeypatch.setattr(state, "_apply", killed_on_the_second)
    with pytest.raises(KeyboardInterrupt):
        reconcile(engine, SYNC_CHANNEL, "killed")
    monkeypatch.undo()
    assert sorted(_rows(engine, "SELECT status FROM retail.sync_events")) == [("pending",), ("processed",)]
    assert (
        listing_rows(engine, SYNC_CHANNEL)["RP-1002"]["actual_quantity"] == rows["RP-1002"]["actual_quantity"]
    )
    assert reconcile(engine, SYNC_CHANNEL, "rerun") == {"processed": 1, "failed": 0}
    after = listing_rows(engine, SYNC_CHANNEL)
    assert (after["RP-1001"]["actual_quantity"], after["RP-1002"]["actual_quantity"]) == (4, 5)
    assert _rows(engine, "SELECT count(*) FROM retail.activity_log WHERE action = 'listing.sync'") == [(2,)]

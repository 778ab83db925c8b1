"""Operator commands: stored → sensor → one `operator_command` run each, carried out by the
channel_listings Publisher; statuses, results, ops tasks and the channels' own state checked."""

from __future__ import annotations

import json
from decimal import Decimal

import dagster as dg
import httpx
import pytest
from pydantic import TypeAdapter
from sqlalchemy import text

from retail_pipeline.channels.trademe import TradeMeSettings
from retail_pipeline.defs.listings.commands import (
    CommandRequest,
    command_run_config,
    execute,
    operator_command_job,
    operator_commands_sensor,
    submit,
)
from retail_pipeline.defs.resources import ChannelsResource, DatabaseResource
from retail_pipeline_tests.seeds.listed_products import signed
from retail_pipeline_tests.simulated_channels import CHANNELS

from .conftest import create_calls, listing_rows
from .test_publish import drafts, publish, remote


def command(command_type: str, dry_run: bool = False, key: str | None = None, **payload):
    body = {"command_type": command_type, "payload": payload, "dry_run": dry_run, "idempotency_key": key}
    return TypeAdapter(CommandRequest).validate_python(body)


def draft_id(engine, channel: str, sku: str) -> int:
    with engine.connect() as conn:
        return conn.scalar(
            text("SELECT id FROM retail.listing_drafts WHERE channel = :c AND sku = :s"),
            {"c": channel, "s": sku},
        )


def stored(engine, command_id: int):
    with engine.connect() as conn:
        return conn.execute(
            text("SELECT * FROM retail.operator_commands WHERE id = :id"), {"id": command_id}
        ).one()


@pytest.fixture
def channels(simulator_app) -> ChannelsResource:
    return ChannelsResource().with_transport(httpx.ASGITransport(app=simulator_app))


def run(engine, channels, command_id: int) -> dict:
    return execute(engine, channels, command_id, run_id="test-run", media_url=signed)


def test_sensor_requests_one_run_per_queued_command_and_the_run_publishes(
    engine, seeded, sim, simulator_url, db_url
):
    drafts(engine, "trademe")
    first, _ = submit(
        engine, command("PUBLISH_LISTING", draft_id=draft_id(engine, "trademe", "RP-1001")), "test"
    )
    second, _ = submit(
        engine, command("PUBLISH_LISTING", draft_id=draft_id(engine, "trademe", "RP-1002")), "test"
    )
    db = DatabaseResource(url=db_url)
    instance = dg.DagsterInstance.ephemeral()

    tick = operator_commands_sensor(dg.build_sensor_context(instance=instance, resources={"db": db}))
    assert [r.run_key for r in tick.run_requests] == [f"command:{first.id}", f"command:{second.id}"]
    assert tick.run_requests[0].run_config == command_run_config(first.id)
    again = operator_commands_sensor(
        dg.build_sensor_context(instance=instance, cursor=tick.cursor, resources={"db": db})
    )
    assert not again.run_requests  # exactly once per command

    resources = {"db": db, "channels": ChannelsResource()}
    result = operator_command_job.execute_in_process(
        run_config=tick.run_requests[0].run_config, resources=resources, instance=instance
    )
    assert result.success
    row = stored(engine, first.id)
    assert row.status == "succeeded" and row.run_id == result.run_id and row.error is None
    listing = listing_rows(engine, "trademe")["RP-1001"]
    assert (
        listing["actual_state"] == "live"
        and row.result["listings"][0]["external_listing_id"] == listing["external_listing_id"]
    )
    assert "RP-1002" not in listing_rows(engine, "trademe")  # only the command's draft
    assert create_calls(sim, "trademe") == 1
    # the run also records a materialisation of the channel's listings
    mats = result.asset_materializations_for_node("execute_operator_command")
    assert mats[0].asset_key == dg.AssetKey("channel_listings") and mats[0].partition == "trademe"
    # a repeated run of a finished command changes nothing
    operator_command_job.execute_in_process(run_config=command_run_config(first.id), resources=resources)
    assert create_calls(sim, "trademe") == 1 and stored(engine, first.id).attempts == 1
    with engine.connect() as conn:
        actors = {
            r.actor
            for r in conn.execute(text("SELECT actor FROM retail.activity_log WHERE channel = 'trademe'"))
        }
    assert f"command:{first.id}" in actors


def test_sensor_picks_up_a_command_committed_below_its_cursor(engine, seeded, db_url):
    drafts(engine, "trademe")
    row, _ = submit(
        engine, command("PUBLISH_LISTING", draft_id=draft_id(engine, "trademe", "RP-1001")), "test"
    )
    db = DatabaseResource(url=db_url)
    cursor = json.dumps({"last_id": row.id + 5, "requested": []})
    tick = operator_commands_sensor(
        dg.build_sensor_context(instance=dg.DagsterInstance.ephemeral(), cursor=cursor, resources={"db": db})
    )
    assert [r.run_key for r in tick.run_requests] == [f"command:{row.id}"]
    assert json.loads(tick.cursor) == {"last_id": row.id + 5, "requested": [row.id]}


@pytest.mark.parametrize("channel", CHANNELS)
def test_update_price_and_withdraw_commands_reach_the_channel_and_stick(
    channel, engine, seeded, sim, make_client, channels
):
    drafts(engine, channel)
    publish(engine, make_client(channel))
    rows = listing_rows(engine, channel)
    target = rows["RP-1001"]
    new_price = (Decimal(target["actual_price"]) + Decimal("10.50")).quantize(Decimal("0.01"))

    reprice, created = submit(
        engine, command("UPDATE_PRICE", listing_id=target["id"], price=str(new_price)), "t"
    )
    assert created and reprice.status == "queued" and reprice.channel == channel
    done = run(engine, channels, reprice.id)
    assert done["status"] == "succeeded", done
    assert remote(make_client, channel, ["RP-1001"])["RP-1001"].price == new_price
    row = listing_rows(engine, channel)["RP-1001"]
    assert row["actual_price"] == row["desired_price"] == new_price
    with engine.connect() as conn:
        history = conn.execute(
            text(
                "SELECT source, new_price, operator_command_id FROM retail.price_history WHERE source = 'operator'"
            )
        ).one()
    assert (history.new_price, history.operator_command_id) == (new_price, reprice.id)
    # the next hourly pass keeps the operator's price
    drafts(engine, channel)
    assert publish(engine, make_client(channel)).counts["repriced"] == 0
    assert listing_rows(engine, channel)["RP-1001"]["desired_price"] == new_price

    withdraw, _ = submit(
        engine, command("WITHDRAW_LISTING", listing_id=target["id"], reason="damaged in storage"), "t"
    )
    assert run(engine, channels, withdraw.id)["status"] == "succeeded"
    found = remote(make_client, channel, ["RP-1001"])["RP-1001"]
    assert found is None or found.state != "live"
    publish(engine, make_client(channel))  # the next hourly pass does not undo the operator's withdrawal
    row = listing_rows(engine, channel)["RP-1001"]
    assert row["actual_state"] == row["desired_state"] == "withdrawn"
    assert row["withdraw_reason"] == "damaged in storage"
    assert {r["actual_state"] for s, r in listing_rows(engine, channel).items() if s != "RP-1001"} == {"live"}


def test_non_retryable_refusal_is_human_required_with_an_ops_task(engine, seeded, sim, channels):
    drafts(engine, "trademe")
    with engine.begin() as conn:  # a category Trade Me refuses
        conn.execute(text("""UPDATE retail.listing_drafts SET payload = jsonb_set(payload, '{fields,Category}', '"nonsense"')
                              WHERE sku = 'RP-1002' AND channel = 'trademe'"""))  # fmt: skip
    row, _ = submit(engine, command("PUBLISH_LISTING", draft_id=draft_id(engine, "trademe", "RP-1002")), "t")
    done = run(engine, channels, row.id)
    assert done["status"] == "human_required" and "ategory" in done["error"]
    command_row = stored(engine, row.id)
    assert command_row.status == "human_required" and "ategory" in command_row.error
    with engine.connect() as conn:
        tasks = conn.execute(text("SELECT kind, dedupe_key, entity_id FROM retail.ops_tasks")).all()
    assert [(t.kind, t.dedupe_key, t.entity_id) for t in tasks] == [
        ("command_human_required", f"command:{row.id}", str(row.id))
    ]
    assert listing_rows(engine, "trademe")["RP-1002"]["actual_state"] == "failed"


def test_a_listing_that_stopped_being_live_is_human_required(engine, seeded, sim, make_client, channels):
    drafts(engine, "shopify")
    publish(engine, make_client("shopify"))
    listing = listing_rows(engine, "shopify")["RP-1003"]
    row, _ = submit(engine, command("WITHDRAW_LISTING", listing_id=listing["id"], reason="x"), "t")
    with engine.begin() as conn:  # sold meanwhile
        conn.execute(
            text("UPDATE retail.channel_listings SET actual_state = 'sold' WHERE id = :id"),
            {"id": listing["id"]},
        )
    done = run(engine, channels, row.id)
    assert done["status"] == "human_required" and "sold" in done["error"]


def test_bulk_publish_with_a_limit_then_the_rest(engine, seeded, sim, channels):
    drafts(engine, "reverb")
    first, _ = submit(engine, command("BULK_PUBLISH", channel="reverb", limit=2), "t")
    done = run(engine, channels, first.id)
    assert done["status"] == "succeeded" and done["counts"]["created"] == 2
    rest, _ = submit(engine, command("BULK_PUBLISH", channel="reverb"), "t")
    assert run(engine, channels, rest.id)["counts"]["created"] == 1
    assert create_calls(sim, "reverb") == 3
    assert {r["actual_state"] for r in listing_rows(engine, "reverb").values()} == {"live"}


def test_bulk_publish_of_chosen_drafts_over_the_budget_fails_retryably_then_finishes(
    engine, seeded, sim, simulator_app
):
    drafts(engine, "trademe")
    ids = [draft_id(engine, "trademe", s) for s in ("RP-1001", "RP-1003")]
    tight = ChannelsResource().with_transport(
        httpx.ASGITransport(app=simulator_app),
        trademe={"settings": TradeMeSettings(_env_file=None, hourly_call_limit=3)},
    )
    row, _ = submit(engine, command("BULK_PUBLISH", channel="trademe", draft_ids=ids), "t")
    done = run(engine, tight, row.id)
    assert done["status"] == "failed" and "budget" in done["error"], done
    assert stored(engine, row.id).status == "failed"
    with engine.connect() as conn:  # a spent budget is not a person's problem
        assert conn.scalar(text("SELECT count(*) FROM retail.ops_tasks")) == 0
    # run again (the next hour: a fresh budget): the command finishes, nothing is listed twice
    fresh = ChannelsResource().with_transport(httpx.ASGITransport(app=simulator_app))
    again = run(engine, fresh, row.id)
    assert again["status"] == "succeeded" and stored(engine, row.id).attempts == 2
    assert set(listing_rows(engine, "trademe")) == {"RP-1001", "RP-1003"}
    assert create_calls(sim, "trademe") == 2


def test_dry_run_publish_calls_nothing(engine, seeded, sim, channels):
    drafts(engine, "ebay")
    row, _ = submit(
        engine, command("PUBLISH_LISTING", dry_run=True, draft_id=draft_id(engine, "ebay", "RP-1001")), "t"
    )
    done = run(engine, channels, row.id)
    assert done["status"] == "succeeded"
    assert [p["sku"] for p in done["result"]["dry_run_payloads"]] == ["RP-1001"]
    assert sim.journal.entries("ebay") == [] and listing_rows(engine, "ebay") == {}


def test_dry_run_reprice_changes_nothing(engine, seeded, sim, make_client, channels):
    drafts(engine, "trademe")
    publish(engine, make_client("trademe"))
    listing = listing_rows(engine, "trademe")["RP-1001"]
    calls = len(sim.journal.entries("trademe"))
    row, _ = submit(
        engine, command("UPDATE_PRICE", dry_run=True, listing_id=listing["id"], price="1.00"), "t"
    )
    done = run(engine, channels, row.id)
    assert done["result"]["would"]["to"] == "1.00"
    assert len(sim.journal.entries("trademe")) == calls
    assert listing_rows(engine, "trademe")["RP-1001"]["desired_price"] == listing["desired_price"]


def test_launchpad_run_config_with_the_command_fields(engine, seeded, sim, simulator_url, db_url):
    drafts(engine, "shopify")
    resources = {"db": DatabaseResource(url=db_url), "channels": ChannelsResource()}
    config = {"command_type": "PUBLISH_LISTING", "draft_id": draft_id(engine, "shopify", "RP-1002")}
    result = operator_command_job.execute_in_process(
        run_config={"ops": {"execute_operator_command": {"config": config}}}, resources=resources
    )
    assert result.success
    with engine.connect() as conn:
        row = conn.execute(text("SELECT * FROM retail.operator_commands")).one()
    assert row.status == "succeeded" and row.requested_by == f"launchpad:{result.run_id}"
    assert listing_rows(engine, "shopify")["RP-1002"]["actual_state"] == "live"

    bad = operator_command_job.execute_in_process(
        run_config={
            "ops": {"execute_operator_command": {"config": {"command_type": "UPDATE_PRICE", "listing_id": 1}}}
        },
        resources=resources,
        raise_on_error=False,
    )
    assert not bad.success
    failure = bad.failure_data_for_node("execute_operator_command")
    assert "price" in failure.error.message


def test_idempotency_key_returns_the_same_command(engine, seeded):
    drafts(engine, "trademe")
    ask = command("PUBLISH_LISTING", key="k-1", draft_id=draft_id(engine, "trademe", "RP-1001"))
    first, created = submit(engine, ask, "t")
    second, again = submit(engine, ask, "t")
    assert created and not again and first.id == second.id
    with engine.connect() as conn:
        assert conn.scalar(text("SELECT count(*) FROM retail.operator_commands")) == 1

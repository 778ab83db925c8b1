"""POST /ops/commands and GET /ops/commands/{id}: role, validation (422/400), idempotency, the stored row."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, text

from retail_pipeline.api import keys
from retail_pipeline.defs.listings.drafts import build_drafts
from retail_pipeline_tests.seeds.listed_products import seed_products

URL = "/ops/commands"


@pytest.fixture
def drafts(engine: Engine, settings_env) -> dict[str, int]:
    seed_products(engine, settings_env.media_dir)
    with engine.begin() as conn:
        build_drafts(conn, "trademe")
        build_drafts(conn, "ebay")
        return {
            f"{r.channel}:{r.sku}": r.id
            for r in conn.execute(text("SELECT id, channel, sku FROM retail.listing_drafts"))
        }


def live_listing(engine: Engine, draft_id: int, state: str = "live") -> int:
    with engine.begin() as conn:
        return conn.scalar(
            text(
                """INSERT INTO retail.channel_listings
                       (channel, sku, product_id, draft_id, external_listing_id, currency, desired_price,
                        actual_price, desired_quantity, actual_quantity, actual_state)
                   SELECT channel, sku, product_id, id, '4711', currency, price, price, quantity, quantity, :state
                     FROM retail.listing_drafts WHERE id = :d RETURNING id"""
            ),
            {"d": draft_id, "state": state},
        )


def test_needs_an_operator_key(client: TestClient, engine: Engine) -> None:
    body = {"command_type": "BULK_PUBLISH", "payload": {"channel": "trademe"}}
    assert client.post(URL, json=body).status_code == 403
    viewer = {"X-API-Key": keys.create_api_key(engine, "viewer")}
    refused = client.post(URL, json=body, headers=viewer)
    assert refused.status_code == 403 and "operator" in refused.json()["detail"]
    assert client.get(f"{URL}/1", headers=viewer).status_code == 403


def test_publish_command_is_queued_and_readable(client, engine, operator, drafts) -> None:
    body = {
        "command_type": "PUBLISH_LISTING",
        "payload": {"draft_id": drafts["trademe:RP-1001"]},
        "dry_run": True,
    }
    response = client.post(URL, json=body, headers=operator)
    assert response.status_code == 202, response.text
    created = response.json()
    assert created["status"] == "queued" and created["channel"] == "trademe" and created["dry_run"] is True
    assert created["requested_by"].startswith("api_key:") and created["duplicate"] is False

    read = client.get(f"{URL}/{created['id']}", headers=operator)
    assert read.status_code == 200
    assert {k: read.json()[k] for k in ("status", "result", "error", "run_id")} == {
        "status": "queued", "result": None, "error": None, "run_id": None,
    }  # fmt: skip
    with engine.connect() as conn:
        row = conn.execute(text("SELECT * FROM retail.operator_commands")).one()
        logged = conn.execute(
            text("SELECT * FROM retail.activity_log WHERE entity_type = 'operator_command'")
        ).one()
    assert row.payload == {"draft_id": drafts["trademe:RP-1001"]} and row.command_type == "PUBLISH_LISTING"
    assert logged.actor == created["requested_by"] and logged.entity_id == str(row.id)
    assert client.get(f"{URL}/999999", headers=operator).status_code == 404


def test_idempotency_key_returns_the_same_command(client, engine, operator, drafts) -> None:
    body = {
        "command_type": "BULK_PUBLISH",
        "payload": {"channel": "ebay", "limit": 5},
        "idempotency_key": "bulk-1",
    }
    first = client.post(URL, json=body, headers=operator)
    second = client.post(URL, json=body, headers=operator)
    assert first.status_code == 202 and second.status_code == 200
    assert second.json()["id"] == first.json()["id"] and second.json()["duplicate"] is True
    # the same key in the header
    header = client.post(URL, json={k: v for k, v in body.items() if k != "idempotency_key"},
                         headers={**operator, "Idempotency-Key": "bulk-1"})  # fmt: skip
    assert header.status_code == 200 and header.json()["id"] == first.json()["id"]
    # the same key for a different command is a conflict
    other = client.post(URL, json={**body, "payload": {"channel": "ebay", "limit": 6}}, headers=operator)
    assert other.status_code == 409 and "bulk-1" in other.json()["detail"]
    with engine.connect() as conn:
        assert conn.scalar(text("SELECT count(*) FROM retail.operator_commands")) == 1


@pytest.mark.parametrize(
    ("body", "where", "words"),
    [
        ({"command_type": "DELETE_EVERYTHING", "payload": {}}, "command_type", "PUBLISH_LISTING"),
        (
            {"command_type": "UPDATE_PRICE", "payload": {"listing_id": 1, "price": -3}},
            "price",
            "greater than 0",
        ),
        (
            {"command_type": "UPDATE_PRICE", "payload": {"listing_id": 1, "price": "9.999"}},
            "price",
            "decimal places",
        ),
        ({"command_type": "UPDATE_PRICE", "payload": {"listing_id": 1}}, "price", "required"),
        (
            {"command_type": "WITHDRAW_LISTING", "payload": {"listing_id": 1, "reason": ""}},
            "reason",
            "at least 1",
        ),
        ({"command_type": "BULK_PUBLISH", "payload": {"channel": "etsy"}}, "channel", "trademe"),
        (
            {"command_type": "PUBLISH_LISTING", "payload": {"draft_id": 1, "price": 3}},
            "price",
            "not permitted",
        ),
    ],
)
def test_invalid_payloads_are_422_naming_the_field(client, operator, body, where, words) -> None:
    response = client.post(URL, json=body, headers=operator)
    assert response.status_code == 422, response.text
    errors = response.json()["detail"]
    # the field is named in the location (or, for an unknown command type, in the message)
    assert any((where in map(str, e["loc"]) or where in e["msg"]) and words in e["msg"] for e in errors), (
        errors
    )


def test_commands_that_cannot_run_are_400_with_the_reason(client, engine, operator, drafts) -> None:
    def post(command_type: str, **payload):
        return client.post(URL, json={"command_type": command_type, "payload": payload}, headers=operator)

    missing = post("PUBLISH_LISTING", draft_id=999999)
    assert missing.status_code == 400 and missing.json()["detail"] == "draft 999999 does not exist"
    not_listed = post("UPDATE_PRICE", listing_id=999999, price="10.00")
    assert not_listed.status_code == 400 and "listing 999999 does not exist" in not_listed.json()["detail"]
    sold = live_listing(engine, drafts["trademe:RP-1002"], state="sold")
    withdrawn = post("WITHDRAW_LISTING", listing_id=sold, reason="x")
    assert withdrawn.status_code == 400 and "is sold, not live" in withdrawn.json()["detail"]
    wrong_channel = post("BULK_PUBLISH", channel="trademe", draft_ids=[drafts["ebay:RP-1001"]])
    assert wrong_channel.status_code == 400 and "not trademe drafts" in wrong_channel.json()["detail"]
    with engine.begin() as conn:
        conn.execute(text("UPDATE retail.listing_drafts SET status = 'invalid', validation_errors = '[\"no photo\"]'"
                          " WHERE id = :id"), {"id": drafts["trademe:RP-1003"]})  # fmt: skip
    invalid = post("PUBLISH_LISTING", draft_id=drafts["trademe:RP-1003"])
    assert invalid.status_code == 400 and "no photo" in invalid.json()["detail"]
    with engine.connect() as conn:
        assert conn.scalar(text("SELECT count(*) FROM retail.operator_commands")) == 0


def test_reprice_of_a_live_listing_is_queued_on_its_channel(client, engine, operator, drafts) -> None:
    listing = live_listing(engine, drafts["ebay:RP-1001"])
    response = client.post(
        URL,
        json={"command_type": "UPDATE_PRICE", "payload": {"listing_id": listing, "price": 199.5}},
        headers=operator,
    )
    assert response.status_code == 202, response.text
    assert response.json()["channel"] == "ebay" and response.json()["payload"] == {
        "listing_id": listing,
        "price": "199.50",
    }

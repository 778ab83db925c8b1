"""GET /ops/inbox over rows of every kind: exact counts, newest items first, the right rows left out."""

from __future__ import annotations

from decimal import Decimal

import pytest
from sqlalchemy import Engine, text

from retail_pipeline.api.keys import create_api_key
from retail_pipeline_tests.seeds.catalog import add_draft, add_product, add_supplier
from retail_pipeline_tests.seeds.ops import (
    add_command,
    add_conversation,
    add_order,
    add_shipment,
    add_task,
    ago,
)

GROUPS = (
    "commands_human_required",
    "failed_runs",
    "failed_orders",
    "invalid_drafts",
    "listing_adoptions",
    "open_tasks",
    "messages_waiting",
)


@pytest.fixture
def seeded(engine: Engine) -> dict[str, int]:
    ids: dict[str, int] = {}
    with engine.begin() as conn:
        ids["cmd_old"] = add_command(conn, "human_required", created_at=ago(hours=3))
        ids["cmd_mid"] = add_command(conn, "human_required", created_at=ago(hours=2))
        ids["cmd_new"] = add_command(
            conn, "human_required", created_at=ago(hours=1), error="price below cost"
        )
        add_command(conn, "failed")
        add_command(conn, "queued")
        add_command(conn, "succeeded")

        refused = [("pending_acceptance", None), ("acceptance_failed", "OR21: offer no longer exists")]
        ids["order_acceptance"] = add_order(conn, "BB-1", refused)
        ids["order_label"] = add_order(
            conn, "BB-2", [("accepted", None), ("label_failed", "Canada Post: postal code invalid")]
        )
        add_shipment(conn, ids["order_label"], "label_failed", "9111: postal code invalid")
        # Recovered: the failure is history, not its current status.
        add_order(conn, "BB-3", [("accepted", None), ("label_failed", "timeout"), ("label_created", None)])
        add_order(conn, "BB-4", [("accepted", None), ("label_created", None), ("shipped", None)])
        add_order(conn, "BB-5", [("pending_acceptance", None)])

        supplier = add_supplier(conn, "onecheq")
        products = [add_product(conn, supplier, f"S{i}") for i in range(5)]
        ids["draft_tm_1"] = add_draft(conn, products[0], "trademe", "invalid", [{"rule": "title_length"}])
        ids["draft_tm_2"] = add_draft(conn, products[1], "trademe", "invalid", [{"rule": "category"}])
        ids["draft_ebay"] = add_draft(conn, products[2], "ebay", "invalid", [{"rule": "aspects"}])
        add_draft(conn, products[3], "trademe", "valid")
        add_draft(conn, products[4], "trademe", "pending")

        ids["unknown_old"] = add_task(
            conn, "listing_adoption", "trademe:111", created_at=ago(days=2), channel="trademe"
        )
        ids["unknown_new"] = add_task(
            conn, "listing_adoption", "ebay:222", created_at=ago(hours=1), channel="ebay"
        )
        add_task(conn, "listing_adoption", "ebay:333", status="resolved")
        ids["ack"] = add_task(conn, "invalid_draft", "d:1", status="acknowledged", created_at=ago(minutes=30))
        ids["scrape"] = add_task(conn, "scrape_error", "onecheq", created_at=ago(minutes=5))
        add_task(conn, "webhook_error", "w:1", status="dismissed")

        ids["waiting_long"] = add_conversation(
            conn, "T-5", inbound_at=ago(hours=5), outbound_at=ago(hours=6), body="Hello? " * 100
        )
        ids["waiting"] = add_conversation(conn, "T-1", inbound_at=ago(hours=3))
        add_conversation(conn, "T-2", inbound_at=ago(hours=2), outbound_at=ago(hours=1))  # answered
        add_conversation(conn, "T-3", inbound_at=ago(minutes=10))  # under the threshold
        add_conversation(conn, "T-4", status="resolved", inbound_at=ago(hours=5))
        add_conversation(conn, "T-6", inbound_at=None)  # we wrote first, no reply yet
    return ids


def _inbox(client, headers, **params):
    response = client.get("/ops/inbox", headers=headers, params=params)
    assert response.status_code == 200, response.text
    return response.json()


def test_empty_inbox_has_every_group_at_zero(client, operator):
    body = _inbox(client, operator)

    assert [g for g in GROUPS if body[g]["count"] == 0 and body[g]["items"] == []] == list(GROUPS)
    # The migrations create the dagster schema; its tables arrive with the first Dagster instance.
    assert body["failed_runs"]["dagster_storage"] is False
    assert body["messages_waiting"]["threshold_minutes"] == 60


def test_every_group_counts_exactly_and_lists_newest_first(client, operator, seeded):
    body = _inbox(client, operator)

    commands = body["commands_human_required"]
    assert commands["count"] == 3
    assert [c["id"] for c in commands["items"]] == [seeded["cmd_new"], seeded["cmd_mid"], seeded["cmd_old"]]
    assert commands["items"][0]["error"] == "price below cost"

    orders = body["failed_orders"]
    assert orders["count"] == 2 and orders["by_status"] == {"acceptance_failed": 1, "label_failed": 1}
    by_id = {o["id"]: o for o in orders["items"]}
    assert [o["id"] for o in orders["items"]] == [seeded["order_label"], seeded["order_acceptance"]]
    assert by_id[seeded["order_acceptance"]]["reason"] == "OR21: offer no longer exists"
    assert by_id[seeded["order_label"]]["shipment_error"] == "9111: postal code invalid"
    assert by_id[seeded["order_label"]]["status"] == "label_failed"

    drafts = body["invalid_drafts"]
    assert drafts["count"] == 3 and drafts["by_channel"] == {"trademe": 2, "ebay": 1}
    assert {d["id"] for d in drafts["items"]} == {
        seeded["draft_tm_1"],
        seeded["draft_tm_2"],
        seeded["draft_ebay"],
    }
    assert {d["validation_errors"][0]["rule"] for d in drafts["items"]} == {
        "title_length",
        "category",
        "aspects",
    }

    unknown = body["listing_adoptions"]
    assert unknown["count"] == 2
    assert [t["id"] for t in unknown["items"]] == [seeded["unknown_new"], seeded["unknown_old"]]

    tasks = body["open_tasks"]
    assert tasks["count"] == 4
    assert tasks["by_kind"] == {"listing_adoption": 2, "invalid_draft": 1, "scrape_error": 1}
    assert [t["id"] for t in tasks["items"]] == [
        seeded["scrape"],
        seeded["ack"],
        seeded["unknown_new"],
        seeded["unknown_old"],
    ]
    assert tasks["items"][1]["status"] == "acknowledged"

    waiting = body["messages_waiting"]
    assert waiting["count"] == 2
    assert [c["id"] for c in waiting["items"]] == [seeded["waiting_long"], seeded["waiting"]]  # longest first
    assert 299 <= waiting["items"][0]["waiting_minutes"] <= 301
    assert len(waiting["items"][0]["last_message"]) == 280
    assert waiting["items"][1]["last_message"] == "Where is my order?"


def test_limit_caps_items_not_counts(client, operator, seeded):
    body = _inbox(client, operator, limit=1)

    assert body["limit"] == 1
    assert {g: (body[g]["count"], len(body[g]["items"])) for g in GROUPS} == {
        "commands_human_required": (3, 1),
        "failed_runs": (0, 0),
        "failed_orders": (2, 1),
        "invalid_drafts": (3, 1),
        "listing_adoptions": (2, 1),
        "open_tasks": (4, 1),
        "messages_waiting": (2, 1),
    }
    assert body["commands_human_required"]["items"][0]["id"] == seeded["cmd_new"]
    assert body["open_tasks"]["items"][0]["id"] == seeded["scrape"]


def test_waiting_threshold_comes_from_settings(client, operator, seeded):
    client.app.state.settings.inbox_message_wait_minutes = 4 * 60

    waiting = _inbox(client, operator)["messages_waiting"]

    assert waiting["threshold_minutes"] == 240
    assert [c["id"] for c in waiting["items"]] == [seeded["waiting_long"]]


def test_a_status_change_moves_an_order_out_of_the_inbox(client, operator, engine, seeded):
    with engine.begin() as conn:
        conn.execute(
            text("INSERT INTO retail.order_status_history (order_id, status) VALUES (:id, 'accepted')"),
            {"id": seeded["order_acceptance"]},
        )

    orders = _inbox(client, operator)["failed_orders"]

    assert orders["by_status"] == {"acceptance_failed": 0, "label_failed": 1}
    assert [o["id"] for o in orders["items"]] == [seeded["order_label"]]


@pytest.mark.parametrize("limit", [0, 101, "many"])
def test_a_bad_limit_is_422(client, operator, limit):
    assert client.get("/ops/inbox", headers=operator, params={"limit": limit}).status_code == 422


def test_inbox_and_resolve_need_an_operator(client, engine, viewer):
    admin = {"X-API-Key": create_api_key(engine, "admin")}
    for method, path in [("GET", "/ops/inbox"), ("POST", "/ops/tasks/1/resolve"), ("GET", "/llm/health")]:
        # The sidecar's convention (auth.require_role): no key = anonymous = 403; a bad key = 401.
        assert client.request(method, path).status_code == 403
        assert client.request(method, path, headers={"X-API-Key": "rp_00000000_nope"}).status_code == 401
        response = client.request(method, path, headers=viewer)
        assert response.status_code == 403 and "needs role operator" in response.json()["detail"]
    assert client.get("/ops/inbox", headers=admin).status_code == 200


def test_the_inbox_statement_reads_its_groups_through_their_indexes(engine, seeded):
    """The plan the benchmark relies on: partial indexes and bounded scans, not whole tables."""
    from datetime import UTC, datetime, timedelta

    from retail_pipeline.api import ops_inbox as inbox

    now = datetime.now(UTC)
    params = {
        "now": now,
        "limit": 20,
        "since": now.replace(tzinfo=None),
        "failed_run_hours": 1,
        "cutoff": now - timedelta(hours=1),
        "wait_minutes": 60,
    }
    with engine.begin() as conn:
        conn.exec_driver_sql("SET LOCAL enable_seqscan = off")  # tiny tables: make the planner show its index
        plan = "\n".join(
            r[0] for r in conn.execute(text(f"EXPLAIN {inbox.INBOX_WITHOUT_DAGSTER.text}"), params)
        )
    for index in (
        "operator_commands_human_idx",
        "orders_attention_idx",
        "listing_drafts_invalid_idx",
        "ops_tasks_unresolved_idx",
        "conversations_awaiting_reply_idx",
    ):
        assert index in plan, index
    assert "Seq Scan on kpi_counts" in plan  # the counters (small: compaction keeps them one row a key)


def test_the_inbox_body_is_the_documented_shape(client, operator, seeded):
    from retail_pipeline.api.ops_inbox import Inbox

    response = client.get("/ops/inbox", headers=operator)

    assert response.headers["content-type"] == "application/json"
    parsed = Inbox.model_validate_json(response.content)
    assert parsed.failed_orders.items[0].total == Decimal("100.00")
    assert set(response.json()) == set(Inbox.model_fields)
    for group in GROUPS:  # no undocumented fields either
        model = type(getattr(parsed, group))
        assert set(response.json()[group]) == set(model.model_fields), group
        for item in response.json()[group]["items"]:
            assert set(item) == set(model.model_fields["items"].annotation.__args__[0].model_fields), group

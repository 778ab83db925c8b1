"""POST /ops/commands/{id}/retry: a command that needed a person is queued again, once."""

from __future__ import annotations

from sqlalchemy import Engine, text

from retail_pipeline.db.ops_tasks import open_task
from retail_pipeline_tests.seeds.catalog import add_draft, add_product, add_supplier


def _human_required_publish(engine: Engine) -> int:
    with engine.begin() as conn:
        product_id = add_product(conn, add_supplier(conn, "onecheq"), "SKU-1")
        draft_id = add_draft(conn, product_id, "trademe", status="valid")
        command_id = conn.scalar(
            text(
                "INSERT INTO retail.operator_commands (command_type, channel, payload, status, error, attempts)"
                " VALUES ('PUBLISH_LISTING', 'trademe', CAST(:payload AS jsonb), 'human_required',"
                " 'trademe refused: category needs an attribute', 1) RETURNING id"
            ),
            {"payload": f'{{"draft_id": {draft_id}}}'},
        )
        open_task(conn, kind="command_human_required", key=f"command:{command_id}", title="needs a person")
    return command_id


def test_retry_queues_a_new_command_once_and_closes_the_original(client, operator, viewer, engine):
    command_id = _human_required_publish(engine)

    assert client.post(f"/ops/commands/{command_id}/retry", headers=viewer).status_code == 403
    first = client.post(f"/ops/commands/{command_id}/retry", headers=operator)
    assert first.status_code == 202, first.text
    retry = first.json()
    assert (retry["status"], retry["command_type"], retry["idempotency_key"]) == (
        "queued", "PUBLISH_LISTING", f"retry:{command_id}",
    )  # fmt: skip
    assert retry["id"] != command_id

    again = client.post(f"/ops/commands/{command_id}/retry", headers=operator)  # a double click
    assert again.status_code == 200 and again.json()["id"] == retry["id"] and again.json()["duplicate"]

    with engine.connect() as conn:
        commands = conn.execute(
            text("SELECT id, status, error FROM retail.operator_commands ORDER BY id")
        ).all()
        task = conn.execute(text("SELECT status, resolved_by FROM retail.ops_tasks")).one()
        actions = conn.scalars(text("SELECT action FROM retail.activity_log ORDER BY id")).all()
    assert [(c.id, c.status) for c in commands] == [(command_id, "failed"), (retry["id"], "queued")]
    assert commands[0].error.startswith(f"retried as command {retry['id']}: trademe refused")
    assert task.status == "resolved" and task.resolved_by.startswith("api_key:")
    assert actions == ["command.publish_listing", "command.retry"]  # queued once, retried once


def test_retry_refuses_what_cannot_be_retried(client, operator, engine):
    command_id = _human_required_publish(engine)
    with engine.begin() as conn:
        queued = conn.scalar(
            text(
                "INSERT INTO retail.operator_commands (command_type, payload) VALUES ('PUBLISH_LISTING', '{}')"
                " RETURNING id"
            )
        )
        conn.execute(text("UPDATE retail.listing_drafts SET status = 'invalid'"))

    assert client.post("/ops/commands/999999/retry", headers=operator).status_code == 404
    running = client.post(f"/ops/commands/{queued}/retry", headers=operator)
    assert running.status_code == 409 and "only one that failed or needs a person" in running.json()["detail"]
    stale = client.post(f"/ops/commands/{command_id}/retry", headers=operator)
    assert stale.status_code == 400 and "is not valid" in stale.json()["detail"]
    with engine.connect() as conn:  # nothing changed
        assert conn.scalar(
            text("SELECT status FROM retail.operator_commands WHERE id = :id"), {"id": command_id}
        ) == ("human_required")

"""POST /ops/tasks/{id}/resolve: status moves, activity_log rows, idempotent repeats, refusals."""

from __future__ import annotations

from sqlalchemy import Engine, text

from retail_pipeline_tests.seeds.ops import add_task


def _log(engine: Engine) -> list[dict]:
    with engine.connect() as conn:
        rows = conn.execute(
            text(
                "SELECT actor, action, outcome, channel, entity_type, entity_id, details FROM retail.activity_log"
                " ORDER BY id"
            )
        )
        return [dict(r._mapping) for r in rows]


def _task(engine: Engine, task_id: int) -> dict:
    with engine.connect() as conn:
        row = conn.execute(
            text("SELECT status, resolved_at, resolved_by FROM retail.ops_tasks WHERE id = :id"),
            {"id": task_id},
        ).one()
        return dict(row._mapping)


def test_acknowledge_then_resolve_is_audited_and_leaves_the_inbox(client, operator, engine):
    with engine.begin() as conn:
        task_id = add_task(conn, "listing_adoption", "trademe:42", channel="trademe")
    prefix = operator["X-API-Key"][:11]

    ack = client.post(f"/ops/tasks/{task_id}/resolve", headers=operator, json={"status": "acknowledged"})
    assert ack.status_code == 200, ack.text
    assert ack.json()["changed"] is True and ack.json()["previous_status"] == "open"
    assert _task(engine, task_id) == {"status": "acknowledged", "resolved_at": None, "resolved_by": None}
    inbox = client.get("/ops/inbox", headers=operator).json()
    assert inbox["listing_adoptions"]["count"] == 1  # acknowledged = being looked at, still listed
    assert inbox["listing_adoptions"]["items"][0]["status"] == "acknowledged"

    done = client.post(f"/ops/tasks/{task_id}/resolve", headers=operator, json={"note": "relisted by hand"})
    assert done.status_code == 200
    body = done.json()
    assert body["task"]["status"] == "resolved" and body["previous_status"] == "acknowledged"
    assert body["resolved_by"] == f"api_key:{prefix}" and body["resolved_at"] is not None
    inbox = client.get("/ops/inbox", headers=operator).json()
    assert inbox["listing_adoptions"]["count"] == 0 and inbox["open_tasks"]["count"] == 0

    assert _log(engine) == [
        {
            "actor": f"api_key:{prefix}",
            "action": "ops_task.acknowledge",
            "outcome": "succeeded",
            "channel": "trademe",
            "entity_type": "ops_task",
            "entity_id": str(task_id),
            "details": {"kind": "listing_adoption", "from": "open", "to": "acknowledged", "note": None},
        },
        {
            "actor": f"api_key:{prefix}",
            "action": "ops_task.resolve",
            "outcome": "succeeded",
            "channel": "trademe",
            "entity_type": "ops_task",
            "entity_id": str(task_id),
            "details": {
                "kind": "listing_adoption",
                "from": "acknowledged",
                "to": "resolved",
                "note": "relisted by hand",
            },
        },
    ]


def test_resolving_twice_changes_nothing_the_second_time(client, operator, engine):
    with engine.begin() as conn:
        task_id = add_task(conn, "scrape_error", "onecheq")

    first = client.post(f"/ops/tasks/{task_id}/resolve", headers=operator)
    resolved_at = _task(engine, task_id)["resolved_at"]
    second = client.post(f"/ops/tasks/{task_id}/resolve", headers=operator)

    assert first.status_code == second.status_code == 200
    assert first.json()["changed"] is True and second.json()["changed"] is False
    assert _task(engine, task_id)["resolved_at"] == resolved_at
    assert len(_log(engine)) == 1


def test_a_closed_task_cannot_move_and_an_unknown_one_is_404(client, operator, engine):
    with engine.begin() as conn:
        task_id = add_task(conn, "webhook_error", "w:1", status="dismissed")

    again = client.post(f"/ops/tasks/{task_id}/resolve", headers=operator, json={"status": "acknowledged"})
    missing = client.post("/ops/tasks/999999/resolve", headers=operator)
    bad = client.post(f"/ops/tasks/{task_id}/resolve", headers=operator, json={"status": "open"})

    assert again.status_code == 409 and "already dismissed" in again.json()["detail"]
    assert missing.status_code == 404
    assert bad.status_code == 422
    assert _task(engine, task_id)["status"] == "dismissed" and _log(engine) == []


def test_a_resolved_key_may_open_a_new_task(client, operator, engine):
    """ops_tasks_open_key covers only unresolved tasks: once resolved, the same problem can be raised again."""
    with engine.begin() as conn:
        first = add_task(conn, "scrape_error", "onecheq")
    client.post(f"/ops/tasks/{first}/resolve", headers=operator)
    with engine.begin() as conn:
        second = add_task(conn, "scrape_error", "onecheq")

    tasks = client.get("/ops/inbox", headers=operator).json()["open_tasks"]
    assert [t["id"] for t in tasks["items"]] == [second]


def test_acknowledge_and_dismiss_routes_take_a_note(client, operator, viewer, engine):
    with engine.begin() as conn:
        task_id = add_task(conn, "scrape_error", "onecheq:timeout")

    assert client.post(f"/ops/tasks/{task_id}/acknowledge", headers=viewer).status_code == 403
    ack = client.post(f"/ops/tasks/{task_id}/acknowledge", headers=operator, json={"note": "looking"})
    assert ack.status_code == 200 and ack.json()["task"]["status"] == "acknowledged"
    dismissed = client.post(f"/ops/tasks/{task_id}/dismiss", headers=operator, json={"note": "site was down"})
    assert dismissed.status_code == 200 and dismissed.json()["task"]["status"] == "dismissed"
    assert _task(engine, task_id)["status"] == "dismissed"
    assert [(r["action"], r["details"]["note"]) for r in _log(engine)] == [
        ("ops_task.acknowledge", "looking"),
        ("ops_task.dismiss", "site was down"),
    ]
    # Closed: it cannot be acknowledged again; an unknown action is not a route; a long note is refused.
    assert client.post(f"/ops/tasks/{task_id}/acknowledge", headers=operator).status_code == 409
    assert client.post(f"/ops/tasks/{task_id}/reopen", headers=operator).status_code == 422
    too_long = client.post(f"/ops/tasks/{task_id}/dismiss", headers=operator, json={"note": "x" * 2001})
    assert too_long.status_code == 422 and too_long.json()["detail"][0]["loc"] == ["body", "note"]

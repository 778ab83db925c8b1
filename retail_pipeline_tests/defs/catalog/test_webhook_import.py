"""Webhook event → sensor → webhook_import_job: exactly one run per event, valid items imported, invalid
ones reported, and a re-run changes nothing."""

from __future__ import annotations

import json

import dagster as dg
import pytest
from sqlalchemy import text

from retail_pipeline.defs.catalog.suppliers import suppliers
from retail_pipeline.defs.catalog.webhook_import import (
    webhook_import_job,
    webhook_import_sensor,
    webhook_run_config,
)
from retail_pipeline.defs.queue_sensor import REREAD_WINDOW
from retail_pipeline.domain.suppliers import DEFAULT_SUPPLIERS
from retail_pipeline_tests.import_payloads import SECRET, accepting_imports, dumps, product, valid_batch

URL = "/api/import/webhook"


@pytest.fixture
def sidecar_settings(settings_env):
    """The sidecar accepts n8n's import webhook (shared secret set)."""
    return accepting_imports(settings_env)


@pytest.fixture
def batch() -> dict:
    return valid_batch()


def _post(client, payload) -> dict:
    response = client.post(URL, content=dumps(payload), headers={"X-Webhook-Secret": SECRET})
    assert response.status_code == 202, response.text
    return response.json()


def _tick(instance, db, cursor=None) -> dg.SensorResult:
    return webhook_import_sensor(
        dg.build_sensor_context(instance=instance, cursor=cursor, resources={"db": db})
    )


def _execute(db, event_id: int) -> dg.ExecuteInProcessResult:
    return webhook_import_job.execute_in_process(
        run_config=webhook_run_config(event_id), resources={"db": db}, instance=dg.DagsterInstance.ephemeral()
    )


def _table(engine, sql: str):
    with engine.connect() as conn:
        return conn.execute(text(sql)).all()


def test_sensor_requests_one_run_per_pending_event_and_advances_its_cursor(client, db, batch):
    first = _post(client, batch)
    second = _post(client, [product("2001")])
    _post(client, batch)  # a duplicate delivery: no new event, so no new run
    client.post(URL, content=dumps(batch), headers={"X-Webhook-Secret": "wrong"})  # rejected: never a run

    instance = dg.DagsterInstance.ephemeral()
    result = _tick(instance, db)
    assert [r.run_key for r in result.run_requests] == [
        f"webhook:{first['webhook_event_id']}",
        f"webhook:{second['webhook_event_id']}",
    ]
    request = result.run_requests[0]
    assert request.run_config == webhook_run_config(first["webhook_event_id"])
    assert request.tags["import_job_id"] == str(first["import_job_id"])
    assert json.loads(result.cursor)["last_id"] == second["webhook_event_id"]

    again = _tick(instance, db, result.cursor)
    assert not again.run_requests and again.cursor == result.cursor

    third = _post(client, [product("3001")])
    later = _tick(instance, db, again.cursor)
    assert [r.run_key for r in later.run_requests] == [f"webhook:{third['webhook_event_id']}"]

    # An operator may set a bare id as the cursor from the UI; the window below it is re-read as usual
    # (the daemon still skips run keys it has launched before).
    replay = _tick(instance, db, str(first["webhook_event_id"]))
    assert len(replay.run_requests) == 3


def test_sensor_picks_up_an_id_that_commits_after_a_higher_one(client, engine, db, batch):
    # Two events whose ids were taken in order but which commit the other way round: the sensor sees
    # the higher id first and must still request the lower one on a later tick.
    with engine.begin() as conn:
        low, high = conn.execute(
            text(
                "SELECT nextval(pg_get_serial_sequence('retail.webhook_events', 'id')) FROM generate_series(1, 2)"
            )
        ).scalars()
    insert = text(
        "WITH e AS (INSERT INTO retail.webhook_events (id, source, topic, dedupe_key, payload)"
        " VALUES (:id, 'allegro', 'import', :key, CAST(:payload AS jsonb)) RETURNING id)"
        " INSERT INTO retail.import_jobs (webhook_event_id, total_items) SELECT id, 1 FROM e"
    )
    payload = json.dumps([product("x")])
    with engine.begin() as conn:
        conn.execute(insert, {"id": high, "key": "high", "payload": payload})
    instance = dg.DagsterInstance.ephemeral()
    seen_high = _tick(instance, db)
    assert [r.run_key for r in seen_high.run_requests] == [f"webhook:{high}"]

    with engine.begin() as conn:
        conn.execute(insert, {"id": low, "key": "low", "payload": payload})
    seen_low = _tick(instance, db, seen_high.cursor)
    assert [r.run_key for r in seen_low.run_requests] == [f"webhook:{low}"]
    assert json.loads(seen_low.cursor) == {"last_id": high, "requested": [low, high]}
    assert not _tick(instance, db, seen_low.cursor).run_requests

    # Ids fall out of the remembered set once they are below the re-read window.
    far = json.dumps({"last_id": high + REREAD_WINDOW, "requested": [low, high]})
    assert json.loads(_tick(instance, db, far).cursor)["requested"] == []


def test_mixed_batch_imports_valid_items_reports_invalid_ones_and_reruns_change_nothing(
    client, engine, db, viewer
):
    payload = {
        "source": "allegro",
        "products": [
            product("1001"),
            product("1002", price="abc"),
            product("1003", images=["not a url"], title=""),
            product("1004", ean="5901234123457", condition="nowy"),
        ],
    }
    accepted = _post(client, payload)
    # The allegro supplier row does not exist yet: the import creates it.
    assert _table(engine, "SELECT 1 FROM retail.suppliers WHERE code = 'allegro'") == []

    (request,) = _tick(dg.DagsterInstance.ephemeral(), db).run_requests
    result = webhook_import_job.execute_in_process(
        run_config=request.run_config, resources={"db": db}, instance=dg.DagsterInstance.ephemeral()
    )
    assert result.success
    (output,) = [e for e in result.events_for_node("import_webhook_event") if e.is_successful_output]
    counts = {k: v.value for k, v in output.step_output_data.metadata.items()}
    assert counts == {
        "import_job_id": accepted["import_job_id"],
        "items": 4,
        "invalid": 2,
        "inserted": 2,
        "updated": 0,
        "unchanged": 0,
    }

    products = _table(
        engine,
        "SELECT p.sku, p.price, p.currency, p.gtin, p.condition, p.categories, p.raw FROM retail.supplier_products p"
        " JOIN retail.suppliers s ON s.id = p.supplier_id WHERE s.code = 'allegro' ORDER BY p.sku",
    )
    assert [p.sku for p in products] == ["1001", "1004"]
    assert (products[1].gtin, products[1].condition, products[1].currency) == ("5901234123457", "new", "PLN")

    job = client.get(f"/api/import/job/{accepted['import_job_id']}", headers=viewer).json()
    assert job["status"] == "completed" and job["outcome"] == "partial"
    assert (job["total_items"], job["processed_items"], job["failed_items"], job["imported_items"]) == (
        4,
        4,
        2,
        2,
    )
    assert job["supplier"] == "allegro" and job["source"] == "allegro"
    assert job["run_id"] == result.run_id and job["finished_at"] >= job["started_at"]
    assert [(e["index"], e["sku"]) for e in job["errors"]] == [(1, "1002"), (2, "1003")]
    assert job["errors"][0]["errors"] == [{"field": "price", "message": "Input should be a valid decimal"}]
    assert {e["field"] for e in job["errors"][1]["errors"]} == {"title", "images.0"}
    (event,) = _table(engine, "SELECT status, processed_at, run_id FROM retail.webhook_events")
    assert event.status == "processed" and event.run_id == result.run_id
    (task,) = _table(engine, "SELECT kind, severity, title, entity_id, details FROM retail.ops_tasks")
    assert (task.kind, task.severity, task.entity_id) == ("import_error", "warning", str(job["id"]))
    assert task.title == f"import job {job['id']}: 2 of 4 items invalid"
    assert task.details["errors"] == job["errors"]

    # Re-executing the same event (a retry, a re-execution from the UI) changes nothing.
    state = [
        "SELECT * FROM retail.supplier_products ORDER BY id",
        "SELECT * FROM retail.import_jobs",
        "SELECT * FROM retail.webhook_events",
        "SELECT * FROM retail.ops_tasks",
    ]
    before = [_table(engine, sql) for sql in state]
    assert _execute(db, accepted["webhook_event_id"]).success
    assert [_table(engine, sql) for sql in state] == before


def test_a_resent_batch_updates_only_changed_products(client, engine, db):
    first = _post(client, [product("1"), product("2")])
    assert _execute(db, first["webhook_event_id"]).success
    # A later scrape: one price changed, one product unchanged (a new delivery, since the body differs).
    second = _post(client, [product("1", price=149.0), product("2")])
    assert second["import_job_id"] != first["import_job_id"]
    assert _execute(db, second["webhook_event_id"]).success
    prices = dict(_table(engine, "SELECT sku, price FROM retail.supplier_products ORDER BY sku"))
    assert {k: float(v) for k, v in prices.items()} == {"1": 149.0, "2": 199.99}
    (job,) = _table(
        engine, f"SELECT status, failed_items FROM retail.import_jobs WHERE id = {second['import_job_id']}"
    )
    assert (job.status, job.failed_items) == ("completed", 0)
    assert _table(engine, "SELECT 1 FROM retail.ops_tasks") == []  # nothing for a person to look at


def test_a_batch_with_only_invalid_items_fails_the_job_not_the_run(client, engine, db, viewer):
    accepted = _post(client, [product("1", price=None), {"source_id": "2"}])
    assert _execute(db, accepted["webhook_event_id"]).success
    job = client.get(f"/api/import/job/{accepted['import_job_id']}", headers=viewer).json()
    assert (job["status"], job["outcome"], job["failed_items"]) == ("failed", "failed", 2)
    assert job["error"] == "all 2 items were invalid"
    assert _table(engine, "SELECT 1 FROM retail.supplier_products") == []
    assert _table(engine, "SELECT severity, title FROM retail.ops_tasks") == [
        ("error", "all 2 items were invalid")
    ]


def test_an_event_that_is_not_a_batch_fails_its_run_with_the_reason(engine, db):
    with engine.begin() as conn:
        event_id = conn.execute(
            text(
                "WITH e AS (INSERT INTO retail.webhook_events (source, topic, dedupe_key, payload)"
                " VALUES ('allegro', 'import', 'by-hand', '{\"items\": []}') RETURNING id)"
                " INSERT INTO retail.import_jobs (webhook_event_id) SELECT id FROM e RETURNING webhook_event_id"
            )
        ).scalar_one()
    result = webhook_import_job.execute_in_process(
        run_config=webhook_run_config(event_id),
        resources={"db": db},
        instance=dg.DagsterInstance.ephemeral(),
        raise_on_error=False,
    )
    assert not result.success
    (job,) = _table(engine, "SELECT status, error FROM retail.import_jobs")
    assert job.status == "failed" and job.error.startswith("payload is not a product batch")
    (event,) = _table(engine, "SELECT status, error FROM retail.webhook_events")
    assert event.status == "failed" and event.error == job.error
    assert _table(engine, "SELECT severity, title FROM retail.ops_tasks") == [("error", job.error)]


def test_the_supplier_row_an_import_creates_is_the_configured_one(client, db):
    accepted = _post(client, [product("1")])
    assert _execute(db, accepted["webhook_event_id"]).success
    # The suppliers asset finds nothing to correct in the row the import created.
    result = suppliers(db=db)
    assert (result.metadata["inserted"], result.metadata["updated"]) == (len(DEFAULT_SUPPLIERS) - 1, 0)

"""run_failure_to_ops_inbox on real failed runs (build_run_status_sensor_context), and the failed-runs
group of the inbox reading Dagster's own runs table in the same PostgreSQL."""

# No `from __future__ import annotations`: Dagster inspects the op context annotation at definition time.

import dagster as dg
import pytest
from sqlalchemy import Engine, text

from retail_pipeline.defs.ops.run_failures import run_failure_to_ops_inbox
from retail_pipeline.defs.resources import DatabaseResource

suppliers = dg.StaticPartitionsDefinition(["onecheq", "noel_leeming"])


@dg.op
def fetch_feed(context: dg.OpExecutionContext) -> int:
    if context.partition_key == "onecheq":
        raise ValueError("supplier feed answered HTTP 500")
    return 1


@dg.job(partitions_def=suppliers)
def scrape_job():
    fetch_feed()


def _run(instance: dg.DagsterInstance, partition: str) -> dg.ExecuteInProcessResult:
    return scrape_job.execute_in_process(
        instance=instance, partition_key=partition, raise_on_error=False, tags={"retail/supplier": partition}
    )


def _evaluate(instance: dg.DagsterInstance, result: dg.ExecuteInProcessResult, db_url: str) -> None:
    context = dg.build_run_status_sensor_context(
        sensor_name=run_failure_to_ops_inbox.name,
        dagster_instance=instance,
        dagster_run=result.dagster_run,
        dagster_event=result.get_run_failure_event(),
        resources={"db": DatabaseResource(url=db_url)},
    ).for_run_failure()
    run_failure_to_ops_inbox(context)


def _tasks(engine: Engine) -> list[dict]:
    with engine.connect() as conn:
        rows = conn.execute(
            text(
                "SELECT kind, dedupe_key, status, severity, title, details, entity_type, entity_id, run_id,"
                " occurrences FROM retail.ops_tasks ORDER BY id"
            )
        )
        return [dict(r._mapping) for r in rows]


def test_a_failed_run_is_recorded_once_with_its_error_step_and_partition(db_url, engine):
    with dg.instance_for_test() as instance:
        result = _run(instance, "onecheq")
        assert not result.success

        _evaluate(instance, result, db_url)
        _evaluate(instance, result, db_url)  # a tick evaluated again: still one task

        (task,) = _tasks(engine)
        run_id = result.run_id
        assert task["kind"] == "run_failure" and task["dedupe_key"] == run_id and task["status"] == "open"
        assert (task["entity_type"], task["entity_id"], task["run_id"], task["occurrences"]) == (
            "run",
            run_id,
            run_id,
            1,
        )
        assert task["severity"] == "error"
        assert task["title"] == "Run of scrape_job (onecheq) failed in fetch_feed"
        details = task["details"]
        assert details["job_name"] == "scrape_job" and details["partition"] == "onecheq"
        assert details["partition_tags"] == {"dagster/partition": "onecheq", "retail/supplier": "onecheq"}
        assert details["failed_steps"] == [
            {"step_key": "fetch_feed", "error": "ValueError: supplier feed answered HTTP 500"}
        ]
        assert "fetch_feed" in details["error"]  # Dagster's run failure message names the failed steps
        assert details["will_retry"] is False


def test_a_resolved_failure_is_not_reopened_and_each_run_gets_its_own_task(db_url, engine):
    with dg.instance_for_test() as instance:
        first, second = _run(instance, "onecheq"), _run(instance, "onecheq")
        _evaluate(instance, first, db_url)
        with engine.begin() as conn:
            conn.execute(text("UPDATE retail.ops_tasks SET status = 'resolved', resolved_at = now()"))

        _evaluate(instance, first, db_url)
        _evaluate(instance, second, db_url)

        assert [(t["dedupe_key"], t["status"]) for t in _tasks(engine)] == [
            (first.run_id, "resolved"),
            (second.run_id, "open"),
        ]


def test_the_sensor_is_in_the_definitions_and_runs_by_default():
    from retail_pipeline.definitions import defs

    (sensor,) = [s for s in defs().sensors if s.name == "run_failure_to_ops_inbox"]
    assert sensor.default_status == dg.DefaultSensorStatus.RUNNING
    assert "db" in sensor.required_resource_keys


@pytest.fixture
def failed_runs(pg_instance, db_url) -> dict[str, str]:
    """Three runs in the Postgres instance: two failed (one with its task recorded), one succeeded."""
    recorded, unrecorded = _run(pg_instance, "onecheq"), _run(pg_instance, "onecheq")
    ok = _run(pg_instance, "noel_leeming")
    assert ok.success and not recorded.success and not unrecorded.success
    _evaluate(pg_instance, recorded, db_url)
    return {"recorded": recorded.run_id, "unrecorded": unrecorded.run_id, "ok": ok.run_id}


def test_inbox_lists_failed_runs_from_dagster_storage_with_the_recorded_error(client, operator, failed_runs):
    group = client.get("/ops/inbox", headers=operator).json()["failed_runs"]

    assert group["dagster_storage"] is True
    assert group["count"] == 2
    assert [r["run_id"] for r in group["items"]] == [failed_runs["unrecorded"], failed_runs["recorded"]]
    unrecorded, recorded = group["items"]
    assert recorded["job_name"] == "scrape_job" and recorded["partition"] == "onecheq"
    assert recorded["failed_steps"] == [
        {"step_key": "fetch_feed", "error": "ValueError: supplier feed answered HTTP 500"}
    ]
    assert recorded["task_status"] == "open" and recorded["task_id"] is not None
    assert recorded["failed_at"] >= recorded["started_at"]
    assert unrecorded["error"] is None and unrecorded["task_id"] is None  # the sensor has not seen it yet


def test_resolving_a_run_failure_takes_it_out_of_the_inbox(client, operator, failed_runs, engine):
    group = client.get("/ops/inbox", headers=operator).json()["failed_runs"]
    task_id = next(r["task_id"] for r in group["items"] if r["run_id"] == failed_runs["recorded"])

    resolved = client.post(f"/ops/tasks/{task_id}/resolve", headers=operator, json={"note": "feed back up"})

    assert resolved.status_code == 200, resolved.text
    group = client.get("/ops/inbox", headers=operator).json()["failed_runs"]
    assert group["count"] == 1 and [r["run_id"] for r in group["items"]] == [failed_runs["unrecorded"]]


def test_failed_runs_outside_the_window_are_left_out(client, operator, failed_runs, engine):
    with engine.begin() as conn:  # the unrecorded run failed ten days ago
        conn.execute(
            text(
                "UPDATE dagster.runs SET end_time = end_time - 10 * 86400,"
                " update_timestamp = update_timestamp - interval '10 days' WHERE run_id = :id"
            ),
            {"id": failed_runs["unrecorded"]},
        )

    week = client.get("/ops/inbox", headers=operator).json()["failed_runs"]
    month = client.get("/ops/inbox", headers=operator, params={"failed_run_hours": 30 * 24}).json()[
        "failed_runs"
    ]

    assert (week["count"], week["window_hours"]) == (1, 168)
    assert month["count"] == 2


def test_failed_runs_are_a_range_on_dagsters_own_index(engine, failed_runs):
    from datetime import UTC, datetime, timedelta

    from retail_pipeline.api import ops_inbox as inbox

    now = datetime.now(UTC)
    params = {
        "now": now,
        "limit": 20,
        "since": (now - timedelta(hours=1)).replace(tzinfo=None),
        "failed_run_hours": 1,
        "cutoff": now,
        "wait_minutes": 60,
    }
    with engine.begin() as conn:
        conn.exec_driver_sql("SET LOCAL enable_seqscan = off")
        plan = "\n".join(r[0] for r in conn.execute(text(f"EXPLAIN {inbox.INBOX.text}"), params))
    assert "idx_run_range" in plan

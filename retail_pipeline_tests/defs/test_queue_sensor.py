"""queued_rows_sensor: each queued row becomes exactly one run request, however the ticks and commits
interleave."""

from __future__ import annotations

import json

import dagster as dg
import pytest
from sqlalchemy import text

from retail_pipeline.db.engine import get_engine
from retail_pipeline.defs.queue_sensor import queued_rows_sensor
from retail_pipeline.defs.resources import DatabaseResource

WINDOW = 10


@dg.op(config_schema={"item_id": int})
def handle_item() -> None:  # never executed here: the sensor only needs a job to target
    pass


@dg.job
def item_job():
    handle_item()


def run_config(row) -> dict:
    return {"ops": {"handle_item": {"config": {"item_id": row.id}}}}


sensor = queued_rows_sensor(
    name="test_items_sensor",
    job=item_job,
    queued="SELECT id, label FROM test_queue WHERE status = :status",
    params={"status": "queued"},
    run_key_prefix="item",
    run_config_for=run_config,
    tags_for=lambda row: {"label": row.label},
    skip_reason="nothing queued",
    minimum_interval_seconds=5,
    reread_window=WINDOW,
    max_runs_per_tick=3,
)


@pytest.fixture
def engine(db_url):
    engine = get_engine(db_url)
    with engine.begin() as conn:
        conn.execute(text("CREATE TABLE test_queue (id bigint PRIMARY KEY, label text, status text)"))
    yield engine
    engine.dispose()


@pytest.fixture
def tick(db_url):
    resources = {"db": DatabaseResource(url=db_url)}
    instance = dg.DagsterInstance.ephemeral()

    def evaluate(cursor: str | None = None) -> dg.SensorResult:
        return sensor(dg.build_sensor_context(instance=instance, cursor=cursor, resources=resources))

    return evaluate


def add(engine, *ids: int, status: str = "queued") -> None:
    with engine.begin() as conn:
        for i in ids:
            conn.execute(
                text("INSERT INTO test_queue VALUES (:id, :label, :status)"),
                {"id": i, "label": f"item {i}", "status": status},
            )


def keys(result: dg.SensorResult) -> list[str]:
    return [r.run_key for r in result.run_requests or []]


def test_a_row_queued_after_the_cursor_becomes_one_run_request(engine, tick):
    add(engine, 1)
    first = tick()
    (request,) = first.run_requests
    assert request.run_key == "item:1"
    assert request.run_config == {"ops": {"handle_item": {"config": {"item_id": 1}}}}
    assert request.tags == {"label": "item 1"}
    assert json.loads(first.cursor) == {"last_id": 1, "requested": [1]}

    quiet = tick(first.cursor)
    assert (
        keys(quiet) == []
        and quiet.skip_reason.skip_message == "nothing queued"
        and quiet.cursor == first.cursor
    )

    add(engine, 2)
    add(engine, 3, status="done")  # not queued: never a run
    assert keys(tick(quiet.cursor)) == ["item:2"]


def test_a_tick_whose_cursor_was_lost_asks_again_with_the_same_run_key(engine, tick):
    # A tick that raised does not commit its cursor: the next evaluation starts from the old one and
    # must name the same run, which the daemon then skips as already launched.
    add(engine, 1, 2)
    assert keys(tick()) == keys(tick()) == ["item:1", "item:2"]


def test_a_row_committed_late_below_the_cursor_is_still_picked_up_once(engine, tick):
    add(engine, 7)
    seen_high = tick()
    assert keys(seen_high) == ["item:7"]

    add(engine, 4)  # its id was taken before 7's, its transaction committed after
    seen_low = tick(seen_high.cursor)
    assert keys(seen_low) == ["item:4"]
    assert json.loads(seen_low.cursor) == {"last_id": 7, "requested": [4, 7]}
    assert keys(tick(seen_low.cursor)) == []


def test_ids_below_the_window_are_neither_read_nor_remembered(engine, tick):
    add(engine, 1)
    cursor = json.dumps({"last_id": 1 + WINDOW, "requested": [1]})
    result = tick(cursor)
    assert keys(result) == []
    assert json.loads(result.cursor) == {"last_id": 1 + WINDOW, "requested": []}


def test_a_backlog_is_requested_oldest_first_a_tick_at_a_time(engine, tick):
    add(engine, 5, 1, 4, 2, 3)
    first = tick()
    second = tick(first.cursor)
    assert keys(first) == ["item:1", "item:2", "item:3"] and keys(second) == ["item:4", "item:5"]


def test_a_bare_number_set_by_an_operator_reads_again_from_the_window_below_it(engine, tick):
    add(engine, 1, 2, 3)
    assert keys(tick("3")) == ["item:1", "item:2", "item:3"]  # the daemon skips keys it already launched


def test_the_sensor_definition_carries_its_name_job_and_interval():
    assert sensor.name == "test_items_sensor" and sensor.job_name == "item_job"
    assert sensor.minimum_interval_seconds == 5
    assert sensor.default_status == dg.DefaultSensorStatus.RUNNING
    assert "db" in sensor.required_resource_keys

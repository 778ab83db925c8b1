"""db.ops_tasks: one task per unresolved problem (bumped, not duplicated), a new one after it was closed,
and one row however many writers raise it at once."""

from __future__ import annotations

import threading

import pytest
from sqlalchemy import text

from retail_pipeline.db.ops_tasks import open_task, resolve_task, set_task_status

KEY = {"kind": "scrape_error", "key": "scrape:onecheq"}


def tasks(engine) -> list[dict]:
    with engine.connect() as conn:
        return [dict(r) for r in conn.execute(text("SELECT * FROM retail.ops_tasks ORDER BY id")).mappings()]


def raise_it(engine, **fields) -> int | None:
    with engine.begin() as conn:
        return open_task(conn, **{**KEY, "title": "OneCheq feed failed", **fields})


def test_raising_an_open_problem_again_bumps_its_task_with_the_latest_facts(engine):
    first = raise_it(engine, details={"error": "HTTP 500"}, severity="warning", channel="trademe",
                     entity_type="supplier", entity_id=1, run_id="run-1")  # fmt: skip
    second = raise_it(engine, title="OneCheq feed failed again", details={"error": "timeout"})

    (task,) = tasks(engine)
    assert first == second == task["id"]
    assert task["occurrences"] == 2 and task["last_seen_at"] > task["created_at"]
    assert (task["title"], task["details"], task["severity"]) == (
        "OneCheq feed failed again",
        {"error": "timeout"},
        "error",
    )
    # what the task is about stays; a raise without a run keeps the run that last saw it
    assert (task["channel"], task["entity_type"], task["entity_id"], task["run_id"]) == ("trademe", "supplier", "1", "run-1")  # fmt: skip


def test_an_acknowledged_task_is_still_the_one_bumped(engine):
    task_id = raise_it(engine)
    with engine.begin() as conn:
        assert set_task_status(conn, task_id, "acknowledged", by="api_key:ab12")["resolved_at"] is None
    assert raise_it(engine) == task_id
    assert [(t["status"], t["occurrences"]) for t in tasks(engine)] == [("acknowledged", 2)]


def test_resolving_closes_the_unresolved_task_and_the_problem_may_come_back_as_a_new_one(engine):
    first = raise_it(engine)
    with engine.begin() as conn:
        assert resolve_task(conn, **KEY, by="scrape") == first
        assert resolve_task(conn, **KEY, by="scrape") is None  # nothing unresolved left
    second = raise_it(engine)

    assert second != first
    old, new = tasks(engine)
    assert (old["status"], old["resolved_by"], old["occurrences"]) == ("resolved", "scrape", 1)
    assert old["resolved_at"] is not None
    assert (new["status"], new["occurrences"], new["resolved_at"]) == ("open", 1, None)


def test_once_records_a_single_event_however_often_or_late_it_is_seen_again(engine):
    task_id = raise_it(engine, once=True)
    assert raise_it(engine, once=True) is None
    with engine.begin() as conn:
        set_task_status(conn, task_id, "dismissed", by="api_key:ab12")
    assert raise_it(engine, once=True) is None  # dismissed stays dismissed

    (task,) = tasks(engine)
    assert (task["status"], task["occurrences"], task["resolved_by"]) == ("dismissed", 1, "api_key:ab12")


def test_set_task_status_on_a_missing_task_changes_nothing(engine):
    with engine.begin() as conn:
        assert set_task_status(conn, 404, "resolved", by="api_key:ab12") is None


def test_resolve_refuses_a_status_that_does_not_close_the_task(engine):
    with engine.begin() as conn, pytest.raises(ValueError):
        resolve_task(conn, **KEY, by="scrape", status="acknowledged")


def test_two_writers_raising_the_same_problem_at_once_leave_one_bumped_task(engine):
    # The first writer's insert is uncommitted while the second raises the same key: the second waits on
    # the unique index and then bumps the committed row, instead of failing on a duplicate key.
    second_done = threading.Event()
    errors: list[BaseException] = []

    def second_writer() -> None:
        try:
            raise_it(engine, title="second")
        except BaseException as error:  # surfaced by the assertion below
            errors.append(error)
        finally:
            second_done.set()

    with engine.begin() as conn:
        open_task(conn, **KEY, title="first")
        thread = threading.Thread(target=second_writer)
        thread.start()
        assert not second_done.wait(0.5)  # blocked behind the first writer's transaction
    thread.join(timeout=10)

    assert errors == []
    (task,) = tasks(engine)
    assert (task["occurrences"], task["title"]) == (2, "second")

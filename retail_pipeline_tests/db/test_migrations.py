"""The migration runner keeps Flyway's rules on a real PostgreSQL."""

from __future__ import annotations

import shutil
import threading
import uuid
from pathlib import Path

import psycopg
import pytest

from retail_pipeline.db import migrations
from retail_pipeline.db.admin import create_database, drop_database
from retail_pipeline.db.urls import libpq_url, with_database
from retail_pipeline_tests.conftest import SQL_DIR


@pytest.fixture
def empty_db(pg_server_url: str) -> str:
    """A database with no migrations applied (the shared fixture's one is already migrated)."""
    name = f"rp_empty_{uuid.uuid4().hex[:10]}"
    create_database(pg_server_url, name)
    yield with_database(pg_server_url, name)
    drop_database(pg_server_url, name)


def _copy_sql(tmp_path: Path) -> Path:
    target = tmp_path / "sql"
    shutil.copytree(SQL_DIR, target)
    return target


def _history(url: str) -> list[tuple[int, str]]:
    with psycopg.connect(libpq_url(url)) as conn:
        return conn.execute(
            "SELECT version, checksum FROM retail.schema_migrations ORDER BY version"
        ).fetchall()


def test_first_migrate_applies_every_file_in_order_and_second_does_nothing(empty_db, tmp_path):
    sql_dir = _copy_sql(tmp_path)
    (sql_dir / "900_extra.sql").write_text(
        "CREATE TABLE retail.extra (id int); INSERT INTO retail.extra VALUES (1);"
    )
    applied = migrations.migrate(empty_db, sql_dir)
    assert [m.version for m in applied] == sorted(m.version for m in migrations.discover(sql_dir))
    assert applied[-1].version == 900
    before = _history(empty_db)

    assert migrations.migrate(empty_db, sql_dir) == []
    assert _history(empty_db) == before
    with psycopg.connect(libpq_url(empty_db)) as conn:
        assert conn.execute("SELECT count(*) FROM retail.extra").fetchone()[0] == 1  # not re-run
    assert migrations.status(empty_db, sql_dir).current


def test_edited_applied_migration_is_refused_with_a_clear_message(empty_db, tmp_path):
    sql_dir = _copy_sql(tmp_path)
    migrations.migrate(empty_db, sql_dir)
    first = sorted(sql_dir.glob("*.sql"))[0]
    first.write_text(first.read_text() + "\n-- a harmless-looking edit\n")
    (sql_dir / "901_new.sql").write_text("CREATE TABLE retail.never (id int);")

    with pytest.raises(migrations.MigrationError, match=rf"{first.name} was edited after it was applied"):
        migrations.migrate(empty_db, sql_dir)
    with pytest.raises(migrations.MigrationError, match="immutable"):
        migrations.status(empty_db, sql_dir)
    with psycopg.connect(libpq_url(empty_db)) as conn:  # the refusal happened before anything new ran
        assert conn.execute("SELECT to_regclass('retail.never')").fetchone()[0] is None


def test_failing_migration_rolls_back_whole_file_and_is_not_recorded(empty_db, tmp_path):
    sql_dir = _copy_sql(tmp_path)
    (sql_dir / "902_broken.sql").write_text("CREATE TABLE retail.half (id int);\nSELECT no_such_function();")
    with pytest.raises(psycopg.errors.UndefinedFunction):
        migrations.migrate(empty_db, sql_dir)
    with psycopg.connect(libpq_url(empty_db)) as conn:
        assert conn.execute("SELECT to_regclass('retail.half')").fetchone()[0] is None
    assert 902 not in dict(_history(empty_db))
    assert [m.version for m in migrations.status(empty_db, sql_dir).pending] == [902]


def test_concurrent_migrators_apply_each_file_once(empty_db, tmp_path):
    sql_dir = _copy_sql(tmp_path)
    # A slow file widens the race window: without the advisory lock both would try to apply it.
    (sql_dir / "903_slow.sql").write_text("SELECT pg_sleep(0.5); CREATE TABLE retail.once (id int);")
    results: list[object] = []

    def worker():
        try:
            results.append(len(migrations.migrate(empty_db, sql_dir)))
        except Exception as error:  # pragma: no cover - a failure shows in the assertion below
            results.append(error)

    threads = [threading.Thread(target=worker) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    total = len(migrations.discover(sql_dir))
    assert sorted(results) == [0, 0, total]
    assert len(_history(empty_db)) == total


@pytest.mark.parametrize(
    ("files", "message"),
    [
        ({"1_ok.sql": "", "create_things.sql": ""}, "must be named NNN_description.sql"),
        ({"001_a.sql": "", "01_b.sql": ""}, "version 1 is also used"),
    ],
)
def test_badly_named_files_are_refused(tmp_path, files, message):
    for name, body in files.items():
        (tmp_path / name).write_text(body)
    with pytest.raises(migrations.MigrationError, match=message):
        migrations.discover(tmp_path)


def test_missing_applied_file_is_refused(empty_db, tmp_path):
    sql_dir = _copy_sql(tmp_path)
    (sql_dir / "904_gone.sql").write_text("SELECT 1;")
    migrations.migrate(empty_db, sql_dir)
    (sql_dir / "904_gone.sql").unlink()
    with pytest.raises(migrations.MigrationError, match="904 is recorded as applied but its file is missing"):
        migrations.migrate(empty_db, sql_dir)

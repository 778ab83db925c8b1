"""Dagster runs on the same PostgreSQL as the business tables, in its own schema, never SQLite."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import dagster as dg
import psycopg
import pytest

from retail_pipeline.db.urls import libpq_url
from retail_pipeline.definitions import defs as build_defs
from retail_pipeline.runtime import prepare
from retail_pipeline.settings import PROJECT_ROOT


@pytest.fixture
def runtime(settings_env, monkeypatch):
    # prepare() exports these for child processes; monkeypatch restores them after the test.
    for name in ("DAGSTER_HOME", "DAGSTER_POSTGRES_URL", "DATABASE_URL"):
        monkeypatch.setenv(name, os.environ.get(name, ""))
    return prepare(settings_env)


def test_instance_stores_runs_in_postgres_dagster_schema(runtime, database_url):
    instance = dg.DagsterInstance.get()
    assert type(instance.run_storage).__name__ == "PostgresRunStorage"
    assert type(instance.event_log_storage).__name__ == "PostgresEventLogStorage"
    assert type(instance.schedule_storage).__name__ == "PostgresScheduleStorage"

    result = build_defs().resolve_job_def("supplier_registry").execute_in_process(instance=instance)
    assert result.success

    with psycopg.connect(libpq_url(database_url)) as conn:
        runs = conn.execute("SELECT run_id FROM dagster.runs").fetchall()
        dagster_tables = conn.execute(
            "SELECT count(*) FROM information_schema.tables WHERE table_schema = 'dagster'"
        ).fetchone()[0]
        stray = conn.execute(
            "SELECT count(*) FROM information_schema.tables WHERE table_schema = 'public'"
        ).fetchone()[0]
    assert [r[0] for r in runs] == [result.run_id]
    assert dagster_tables >= 15 and stray == 0
    assert not list(Path(runtime.dagster_home).rglob("*.db")), "found a SQLite file in DAGSTER_HOME"
    assert (runtime.dagster_home / "dagster.yaml").read_text() == (PROJECT_ROOT / "dagster.yaml").read_text()


def test_instance_config_has_pools_monitoring_and_retries(runtime):
    instance = dg.DagsterInstance.get()
    assert instance.run_monitoring_enabled
    assert instance.run_retries_enabled and instance.run_retries_max_retries == 2
    assert instance.get_concurrency_config().pool_config.default_pool_limit == 2


@pytest.mark.parametrize(
    "argv",
    [
        [str(Path(sys.executable).with_name("dagster")), "definitions", "validate", "-w", "workspace.yaml"],
        [str(Path(sys.executable).with_name("dg")), "check", "defs"],
    ],
    ids=["dagster-definitions-validate", "dg-check-defs"],
)
def test_definitions_validate_with_dagster_tooling(runtime, argv):
    # With the environment `retail-pipeline env` exports, Dagster's own tools load the real instance.
    done = subprocess.run(argv, cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=240, env=os.environ)
    assert done.returncode == 0, done.stdout + done.stderr

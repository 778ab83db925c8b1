"""Ops fixtures: a Postgres-backed Dagster instance on the test database (for failed runs)."""

from __future__ import annotations

import os
from collections.abc import Iterator

import dagster as dg
import pytest

from retail_pipeline.runtime import install_dagster_home
from retail_pipeline.settings import Settings


@pytest.fixture
def pg_instance(settings_env: Settings, database_url: str, monkeypatch) -> Iterator[dg.DagsterInstance]:
    """Dagster's storage in this test's database, schema dagster, as in production."""
    for name in ("DAGSTER_HOME", "DAGSTER_POSTGRES_URL"):  # install_dagster_home sets them; restore after
        monkeypatch.setenv(name, os.environ.get(name, ""))
    install_dagster_home(settings_env.dagster_home, database_url)
    instance = dg.DagsterInstance.get()
    yield instance
    instance.dispose()

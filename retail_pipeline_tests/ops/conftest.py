"""Ops inbox / KPI fixtures: the sidecar over the per-test database, keys per role, a Postgres-backed
Dagster instance on the same database (for failed runs)."""

from __future__ import annotations

import os
from collections.abc import Iterator

import dagster as dg
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from retail_pipeline.api.app import create_app
from retail_pipeline.api.keys import create_api_key
from retail_pipeline.runtime import install_dagster_home
from retail_pipeline.settings import Settings


@pytest.fixture
def client(settings_env: Settings) -> Iterator[TestClient]:
    with TestClient(create_app(settings_env)) as test_client:
        yield test_client


@pytest.fixture
def engine(client: TestClient) -> Engine:
    return client.app.state.database.engine


@pytest.fixture
def operator(engine: Engine) -> dict[str, str]:
    return {"X-API-Key": create_api_key(engine, "operator")}


@pytest.fixture
def viewer(engine: Engine) -> dict[str, str]:
    return {"X-API-Key": create_api_key(engine, "viewer")}


@pytest.fixture
def pg_instance(settings_env: Settings, database_url: str, monkeypatch) -> Iterator[dg.DagsterInstance]:
    """Dagster's storage in this test's database, schema dagster, as in production."""
    for name in ("DAGSTER_HOME", "DAGSTER_POSTGRES_URL"):  # install_dagster_home sets them; restore after
        monkeypatch.setenv(name, os.environ.get(name, ""))
    install_dagster_home(settings_env.dagster_home, database_url)
    instance = dg.DagsterInstance.get()
    yield instance
    instance.dispose()

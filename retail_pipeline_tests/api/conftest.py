"""Sidecar fixtures: an app over the per-test database, and a client for it."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from retail_pipeline.api.app import create_app
from retail_pipeline.settings import Settings


@pytest.fixture
def app(settings_env: Settings) -> FastAPI:
    return create_app(settings_env)


@pytest.fixture
def client(app: FastAPI) -> Iterator[TestClient]:
    with TestClient(app) as test_client:
        yield test_client


@pytest.fixture
def engine(app: FastAPI) -> Engine:
    return app.state.database.engine

"""Import fixtures: the sidecar with a webhook secret, a viewer key, and a valid n8n batch."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from pydantic import SecretStr
from sqlalchemy import Engine

from retail_pipeline.api import keys
from retail_pipeline.api.app import create_app
from retail_pipeline.settings import Settings
from retail_pipeline_tests.imports.payloads import MAX_BYTES, SECRET, product


@pytest.fixture
def app(settings_env: Settings) -> FastAPI:
    return create_app(
        settings_env.model_copy(
            update={"import_webhook_secret": SecretStr(SECRET), "import_webhook_max_bytes": MAX_BYTES}
        )
    )


@pytest.fixture
def client(app: FastAPI) -> Iterator[TestClient]:
    with TestClient(app) as test_client:
        yield test_client


@pytest.fixture
def engine(app: FastAPI) -> Engine:
    return app.state.database.engine


@pytest.fixture
def viewer(engine: Engine) -> dict[str, str]:
    return {"X-API-Key": keys.create_api_key(engine, "viewer", label="import tests")}


@pytest.fixture
def batch() -> dict[str, Any]:
    return {"source": "allegro", "products": [product("1001"), product("1002"), product("1003")]}

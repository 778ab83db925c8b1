"""Fixtures for images and enrichment: the simulators on loopback, the settings pointing at them and
at the test database, a Dagster instance with supplier partitions, and supplier rows to work on."""

from __future__ import annotations

import dagster as dg
import pytest
from sqlalchemy import Engine

from retail_pipeline.db.engine import get_engine
from retail_pipeline.defs.resources import DatabaseResource
from retail_pipeline.settings import Settings
from retail_pipeline.simulators import Simulator, get_simulator


@pytest.fixture
def sim(simulator_app) -> Simulator:
    return get_simulator(simulator_app)


@pytest.fixture
def env(settings_env: Settings, simulator_url: str) -> Settings:
    """Settings with the test database, a temporary media root and SIMULATOR_URL on loopback."""
    from retail_pipeline.settings import get_settings

    return get_settings()


@pytest.fixture
def engine(db_url: str) -> Engine:
    return get_engine(db_url)


@pytest.fixture
def db(db_url: str) -> DatabaseResource:
    return DatabaseResource(url=db_url)


@pytest.fixture
def instance() -> dg.DagsterInstance:
    return dg.DagsterInstance.ephemeral()

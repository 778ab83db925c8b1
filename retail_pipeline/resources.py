"""Dagster resources: one per external system, and the database."""

from __future__ import annotations

import dagster as dg
from pydantic import PrivateAttr
from sqlalchemy import Engine

from retail_pipeline.db.engine import get_engine, resolve_database_url


class DatabaseResource(dg.ConfigurableResource):
    """The business database. Empty ``url`` = ``DATABASE_URL`` or the embedded server."""

    url: str | None = None
    _engine: Engine | None = PrivateAttr(default=None)

    def setup_for_execution(self, context: dg.InitResourceContext) -> None:
        self._engine = get_engine(self.url or resolve_database_url())

    @property
    def engine(self) -> Engine:
        if self._engine is None:  # used outside a run (sensors built by hand, scripts)
            self._engine = get_engine(self.url or resolve_database_url())
        return self._engine

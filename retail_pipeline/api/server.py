"""Serve the sidecar with uvicorn (``retail-pipeline api``)."""

from __future__ import annotations

import uvicorn

from retail_pipeline.api.app import create_app
from retail_pipeline.db.engine import resolve_database_url
from retail_pipeline.settings import get_settings


def serve(host: str | None = None, port: int | None = None) -> None:
    settings = get_settings()
    # Without DATABASE_URL this starts (or attaches to) the embedded server before listening, so the
    # first request does not wait for it and its URL is fixed for the app's lifetime.
    database_url = resolve_database_url(settings)
    app = create_app(settings.model_copy(update={"database_url": database_url}))
    uvicorn.run(app, host=host or settings.api_host, port=port or settings.api_port)

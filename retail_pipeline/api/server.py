"""Serve the sidecar with uvicorn (``retail-pipeline api``)."""

from __future__ import annotations

import contextlib
import socket

import uvicorn
from fastapi import FastAPI

from retail_pipeline.api.app import create_app
from retail_pipeline.api.console.events import end_streams
from retail_pipeline.db.engine import resolve_database_url
from retail_pipeline.settings import get_settings

# A request still running this long after shutdown began is cancelled: nothing keeps the server up.
GRACEFUL_SHUTDOWN_SECONDS = 10


class SidecarServer(uvicorn.Server):
    """uvicorn's server, which first ends the console's event streams when it shuts down.

    uvicorn waits for every open response before it exits, and an event stream never ends by itself:
    without this a browser left on the console would keep the sidecar from stopping."""

    def __init__(self, config: uvicorn.Config, app: FastAPI):
        super().__init__(config)
        self.sidecar_app = app

    async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
        end_streams(self.sidecar_app)
        await super().shutdown(sockets)


def sidecar_server(app: FastAPI, host: str, port: int, **config: object) -> SidecarServer:
    config.setdefault("timeout_graceful_shutdown", GRACEFUL_SHUTDOWN_SECONDS)
    return SidecarServer(uvicorn.Config(app, host=host, port=port, **config), app)  # type: ignore[arg-type]


def serve(host: str | None = None, port: int | None = None) -> None:
    settings = get_settings()
    # Without DATABASE_URL this starts (or attaches to) the embedded server before listening, so the
    # first request does not wait for it and its URL is fixed for the app's lifetime.
    database_url = resolve_database_url(settings)
    app = create_app(settings.model_copy(update={"database_url": database_url}))
    # uvicorn re-raises the stop signal once it has shut down: that is a clean stop, exit code 0.
    with contextlib.suppress(KeyboardInterrupt):
        sidecar_server(app, host or settings.api_host, port or settings.api_port).run()

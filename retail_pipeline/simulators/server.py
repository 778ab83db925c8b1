"""`retail-pipeline simulate`: every simulator on one port until interrupted."""

from __future__ import annotations

import uvicorn

from .app import build_simulator_app
from .config import SimulatorConfig


def serve(host: str = "127.0.0.1", port: int = 8765, config: SimulatorConfig | None = None) -> None:
    """Blocks; without a config, settings come from SIMULATOR_* environment variables."""
    from retail_pipeline.settings import get_settings

    from .persistence import persisted

    app = build_simulator_app(config)
    with persisted(app, get_settings().data_dir):  # saved when uvicorn returns (Ctrl-C / SIGTERM)
        uvicorn.run(app, host=host, port=port, log_level="info")

"""`retail-pipeline simulate`: every simulator on one port until interrupted."""

from __future__ import annotations

import uvicorn

from .app import build_simulator_app
from .config import SimulatorConfig


def serve(host: str = "127.0.0.1", port: int = 8765, config: SimulatorConfig | None = None) -> None:
    """Blocks; without a config, settings come from SIMULATOR_* environment variables."""
    uvicorn.run(build_simulator_app(config), host=host, port=port, log_level="info")

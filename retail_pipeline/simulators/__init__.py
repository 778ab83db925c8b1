"""Simulated external systems: one ASGI app that mounts a stateful fake of each under its own prefix.

    app = build_simulator_app(SimulatorConfig(seed=7, products_per_supplier=20))
    httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://sim")  # in-process
    with serve_in_thread(app) as base_url: ...                                        # on loopback

Control endpoints live under /_control (clock, faults, journal); `get_simulator(app)` gives the same
state in-process.
"""

from .app import Simulator, build_simulator_app, get_simulator
from .catalogue import gtin_check_digit, is_valid_gtin
from .clock import SimClock
from .config import FaultConfig, SimulatorConfig
from .journal import JournalEntry, RequestJournal
from .registry import SYSTEMS

__all__ = [
    "SYSTEMS",
    "FaultConfig",
    "JournalEntry",
    "RequestJournal",
    "SimClock",
    "Simulator",
    "SimulatorConfig",
    "build_simulator_app",
    "get_simulator",
    "gtin_check_digit",
    "is_valid_gtin",
]

"""Reverb API v3: our shop as a sales channel (listings, their states, orders and shipments)."""

from .models import ReverbBackend, ReverbSimulatorConfig
from .routes import build

__all__ = ["ReverbBackend", "ReverbSimulatorConfig", "build"]

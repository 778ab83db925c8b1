"""Mirakl seller API (Best Buy Canada): orders to accept, tracking and shipping, the buyer inbox."""

from .models import MiraklBackend, MiraklError, MiraklSimulatorConfig
from .routes import build

__all__ = ["MiraklBackend", "MiraklError", "MiraklSimulatorConfig", "build"]

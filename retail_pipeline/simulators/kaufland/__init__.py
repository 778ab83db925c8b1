"""Kaufland Seller API v2: our seller account as a sales channel (product data, units, order units,
tickets, categories), signed requests checked byte for byte, spec-checked against the OpenAPI document."""

from .models import KauflandBackend, KauflandSimulatorConfig
from .routes import build

__all__ = ["KauflandBackend", "KauflandSimulatorConfig", "build"]

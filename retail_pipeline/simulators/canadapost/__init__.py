"""Canada Post: non-contract shipments (ncshipment v4, XSD-checked), label PDFs and tracking."""

from .models import CanadaPostBackend, CanadaPostSimulatorConfig
from .routes import build

__all__ = ["CanadaPostBackend", "CanadaPostSimulatorConfig", "build"]

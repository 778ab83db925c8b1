"""The European Central Bank's euro foreign exchange reference rates (eurofxref XML)."""

from .models import EcbBackend
from .routes import build

__all__ = ["EcbBackend", "build"]

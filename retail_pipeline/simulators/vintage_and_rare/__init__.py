"""Vintage & Rare: the dealer website (no public API) — sign-in, item forms, images, inventory CSV."""

from .models import DEALER_EMAIL, DEALER_PASSWORD, VintageAndRareBackend, VintageAndRareSimulatorConfig
from .routes import CSV_COLUMNS, build

__all__ = [
    "CSV_COLUMNS",
    "DEALER_EMAIL",
    "DEALER_PASSWORD",
    "VintageAndRareBackend",
    "VintageAndRareSimulatorConfig",
    "build",
]

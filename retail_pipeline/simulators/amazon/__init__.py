"""Amazon Selling Partner API: Listings Items, Product Type Definitions, Feeds, Orders 2026-01-01 and
v0 ship confirmation, behind Login with Amazon (the seller's listings, our orders, its rate limits)."""

from .models import AmazonBackend, AmazonSimulatorConfig
from .routes import build

__all__ = ["AmazonBackend", "AmazonSimulatorConfig", "build"]

"""eBay's Sell APIs (Inventory, Fulfillment) with OAuth2: stateful like moto, checked against eBay's
official OpenAPI specs like stripe-mock."""

from .models import Buyer, EbayBackend, EbaySimulatorConfig
from .routes import build

__all__ = ["Buyer", "EbayBackend", "EbaySimulatorConfig", "build"]

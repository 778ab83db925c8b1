"""Trade Me: the selling API (OAuth 1.0a, Selling, Photos, MyTradeMe) with its hourly call budget,
and a seller account whose listings can be bought in-process (`TradeMeBackend.buy`)."""

from .models import BusinessFailure, Buyer, TradeMeBackend, TradeMeSimulatorConfig
from .routes import build

__all__ = ["BusinessFailure", "Buyer", "TradeMeBackend", "TradeMeSimulatorConfig", "build"]

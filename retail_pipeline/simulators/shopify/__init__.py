"""Shopify Admin REST API: our own store as a sales channel (products, inventory, orders, webhooks)."""

from .models import DEFAULT_API_SECRET, ShopifyBackend, ShopifySimulatorConfig, sign_webhook
from .routes import build

__all__ = ["DEFAULT_API_SECRET", "ShopifyBackend", "ShopifySimulatorConfig", "build", "sign_webhook"]

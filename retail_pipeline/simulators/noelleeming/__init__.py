"""Noel Leeming: HTML category pages with pagination, product pages carrying schema.org JSON-LD."""

from .routes import build

__all__ = ["build"]

"""OneCheq: a Shopify storefront (public /products.json, product pages, sitemaps, robots.txt)."""

from .routes import build

__all__ = ["build"]

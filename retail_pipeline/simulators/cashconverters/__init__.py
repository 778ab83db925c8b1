"""Cash Converters: second-hand items on HTML listing pages that need CSS selectors."""

from .routes import build

__all__ = ["build"]

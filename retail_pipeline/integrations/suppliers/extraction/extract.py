"""Extract one product from any product page: `extract_product(html, url)`.

Layers, most trusted first: JSON-LD, microdata, OpenGraph/product meta tags, other <meta>, then the
visible page (main heading, price by the buy button, labelled identifiers, breadcrumbs). Where the
visible page contradicts stale markup (a sale price, "sold out") the page wins; the rules are in
`extraction.merge`. `sources` on the result says which layer gave each field.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx

from .merge import extract_from_page
from .model import ExtractedProduct
from .page import Page

__all__ = ["ExtractedProduct", "extract_product", "extract_product_json", "load_page"]

# Shops serve their real product page to browsers; a browser-like agent (naming us) gets the same.
USER_AGENT = (
    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0 Safari/537.36 "
    "retail-pipeline/0.1"
)
FETCH_TIMEOUT_SECONDS = 20.0


def _decode(html: str | bytes) -> str:
    if isinstance(html, str):
        return html
    from w3lib.encoding import html_to_unicode

    _, text = html_to_unicode(None, html)
    return text


def extract_product(
    html: str | bytes, url: str | None = None, *, base_url: str | None = None
) -> ExtractedProduct:
    """The product on `html`. `url` is where the page lives (used to pick the variant it names and
    for IDs in the path); `base_url` resolves relative links when the page was saved elsewhere."""
    return extract_from_page(Page(_decode(html), url, base_url))


def extract_product_json(
    html: str | bytes, url: str | None = None, *, base_url: str | None = None
) -> dict[str, Any]:
    """`extract_product` as JSON-ready data (Decimals become strings), for the CLI."""
    return extract_product(html, url, base_url=base_url).model_dump(mode="json")


def load_page(file_or_url: str, base_url: str | None = None) -> tuple[str, str | None]:
    """(html, url) from a saved file or an http(s) URL. For a file, `base_url` stands in for its URL."""
    if file_or_url.startswith(("http://", "https://")):
        response = httpx.get(
            file_or_url,
            headers={
                "User-Agent": USER_AGENT,
                "Accept": "text/html,application/xhtml+xml;q=0.9,*/*;q=0.8",
                "Accept-Language": "en;q=0.9,*;q=0.5",
            },
            timeout=FETCH_TIMEOUT_SECONDS,
            follow_redirects=True,
        )
        response.raise_for_status()
        return _decode(response.content), str(response.url)
    return _decode(Path(file_or_url).read_bytes()), base_url

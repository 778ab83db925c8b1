"""Product photos: real, small JPEGs drawn deterministically and kept in memory once drawn."""

from __future__ import annotations

import colorsys
import hashlib
import io
import textwrap
from functools import lru_cache

from PIL import Image, ImageDraw, ImageFont

from .catalogue import Product

WIDTH, HEIGHT = 320, 240


def product_photo(product: Product, number: int) -> bytes:
    """Photo `number` (1-based) of a product: a coloured card carrying its title."""
    return _render(
        product.title,
        f"{product.brand} · photo {number} of {product.image_count}",
        f"{product.supplier}:{product.key}:{number}",
    )


def listing_photo(name: str) -> bytes:
    """A photo a seller put on a listing by hand (`existing_listings.py`), drawn from its file name."""
    return card_photo(name.rsplit("-", 2)[0].replace("-", " "), "seller photo", name)


def card_photo(title: str, caption: str, key: str) -> bytes:
    """A photo of anything with a title (a dealer's item seeded without its pictures)."""
    return _render(title, caption, key)


# Bounded: a 5,000-product benchmark would otherwise keep every photo it ever drew.
@lru_cache(maxsize=4096)
def _render(title: str, caption: str, palette_key: str) -> bytes:
    digest = hashlib.blake2b(palette_key.encode(), digest_size=2).digest()
    hue = int.from_bytes(digest, "big") / 65536
    background = _rgb(hue, 0.45, 0.85)
    card = _rgb(hue, 0.12, 0.98)
    ink = _rgb(hue, 0.8, 0.3)

    image = Image.new("RGB", (WIDTH, HEIGHT), background)
    draw = ImageDraw.Draw(image)
    draw.rounded_rectangle((16, 16, WIDTH - 16, HEIGHT - 16), radius=14, fill=card)
    title_font = ImageFont.load_default(size=20)
    caption_font = ImageFont.load_default(size=13)
    y = 34
    for line in textwrap.wrap(title, width=24)[:5]:
        draw.text((32, y), line, fill=ink, font=title_font)
        y += 26
    draw.text((32, HEIGHT - 46), caption, fill=ink, font=caption_font)

    out = io.BytesIO()
    image.save(out, format="JPEG", quality=82)
    return out.getvalue()


def _rgb(hue: float, saturation: float, value: float) -> tuple[int, int, int]:
    r, g, b = colorsys.hsv_to_rgb(hue, saturation, value)
    return round(r * 255), round(g * 255), round(b * 255)

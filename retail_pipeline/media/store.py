"""The image store: product images kept once by content in the media storage (``storage.py``).

An image lives at ``images/ab/cd/<sha256>.<ext>`` (two fan-out levels keep directories small). The
key is a function of the bytes, so the same picture from two URLs or two suppliers is one object, and
a second write of it is a no-op. The storage writes atomically (local disk: temp file, fsync, rename;
S3: one PutObject), so a crash never leaves a torn image under its final key.

Images are checked before they are kept: Pillow must recognise the bytes as JPEG, PNG, WebP or GIF
(whatever the server's Content-Type said), ``verify`` them, and decode them fully, within size limits.
"""

from __future__ import annotations

import hashlib
import io
import warnings
from dataclasses import dataclass

from PIL import Image, UnidentifiedImageError

from retail_pipeline.media.storage import MediaStorage

# Pillow format -> (file extension, content type)
IMAGE_FORMATS = {
    "JPEG": ("jpg", "image/jpeg"),
    "PNG": ("png", "image/png"),
    "WEBP": ("webp", "image/webp"),
    "GIF": ("gif", "image/gif"),
}


class BadImage(ValueError):
    """Bytes we will not keep as a product image; ``reason`` is what gets recorded."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class ImageLimits:
    max_bytes: int = 20 * 1024 * 1024
    max_pixels: int = 25_000_000  # decoding one costs ~100 MB; Pillow's own bomb guard is far higher
    max_side: int = 12_000
    min_side: int = 16  # tracking pixels and spacers are not product photos


@dataclass(frozen=True)
class ImageFacts:
    format: str
    ext: str
    content_type: str
    width: int
    height: int


@dataclass(frozen=True)
class StoredMedia:
    sha256: str
    rel_path: str
    content_type: str
    bytes: int
    width: int | None
    height: int | None
    created: bool  # False: the same bytes were already held


def inspect_image(data: bytes, limits: ImageLimits = ImageLimits()) -> ImageFacts:
    """What the bytes are, or BadImage with the reason they are not a usable image."""
    if not data:
        raise BadImage("empty body")
    if len(data) > limits.max_bytes:
        raise BadImage(f"{len(data)} bytes is over the {limits.max_bytes}-byte limit")
    image_format = "image"
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data), formats=list(IMAGE_FORMATS)) as image:
                image_format, (width, height) = image.format, image.size
                _check_size(width, height, limits)
                image.verify()  # structure and checksums, without decoding
            # verify() leaves the image unusable; decoding catches truncated pixel data it misses.
            with Image.open(io.BytesIO(data), formats=[image_format]) as image:
                image.draft("RGB", (max(1, width // 8), max(1, height // 8)))  # JPEG: decode at 1/8
                image.load()
    except UnidentifiedImageError:
        raise BadImage("not a JPEG, PNG, WebP or GIF image") from None
    except BadImage:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise BadImage("too many pixels") from None
    except (OSError, SyntaxError, ValueError) as error:
        raise BadImage(f"corrupt {image_format} image: {error}") from None
    ext, content_type = IMAGE_FORMATS[image_format]
    return ImageFacts(image_format, ext, content_type, width, height)


def _check_size(width: int, height: int, limits: ImageLimits) -> None:
    if min(width, height) < limits.min_side:
        raise BadImage(f"{width}x{height} is smaller than {limits.min_side} pixels on a side")
    if max(width, height) > limits.max_side or width * height > limits.max_pixels:
        raise BadImage(f"{width}x{height} is over the size limit")


def image_rel_path(sha256: str, ext: str) -> str:
    return f"images/{sha256[:2]}/{sha256[2:4]}/{sha256}.{ext}"


class MediaStore:
    """Product images, checked, then kept once by content in the media storage."""

    def __init__(self, storage: MediaStorage, limits: ImageLimits = ImageLimits()):
        self.storage = storage
        self.limits = limits

    def put_image(self, data: bytes) -> StoredMedia:
        """Check ``data`` is an image and keep it once; BadImage when it is not one."""
        facts = inspect_image(data, self.limits)
        sha256 = hashlib.sha256(data).hexdigest()
        rel_path = image_rel_path(sha256, facts.ext)
        created = self.storage.put(rel_path, data, facts.content_type)
        return StoredMedia(
            sha256, rel_path, facts.content_type, len(data), facts.width, facts.height, created
        )

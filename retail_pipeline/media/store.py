"""The media store: files kept once by content under the media root, written crash-safely.

An image lives at ``images/ab/cd/<sha256>.<ext>`` (two fan-out levels keep directories small). The
path is a function of the bytes, so the same picture from two URLs or two suppliers is one file, and
a second write of it is a no-op. Writes go to a temporary file in the target directory, are fsynced,
then renamed into place (atomic on POSIX): a crash leaves either no file or the whole file, never a
torn one under the final name. Temporary names start with a dot, which the sidecar never serves.

Images are checked before they are kept: Pillow must recognise the bytes as JPEG, PNG, WebP or GIF
(whatever the server's Content-Type said), ``verify`` them, and decode them fully, within size limits.
"""

from __future__ import annotations

import hashlib
import io
import os
import tempfile
import warnings
from dataclasses import dataclass
from pathlib import Path

from PIL import Image, UnidentifiedImageError

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
    def __init__(self, root: Path, limits: ImageLimits = ImageLimits()):
        self.root = root
        self.limits = limits

    def path(self, rel_path: str) -> Path:
        return self.root / rel_path

    def put_image(self, data: bytes) -> StoredMedia:
        """Check ``data`` is an image and keep it once; BadImage when it is not one."""
        facts = inspect_image(data, self.limits)
        sha256 = hashlib.sha256(data).hexdigest()
        rel_path = image_rel_path(sha256, facts.ext)
        created = self._write_once(rel_path, data)
        return StoredMedia(
            sha256, rel_path, facts.content_type, len(data), facts.width, facts.height, created
        )

    def _write_once(self, rel_path: str, data: bytes) -> bool:
        target = self.path(rel_path)
        try:
            if target.stat().st_size == len(data):
                return False  # same name = same sha256; the size guards against a damaged copy
        except FileNotFoundError:
            pass
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, temp_name = tempfile.mkstemp(dir=target.parent, prefix=".tmp-", suffix=".part")
        try:
            with os.fdopen(fd, "wb") as temp:
                temp.write(data)
                temp.flush()
                os.fsync(temp.fileno())
            os.chmod(temp_name, 0o644)  # mkstemp makes 0600; the sidecar may run as another user
            os.replace(temp_name, target)
        except BaseException:
            Path(temp_name).unlink(missing_ok=True)
            raise
        _fsync_dir(target.parent)  # the rename itself survives a power cut
        return True


def _fsync_dir(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)

"""Signed, expiring links to stored media (the sidecar's ``GET /media/...`` serves them from the storage).

A link is ``/media/<rel_path>?expires=<unix seconds>&token=<HMAC-SHA256 of path and expiry>``: it
works for that one key until that moment, and changing either part breaks the token. A path's form
is checked by ``storage.check_media_path`` before it is signed.

Photo URLs handed to channels (which fetch the photos themselves) come from ``photo_url_signer``.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import time
from collections.abc import Callable
from urllib.parse import urlencode

from retail_pipeline.media.storage import MediaPathError, check_media_path, get_storage
from retail_pipeline.settings import Settings, get_settings

__all__ = [
    "MediaPathError",
    "check_media_path",
    "media_signature",
    "media_url",
    "photo_url_signer",
    "sign_media_path",
]


def media_signature(rel_path: str, expires: int, key: bytes) -> str:
    mac = hmac.new(key, f"{rel_path}\n{expires}".encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(mac).rstrip(b"=").decode()


def sign_media_path(
    rel_path: str, ttl: int | None = None, *, settings: Settings | None = None
) -> dict[str, str]:
    """Query parameters (``expires``, ``token``) that open ``rel_path`` for ``ttl`` seconds.

    ``ttl`` defaults to MEDIA_TOKEN_TTL_SECONDS. Raises MediaPathError for a path the route would refuse.
    """
    settings = settings or get_settings()
    check_media_path(rel_path)
    expires = int(time.time()) + (settings.media_token_ttl_seconds if ttl is None else ttl)
    return {"expires": str(expires), "token": media_signature(rel_path, expires, settings.signing_key())}


def media_url(
    rel_path: str, ttl: int | None = None, *, base_url: str = "", settings: Settings | None = None
) -> str:
    """The signed link, e.g. for listing photos: ``base_url`` + ``/media/<rel_path>?expires=…&token=…``.

    The path needs no quoting: check_media_path only admits URL-safe characters.
    """
    query = urlencode(sign_media_path(rel_path, ttl, settings=settings))
    return f"{base_url.rstrip('/')}/media/{rel_path}?{query}"


def photo_url_signer(settings: Settings | None = None) -> Callable[[str], str | None]:
    """How a stored photo's key becomes a URL a channel can fetch for MEDIA_PUBLIC_TTL_SECONDS:

    - MEDIA_PUBLIC_BASE_URL set: a signed link under the sidecar's public address (any storage);
    - else S3 storage: the bucket's presigned URL (at most 7 days);
    - else the sidecar on 127.0.0.1, which only the simulators can reach (the local demo). Against the
      real services (USE_SIMULATORS=false) that URL would be unreachable, so there is none: channels that
      fetch photos by URL then refuse the item with "no public URL", and the rest upload bytes.
    """
    settings = settings or get_settings()
    ttl = settings.media_public_ttl_seconds
    if settings.media_public_base_url:
        base = settings.media_public_base_url
        return lambda rel_path: media_url(rel_path, ttl, base_url=base, settings=settings)
    if settings.media_storage == "s3":
        storage = get_storage(settings)
        return lambda rel_path: storage.presigned_url(rel_path, ttl)
    if not settings.use_simulators:
        return lambda rel_path: None
    local = f"http://127.0.0.1:{settings.api_port}"
    return lambda rel_path: media_url(rel_path, base_url=local, settings=settings)

"""Signed, expiring links to files under the media root (the sidecar's ``GET /media/...`` serves them).

A link is ``/media/<rel_path>?expires=<unix seconds>&token=<HMAC-SHA256 of path and expiry>``: it
works for that one file until that moment, and changing either part breaks the token. A path's form
is checked here: '/'-separated names made of ``[A-Za-z0-9._-]`` that do not start with '.', which
rules out '..', absolute paths, backslashes, NUL bytes and every percent sign.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import time
from urllib.parse import urlencode

from retail_pipeline.settings import Settings, get_settings

SAFE_NAME = re.compile(r"[A-Za-z0-9_-][A-Za-z0-9._-]*")


class MediaPathError(ValueError):
    """A relative media path that could name something outside the media root."""


def check_media_path(rel_path: str) -> str:
    if not rel_path or not all(SAFE_NAME.fullmatch(name) for name in rel_path.split("/")):
        raise MediaPathError(
            f"invalid media path {rel_path!r}: use '/'-separated names of letters, digits, '.', '_' "
            "and '-' that do not start with '.'"
        )
    return rel_path


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

"""Media files under the media root, and shipping labels under the data root's ``labels/``, served
only through signed, expiring links.

A link is ``/media/<rel_path>?expires=<unix seconds>&token=<HMAC-SHA256 of path and expiry>``: it
works for that one file until that moment, and changing either part breaks the token.

Paths are checked twice. First their form: '/'-separated names made of ``[A-Za-z0-9._-]`` that do
not start with '.', which rules out '..', absolute paths, backslashes, NUL bytes and every percent
sign. The server percent-decodes the URL once before routing, so ``%2e%2e`` and ``..%2f`` arrive
here as '..' and '/', and double-encoded forms arrive with a literal '%'; none of them pass. Then
where the path really leads: resolved with symlinks followed, it must stay inside the media root.
"""

from __future__ import annotations

import hmac
import mimetypes
import time
from datetime import UTC, datetime
from pathlib import Path

from fastapi import APIRouter, HTTPException, Request, status
from fastapi.responses import FileResponse

from retail_pipeline.media.links import MediaPathError, check_media_path, media_signature
from retail_pipeline.settings import Settings

router = APIRouter(tags=["media"])

# Shipping labels are kept under the data root (labels/<yyyy>/<sha256>.pdf, shipments.label_path), beside
# the media root rather than in it; a signed link to one reads /media/labels/...
LABELS = "labels/"


def media_root(settings: Settings, rel_path: str) -> Path:
    """The directory a signed path must stay inside: the labels directory for labels, else the media root."""
    return settings.data_dir / LABELS.rstrip("/") if rel_path.startswith(LABELS) else settings.media_dir


@router.get("/media/{rel_path:path}", response_class=FileResponse)
def get_media(
    rel_path: str, request: Request, token: str | None = None, expires: int | None = None
) -> FileResponse:
    """Stream one media file; needs a link made by ``sign_media_path``."""
    settings: Settings = request.app.state.settings
    try:
        check_media_path(rel_path)
    except MediaPathError as exc:
        raise HTTPException(status.HTTP_400_BAD_REQUEST, detail=str(exc)) from None
    if token is None or expires is None:
        raise HTTPException(
            status.HTTP_403_FORBIDDEN,
            detail="media links need the expires and token query parameters of a signed link",
        )
    expected = media_signature(rel_path, expires, settings.signing_key())
    if not hmac.compare_digest(expected.encode(), token.encode()):
        raise HTTPException(
            status.HTTP_403_FORBIDDEN,
            detail="invalid media token: it was not issued for this path and expiry",
        )
    if expires < time.time():
        expired_at = datetime.fromtimestamp(expires, UTC).isoformat()
        raise HTTPException(
            status.HTTP_403_FORBIDDEN, detail=f"media link expired at {expired_at}; ask for a new one"
        )

    root = media_root(settings, rel_path)
    path = (root.parent / rel_path).resolve() if rel_path.startswith(LABELS) else (root / rel_path).resolve()
    if not path.is_relative_to(root):
        raise HTTPException(
            status.HTTP_403_FORBIDDEN, detail=f"media path {rel_path!r} leads outside the media root"
        )
    if not path.is_file():
        raise HTTPException(status.HTTP_404_NOT_FOUND, detail=f"no media file at {rel_path!r}")
    # The type follows the name that was signed; nosniff stops browsers second-guessing it.
    media_type = mimetypes.guess_type(rel_path)[0] or "application/octet-stream"
    # A label opens in the browser's PDF viewer (inline), named by its file.
    return FileResponse(
        path,
        media_type=media_type,
        headers={"X-Content-Type-Options": "nosniff"},
        content_disposition_type="inline",
        filename=path.name if media_type == "application/pdf" else None,
    )

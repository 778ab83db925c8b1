"""Stored media (images, shipping labels, browser traces), served from the media storage only through
signed, expiring links.

A link is ``/media/<rel_path>?expires=<unix seconds>&token=<HMAC-SHA256 of path and expiry>``: it
works for that one file until that moment, and changing either part breaks the token.

Paths are checked twice. First their form: '/'-separated names made of ``[A-Za-z0-9._-]`` that do
not start with '.', which rules out '..', absolute paths, backslashes, NUL bytes and every percent
sign. The server percent-decodes the URL once before routing, so ``%2e%2e`` and ``..%2f`` arrive
here as '..' and '/', and double-encoded forms arrive with a literal '%'; none of them pass. Then, on
local disk, where the path really leads: resolved with symlinks followed, it must stay inside its root.

With S3 storage the object is streamed through the sidecar rather than answered with a redirect to a
presigned URL: the bucket need not be reachable from where people and channels are (MinIO on a private
network), the link keeps the sidecar's TTL and headers (nosniff, inline PDF), and the files are small.
Channels that should fetch from the bucket directly get presigned URLs (``links.photo_url_signer``).
"""

from __future__ import annotations

import hmac
import mimetypes
import time
from datetime import UTC, datetime

from fastapi import APIRouter, HTTPException, Request, Response, status
from fastapi.responses import FileResponse, StreamingResponse

from retail_pipeline.media.links import media_signature
from retail_pipeline.media.storage import MediaNotFound, MediaPathError, check_media_path, get_storage
from retail_pipeline.settings import Settings

router = APIRouter(tags=["media"])


@router.get("/media/{rel_path:path}", response_class=FileResponse)
def get_media(
    rel_path: str, request: Request, token: str | None = None, expires: int | None = None
) -> Response:
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

    storage = get_storage(settings)
    # The type follows the name that was signed; nosniff stops browsers second-guessing it. A label opens
    # in the browser's PDF viewer (inline), named by its file.
    media_type = mimetypes.guess_type(rel_path)[0] or "application/octet-stream"
    name = rel_path.rsplit("/", 1)[-1] if media_type == "application/pdf" else None
    try:
        path = storage.local_path(rel_path)
        if path is None:  # an object store: streamed through here (see the module's note)
            chunks = storage.chunks(rel_path)
        elif not path.is_file():
            raise MediaNotFound(rel_path)
    except MediaPathError as exc:
        raise HTTPException(status.HTTP_403_FORBIDDEN, detail=str(exc)) from None
    except MediaNotFound:
        raise HTTPException(status.HTTP_404_NOT_FOUND, detail=f"no media file at {rel_path!r}") from None
    headers = {"X-Content-Type-Options": "nosniff"}
    if path is not None:
        return FileResponse(
            path, media_type=media_type, headers=headers, content_disposition_type="inline", filename=name
        )
    if name:
        headers["Content-Disposition"] = f'inline; filename="{name}"'
    return StreamingResponse(chunks, media_type=media_type, headers=headers)

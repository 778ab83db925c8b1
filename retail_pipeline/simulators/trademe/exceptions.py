"""Trade Me's HTTP error body: ``{"ErrorDescription": "..."}`` (the shape is unverified, see NOTES.md).

Business failures (a listing that breaks a rule) are not errors here: they answer 200 with
``Success: false`` and a Description, as the real API does.
"""

from __future__ import annotations

from fastapi import Request
from fastapi.responses import JSONResponse


class TradeMeHTTPError(Exception):
    def __init__(self, status: int, description: str):
        super().__init__(description)
        self.status, self.description = status, description


async def trademe_error_handler(request: Request, exc: TradeMeHTTPError) -> JSONResponse:
    # No Retry-After on 429: Trade Me documents none, and clients must cope without it.
    return JSONResponse({"ErrorDescription": exc.description}, status_code=exc.status)


def bad_request(description: str) -> TradeMeHTTPError:
    return TradeMeHTTPError(400, description)


def unauthorized(description: str) -> TradeMeHTTPError:
    return TradeMeHTTPError(401, description)


def rate_limited() -> TradeMeHTTPError:
    return TradeMeHTTPError(429, "You have exceeded your rate limit of authenticated calls for this hour.")

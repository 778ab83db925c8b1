"""Reverb's error bodies: `{"message": …}` with, for validation, `"errors": {field: [messages]}`.

Reverb's error-handling guide: missing or invalid parameters and validation failures answer 412 with a
field-by-field breakdown; 406 is a request that violates a constraint (ending a listing that is not
live, shipping an order twice).
"""

from __future__ import annotations

from fastapi import Request
from fastapi.responses import JSONResponse

HAL_JSON = "application/hal+json"


class ReverbError(Exception):
    def __init__(self, status: int, message: str, errors: dict[str, list[str]] | None = None):
        super().__init__(f"{status}: {message}")
        self.status, self.message, self.errors = status, message, errors

    def body(self) -> dict:
        return {"message": self.message} | ({"errors": self.errors} if self.errors is not None else {})


async def reverb_error_handler(request: Request, exc: ReverbError) -> JSONResponse:
    return JSONResponse(exc.body(), status_code=exc.status, media_type=HAL_JSON)


def not_found() -> ReverbError:
    return ReverbError(404, "The requested resource could not be found.")


def invalid(errors: dict[str, list[str]]) -> ReverbError:
    summary = " ".join(
        f"{field.replace('_', ' ').capitalize()} {messages[0]}." for field, messages in errors.items()
    )
    return ReverbError(412, summary, errors)


def constraint(message: str) -> ReverbError:
    return ReverbError(406, message)

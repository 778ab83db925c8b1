"""Amazon's error bodies: `{"errors": [{code, message, details}]}` (SP-API), and Login with Amazon's
OAuth errors `{"error", "error_description"}` at the token endpoint."""

from __future__ import annotations

import uuid

from fastapi import Request
from fastapi.responses import JSONResponse


class AmazonError(Exception):
    def __init__(self, status: int, code: str, message: str, details: str = ""):
        super().__init__(f"{status} {code}: {message}")
        self.status, self.code, self.message, self.details = status, code, message, details

    def body(self) -> dict:
        error = {"code": self.code, "message": self.message}
        if self.details:
            error["details"] = self.details
        return {"errors": [error]}


def request_id() -> str:
    return str(uuid.uuid4())


async def amazon_error_handler(request: Request, exc: AmazonError) -> JSONResponse:
    return JSONResponse(exc.body(), status_code=exc.status, headers={"x-amzn-RequestId": request_id()})


def invalid_input(message: str, details: str = "") -> AmazonError:
    return AmazonError(400, "InvalidInput", message, details)


def not_found(message: str = "The requested resource was not found.") -> AmazonError:
    return AmazonError(404, "NotFound", message)


def denied(details: str = "") -> AmazonError:
    return AmazonError(403, "Unauthorized", "Access to requested resource is denied.", details)


def throttled() -> AmazonError:
    return AmazonError(429, "QuotaExceeded", "You exceeded your quota for the requested resource.")

"""Shopify Admin API error bodies: always `{"errors": …}`, where … is a string, a list, or a field map."""

from __future__ import annotations

from typing import Any

from fastapi import Request
from fastapi.responses import JSONResponse

INVALID_TOKEN = "[API] Invalid API key or access token (unrecognized login or wrong password)"
THROTTLED = (
    "Exceeded 2 calls per second for api client. Reduce request rates to resume uninterrupted service."
)


class ShopifyError(Exception):
    def __init__(self, status: int, errors: Any, headers: dict[str, str] | None = None):
        super().__init__(f"{status}: {errors}")
        self.status, self.errors, self.headers = status, errors, headers or {}


async def shopify_error_handler(request: Request, exc: ShopifyError) -> JSONResponse:
    return JSONResponse({"errors": exc.errors}, status_code=exc.status, headers=exc.headers)


def not_found() -> ShopifyError:
    return ShopifyError(404, "Not Found")


def unauthorized() -> ShopifyError:
    return ShopifyError(401, INVALID_TOKEN)


def missing_parameter(name: str) -> ShopifyError:
    """What Shopify answers when a body's root key or a required parameter is absent or unusable."""
    return ShopifyError(400, {name: "Required parameter missing or invalid"})


def invalid(field: str, *messages: str) -> ShopifyError:
    """422 with Rails-style field messages, as Shopify validates records."""
    return ShopifyError(422, {field: list(messages)})


def refused(*messages: str) -> ShopifyError:
    """422 with a plain list, as the inventory and fulfillment endpoints refuse."""
    return ShopifyError(422, list(messages))

"""eBay's error shapes: `{"errors": [{errorId, domain, subdomain, category, message, longMessage,
parameters}]}` for the REST APIs, `{"error", "error_description"}` for the OAuth token endpoint.

API errors take their errorId, domain, category and wording from the spec's own catalogue
(`x-response-codes`), placeholders filled in. Errors raised before a request reaches an API (token,
scope, call limit, malformed request) are the gateway's and are not in the specs; their ids and wording
come from eBay's responses as developers have reported them (1001, 2004: github.com/hendt/ebay-api
#181, davidtsadler/ebay-sdk-examples #42); 1100, 2001 and 2002 are best known, unverified.
"""

from __future__ import annotations

import re
from collections import Counter, defaultdict
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cache
from typing import Any

from fastapi import Request
from fastapi.responses import JSONResponse

from . import conformance

_PLACEHOLDER = re.compile(r"\{([^{}]*)\}")
_TAG = re.compile(r"<[^>]+>")


@dataclass(frozen=True)
class ErrorDetail:
    error_id: int
    domain: str
    category: str
    message: str
    long_message: str | None = None
    parameters: tuple[tuple[str, str], ...] = ()
    subdomain: str | None = None

    def to_json(self) -> dict[str, Any]:
        body: dict[str, Any] = {"errorId": self.error_id, "domain": self.domain}
        if self.subdomain:
            body["subdomain"] = self.subdomain
        body |= {
            "category": self.category,
            "message": self.message,
            "longMessage": self.long_message or self.message,
        }
        if self.parameters:
            body["parameters"] = [{"name": n, "value": v} for n, v in self.parameters]
        return body


class EbayError(Exception):
    def __init__(self, status: int, *errors: ErrorDetail, headers: Mapping[str, str] | None = None):
        super().__init__("; ".join(f"{e.error_id} {e.message}" for e in errors))
        self.status, self.errors, self.headers = status, errors, dict(headers or {})

    def body(self) -> dict[str, Any]:
        return {"errors": [e.to_json() for e in self.errors]}


class OAuthError(Exception):
    """The token endpoint's RFC 6749 error body."""

    def __init__(self, status: int, error: str, description: str):
        super().__init__(f"{error}: {description}")
        self.status, self.error, self.description = status, error, description

    def body(self) -> dict[str, str]:
        return {"error": self.error, "error_description": self.description}


async def ebay_error_handler(request: Request, exc: EbayError) -> JSONResponse:
    return JSONResponse(exc.body(), status_code=exc.status, headers=exc.headers)


async def oauth_error_handler(request: Request, exc: OAuthError) -> JSONResponse:
    return JSONResponse(exc.body(), status_code=exc.status, headers={"Cache-Control": "no-store"})


# --- the APIs' own errors, from the specs -----------------------------------------------------------


@cache
def _catalogue(api: str) -> dict[int, tuple[str, str, str]]:
    """errorId -> (domain, category, description) as the spec documents it; where operations word an
    error differently, the wording most of them use."""
    spec = next(a.spec for a in conformance.apis() if a.name == api)
    mentions: dict[int, Counter[tuple[str, str, str]]] = defaultdict(Counter)
    for path_item in spec["paths"].values():
        for operation in path_item.values():
            if not isinstance(operation, dict):  # path-level parameters
                continue
            for response in operation.get("responses", {}).values():
                for error_id, error in response.get("x-response-codes", {}).get("errors", {}).items():
                    mentions[int(error_id)][(error["domain"], error["category"], error["description"])] += 1
    return {error_id: counts.most_common(1)[0][0] for error_id, counts in mentions.items()}


def _fill(template: str, values: Mapping[str, str]) -> str:
    text = _PLACEHOLDER.sub(lambda m: values.get(m.group(1), ""), _TAG.sub("", template))
    return re.sub(r"\s+", " ", text).replace(" .", ".").strip()


def api_error(
    api: str,
    error_id: int,
    status: int = 400,
    *,
    parameters: Mapping[str, str] | None = None,
    long_message: str | None = None,
    **values: str,
) -> EbayError:
    return EbayError(
        status, api_detail(api, error_id, parameters=parameters, long_message=long_message, **values)
    )


def api_detail(
    api: str,
    error_id: int,
    *,
    parameters: Mapping[str, str] | None = None,
    long_message: str | None = None,
    **values: str,
) -> ErrorDetail:
    """One error of `api` ("inventory" or "fulfillment") by its documented id; `values` fill the
    description's placeholders ({additionalInfo}, {fieldName}, {skuValue}, {orderId}...)."""
    domain, category, template = _catalogue(api)[error_id]
    return ErrorDetail(
        error_id,
        domain,
        category,
        _fill(template, values),
        long_message,
        tuple((parameters or {}).items()),
        "Selling" if api == "inventory" else None,
    )


def inventory_error(error_id: int, status: int = 400, **kwargs: Any) -> EbayError:
    return api_error("inventory", error_id, status, **kwargs)


def fulfillment_error(error_id: int, status: int = 400, **kwargs: Any) -> EbayError:
    return api_error("fulfillment", error_id, status, **kwargs)


# --- the gateway's errors ---------------------------------------------------------------------------


def invalid_access_token() -> EbayError:
    return EbayError(
        401,
        ErrorDetail(
            1001,
            "OAuth",
            "REQUEST",
            "Invalid access token",
            "Invalid access token. Check the value of the Authorization HTTP request header.",
        ),
    )


def insufficient_scope() -> EbayError:
    return EbayError(
        403,
        ErrorDetail(
            1100, "ACCESS", "REQUEST", "Access denied", "Insufficient permissions to fulfill the request."
        ),
    )


def too_many_requests(retry_after_seconds: int) -> EbayError:
    return EbayError(
        429,
        ErrorDetail(
            2001,
            "ACCESS",
            "REQUEST",
            "Too many requests",
            "The request limit has been reached for the resource.",
        ),
        headers={"Retry-After": str(retry_after_seconds)},
    )


def resource_not_found(method: str, path: str) -> EbayError:
    return EbayError(
        404,
        ErrorDetail(
            2002,
            "ACCESS",
            "REQUEST",
            "Resource not found",
            f"There is no resource at {method} {path}. Verify the URL and try again.",
        ),
    )


def invalid_request(reason: str) -> EbayError:
    return EbayError(
        400,
        ErrorDetail(
            2004,
            "ACCESS",
            "REQUEST",
            "Invalid request",
            "The request has errors. For help, see the documentation for this API.",
            parameters=(("reason", reason),),
        ),
    )


def not_implemented(api: str, operation_id: str) -> EbayError:
    """An operation eBay has but the simulator does not: said plainly rather than faked."""
    system_error = 25001 if api == "inventory" else 30500
    return api_error(api, system_error, 501, long_message=f"The simulator does not implement {operation_id}.")


@dataclass
class Problems:
    """Collects several errors of one API into one response, as eBay reports a publish that lacks
    several fields."""

    api: str
    details: list[ErrorDetail] = field(default_factory=list)

    def add(self, error_id: int, *, parameters: Mapping[str, str] | None = None, **values: str) -> None:
        self.details.append(api_detail(self.api, error_id, parameters=parameters, **values))

    def raise_if_any(self, status: int = 400) -> None:
        if self.details:
            raise EbayError(status, *self.details)

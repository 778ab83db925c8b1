"""An official OpenAPI document as the judge of HTTP traffic (stripe-mock style), via openapi-core: the
mechanism every spec-checked simulator (eBay, Amazon, Kaufland) and its tests share.

Requests and responses are wrapped in the shapes openapi-core reads (`SpecRequest`, `SpecResponse`);
`request_problems` lists what is wrong with a request by the spec (missing required parameters, wrong
types, body fields the spec does not define when loaded with `closed_config()`), one problem per
offending field; `response_problems` whether a response is one the spec allows.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl

from openapi_core import Config, OpenAPI
from openapi_core.datatypes import RequestParameters
from openapi_core.security.factories import SecurityProviderFactory
from openapi_core.templating.paths.exceptions import PathError
from openapi_core.templating.paths.finders import APICallPathFinder
from openapi_core.validation.request.exceptions import (
    MissingRequiredParameter,
    MissingRequiredRequestBody,
    ParameterValidationError,
    RequestBodyValidationError,
    SecurityValidationError,
)
from werkzeug.datastructures import Headers, ImmutableMultiDict


@dataclass
class SpecRequest:
    """A request in the shape openapi-core reads (its `Request` protocol)."""

    method: str
    path: str
    body: bytes | None
    content_type: str
    parameters: RequestParameters
    host_url: str

    @classmethod
    def build(
        cls,
        method: str,
        path: str,
        *,
        host_url: str,
        query: str = "",
        headers: Iterable[tuple[str, str]] | Mapping[str, str] = (),
        body: bytes | None = None,
    ) -> SpecRequest:
        header_map = Headers(list(headers.items()) if isinstance(headers, Mapping) else list(headers))
        return cls(
            method=method.lower(),
            path=path,
            body=body or None,
            content_type=header_map.get("content-type", "application/octet-stream"),
            parameters=RequestParameters(
                query=ImmutableMultiDict(parse_qsl(query, keep_blank_values=True)),
                header=header_map,
                cookie=ImmutableMultiDict(),
            ),
            host_url=host_url,
        )

    @property
    def full_url(self) -> str:
        return self.host_url + self.path


@dataclass
class SpecResponse:
    """A response in the shape openapi-core reads (its `Response` protocol)."""

    status_code: int
    data: bytes
    headers: Headers = field(default_factory=Headers)

    @classmethod
    def build(cls, status: int, body: bytes, headers: Iterable[tuple[str, str]] = ()) -> SpecResponse:
        return cls(status, body, Headers(list(headers)))

    @property
    def content_type(self) -> str:
        return self.headers.get("content-type", "")


@dataclass(frozen=True)
class RequestProblem:
    """One way a request breaks the spec. `kind`: parameter (`name` is the parameter), body (`name` is
    the JSON path of the field, "" for the whole body) or security."""

    kind: str
    name: str
    detail: str


def closed_config(security_provider_factory: SecurityProviderFactory | None = None) -> Config:
    """Objects treated as closed (a misspelt field is caught), with the given security providers."""
    if security_provider_factory is None:
        return Config(additional_properties_default_policy="forbid")
    return Config(
        additional_properties_default_policy="forbid", security_provider_factory=security_provider_factory
    )


def find_pattern(openapi: OpenAPI, method: str, url: str) -> str | None:
    """The spec's path template behind METHOD url (a full URL on the spec's server), or None."""
    try:
        return APICallPathFinder(openapi.spec).find(method.lower(), url).path_result.pattern
    except PathError:
        return None


def request_problems(openapi: OpenAPI, request: SpecRequest) -> list[RequestProblem]:
    problems: list[RequestProblem] = []
    for error in openapi.iter_request_errors(request):
        if isinstance(error, SecurityValidationError):
            problems.append(RequestProblem("security", "Authorization", str(error)))
        elif isinstance(error, MissingRequiredParameter | ParameterValidationError):
            problems.append(RequestProblem("parameter", error.name, str(error)))
        elif isinstance(error, MissingRequiredRequestBody):
            problems.append(RequestProblem("body", "", "the request body is missing"))
        elif isinstance(error, RequestBodyValidationError):
            problems.extend(_body_problems(error))
        else:
            problems.append(RequestProblem("body", "", str(error)))
    return problems


def _body_problems(error: Exception) -> list[RequestProblem]:
    """One problem per offending field, named by its JSON path."""
    schema_errors = getattr(error.__cause__, "schema_errors", None)
    if not schema_errors:  # not JSON at all, or not a JSON object
        return [RequestProblem("body", "", str(error.__cause__ or error))]
    problems = []
    for schema_error in schema_errors:
        parts = list(schema_error.absolute_path)
        instance = schema_error.instance
        # openapi-core reports an undeclared field (the "forbid" policy) under the `properties` keyword.
        extras = (
            set(instance) - set(schema_error.schema.get("properties", {}))
            if schema_error.validator in ("properties", "additionalProperties") and isinstance(instance, dict)
            else set()
        )
        if extras:
            problems.extend(
                RequestProblem("body", json_path([*parts, x]), "unknown field") for x in sorted(extras)
            )
        else:
            problems.append(RequestProblem("body", json_path(parts), schema_error.message))
    return problems


def json_path(parts: Iterable[Any]) -> str:
    text = ""
    for part in parts:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text


def response_problems(openapi: OpenAPI, request: SpecRequest, response: SpecResponse) -> list[str]:
    """[] when the spec allows this response to this request (status, content type, body schema)."""
    problems = []
    for error in openapi.iter_response_errors(request, response):
        details = getattr(error.__cause__, "schema_errors", None) or []
        problems.append(str(error))
        problems.extend(f"  {json_path(e.absolute_path) or 'body'}: {e.message}" for e in details)
    return problems

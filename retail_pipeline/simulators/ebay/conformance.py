"""eBay's official OpenAPI specs as the judge of Sell API traffic (stripe-mock style), via openapi-core.

`find_operation` says which documented operation a request is (None: no such URL on eBay);
`request_problems` what is wrong with a request by the spec (missing required headers, wrong types, and
body fields the spec does not define: objects are treated as closed, so a misspelt field is caught);
`response_problems` whether a response is one the spec allows. The simulator's gateway applies all three
to every Sell call, and tests apply them again to what the client sent and received.
"""

from __future__ import annotations

import copy
import json
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from openapi_core import OpenAPI
from openapi_core.datatypes import RequestParameters
from openapi_core.security.exceptions import SecurityProviderError
from openapi_core.security.factories import SecurityProviderFactory
from openapi_core.security.providers import BaseProvider
from openapi_schema_validator import OAS30Validator

from retail_pipeline.simulators import openapi_judge as judge
from retail_pipeline.simulators.openapi_judge import (  # noqa: F401  (re-exported for the gateway and tests)
    RequestProblem,
    SpecRequest,
    SpecResponse,
    json_path,
)

SPEC_DIR = Path(__file__).parent / "specs"
SPEC_FILES = ("sell_inventory_v1_oas3.json", "sell_fulfillment_v1_oas3.json")
SPEC_HOST = "https://api.ebay.com"  # requests are judged as if sent to production

# The spec types `Product.aspects` as a string, but its own description shows (and the live API only
# accepts) an object of name -> list of values; a string is refused with "Could not serialize field
# [product.aspects]" (github.com/hendt/ebay-api issues 155 and 181).
_ASPECTS = {"type": "object", "additionalProperties": {"type": "array", "items": {"type": "string"}}}
_ERRATA = {"sell_inventory_v1_oas3.json": {("Product", "aspects"): _ASPECTS}}


@dataclass(frozen=True)
class Api:
    name: str  # "inventory" | "fulfillment"
    base_path: str  # /sell/inventory/v1
    spec: dict[str, Any]
    openapi: OpenAPI
    error_validator: OAS30Validator  # for error bodies, which the specs describe by schema but not by status

    def owns(self, path: str) -> bool:
        return path == self.base_path or path.startswith(self.base_path + "/")


@dataclass(frozen=True)
class Operation:
    api: Api
    operation_id: str
    path_pattern: str  # relative to the base path, e.g. /offer/{offerId}/publish
    scopes: frozenset[str]  # OAuth scopes, any one of which grants access


def spec_request(method: str, path: str, **kwargs: Any) -> SpecRequest:
    """A Sell API request as the judge reads it, as if sent to production."""
    return SpecRequest.build(method, path, host_url=SPEC_HOST, **kwargs)


class _BearerProvider(BaseProvider):
    """openapi-core has no oauth2 provider; a bearer token must at least be present (the gateway checks
    that it is a live token with the right scope)."""

    def __call__(self, parameters: RequestParameters) -> Any:
        scheme, _, token = parameters.header.get("Authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise SecurityProviderError("Missing bearer token.")
        return token.strip()


class _SecurityProviders(SecurityProviderFactory):
    PROVIDERS = {**SecurityProviderFactory.PROVIDERS, "oauth2": _BearerProvider}


def _load(filename: str) -> tuple[str, dict[str, Any]]:
    spec = json.loads((SPEC_DIR / filename).read_text(encoding="utf-8"))
    for (schema, prop), replacement in _ERRATA.get(filename, {}).items():
        spec["components"]["schemas"][schema]["properties"][prop] = replacement
    # "https://api.ebay.com{basePath}": openapi-core's server templates cannot match a variable that
    # holds slashes (/sell/inventory/v1), so put in each variable's default: the URL the spec means.
    for server in spec["servers"]:
        variables = server.pop("variables", {})
        server["url"] = server["url"].format(**{k: v["default"] for k, v in variables.items()})
    return spec["servers"][0]["url"].removeprefix(SPEC_HOST), spec


def _error_validator(spec: dict[str, Any]) -> OAS30Validator:
    """`{"errors": [Error, ...]}` with the spec's own Error type, closed like everything else."""
    schemas = spec["components"]["schemas"]
    parameter = {**copy.deepcopy(schemas["ErrorParameter"]), "additionalProperties": False}
    error = copy.deepcopy(schemas["Error"])
    error["properties"]["parameters"] = {"type": "array", "items": parameter}
    error |= {"additionalProperties": False, "required": ["errorId", "domain", "category", "message"]}
    errors = {"type": "array", "minItems": 1, "items": error}
    return OAS30Validator(
        {
            "type": "object",
            "required": ["errors"],
            "additionalProperties": False,
            "properties": {"errors": errors},
        }
    )


@cache
def apis() -> tuple[Api, ...]:
    """Both specs, loaded once per process (about 0.3 s)."""
    config = judge.closed_config(_SecurityProviders())
    loaded = []
    for filename in SPEC_FILES:
        base_path, spec = _load(filename)
        name = base_path.split("/")[2]
        openapi = OpenAPI.from_dict(spec, config=config)
        loaded.append(Api(name, base_path, spec, openapi, _error_validator(spec)))
    return tuple(loaded)


def api_for(path: str) -> Api | None:
    return next((api for api in apis() if api.owns(path)), None)


def find_operation(method: str, path: str) -> Operation | None:
    """The documented operation behind METHOD path (the full path, /sell/...), or None."""
    api = api_for(path)
    if api is None:
        return None
    pattern = judge.find_pattern(api.openapi, method, SPEC_HOST + path)
    if pattern is None:
        return None
    operation = api.spec["paths"][pattern][method.lower()]
    scopes = frozenset(
        scope for requirement in operation.get("security", []) for scope in requirement.get("api_auth", [])
    )
    return Operation(api, operation["operationId"], pattern, scopes)


def request_problems(request: SpecRequest) -> list[RequestProblem]:
    api = api_for(request.path)
    if api is None:
        return [RequestProblem("parameter", "path", f"no eBay API at {request.path}")]
    return judge.request_problems(api.openapi, request)


def response_problems(request: SpecRequest, response: SpecResponse) -> list[str]:
    """[] when the spec allows this response to this request. Error bodies (any 4xx/5xx) must be eBay's
    `{"errors": [...]}`; the specs list error statuses but give them no body schema."""
    api = api_for(request.path)
    if api is None:
        return [f"no eBay API at {request.path}"]
    if response.status_code >= 400:
        try:
            body = json.loads(response.data)
        except ValueError:
            return [f"HTTP {response.status_code} with a body that is not JSON"]
        return [
            f"{json_path(e.absolute_path) or 'body'}: {e.message}"
            for e in api.error_validator.iter_errors(body)
        ]
    return judge.response_problems(api.openapi, request, response)

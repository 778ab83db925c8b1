"""Kaufland's OpenAPI document (Seller API v2.27.0, `specs/seller-api-v2.json`) as the judge of its
traffic, through the shared `openapi_judge`: which operation a request is, what is wrong with it (objects
closed: a misspelt field is caught), and whether a response is one the document allows. The simulator's
gate applies the request check to every API call; tests apply both again to what the client sent and got.

Loaded as published with one change: its server is "/v2", made absolute so paths match as if sent to
production. The document's own schema check is off: it fails on defaults written as strings
(`"default": "1"` on integer fields), which does not affect validating traffic. The document declares no
security scheme (Kaufland's signature headers are checked by the simulator's gate, not here).

Erratum (of the reading, not of the document): a nullable reference is written
`{"allOf": [{"$ref": …}], "nullable": true}`, and openapi-core then refuses null (the referenced schema
is not nullable; an enum does not list null). Each such field is loaded as the referenced schema itself,
nullable, with null among its enum values: what the document means.
"""

from __future__ import annotations

import copy
import json
from functools import cache
from pathlib import Path
from typing import Any

from openapi_core import Config, OpenAPI

from retail_pipeline.simulators import openapi_judge as judge
from retail_pipeline.simulators.openapi_judge import (  # noqa: F401  (re-exported for the gate and tests)
    RequestProblem,
    SpecRequest,
    SpecResponse,
)

SPEC_FILE = Path(__file__).parent / "specs" / "seller-api-v2.json"
SPEC_HOST = "https://sellerapi.kaufland.com"
BASE_PATH = "/v2"


@cache
def spec() -> dict[str, Any]:
    document = json.loads(SPEC_FILE.read_text(encoding="utf-8"))
    document["servers"] = [{"url": SPEC_HOST + BASE_PATH}]
    schemas = document["components"]["schemas"]

    def nullable_refs(node: Any) -> Any:
        if isinstance(node, list):
            return [nullable_refs(item) for item in node]
        if not isinstance(node, dict):
            return node
        node = {key: nullable_refs(value) for key, value in node.items()}
        refs = node.get("allOf")
        if node.get("nullable") and isinstance(refs, list) and len(refs) == 1 and "$ref" in refs[0]:
            target = copy.deepcopy(schemas[refs[0]["$ref"].rsplit("/", 1)[-1]])
            if "enum" in target:
                target["enum"] = [*target["enum"], None]
            rest = {key: value for key, value in node.items() if key != "allOf"}
            node = target | rest | {"nullable": True}
        return node

    return nullable_refs(document)


@cache
def openapi() -> OpenAPI:
    config = Config(additional_properties_default_policy="forbid", spec_validator_cls=None)
    return OpenAPI.from_dict(spec(), config=config)


def spec_request(method: str, path: str, **kwargs: Any) -> SpecRequest:
    """A request to `path` (/v2/…) as the judge reads it, as if sent to production."""
    return SpecRequest.build(method, path, host_url=SPEC_HOST, **kwargs)


def find_operation(method: str, path: str) -> str | None:
    """The operationId behind METHOD path (/v2/…), or None: no such operation on Kaufland."""
    pattern = judge.find_pattern(openapi(), method, SPEC_HOST + path)
    if pattern is None:
        return None
    return spec()["paths"][pattern][method.lower()]["operationId"]


def request_problems(request: SpecRequest) -> list[RequestProblem]:
    return judge.request_problems(openapi(), request)


def response_problems(request: SpecRequest, response: SpecResponse) -> list[str]:
    return judge.response_problems(openapi(), request, response)

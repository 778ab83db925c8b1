"""Amazon's official SP-API models (OpenAPI 3 conversions) as the judge of its traffic, through the
shared `openapi_judge`; and the JSON_LISTINGS_FEED schemas for feeds and their processing reports.

`find_operation` names the documented operation behind a request (None: no such SP-API URL);
`request_problems` what is wrong with a request by the model (objects closed: a misspelt field is
caught); `response_problems` whether a response is one the model allows. The models declare no
security scheme (the LWA token travels in `x-amz-access-token`, checked by the simulator itself).
Errata: none needed; the models load in openapi-core as they are.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from jsonschema import Draft7Validator
from openapi_core import OpenAPI

from retail_pipeline.simulators import openapi_judge as judge
from retail_pipeline.simulators.openapi_judge import RequestProblem, SpecRequest, SpecResponse

SPEC_DIR = Path(__file__).parent / "specs"
MODELS = (
    "listingsItems_2021-08-01",
    "definitionsProductTypes_2020-09-01",
    "feeds_2021-06-30",
    "orders_2026-01-01",
    "ordersV0",
)
SPEC_HOST = "https://sellingpartnerapi-na.amazon.com"


@dataclass(frozen=True)
class Model:
    name: str
    spec: dict[str, Any]
    openapi: OpenAPI


@dataclass(frozen=True)
class Operation:
    model: Model
    operation_id: str
    path_pattern: str
    method: str

    @property
    def definition(self) -> dict[str, Any]:
        return self.model.spec["paths"][self.path_pattern][self.method]


def spec_request(method: str, path: str, **kwargs: Any) -> SpecRequest:
    return SpecRequest.build(method, path, host_url=SPEC_HOST, **kwargs)


# "| Rate (requests per second) | Burst |" then its row, or the same with a leading "Plan type" column
# whose "Default" row holds the plan.
_USAGE_PLAN = re.compile(
    r"Rate \(requests per second\)\s*\|\s*Burst\s*\|\s*\n\|[-\s|]+\|\s*\n\|\s*(?:Default\s*\|\s*)?([\d.]+)\s*\|\s*(\d+)\s*\|"
)


@cache
def usage_plans() -> dict[str, tuple[float, int]]:
    """Each operation's documented usage plan (requests per second, burst), read from the "Usage Plan"
    table in its description in the models, as the simulator enforces it."""
    plans: dict[str, tuple[float, int]] = {}
    for name in MODELS:
        spec = json.loads((SPEC_DIR / f"{name}.oas3.json").read_text(encoding="utf-8"))
        for item in spec["paths"].values():
            for operation in item.values():
                if isinstance(operation, dict) and (
                    found := _USAGE_PLAN.search(operation.get("description", ""))
                ):
                    plans[operation["operationId"]] = (float(found[1]), int(found[2]))
    return plans


@cache
def models() -> tuple[Model, ...]:
    """The five models, loaded once per process."""
    config = judge.closed_config()
    loaded = []
    for name in MODELS:
        spec = json.loads((SPEC_DIR / f"{name}.oas3.json").read_text(encoding="utf-8"))
        loaded.append(Model(name, spec, OpenAPI.from_dict(spec, config=config)))
    return tuple(loaded)


def find_operation(method: str, path: str) -> Operation | None:
    for model in models():
        pattern = judge.find_pattern(model.openapi, method, SPEC_HOST + path)
        if pattern is not None and method.lower() in model.spec["paths"][pattern]:
            operation = model.spec["paths"][pattern][method.lower()]
            return Operation(model, operation["operationId"], pattern, method.lower())
    return None


def request_problems(request: SpecRequest) -> list[RequestProblem]:
    operation = find_operation(request.method, request.path)
    if operation is None:
        return [
            RequestProblem("parameter", "path", f"no SP-API operation at {request.method} {request.path}")
        ]
    return judge.request_problems(operation.model.openapi, request)


def response_problems(request: SpecRequest, response: SpecResponse) -> list[str]:
    operation = find_operation(request.method, request.path)
    if operation is None:
        return [f"no SP-API operation at {request.method} {request.path}"]
    return judge.response_problems(operation.model.openapi, request, response)


@cache
def _feed_validator(name: str) -> Draft7Validator:
    schema = json.loads((SPEC_DIR / name).read_text(encoding="utf-8"))
    return Draft7Validator({k: v for k, v in schema.items() if k != "$schema"})


def feed_schema_errors(feed: Any) -> list[str]:
    """Where a JSON_LISTINGS_FEED document breaks listings-feed-schema-v2."""
    validator = _feed_validator("listings-feed-schema-v2.json")
    return [f"{judge.json_path(e.absolute_path) or 'feed'}: {e.message}" for e in validator.iter_errors(feed)]


def report_schema_errors(report: Any) -> list[str]:
    """Where a processing report breaks listings-feed-processing-report-schema-v2."""
    validator = _feed_validator("listings-feed-processing-report-schema-v2.json")
    return [
        f"{judge.json_path(e.absolute_path) or 'report'}: {e.message}" for e in validator.iter_errors(report)
    ]


def sandbox_examples() -> list[dict[str, Any]]:
    """Every `x-amzn-api-sandbox` static example in the models: the operation, the example's request
    parameters and the response (status, body) it documents."""
    found = []
    for model in models():
        for pattern, methods in model.spec["paths"].items():
            for method, operation in methods.items():
                if not isinstance(operation, dict) or "responses" not in operation:
                    continue
                for status, response in operation["responses"].items():
                    # on the response (the conversion moved it there), or on its content in Swagger 2
                    holders = [response, *(response.get("content") or {}).values()]
                    for holder in holders:
                        for example in (holder.get("x-amzn-api-sandbox") or {}).get("static", []):
                            found.append(
                                {
                                    "model": model.name,
                                    "operation": operation["operationId"],
                                    "method": method,
                                    "path": pattern,
                                    "parameters": operation.get("parameters", []),
                                    "request": (example.get("request") or {}).get("parameters") or {},
                                    "status": int(status),
                                    "response": example.get("response"),
                                }
                            )
    return found

"""The LLM's routes, as OpenAI's API answers them: ``POST /v1/chat/completions``, ``GET /v1/models``.

Requests are checked the way the real API checks them (stripe-mock style): bearer key, unknown
parameters, the messages array, the model, the response format and, for ``strict`` JSON schemas,
the strict-mode rules (every object closed and fully required). Errors use OpenAI's error body.

Output faults (invalid JSON, schema violations, truncation, refusals) are set per simulator with
``SIMULATOR_LLM_OUTPUT_FAULTS`` or ``PUT /llm/_control/output_faults``; latency, 5xx and 429s come
from the shared fault settings of system ``llm``, like every other system.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
import time
from typing import TYPE_CHECKING, Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from . import responses
from .exceptions import (
    OpenAIError,
    bad_request,
    incorrect_api_key,
    invalid_url,
    missing_api_key,
    model_not_found,
    openai_error_handler,
)
from .models import FaultKind, LLMBackend, LLMSimulatorConfig, OutputFaults, answer_json, answer_text

if TYPE_CHECKING:
    from ..app import Simulator

# CreateChatCompletionRequest's properties in OpenAI's spec: anything else is refused, as OpenAI does.
KNOWN_PARAMS = frozenset(
    {
        "audio", "frequency_penalty", "function_call", "functions", "logit_bias", "logprobs",
        "max_completion_tokens", "max_tokens", "messages", "metadata", "modalities", "model", "moderation",
        "n", "parallel_tool_calls", "prediction", "presence_penalty", "prompt_cache_key",
        "prompt_cache_options", "prompt_cache_retention", "reasoning_effort", "response_format",
        "safety_identifier", "seed", "service_tier", "stop", "store", "stream", "stream_options",
        "temperature", "tool_choice", "tools", "top_logprobs", "top_p", "user", "verbosity",
        "web_search_options",
    }
)  # fmt: skip
ROLES = ("system", "assistant", "user", "function", "tool", "developer")
SCHEMA_NAME = re.compile(r"[a-zA-Z0-9_-]{1,64}")
JSON_OBJECT_SCHEMA = {
    "type": "object",
    "properties": {"title": {"type": "string"}, "description": {"type": "string"}},
}
REFUSAL = "I'm sorry, but I can't help with that request."


def _quoted(values: tuple[str, ...]) -> str:
    quoted = [f"'{v}'" for v in values]
    return ", ".join(quoted[:-1]) + f", and {quoted[-1]}"


def _check_messages(messages: Any) -> list[dict[str, Any]]:
    if messages is None:
        raise bad_request(
            "Missing required parameter: 'messages'.", param="messages", code="missing_required_parameter"
        )
    if not isinstance(messages, list):
        raise bad_request(
            f"Invalid type for 'messages': expected an array, but got {type(messages).__name__} instead.",
            param="messages",
            code="invalid_type",
        )
    if not messages:
        raise bad_request(
            "Invalid 'messages': empty array. Expected an array with minimum length 1, but got an empty array instead.",
            param="messages",
            code="empty_array",
        )
    for index, message in enumerate(messages):
        if not isinstance(message, dict):
            raise bad_request(
                f"Invalid type for 'messages[{index}]': expected an object, but got {type(message).__name__} instead.",
                param=f"messages[{index}]",
                code="invalid_type",
            )
        role = message.get("role")
        if role not in ROLES:
            raise bad_request(
                f"Invalid value: '{role}'. Supported values are: {_quoted(ROLES)}.",
                param=f"messages[{index}].role",
                code="invalid_value",
            )
        if role in ("system", "user", "developer", "tool") and "content" not in message:
            raise bad_request(
                f"Missing required parameter: 'messages[{index}].content'.",
                param=f"messages[{index}].content",
                code="missing_required_parameter",
            )
    return messages


def _strict_problem(schema: Any, context: tuple = ()) -> str | None:
    """The first way ``schema`` breaks strict mode's rules, in OpenAI's wording; None when it keeps them."""
    if not isinstance(schema, dict):
        return None
    if schema.get("type") == "object" or "properties" in schema:
        if schema.get("additionalProperties") is not False:
            return f"In context={context}, 'additionalProperties' is required to be supplied and to be false."
        properties = schema.get("properties", {})
        required = schema.get("required")
        missing = [key for key in properties if not isinstance(required, list) or key not in required]
        if missing:
            return (
                f"In context={context}, 'required' is required to be supplied and to be an array including"
                f" every key in properties. Missing '{missing[0]}'."
            )
        for name, sub in properties.items():
            if problem := _strict_problem(sub, (*context, "properties", name)):
                return problem
    children = [(("items",), schema.get("items"))]
    children += [(("anyOf", i), sub) for i, sub in enumerate(schema.get("anyOf", []))]
    children += [(("$defs", name), sub) for name, sub in schema.get("$defs", {}).items()]
    for path, sub in children:
        if problem := _strict_problem(sub, (*context, *path)):
            return problem
    return None


def _check_response_format(response_format: Any, messages: list[dict[str, Any]]) -> dict | None:
    """The JSON schema to answer with; None for plain text."""
    if response_format is None:
        return None
    kinds = ("text", "json_object", "json_schema")
    kind = response_format.get("type") if isinstance(response_format, dict) else None
    if kind not in kinds:
        raise bad_request(
            f"Invalid value: '{kind}'. Supported values are: {_quoted(kinds)}.",
            param="response_format.type",
            code="invalid_value",
        )
    if kind == "text":
        return None
    if kind == "json_object":
        if "json" not in json.dumps(messages).lower():
            raise bad_request(
                "'messages' must contain the word 'json' in some form, to use 'response_format' of type 'json_object'.",
                param="messages",
            )
        return JSON_OBJECT_SCHEMA
    spec = response_format.get("json_schema")
    if not isinstance(spec, dict):
        raise bad_request(
            "Missing required parameter: 'response_format.json_schema'.",
            param="response_format.json_schema",
            code="missing_required_parameter",
        )
    name = spec.get("name")
    if not isinstance(name, str) or not SCHEMA_NAME.fullmatch(name):
        raise bad_request(
            f"Invalid 'response_format.json_schema.name': string does not match pattern. Expected a string"
            f" that matches the pattern '^[a-zA-Z0-9_-]+$' with at most 64 characters, got {name!r}.",
            param="response_format.json_schema.name",
            code="invalid_value",
        )
    schema = spec.get("schema") or {"type": "object", "properties": {}}
    if spec.get("strict"):
        if schema.get("type") != "object":
            problem = (
                f"schema must be a JSON Schema of 'type: \"object\"', got 'type: \"{schema.get('type')}\"'."
            )
        else:
            problem = _strict_problem(schema)
        if problem:
            raise bad_request(
                f"Invalid schema for response_format '{name}': {problem}", param="response_format"
            )
    return schema


def _answer(
    schema: dict | None,
    messages: list[dict[str, Any]],
    fault: FaultKind | None,
    max_tokens: int | None,
    schema_name: str | None = None,
) -> tuple[str | None, str | None, str]:
    """(content, refusal, finish_reason): the model's answer, spoilt as ``fault`` says, cut to ``max_tokens``."""
    content = (
        answer_text(messages)
        if schema is None
        else json.dumps(answer_json(schema, messages, schema_name), ensure_ascii=False)
    )
    if fault == "refusal":
        return None, REFUSAL, "stop"
    if fault == "truncated":
        return content[: len(content) // 2], None, "length"
    if fault == "invalid_json" and schema is not None:
        content += "\n\nLet me know if you would like any changes!"  # chatter after the JSON
    elif fault == "schema_violation" and schema is not None:
        answer = json.loads(content)
        answer.pop(next(iter(schema.get("required") or answer), None), None)
        content = json.dumps(answer, ensure_ascii=False)
    if max_tokens is not None and responses.tokens(content) > max_tokens:
        return content[: max_tokens * 4], None, "length"
    return content, None, "stop"


def _positive_int(body: dict[str, Any], name: str, default: int | None) -> int | None:
    value = body.get(name, default)
    if value is not None and (not isinstance(value, int) or isinstance(value, bool) or value < 1):
        raise bad_request(
            f"Invalid '{name}': expected an integer of at least 1, got {value!r}.",
            param=name,
            code="invalid_value",
        )
    return value


def build(sim: Simulator) -> FastAPI:
    backend = LLMBackend(LLMSimulatorConfig.from_env(), sim.config.seed)
    app = FastAPI(docs_url=None, redoc_url=None, openapi_url=None)
    app.state.backend = backend
    app.add_exception_handler(OpenAIError, openai_error_handler)

    async def unknown_route(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        path = request.scope["path"][len(request.scope.get("root_path", "")) :]  # as the system sees it
        error = invalid_url(request.method, path) if exc.status_code in (404, 405) else None
        if error is None:
            error = OpenAIError(exc.status_code, str(exc.detail), type="server_error")
        return await openai_error_handler(request, error)

    app.add_exception_handler(StarletteHTTPException, unknown_route)

    def authorize(request: Request) -> None:
        scheme, _, key = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not key.strip():
            raise missing_api_key()
        if not backend.accepts_key(key.strip()):
            raise incorrect_api_key(key.strip())

    @app.get("/v1/models")
    async def list_models(request: Request) -> JSONResponse:
        authorize(request)
        return JSONResponse(responses.model_list(backend.config.models))

    @app.get("/v1/models/{model_id:path}")
    async def get_model(request: Request, model_id: str) -> JSONResponse:
        authorize(request)
        if not backend.knows_model(model_id):
            raise model_not_found(model_id)
        return JSONResponse(responses.model_object(model_id))

    @app.post("/v1/chat/completions")
    async def chat_completions(request: Request) -> JSONResponse:
        started = time.perf_counter()
        authorize(request)
        raw = await request.body()
        try:
            body = json.loads(raw)
        except (json.JSONDecodeError, UnicodeDecodeError):
            body = None
        if not isinstance(body, dict):
            raise bad_request(
                "We could not parse the JSON body of your request. (HINT: This likely means you aren't using"
                " your HTTP library correctly. The OpenAI API expects a JSON payload.)"
            )
        if unknown := sorted(set(body) - KNOWN_PARAMS):
            raise bad_request(f"Unrecognized request argument supplied: {unknown[0]}")
        model = body.get("model")
        if not isinstance(model, str) or not model:
            raise bad_request("you must provide a model parameter")
        messages = _check_messages(body.get("messages"))
        if body.get("stream"):
            raise bad_request(
                "The simulator does not stream; send stream=false.", param="stream", code="unsupported_value"
            )
        schema = _check_response_format(body.get("response_format"), messages)
        choices_wanted = _positive_int(body, "n", 1)
        max_tokens = _positive_int(body, "max_completion_tokens", None) or _positive_int(
            body, "max_tokens", None
        )
        if not backend.knows_model(model):
            raise model_not_found(model)

        prompt = responses.prompt_tokens(messages, schema)
        window = backend.admit(prompt + (max_tokens or 0))
        headers = responses.rate_limit_headers(window)
        if not window.allowed:
            limit = "requests per min (RPM)" if window.remaining_requests == 0 else "tokens per min (TPM)"
            raise OpenAIError(
                429,
                f"Rate limit reached for {model} on {limit}. Please try again in"
                f" {headers['x-ratelimit-reset-requests']}.",
                type="requests" if window.remaining_requests == 0 else "tokens",
                code="rate_limit_exceeded",
                headers={**headers, "retry-after": str(math.ceil(window.reset_seconds))},
            )

        digest = hashlib.sha256(json.dumps(messages, sort_keys=True).encode()).hexdigest()
        response_format = body.get("response_format") or {}
        schema_name = (response_format.get("json_schema") or {}).get("name") if schema else None
        content, refusal, finish_reason = _answer(
            schema, messages, backend.draw_fault(digest), max_tokens, schema_name
        )
        completion_tokens = responses.tokens(content or refusal or "")

        number = backend.next_completion_number()
        body_out = responses.completion(
            number=number,
            request_digest=digest,
            created=int(sim.clock.now().timestamp()),
            model=model,
            choices=[responses.choice(i, content, finish_reason, refusal) for i in range(choices_wanted)],
            prompt=prompt,
            completion_tokens=completion_tokens * choices_wanted,
        )
        headers |= {
            "x-request-id": f"req_{hashlib.sha256(f'{digest}:{number}'.encode()).hexdigest()[:32]}",
            "openai-processing-ms": str(max(1, round((time.perf_counter() - started) * 1000))),
            "openai-version": "2020-10-01",
        }
        return JSONResponse(body_out, headers=headers)

    @app.get("/_control/output_faults")
    async def get_output_faults() -> OutputFaults:
        return backend.output_faults

    @app.put("/_control/output_faults")
    async def put_output_faults(faults: OutputFaults) -> OutputFaults:
        backend.configure_output_faults(faults)
        return faults

    return app

"""The OpenAI-compatible LLM simulator: answers that validate against the requested schema and against
OpenAI's spec, OpenAI's error shape, usage, rate limits and the output faults tests rely on."""

from __future__ import annotations

import json
from pathlib import Path

import httpx2
import openai
import pytest
from fastapi.testclient import TestClient
from jsonschema import Draft202012Validator
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

from retail_pipeline.domain.enrichment import EnrichmentInput, build_messages, parse_output, response_format
from retail_pipeline.simulators import FaultConfig, SimulatorConfig, build_simulator_app, get_simulator
from retail_pipeline.simulators.llm import OutputFaults

SPEC = json.loads((Path(__file__).parent / "openai_chat_spec.json").read_text())
_REGISTRY = Registry().with_resource(
    "urn:openai", Resource.from_contents(SPEC, default_specification=DRAFT202012)
)
AUTH = {"Authorization": "Bearer sk-test"}
URL = "/llm/v1/chat/completions"
PRODUCT = EnrichmentInput.from_supplier_product(
    {
        "title": "Sony WH-1000XM5 Wireless Noise Cancelling Headphones with Carry Case and Charging Cable",
        "description": "<p>Industry-leading noise cancellation &amp; 30 hours of battery.</p>",
        "brand": "Sony",
        "categories": ["Audio", "Headphones"],
        "condition": "refurbished",
        "mpn": "WH1000XM5/B",
        "raw": {"attributes": {"Colour": "Black"}},
    }
)


def spec_errors(schema_name: str, instance: object) -> list[str]:
    validator = Draft202012Validator(
        {"$ref": f"urn:openai#/components/schemas/{schema_name}"}, registry=_REGISTRY
    )
    return [e.message for e in validator.iter_errors(instance)]


def request_body(**changes) -> dict:
    body = {
        "model": "gpt-4o-mini",
        "messages": build_messages(PRODUCT),
        "response_format": response_format(),
        "max_completion_tokens": 1500,
    }
    return {k: v for k, v in {**body, **changes}.items() if v is not None}


@pytest.fixture
def simulator_app():
    return build_simulator_app(SimulatorConfig(seed=5, products_per_supplier=1))


@pytest.fixture
def client(simulator_app):
    return TestClient(simulator_app)


@pytest.fixture
def llm(simulator_app):
    return get_simulator(simulator_app).backend("llm")


def test_our_request_conforms_to_openais_spec():
    assert spec_errors("CreateChatCompletionRequest", request_body()) == []


def test_structured_answer_validates_against_the_requested_schema_and_the_spec(client):
    response = client.post(URL, json=request_body(), headers=AUTH)
    assert response.status_code == 200
    body = response.json()
    assert spec_errors("CreateChatCompletionResponse", body) == []
    choice = body["choices"][0]
    assert (choice["finish_reason"], choice["message"]["refusal"], body["model"]) == (
        "stop",
        None,
        "gpt-4o-mini",
    )
    answer = json.loads(choice["message"]["content"])
    Draft202012Validator(response_format()["json_schema"]["schema"]).validate(answer)
    output = parse_output(choice["message"]["content"])  # and the limits stated in descriptions
    assert len(output.title) <= 80 and output.title.startswith("Sony WH-1000XM5")
    assert output.condition == "refurbished" and output.category == "Headphones"
    assert "Industry-leading noise cancellation & 30 hours" in output.description
    assert {
        "Colour": "Black",
        "Brand": "Sony",
        "Model": "WH1000XM5/B",
    }.items() <= output.attributes_object().items()
    usage = body["usage"]
    assert usage["total_tokens"] == usage["prompt_tokens"] + usage["completion_tokens"]
    assert usage["completion_tokens"] == -(-len(choice["message"]["content"]) // 4)
    again = client.post(URL, json=request_body(), headers=AUTH).json()
    assert again["choices"] == body["choices"] and again["id"] != body["id"]  # same prompt, same answer


def test_any_strict_schema_is_answered_validly(client):
    schema = {
        "type": "object",
        "properties": {
            "name": {"type": "string", "description": "At most 12 characters."},
            "rating": {"type": "integer"},
            "in_stock": {"type": "boolean"},
            "tags": {"type": "array", "items": {"type": "string"}},
            "colour": {"anyOf": [{"type": "string", "enum": ["red", "black"]}, {"type": "null"}]},
            "size": {"$ref": "#/$defs/size"},
        },
        "required": ["name", "rating", "in_stock", "tags", "colour", "size"],
        "additionalProperties": False,
        "$defs": {
            "size": {
                "type": "object",
                "properties": {"unit": {"type": "string", "enum": ["cm", "in"]}, "value": {"type": "number"}},
                "required": ["unit", "value"],
                "additionalProperties": False,
            }
        },
    }
    fmt = {"type": "json_schema", "json_schema": {"name": "thing", "schema": schema, "strict": True}}
    body = client.post(URL, json=request_body(response_format=fmt), headers=AUTH).json()
    answer = json.loads(body["choices"][0]["message"]["content"])
    Draft202012Validator(schema).validate(answer)
    assert len(answer["name"]) <= 12


def test_text_and_json_object_formats(client):
    text = client.post(URL, json=request_body(response_format=None), headers=AUTH).json()
    assert text["choices"][0]["message"]["content"].startswith("Sony WH-1000XM5")
    json_object = {"type": "json_object"}
    body = client.post(URL, json=request_body(response_format=json_object), headers=AUTH).json()
    assert set(json.loads(body["choices"][0]["message"]["content"])) == {"title", "description"}
    plain = [{"role": "user", "content": "Describe a kettle."}]
    refused = client.post(URL, json=request_body(messages=plain, response_format=json_object), headers=AUTH)
    assert refused.status_code == 400 and "must contain the word 'json'" in refused.json()["error"]["message"]


def _strict_without(key: str) -> dict:
    fmt = response_format()
    attribute = fmt["json_schema"]["schema"]["$defs"]["Attribute"]
    if key == "additionalProperties":
        del attribute["additionalProperties"]
    else:
        attribute["required"] = ["name"]
    return fmt


@pytest.mark.parametrize(
    ("body", "headers", "status", "error"),
    [
        (request_body(), {}, 401, {"type": "invalid_request_error", "code": None}),
        (request_body(), {"Authorization": "Bearer sk-wrong-key"}, 401, {"code": "invalid_api_key"}),
        (request_body(model="gpt-0"), AUTH, 404, {"code": "model_not_found", "param": None}),
        (request_body(messages=[]), AUTH, 400, {"code": "empty_array", "param": "messages"}),
        (request_body(messages=None), AUTH, 400, {"code": "missing_required_parameter", "param": "messages"}),
        (request_body(messages=[{"role": "bot", "content": "x"}]), AUTH, 400, {"param": "messages[0].role"}),
        (
            request_body(temperature_scale=1),
            AUTH,
            400,
            {"message": "Unrecognized request argument supplied: temperature_scale"},
        ),
        (request_body(response_format={"type": "xml"}), AUTH, 400, {"param": "response_format.type"}),
        (
            request_body(response_format=_strict_without("additionalProperties")),
            AUTH,
            400,
            {"param": "response_format"},
        ),
        (request_body(response_format=_strict_without("required")), AUTH, 400, {"param": "response_format"}),
    ],
)
def test_errors_have_openais_shape(client, llm, body, headers, status, error):
    llm.config = llm.config.model_copy(update={"api_key": "sk-test"})
    response = client.post(URL, json=body, headers=headers)
    assert response.status_code == status
    assert spec_errors("ErrorResponse", response.json()) == []
    assert error.items() <= response.json()["error"].items()


def test_strict_schema_errors_name_the_place_like_openai(client):
    response = client.post(URL, json=request_body(response_format=_strict_without("required")), headers=AUTH)
    assert response.json()["error"]["message"] == (
        "Invalid schema for response_format 'product_enrichment': In context=('$defs', 'Attribute'), 'required' is"
        " required to be supplied and to be an array including every key in properties. Missing 'value'."
    )


def test_the_openai_sdk_maps_the_errors_to_its_exceptions(simulator_app, llm):
    llm.config = llm.config.model_copy(update={"api_key": "sk-test"})
    http = TestClient(simulator_app)

    def sdk(key: str) -> openai.OpenAI:
        # The SDK speaks httpx2; its transport here hands each request to the in-process app.
        client = _asgi_client(http)
        return openai.OpenAI(
            base_url="http://testserver/llm/v1", api_key=key, max_retries=0, http_client=client
        )

    with pytest.raises(openai.AuthenticationError) as auth:
        sdk("sk-nope").chat.completions.create(**request_body())
    assert auth.value.code == "invalid_api_key"
    with pytest.raises(openai.NotFoundError) as missing:
        sdk("sk-test").chat.completions.create(**request_body(model="gpt-0"))
    assert missing.value.code == "model_not_found"
    models = sdk("sk-test").models.list()
    assert "gpt-4o-mini" in [m.id for m in models.data]


def _asgi_client(http: TestClient) -> httpx2.Client:
    class Transport(httpx2.BaseTransport):
        def handle_request(self, request: httpx2.Request) -> httpx2.Response:
            response = http.request(
                request.method, str(request.url), content=request.read(), headers=request.headers
            )
            return httpx2.Response(response.status_code, headers=response.headers, content=response.content)

    return httpx2.Client(transport=Transport())


def test_models_list_and_lookup(client):
    listing = client.get("/llm/v1/models", headers=AUTH).json()
    assert spec_errors("ListModelsResponse", listing) == []
    assert client.get("/llm/v1/models/gpt-4o", headers=AUTH).json()["id"] == "gpt-4o"
    assert client.get("/llm/v1/models/gpt-0", headers=AUTH).json()["error"]["code"] == "model_not_found"
    unknown = client.post("/llm/v1/embeddings", json={}, headers=AUTH)
    assert (
        unknown.status_code == 404
        and unknown.json()["error"]["message"] == "Invalid URL (POST /v1/embeddings)"
    )


@pytest.mark.parametrize(
    ("faults", "check"),
    [
        ({"truncated_rate": 1}, lambda c: c["finish_reason"] == "length"),
        ({"refusal_rate": 1}, lambda c: c["message"]["content"] is None and c["message"]["refusal"]),
        ({"invalid_json_rate": 1}, lambda c: _not_json(c["message"]["content"])),
        ({"schema_violation_rate": 1}, lambda c: "title" not in json.loads(c["message"]["content"])),
    ],
)
def test_output_faults(client, llm, faults, check):
    llm.configure_output_faults(OutputFaults(**faults, max_per_conversation=1))
    first = client.post(URL, json=request_body(), headers=AUTH).json()["choices"][0]
    assert check(first)
    second = client.post(URL, json=request_body(), headers=AUTH).json()["choices"][0]
    assert second["finish_reason"] == "stop" and parse_output(second["message"]["content"])  # capped: clean


def _not_json(content: str) -> bool:
    try:
        json.loads(content)
    except json.JSONDecodeError:
        return True
    return False


def test_output_faults_are_settable_over_http(client, llm):
    assert client.put("/llm/_control/output_faults", json={"refusal_rate": 0.5}).status_code == 200
    assert llm.output_faults.refusal_rate == 0.5
    assert client.get("/llm/_control/output_faults").json()["refusal_rate"] == 0.5


def test_a_small_token_budget_truncates_the_answer(client):
    body = client.post(URL, json=request_body(max_completion_tokens=20), headers=AUTH).json()
    choice = body["choices"][0]
    assert choice["finish_reason"] == "length" and body["usage"]["completion_tokens"] == 20
    assert _not_json(choice["message"]["content"])


def test_rate_limit_headers_and_the_limit_itself(client, llm):
    llm.config = llm.config.model_copy(update={"requests_per_minute": 2})
    first = client.post(URL, json=request_body(), headers=AUTH)
    assert first.headers["x-ratelimit-limit-requests"] == "2"
    assert first.headers["x-ratelimit-remaining-requests"] == "1"
    assert int(first.headers["x-ratelimit-remaining-tokens"]) < int(first.headers["x-ratelimit-limit-tokens"])
    assert first.headers["x-ratelimit-reset-requests"].endswith("s") and first.headers["x-request-id"]
    client.post(URL, json=request_body(), headers=AUTH)
    limited = client.post(URL, json=request_body(), headers=AUTH)
    assert limited.status_code == 429 and int(limited.headers["retry-after"]) > 0
    assert limited.json()["error"]["code"] == "rate_limit_exceeded"
    assert spec_errors("ErrorResponse", limited.json()) == []


def test_shared_faults_give_429_with_retry_after(client, simulator_app):
    get_simulator(simulator_app).faults.set("llm", FaultConfig(rate_limit_rate=1.0, retry_after_seconds=3))
    response = client.post(URL, json=request_body(), headers=AUTH)
    assert response.status_code == 429 and response.headers["retry-after"] == "3"
    entry = get_simulator(simulator_app).journal.entries("llm")[-1]
    assert (entry.path, entry.status, entry.fault) == ("/v1/chat/completions", 429, "rate_limit")

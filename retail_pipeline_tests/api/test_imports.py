"""POST /api/import/webhook: authenticate, store first, answer 202 once per delivery."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import text

from retail_pipeline.api.app import create_app
from retail_pipeline_tests.import_payloads import (
    MAX_BYTES,
    SECRET,
    accepting_imports,
    dumps,
    product,
    signature,
    valid_batch,
)

URL = "/api/import/webhook"


@pytest.fixture
def sidecar_settings(settings_env):
    """The sidecar accepts n8n's import webhook (shared secret set)."""
    return accepting_imports(settings_env)


@pytest.fixture
def batch() -> dict:
    return valid_batch()


def _events(engine):
    with engine.connect() as conn:
        return conn.execute(
            text(
                "SELECT id, source, topic, dedupe_key, payload, raw_body, headers, signature_valid, status,"
                " error, processed_at FROM retail.webhook_events ORDER BY id"
            )
        ).all()


def _jobs(engine):
    with engine.connect() as conn:
        return conn.execute(text("SELECT * FROM retail.import_jobs ORDER BY id")).all()


def test_valid_batch_is_stored_with_a_queued_job(client, engine, batch):
    response = client.post(URL, content=dumps(batch), headers={"X-Webhook-Secret": SECRET})
    assert response.status_code == 202, response.text
    body = response.json()
    (event,), (job,) = _events(engine), _jobs(engine)
    assert body == {
        "import_job_id": job.id,
        "webhook_event_id": event.id,
        "status": "pending",
        "total_items": 3,
        "duplicate": False,
    }
    assert response.headers["location"] == f"/api/import/job/{job.id}"
    assert (event.source, event.topic, event.status, event.signature_valid) == (
        "allegro",
        "import",
        "pending",
        True,
    )
    assert event.payload == batch and event.dedupe_key.startswith("sha256:")
    assert "x-webhook-secret" not in event.headers  # credentials are never stored
    assert (job.webhook_event_id, job.status, job.total_items, job.processed_items) == (
        event.id,
        "pending",
        3,
        0,
    )


def test_same_delivery_twice_creates_one_event_and_one_job(client, engine, batch):
    first = client.post(URL, content=dumps(batch), headers={"X-Webhook-Secret": SECRET}).json()
    again = client.post(URL, content=dumps(batch), headers={"X-Webhook-Secret": SECRET})
    assert again.status_code == 202
    assert again.json() == {**first, "duplicate": True}
    assert len(_events(engine)) == 1 and len(_jobs(engine)) == 1


def test_delivery_id_header_identifies_a_delivery(client, engine, batch):
    headers = {"X-Webhook-Secret": SECRET, "X-Webhook-Id": "n8n-exec-42"}
    first = client.post(URL, content=dumps(batch), headers=headers).json()
    # A retry re-serialised with other whitespace is still the same delivery...
    retry = client.post(URL, content=json.dumps(batch, indent=2).encode(), headers=headers)
    assert retry.status_code == 202 and retry.json() == {**first, "duplicate": True}
    # ...but the same id on a different batch is a sender bug, not a duplicate to drop silently.
    other = {"products": [product("9999")]}
    conflict = client.post(URL, content=dumps(other), headers=headers)
    assert conflict.status_code == 409
    assert "delivery id 'n8n-exec-42' was already used by event" in conflict.json()["detail"]
    events = _events(engine)
    assert [e.status for e in events] == ["pending", "rejected"]  # the refused body is kept
    assert json.loads(events[1].raw_body) == other
    assert len(_jobs(engine)) == 1


def test_wrong_or_missing_secret_is_401_and_kept_as_rejected(client, engine, batch):
    wrong = client.post(URL, content=dumps(batch), headers={"X-Webhook-Secret": "guess"})
    assert wrong.status_code == 401
    assert wrong.json()["detail"] == "X-Webhook-Secret is wrong"
    missing = client.post(URL, content=dumps({"products": []}))
    assert missing.status_code == 401
    assert "send X-Webhook-Secret or X-Webhook-Signature" in missing.json()["detail"]

    events = _events(engine)
    assert [(e.status, e.signature_valid, e.payload) for e in events] == [("rejected", False, None)] * 2
    assert events[0].error == "X-Webhook-Secret is wrong" and events[0].processed_at is not None
    assert "x-webhook-secret" not in events[0].headers
    assert _jobs(engine) == []

    # A rejected body never shadows the same body sent correctly afterwards.
    ok = client.post(URL, content=dumps(batch), headers={"X-Webhook-Secret": SECRET})
    assert ok.status_code == 202 and ok.json()["duplicate"] is False


def test_hmac_signature_is_accepted_and_a_bad_one_refused(client, engine, batch):
    body = dumps(batch)
    ok = client.post(URL, content=body, headers={"X-Webhook-Signature": signature(body)})
    assert ok.status_code == 202, ok.text

    tampered = dumps({"products": [product("1001", price=0.01)]})
    bad = client.post(URL, content=tampered, headers={"X-Webhook-Signature": signature(body)})
    assert bad.status_code == 401
    assert bad.json()["detail"].startswith("X-Webhook-Signature does not match")
    other_key = client.post(
        URL, content=tampered, headers={"X-Webhook-Signature": signature(tampered, "nope")}
    )
    assert other_key.status_code == 401
    # With both headers, both must be right.
    both = client.post(
        URL,
        content=tampered,
        headers={"X-Webhook-Signature": signature(tampered), "X-Webhook-Secret": "guess"},
    )
    assert both.status_code == 401
    # One rejected row per refused body: repeats of a body are not stored again.
    assert [e.status for e in _events(engine)] == ["pending", "rejected"]


def test_malformed_json_is_400_with_the_parser_reason(client, engine):
    response = client.post(URL, content=b'{"products": [', headers={"X-Webhook-Secret": SECRET})
    assert response.status_code == 400
    assert response.json()["detail"].startswith("malformed JSON: Expecting value: line 1 column 15")
    nan = client.post(URL, content=b'{"products": [{"price": NaN}]}', headers={"X-Webhook-Secret": SECRET})
    assert nan.status_code == 400 and nan.json()["detail"] == "malformed JSON: NaN is not valid JSON"
    nul = client.post(
        URL, content=b'{"products": [{"title": "a\\u0000b"}]}', headers={"X-Webhook-Secret": SECRET}
    )
    assert nul.status_code == 400
    assert nul.json()["detail"].startswith("JSON that PostgreSQL cannot store: unsupported Unicode escape")

    events = _events(engine)
    assert [(e.status, e.signature_valid) for e in events] == [("rejected", True)] * 3
    assert events[0].raw_body == b'{"products": ['  # kept whole: the sender is authenticated
    assert events[0].error == response.json()["detail"]
    assert _jobs(engine) == []


def test_json_that_is_not_a_batch_is_422(client, engine):
    response = client.post(URL, content=dumps({"items": []}), headers={"X-Webhook-Secret": SECRET})
    assert response.status_code == 422
    assert response.json()["detail"] == '"products" must be a JSON array of products; it is missing'
    assert [e.status for e in _events(engine)] == ["rejected"]


def test_oversize_body_is_413_and_not_stored(client, engine):
    big = dumps({"products": [product("1", description="x" * MAX_BYTES)]})
    response = client.post(URL, content=big, headers={"X-Webhook-Secret": SECRET})
    assert response.status_code == 413
    assert "IMPORT_WEBHOOK_MAX_BYTES" in response.json()["detail"]

    def chunks():  # no Content-Length: the limit is enforced while streaming
        for _ in range(MAX_BYTES // 1024 + 1):
            yield b" " * 1024

    streamed = client.post(URL, content=chunks(), headers={"X-Webhook-Secret": SECRET})
    assert streamed.status_code == 413
    assert _events(engine) == []


def test_without_a_configured_secret_nothing_is_accepted(settings_env, monkeypatch, batch):
    from fastapi.testclient import TestClient

    assert settings_env.import_webhook_secret is None
    with TestClient(create_app(settings_env)) as client:
        response = client.post(URL, content=dumps(batch), headers={"X-Webhook-Secret": ""})
    assert response.status_code == 503
    assert "set IMPORT_WEBHOOK_SECRET" in response.json()["detail"]


@pytest.mark.parametrize("job_id", [12345, 2**63 - 1])
def test_unknown_job_is_404(client, viewer, job_id):
    response = client.get(f"/api/import/job/{job_id}", headers=viewer)
    assert response.status_code == 404
    assert response.json()["detail"] == f"no import job {job_id}"


def test_job_status_needs_a_viewer_key(client, batch):
    job_id = client.post(URL, content=dumps(batch), headers={"X-Webhook-Secret": SECRET}).json()[
        "import_job_id"
    ]
    response = client.get(f"/api/import/job/{job_id}")
    assert response.status_code == 403

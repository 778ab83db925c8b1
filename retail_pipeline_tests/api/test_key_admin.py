"""/api/keys: an admin lists, creates (the key shown once) and revokes keys; nobody else may."""

from __future__ import annotations

from fastapi.testclient import TestClient
from sqlalchemy import Engine

from retail_pipeline.api.keys import create_api_key


def test_an_admin_creates_lists_and_revokes_keys(
    client: TestClient, engine: Engine, operator: dict[str, str]
):
    admin = {"X-API-Key": create_api_key(engine, "admin")}
    assert client.post("/api/keys", json={"role": "viewer"}, headers=operator).status_code == 403

    created = client.post("/api/keys", json={"role": "viewer", "label": " tablet "}, headers=admin)
    assert created.status_code == 201, created.text
    body = created.json()
    assert body["key"].startswith(body["prefix"] + "_") and (body["role"], body["label"]) == (
        "viewer",
        "tablet",
    )
    assert client.get("/whoami", headers={"X-API-Key": body["key"]}).json()["role"] == "viewer"

    listed = client.get("/api/keys", headers=admin).json()
    assert [k["prefix"] for k in listed].count(body["prefix"]) == 1 and "key" not in listed[0]

    revoked = client.post(f"/api/keys/{body['id']}/revoke", headers=admin)
    assert revoked.status_code == 200 and revoked.json()["revoked_at"] is not None
    assert client.get("/whoami", headers={"X-API-Key": body["key"]}).status_code == 401
    assert client.post("/api/keys/999999/revoke", headers=admin).status_code == 404


def test_an_unknown_role_is_refused_with_the_field_named(client: TestClient, engine: Engine):
    admin = {"X-API-Key": create_api_key(engine, "admin")}
    response = client.post("/api/keys", json={"role": "owner"}, headers=admin)
    assert response.status_code == 422 and response.json()["detail"]["field"] == "role"

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterator
from typing import Annotated

import pytest
from fastapi import Depends, FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import Engine, create_engine, text

from retail_pipeline.api import keys
from retail_pipeline.api.auth import Principal, require_role


def _whoami(client: TestClient, key: str | None = None):
    return client.get("/whoami", headers={"X-API-Key": key} if key else {})


def test_no_key_is_anonymous(client: TestClient) -> None:
    response = _whoami(client)

    assert response.status_code == 200
    assert response.json() == {
        "role": "anonymous",
        "key": None,
        "roles": ["anonymous", "viewer", "operator", "admin"],
    }


def test_a_key_carries_its_role(client: TestClient, engine: Engine) -> None:
    for role in keys.ROLES:
        key = keys.create_api_key(engine, role, label=f"{role} laptop")

        body = _whoami(client, key).json()

        assert body["role"] == role
        assert body["key"]["label"] == f"{role} laptop" and key.startswith(body["key"]["prefix"] + "_")


def test_using_a_key_records_when(client: TestClient, engine: Engine) -> None:
    key = keys.create_api_key(engine, "viewer")
    assert keys.list_api_keys(engine)[0]["last_used_at"] is None

    _whoami(client, key)

    assert keys.list_api_keys(engine)[0]["last_used_at"] is not None


def test_unknown_or_revoked_key_is_401(client: TestClient, engine: Engine) -> None:
    key = keys.create_api_key(engine, "admin")

    unknown = _whoami(client, "rp_00000000_not-a-real-key")
    keys.revoke_api_key(engine, key[:11])
    revoked = _whoami(client, key)

    assert unknown.status_code == 401 and unknown.json()["detail"].startswith("unknown API key")
    assert revoked.status_code == 401 and f"API key {key[:11]} was revoked" in revoked.json()["detail"]
    assert unknown.headers["WWW-Authenticate"] == revoked.headers["WWW-Authenticate"] == "APIKey"


@pytest.fixture
def guarded(app: FastAPI) -> Iterator[TestClient]:
    """The app plus a test-only route that needs the operator role."""

    @app.get("/test/operator-only")
    def operator_only(principal: Annotated[Principal, Depends(require_role("operator"))]) -> dict[str, str]:
        return {"role": principal.role}

    with TestClient(app) as client:
        yield client


def test_require_role_orders_roles(guarded: TestClient, engine: Engine) -> None:
    for role, status in [(None, 403), ("viewer", 403), ("operator", 200), ("admin", 200)]:
        key = keys.create_api_key(engine, role) if role else None

        response = guarded.get("/test/operator-only", headers={"X-API-Key": key} if key else {})

        assert response.status_code == status, role
        if status == 403:
            assert "needs role operator or above" in response.json()["detail"]
        else:
            assert response.json() == {"role": role}


def test_require_role_rejects_a_bad_key_with_401(guarded: TestClient, engine: Engine) -> None:
    key = keys.create_api_key(engine, "admin")
    keys.revoke_api_key(engine, key)

    assert guarded.get("/test/operator-only", headers={"X-API-Key": key}).status_code == 401
    assert guarded.get("/test/operator-only", headers={"X-API-Key": "garbage"}).status_code == 401


def test_require_role_refuses_an_unknown_role_when_declared() -> None:
    with pytest.raises(ValueError, match="unknown role 'superuser'"):
        require_role("superuser")


def test_keys_are_stored_hashed_and_listed_without_secrets(engine: Engine) -> None:
    key = keys.create_api_key(engine, "operator", label="ci")

    assert re.fullmatch(r"rp_[0-9a-f]{8}_[A-Za-z0-9_-]{43}", key)
    with engine.connect() as conn:
        stored = conn.execute(text("SELECT key_hash FROM retail.api_keys")).scalar_one()
    assert stored == hashlib.sha256(key.encode()).hexdigest()
    [listed] = keys.list_api_keys(engine)
    assert listed["prefix"] == key[:11] and listed["role"] == "operator" and listed["label"] == "ci"
    assert "key_hash" not in listed and key not in str(listed)


def test_create_refuses_an_unknown_role_before_touching_the_database() -> None:
    never_connected = create_engine("postgresql+psycopg://nobody@nowhere.invalid/none")

    with pytest.raises(ValueError, match="choose one of viewer, operator, admin"):
        keys.create_api_key(never_connected, "root")


def test_revoke_by_id_prefix_or_whole_key_and_is_idempotent(engine: Engine) -> None:
    by_id, by_prefix, by_key = (keys.create_api_key(engine, "viewer") for _ in range(3))
    ids = {row["prefix"]: row["id"] for row in keys.list_api_keys(engine)}

    first = keys.revoke_api_key(engine, ids[by_id[:11]])
    keys.revoke_api_key(engine, by_prefix[:11])
    keys.revoke_api_key(engine, by_key)

    assert all(row["revoked_at"] is not None for row in keys.list_api_keys(engine))
    assert keys.revoke_api_key(engine, str(first["id"]))["revoked_at"] == first["revoked_at"]


def test_revoke_unknown_key_says_so(engine: Engine) -> None:
    for reference in ["999999", "rp_ffffffff", "not-a-key"]:
        with pytest.raises(keys.ApiKeyNotFound, match=reference):
            keys.revoke_api_key(engine, reference)

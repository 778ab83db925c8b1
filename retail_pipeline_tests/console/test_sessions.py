"""Console sign-in over HTTP: the cookie's flags, CSRF on every state-changing request, sign-out, expiry,
revocation, and the API key still working for scripts."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, text

from retail_pipeline.api.keys import create_api_key, revoke_api_key
from retail_pipeline.db.ops_tasks import open_task


def _task(engine: Engine) -> int:
    with engine.begin() as conn:
        return open_task(conn, kind="other", key="console-test", title="Check the console")


def _status(engine: Engine, task_id: int) -> str:
    with engine.connect() as conn:
        return conn.execute(
            text("SELECT status FROM retail.ops_tasks WHERE id = :id"), {"id": task_id}
        ).scalar_one()


def sign_in(client: TestClient, key: str, **headers: str):
    return client.post("/console/signin", data={"api_key": key}, headers=headers, follow_redirects=False)


def csrf_of(client: TestClient) -> str:
    page = client.get("/console")
    assert page.status_code == 200
    marker = 'name="csrf-token" content="'
    start = page.text.index(marker) + len(marker)
    return page.text[start : page.text.index('"', start)]


def test_signin_sets_a_strict_httponly_cookie_and_stores_only_a_hash(client: TestClient, engine: Engine):
    response = sign_in(client, create_api_key(engine, "operator"))
    assert response.status_code == 303 and response.headers["location"] == "/console"
    cookie = response.headers["set-cookie"]
    assert cookie.startswith("rp_session=") and "HttpOnly" in cookie and "SameSite=strict" in cookie
    assert "Secure" not in cookie  # plain HTTP on loopback
    token = cookie.split(";")[0].split("=", 1)[1]
    with engine.connect() as conn:
        stored = conn.execute(text("SELECT token_hash FROM retail.console_sessions")).scalars().all()
    assert len(stored) == 1 and token not in stored[0]


def test_cookie_is_secure_behind_https(client: TestClient, engine: Engine):
    response = sign_in(client, create_api_key(engine, "viewer"), **{"X-Forwarded-Proto": "https"})
    assert "Secure" in response.headers["set-cookie"]


def test_a_wrong_key_is_refused_with_the_form_again(client: TestClient, engine: Engine):
    response = sign_in(client, "rp_00000000_not-a-key")
    assert (
        response.status_code == 401
        and "unknown API key" in response.text
        and "set-cookie" not in response.headers
    )
    with engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM retail.console_sessions")).scalar_one() == 0


@pytest.mark.parametrize("target", ["https://evil.example/", "//evil.example/x", "/ops/inbox"])
def test_signin_only_returns_into_the_console(client: TestClient, engine: Engine, target: str):
    key = create_api_key(engine, "viewer")
    response = client.post("/console/signin", data={"api_key": key, "next": target}, follow_redirects=False)
    assert response.headers["location"] == "/console"


def test_a_page_without_a_session_redirects_to_signin(client: TestClient):
    response = client.get("/console/orders?status=packed", follow_redirects=False)
    assert response.status_code == 303
    assert response.headers["location"] == "/console/signin?next=/console/orders%3Fstatus%3Dpacked"


def test_state_changes_need_the_sessions_csrf_token(client: TestClient, engine: Engine):
    task_id = _task(engine)
    sign_in(client, create_api_key(engine, "operator"))
    url = f"/ops/tasks/{task_id}/resolve"

    assert client.post(url, json={"status": "resolved"}).status_code == 403
    assert (
        client.post(url, json={"status": "resolved"}, headers={"X-CSRF-Token": "x" * 43}).status_code == 403
    )
    assert _status(engine, task_id) == "open"  # nothing changed by the refused requests

    response = client.post(url, json={"status": "resolved"}, headers={"X-CSRF-Token": csrf_of(client)})
    assert response.status_code == 200, response.text
    assert _status(engine, task_id) == "resolved"
    assert response.json()["resolved_by"].startswith("api_key:rp_")


def test_csrf_token_as_a_form_field(client: TestClient, engine: Engine):
    sign_in(client, create_api_key(engine, "admin"))
    token = csrf_of(client)
    refused = client.post("/console/keys", data={"role": "viewer", "label": "x"})
    assert refused.status_code == 403
    created = client.post("/console/keys", data={"role": "viewer", "label": "tablet", "csrf_token": token})
    assert created.status_code == 200 and 'id="new-key"' in created.text
    with engine.connect() as conn:
        assert (
            conn.execute(text("SELECT count(*) FROM retail.api_keys WHERE label = 'tablet'")).scalar_one()
            == 1
        )


def test_an_api_key_needs_no_csrf_token(client: TestClient, engine: Engine, operator: dict[str, str]):
    task_id = _task(engine)
    assert client.post(f"/ops/tasks/{task_id}/resolve", headers=operator).status_code == 200


def test_a_viewer_session_reads_but_cannot_act(client: TestClient, engine: Engine):
    task_id = _task(engine)
    sign_in(client, create_api_key(engine, "viewer"))
    token = csrf_of(client)
    assert client.get("/whoami").json()["role"] == "viewer"
    response = client.post(f"/ops/tasks/{task_id}/resolve", headers={"X-CSRF-Token": token})
    assert response.status_code == 403 and "operator" in response.json()["detail"]
    assert client.get("/console/keys", headers={"Accept": "text/html"}).status_code == 403
    assert _status(engine, task_id) == "open"


def test_signout_ends_the_session(client: TestClient, engine: Engine):
    sign_in(client, create_api_key(engine, "operator"))
    token = csrf_of(client)
    cookie = client.cookies.get("rp_session")
    assert (
        client.post("/console/signout", data={"csrf_token": token}, follow_redirects=False).status_code == 303
    )
    client.cookies.set("rp_session", cookie)  # a copied cookie is dead too
    assert client.get("/console", follow_redirects=False).status_code == 303
    with engine.connect() as conn:
        assert conn.execute(text("SELECT ended_at IS NOT NULL FROM retail.console_sessions")).scalar_one()


def test_revoking_the_key_ends_its_sessions_on_the_next_request(client: TestClient, engine: Engine):
    key = create_api_key(engine, "operator")
    sign_in(client, key)
    assert client.get("/console", follow_redirects=False).status_code == 200
    revoke_api_key(engine, key.split("_")[0] + "_" + key.split("_")[1])
    assert client.get("/console", follow_redirects=False).status_code == 303
    assert client.get("/whoami").json()["role"] == "anonymous"


def test_an_expired_session_is_over(client: TestClient, engine: Engine):
    sign_in(client, create_api_key(engine, "operator"))
    with engine.begin() as conn:
        conn.execute(text("UPDATE retail.console_sessions SET created_at = now() - interval '2 days',"
                          " expires_at = now() - interval '1 second'"))  # fmt: skip
    assert client.get("/console", follow_redirects=False).status_code == 303


def test_htmx_calls_after_the_session_ended_reload_into_signin(client: TestClient):
    response = client.get("/console/inbox", headers={"HX-Request": "true"}, follow_redirects=False)
    assert response.status_code == 204 and response.headers["HX-Redirect"] == "/console/signin"


def test_static_files_are_vendored_and_served(client: TestClient):
    htmx = client.get("/console/static/htmx.min.js")
    assert htmx.status_code == 200 and htmx.text.startswith("var htmx=function()")
    # An encoded '..' reaches the static files' own check (a plain '../' is resolved by the client first).
    escape = client.get("/console/static/..%2F..%2Fapp.py")
    assert escape.status_code == 404 and "create_app" not in escape.text

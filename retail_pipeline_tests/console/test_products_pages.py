"""The products and suppliers pages over HTTP (fast, no browser): sign-in and roles, CSRF on the
actions from a session, escaping, filters and paging, errors; the re-scrape request and the sensor
that launches the supplier partition's run."""

from __future__ import annotations

import dagster as dg
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, text

from retail_pipeline.api.keys import create_api_key
from retail_pipeline.defs.catalog.rescrape import rescrape_requests_sensor
from retail_pipeline.defs.catalog.schedules import catalog_refresh_job
from retail_pipeline_tests.console.test_sessions import csrf_of, sign_in
from retail_pipeline_tests.seeds.catalog_console import XSS_TITLE, seed_catalogue


@pytest.fixture
def catalogue(engine: Engine, settings_env) -> dict[str, int]:
    return seed_catalogue(engine, settings_env.media_dir)


def test_pages_need_a_session_and_a_viewer_gets_no_actions(client: TestClient, engine, catalogue):
    for path in ("/console/products", f"/console/products/{catalogue['RP-1001']}", "/console/suppliers"):
        response = client.get(path, follow_redirects=False)
        assert response.status_code == 303 and response.headers["location"].startswith(
            "/console/signin?next="
        )
    sign_in(client, create_api_key(engine, "viewer"))
    detail = client.get(f"/console/products/{catalogue['RP-1001']}")
    assert detail.status_code == 200 and "Sony WH-1000XM5" in detail.text
    assert 'id="actions"' not in detail.text and "Re-optimise" not in detail.text
    suppliers = client.get("/console/suppliers")
    assert "Noel Leeming" in suppliers.text and "Re-scrape</button>" not in suppliers.text
    # A viewer's session cannot act through the JSON routes either.
    csrf = csrf_of(client)
    refused = client.post(
        f"/api/products/{catalogue['RP-1001']}/stop-selling", headers={"X-CSRF-Token": csrf}
    )
    assert refused.status_code == 403


def test_session_actions_need_the_csrf_token(client: TestClient, engine, catalogue):
    sign_in(client, create_api_key(engine, "operator"))
    pid = catalogue["RP-1003"]
    assert client.post(f"/api/products/{pid}/stop-selling").status_code == 403
    assert client.post("/api/suppliers/testsup/rescrape").status_code == 403
    with engine.connect() as conn:
        assert (
            conn.scalar(text("SELECT selling_stopped_at FROM retail.products WHERE id = :p"), {"p": pid})
            is None
        )
    ok = client.post(f"/api/products/{pid}/stop-selling", headers={"X-CSRF-Token": csrf_of(client)})
    assert ok.status_code == 200 and ok.json()["product_id"] == pid


def test_supplier_markup_is_escaped(client: TestClient, engine, catalogue):
    sign_in(client, create_api_key(engine, "operator"))
    for path in ("/console/products", f"/console/products/{catalogue['RP-6666']}"):
        body = client.get(path).text
        assert XSS_TITLE not in body and "<img src=x" not in body
        assert "&lt;script&gt;alert(1)&lt;/script&gt;&lt;img src=x onerror=alert(2)&gt;" in body
    detail = client.get(f"/console/products/{catalogue['RP-6666']}").text
    assert 'href="javascript:' not in detail and "javascript:alert(3)" in detail


def test_filters_paging_and_errors(client: TestClient, engine, catalogue):
    sign_in(client, create_api_key(engine, "viewer"))
    first = client.get("/console/products?limit=4")
    assert first.text.count("data-product-id=") == 4 and 'id="next-page"' in first.text
    blocked = client.get("/console/products?supplier=noelleeming&stage=enriched").text
    assert blocked.count("data-product-id=") == 4 and "Sony" not in blocked
    found = client.get("/console/products?q=thinkpad").text
    assert found.count("data-product-id=") == 1 and "ThinkPad" in found
    bad = client.get("/console/products?stage=live&channel=atlantis")
    assert bad.status_code == 422 and "channel: not a channel we list on" in bad.text
    missing = client.get("/console/products/987654", headers={"Accept": "text/html"})
    assert missing.status_code == 404 and "no product 987654" in missing.text


def test_rescrape_is_queued_once_and_launches_the_supplier_partition_run(
    client, engine, catalogue, operator, db
):
    first = client.post("/api/suppliers/testsup/rescrape", headers=operator)
    assert first.status_code == 202 and first.json()["run_key"] == f"rescrape:{first.json()['id']}"
    again = client.post("/api/suppliers/testsup/rescrape", headers=operator)  # a double click
    assert again.json()["id"] == first.json()["id"]
    client.post("/api/suppliers/noelleeming/rescrape", headers=operator)
    assert client.post("/api/suppliers/nobody/rescrape", headers=operator).status_code == 404
    with engine.begin() as conn:
        conn.execute(text("UPDATE retail.suppliers SET enabled = false WHERE code = 'cashconverters'"))
    disabled = client.post("/api/suppliers/cashconverters/rescrape", headers=operator)
    assert disabled.status_code == 409 and disabled.json()["detail"]["field"] == "code"

    instance = dg.DagsterInstance.ephemeral()
    result = rescrape_requests_sensor(dg.build_sensor_context(instance=instance, resources={"db": db}))
    requests = result.run_requests
    assert [(r.partition_key, r.run_key) for r in requests] == [
        ("testsup", f"rescrape:{first.json()['id']}"),
        ("noelleeming", f"rescrape:{first.json()['id'] + 1}"),
    ]
    assert rescrape_requests_sensor.job_name == catalog_refresh_job.name
    assert requests[0].tags["retail/supplier"] == "testsup"
    # The next tick asks for nothing new: one run per request.
    again = rescrape_requests_sensor(
        dg.build_sensor_context(instance=instance, cursor=result.cursor, resources={"db": db})
    )
    assert not again.run_requests

    listing = client.get("/api/suppliers", headers=operator).json()
    testsup = next(s for s in listing if s["code"] == "testsup")
    assert testsup["counts"]["drafted"] == 4 and testsup["last_rescrape"]["id"] == first.json()["id"]


def test_products_that_cannot_be_reoptimised_are_409_with_the_reason(client, engine, catalogue, operator):
    with engine.connect() as conn:
        empty = conn.scalar(text("SELECT id FROM retail.products WHERE sku = 'noelleeming-NL-205'"))
    nothing = client.post(f"/api/ai/optimize/{empty}?marketplace=ebay", headers=operator)
    assert nothing.status_code == 409 and "nothing to enrich" in nothing.json()["detail"]["message"]
    blocked = client.post(f"/api/ai/optimize-title/{catalogue['CC-0']}?marketplace=ebay", headers=operator)
    assert blocked.status_code == 409 and "blocked from enrichment" in blocked.json()["detail"]["message"]
    client.delete(f"/api/products/{catalogue['RP-1001']}", headers=operator)
    archived = client.post(f"/api/ai/optimize/{catalogue['RP-1001']}?marketplace=ebay", headers=operator)
    assert archived.status_code == 409 and "archived" in archived.json()["detail"]["message"]


def test_the_funnel_snapshot_is_recounted_when_stale(client, engine, catalogue, viewer):
    def raw(code: str) -> int:
        listing = client.get("/api/suppliers", headers=viewer).json()
        return next(s for s in listing if s["code"] == code)["counts"]["raw"]

    assert raw("noelleeming") == 5  # counted on the spot the first time
    with engine.begin() as conn:
        conn.execute(
            text(
                """INSERT INTO retail.supplier_products (supplier_id, sku, title, content_hash)
                   SELECT id, 'NL-299', 'LG OLED C3', 'h' FROM retail.suppliers WHERE code = 'noelleeming'"""
            )
        )
    assert raw("noelleeming") == 5  # fresh enough: the snapshot answers
    with engine.begin() as conn:
        conn.execute(text("UPDATE retail.supplier_funnels SET computed_at = now() - interval '1 hour'"))
    assert raw("noelleeming") == 5  # stale: answered, then recounted in the background
    assert raw("noelleeming") == 6

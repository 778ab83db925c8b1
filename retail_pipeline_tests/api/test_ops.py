"""GET /ops/pipeline_summary and /ops/suppliers/{id}/pipeline over seeded rows and real verdicts."""

from __future__ import annotations

from decimal import Decimal

import dagster as dg
import pytest
from sqlalchemy import Engine

from retail_pipeline.api.keys import create_api_key
from retail_pipeline.defs.catalog.launchlock import validated_products
from retail_pipeline.defs.resources import DatabaseResource
from retail_pipeline_tests.seeds.catalog import add_draft, add_listing, add_product, add_supplier


@pytest.fixture
def catalog(engine: Engine, db_url: str) -> dict[str, int]:
    """onecheq: 5 raw (+1 removed), 4 enriched, 1 enrichment failure, 2 validated, 1 drafted on two
    channels and live on one (plus a withdrawn listing elsewhere); noel_leeming: nothing yet."""
    with engine.begin() as conn:
        onecheq = add_supplier(conn, "onecheq")
        noel = add_supplier(conn, "noel_leeming")
        live = add_product(conn, onecheq, "A1")
        ready = add_product(conn, onecheq, "A2")
        add_product(conn, onecheq, "B1", images=0)
        add_product(conn, onecheq, "B2", images=0, price=Decimal("15.00"))
        add_product(conn, onecheq, "F1", status="failed", title=None, description=None, category=None)
        add_product(conn, onecheq, "R1", removed=True, images=0)
    validated_products(
        context=dg.build_asset_context(partition_key="onecheq"), db=DatabaseResource(url=db_url)
    )
    with engine.begin() as conn:
        add_draft(conn, live, "trademe")
        add_draft(conn, live, "ebay")
        add_listing(conn, live, "trademe", "live")
        add_listing(conn, ready, "ebay", "withdrawn")
    return {"onecheq": onecheq, "noel_leeming": noel}


def test_summary_counts_each_stage_per_supplier(client, operator, catalog):
    response = client.get("/ops/pipeline_summary", headers=operator)

    assert response.status_code == 200
    body = response.json()
    by_code = {s["code"]: s for s in body["suppliers"]}
    assert list(by_code) == ["noel_leeming", "onecheq"]
    onecheq = by_code["onecheq"]
    assert onecheq["counts"] == {
        "raw": 5,
        "enriched": 4,
        "enrichment_failed": 1,
        "validated": 2,
        "validation_failed": 3,
        "drafted": 1,
        "live": 1,
    }
    # B1, B2: no image, B2 too cheap; F1: no content at all; the removed R1 is not a blocker. Top 5,
    # most frequent first, ties by name (title_length is the sixth).
    assert list(onecheq["top_blockers"].items()) == [
        ("images", 2),
        ("category", 1),
        ("description", 1),
        ("enriched", 1),
        ("margin", 1),
    ]
    assert by_code["noel_leeming"]["counts"] == dict.fromkeys(onecheq["counts"], 0)
    assert by_code["noel_leeming"]["top_blockers"] == {}
    assert body["totals"] == onecheq["counts"]


def test_supplier_detail_by_code_or_id_with_recent_failures(client, operator, catalog):
    by_code = client.get("/ops/suppliers/onecheq/pipeline", headers=operator)
    by_id = client.get(f"/ops/suppliers/{catalog['onecheq']}/pipeline", headers=operator)

    assert by_code.status_code == by_id.status_code == 200
    assert by_code.json() == by_id.json()
    detail = by_code.json()
    assert detail["id"] == catalog["onecheq"] and detail["counts"]["validated"] == 2
    failures = {f["sku"]: f for f in detail["recent_failures"]}
    assert set(failures) == {"RP-B1", "RP-B2", "RP-F1"}
    assert failures["RP-B2"]["failed_rules"] == ["margin", "images"]
    assert failures["RP-B2"]["reasons"]["images"] == "0 image(s) downloaded, needs 1"
    assert failures["RP-F1"]["title"] is None


def test_unknown_supplier_is_404(client, operator, catalog):
    for ref in ("nobody", "999999"):
        response = client.get(f"/ops/suppliers/{ref}/pipeline", headers=operator)
        assert response.status_code == 404 and ref in response.json()["detail"]


def test_viewer_and_anonymous_get_403(client, engine):
    viewer = {"X-API-Key": create_api_key(engine, "viewer")}
    for path in ("/ops/pipeline_summary", "/ops/suppliers/onecheq/pipeline"):
        assert client.get(path, headers=viewer).status_code == 403
        assert client.get(path).status_code == 403


def test_admin_is_admitted(client, engine, catalog):
    admin = {"X-API-Key": create_api_key(engine, "admin")}
    assert client.get("/ops/pipeline_summary", headers=admin).status_code == 200

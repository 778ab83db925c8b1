"""The operator API for products (seed 003): list/detail/archive/stop selling, re-optimisation through
the enrichment path and its cache, publishing as operator commands, marketplaces, operator imports,
and the stop-selling guarantee through the listing assets."""

from __future__ import annotations

import json

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, text

from retail_pipeline.defs.listings.commands import execute
from retail_pipeline.defs.listings.drafts import build_drafts
from retail_pipeline.defs.listings.publish import run_publish
from retail_pipeline.simulators.config import FaultConfig
from retail_pipeline_tests.seeds.listed_products import PRODUCTS, seed_products, signed
from retail_pipeline_tests.simulated_channels import CHANNELS


def _llm_calls(sim) -> int:
    return len([e for e in sim.journal.entries("llm") if e.path == "/v1/chat/completions"])


@pytest.fixture
def products(engine: Engine, env) -> dict[str, int]:
    """Three enriched, LaunchLock-passed products (not drafted yet); sku -> product id."""
    return seed_products(engine, env.media_dir, PRODUCTS)


@pytest.fixture
def drafted(engine: Engine, products) -> dict[str, int]:
    for channel in CHANNELS:
        with engine.begin() as conn:
            build_drafts(conn, channel)
    return products


def test_routes_need_the_right_role(client: TestClient, products, viewer, operator) -> None:
    pid = products["RP-1001"]
    assert client.get("/api/products").status_code == 403
    assert client.get("/api/products", headers=viewer).status_code == 200
    for method, url in [
        ("delete", f"/api/products/{pid}"),
        ("post", f"/api/products/{pid}/stop-selling"),
        ("post", f"/api/ai/optimize/{pid}?marketplace=trademe"),
        ("post", f"/api/export/publish/{pid}?marketplace=trademe"),
        ("get", "/api/export/marketplaces"),
        ("post", "/api/import/product"),
    ]:
        response = client.request(method, url, headers=viewer)
        assert response.status_code == 403, (url, response.text)
    with client.app.state.database.engine.connect() as conn:  # nothing happened
        assert (
            conn.scalar(text("SELECT count(*) FROM retail.products WHERE selling_stopped_at IS NOT NULL"))
            == 0
        )


def test_list_pages_by_keyset_filters_and_searches(client, engine, drafted, viewer) -> None:
    first = client.get("/api/products?limit=2", headers=viewer).json()
    assert [i["sku"] for i in first["items"]] == ["RP-1003", "RP-1002"]
    assert first["items"][0]["stage"] == "drafted" and first["items"][0]["supplier"] == "testsup"
    rest = client.get(f"/api/products?limit=2&cursor={first['next_cursor']}", headers=viewer).json()
    assert [i["sku"] for i in rest["items"]] == ["RP-1001"] and rest["next_cursor"] is None

    found = client.get("/api/products", params={"q": "fender strat"}, headers=viewer).json()
    assert [i["sku"] for i in found["items"]] == ["RP-1002"]
    assert client.get("/api/products", params={"q": "rp-100"}, headers=viewer).json()["items"].__len__() == 3

    with engine.begin() as conn:  # one product live on ebay
        conn.execute(
            text(
                """INSERT INTO retail.channel_listings (channel, sku, product_id, currency, desired_price,
                          actual_state, external_listing_id)
                   VALUES ('ebay', 'RP-1001', :p, 'NZD', 10, 'live', 'E1')"""
            ),
            {"p": drafted["RP-1001"]},
        )
    live = client.get("/api/products?stage=live&channel=ebay", headers=viewer).json()["items"]
    assert [(i["sku"], i["stage"], i["live_channels"]) for i in live] == [("RP-1001", "live", ["ebay"])]
    assert client.get("/api/products?stage=live&channel=trademe", headers=viewer).json()["items"] == []

    summary = client.get("/api/products/stats/summary", headers=viewer).json()
    assert summary["stages"]["scraped"] == 3 and summary["stages"]["validated"] == 3
    assert summary["stages"]["live"]["ebay"] == 1 and summary["stages"]["drafted"]["trademe"] == 3


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("stage=sold", "stage"),
        ("limit=0", "limit"),
        ("cursor=abc", "cursor"),
        ("stage=live&channel=atlantis", "channel"),
        ("channel=ebay", "channel"),
        ("q=%20%2B%2B", "q"),
    ],
)
def test_bad_filters_are_422_naming_the_field(client, products, viewer, query, field) -> None:
    response = client.get(f"/api/products?{query}", headers=viewer)
    assert response.status_code == 422
    detail = response.json()["detail"]
    named = detail["field"] if isinstance(detail, dict) else detail[0]["loc"][-1]
    assert named == field


def test_detail_has_supplier_data_images_verdict_and_listings(client, engine, drafted, viewer) -> None:
    pid = drafted["RP-1001"]
    with engine.begin() as conn:
        conn.execute(
            text("UPDATE retail.validation_results SET details = '{}' WHERE product_id = :p"), {"p": pid}
        )
    body = client.get(f"/api/products/{pid}", headers=viewer).json()
    assert body["supplier_title"] == "Sony WH-1000XM5 Wireless Noise Cancelling Headphones"
    assert body["brand"] == "Sony" and len(body["images"]) == 2
    assert all("/media/test/" in i["url"] and "token=" in i["url"] for i in body["images"])
    assert body["verdict"]["passed"] is True
    assert sorted(x["channel"] for x in body["listings"]) == sorted(CHANNELS)
    assert all(x["draft_status"] == "valid" for x in body["listings"])
    assert client.get("/api/products/999999", headers=viewer).json()["detail"]["field"] == "id"
    assert client.get("/api/products/0", headers=viewer).status_code == 422


def test_reoptimise_uses_the_enrichment_cache_unless_forced(client, engine, drafted, operator, sim) -> None:
    pid = drafted["RP-1002"]
    sim.journal.clear()
    first = client.post(f"/api/ai/optimize/{pid}?marketplace=ebay", headers=operator)
    assert first.status_code == 200, first.text
    body = first.json()
    # The seeded content came from another enricher: a miss, one model call, the product refreshed.
    assert body["source"] == "llm" and _llm_calls(sim) == 1
    assert [c["field"] for c in body["changes"]] == ["title", "description"]
    title = body["changes"][0]["optimised"]
    assert body["changes"][0]["original"].startswith("Fender Player Stratocaster")
    with engine.connect() as conn:
        product = conn.execute(
            text("SELECT model, title FROM retail.products WHERE id = :p"), {"p": pid}
        ).one()
        draft = conn.scalar(
            text("SELECT title FROM retail.listing_drafts WHERE product_id = :p AND channel = 'ebay'"),
            {"p": pid},
        )
    assert product.model == "gpt-4o-mini" and draft == title  # the ebay draft uses it at once

    again = client.post(f"/api/ai/optimize-title/{pid}?marketplace=trademe", headers=operator).json()
    assert again["source"] == "cache" and _llm_calls(sim) == 1
    assert [c["field"] for c in again["changes"]] == ["title"]

    forced = client.post(f"/api/ai/optimize-description/{pid}?marketplace=ebay&force=true", headers=operator)
    assert forced.json()["source"] == "llm" and forced.json()["forced"] is True and _llm_calls(sim) == 2

    detail = client.get(f"/api/products/{pid}", headers=operator).json()
    assert [o["field"] for o in detail["optimisations"]] == ["description", "title", "description", "title"]
    ebay = next(c for c in detail["content"] if c["channel"] == "ebay")
    assert ebay["optimised"] is True and ebay["title"] == title


def test_reoptimise_errors(client, engine, drafted, operator, sim) -> None:
    pid = drafted["RP-1003"]
    unknown = client.post(f"/api/ai/optimize/{pid}?marketplace=atlantis", headers=operator)
    assert unknown.status_code == 422 and unknown.json()["detail"]["field"] == "marketplace"
    assert client.post(f"/api/ai/optimize/{pid}", headers=operator).status_code == 422  # marketplace missing
    assert client.post("/api/ai/optimize/424242?marketplace=ebay", headers=operator).status_code == 404

    sim.faults.set("llm", FaultConfig(error_rate=1.0))
    down = client.post(f"/api/ai/optimize/{pid}?marketplace=ebay&force=true", headers=operator)
    assert down.status_code == 502 and "could not optimise" in down.json()["detail"]["message"]
    sim.faults.reset()
    with engine.connect() as conn:  # nothing recorded for the failure
        assert conn.scalar(text("SELECT count(*) FROM retail.product_optimisations")) == 0

    batch = client.post(
        "/api/ai/batch-optimize",
        json={"product_ids": [pid, 999999], "marketplace": "trademe", "fields": "title"},
        headers=operator,
    ).json()
    assert [o["product_id"] for o in batch["optimised"]] == [pid]
    assert batch["errors"] == [{"product_id": 999999, "status": 404, "message": "no product 999999"}]
    bad = client.post(
        "/api/ai/batch-optimize", json={"product_ids": [], "marketplace": "ebay"}, headers=operator
    )
    assert bad.status_code == 422 and bad.json()["detail"][0]["loc"][-1] == "product_ids"


def test_publish_becomes_an_operator_command(
    client, engine, drafted, operator, channels, settings_env
) -> None:
    pid = drafted["RP-1001"]
    queued = client.post(f"/api/export/publish/{pid}?marketplace=reverb", headers=operator)
    assert queued.status_code == 202, queued.text
    command = queued.json()
    assert command["command_type"] == "PUBLISH_LISTING" and command["status"] == "queued"
    done = execute(engine, channels, command["id"], media_url=signed)
    assert done["status"] == "succeeded", done
    again = client.post(f"/api/export/publish/{pid}?marketplace=reverb", headers=operator)
    assert again.status_code == 409 and "already live" in again.json()["detail"]["message"]

    bulk = client.post(
        "/api/export/bulk-publish",
        json={"marketplace": "reverb", "product_ids": [pid, drafted["RP-1002"], 31337]},
        headers=operator,
    ).json()
    assert bulk["command"]["command_type"] == "BULK_PUBLISH" and bulk["queued_products"] == 1
    assert [s["product_id"] for s in bulk["skipped"]] == [pid, 31337]
    none = client.post(
        "/api/export/bulk-publish", json={"marketplace": "reverb", "product_ids": [pid]}, headers=operator
    )
    assert none.status_code == 409 and none.json()["detail"]["field"] == "product_ids"
    assert (
        client.post("/api/export/bulk-publish", json={"marketplace": "x"}, headers=operator).status_code
        == 422
    )


def test_marketplaces_report_credentials_and_budget(client, operator, env) -> None:
    markets = {m["name"]: m for m in client.get("/api/export/marketplaces", headers=operator).json()}
    assert set(CHANNELS) <= set(markets)
    trademe = markets["trademe"]
    assert trademe["enabled"] and trademe["credentials_configured"]
    assert trademe["call_limit"] and trademe["calls_left"] <= trademe["call_limit"]


def test_stop_selling_keeps_every_listing_withdrawn(client, engine, listed, operator, channels) -> None:
    """The guarantee through the listing assets: withdrawn on every channel, and the drafts and publish
    passes never list it again."""
    pid = listed["RP-2001"]
    stopped = client.post(
        f"/api/products/{pid}/stop-selling", json={"reason": "recall"}, headers=operator
    ).json()
    assert stopped["listings_withdrawn"] == len(CHANNELS) and len(stopped["withdraw_commands"]) == len(
        CHANNELS
    )
    for command_id in stopped["withdraw_commands"]:
        assert execute(engine, channels, command_id, media_url=signed)["status"] == "succeeded"
    # The hourly passes: drafts rebuilt, every channel published.
    for channel in CHANNELS:
        with engine.begin() as conn:
            build_drafts(conn, channel)
        run_publish(engine, channels.client(channel), media_url=signed)
    with engine.connect() as conn:
        states = conn.execute(
            text(
                "SELECT desired_state, actual_state, withdraw_reason FROM retail.channel_listings WHERE product_id = :p"
            ),
            {"p": pid},
        ).all()
    assert states and all(s == ("withdrawn", "withdrawn", "recall") for s in states)
    publish = client.post(f"/api/export/publish/{pid}?marketplace=ebay", headers=operator)
    assert publish.status_code == 409 and "stopped" in publish.json()["detail"]["message"]
    repeat = client.post(f"/api/products/{pid}/stop-selling", headers=operator).json()
    assert repeat["already"] is True and repeat["withdraw_commands"] == []


def test_delete_archives(client, engine, listed, operator, viewer) -> None:
    pid = listed["RP-2002"]
    archived = client.delete(f"/api/products/{pid}", headers=operator)
    assert archived.status_code == 200 and archived.json()["archived"] is True
    assert pid not in [i["id"] for i in client.get("/api/products", headers=viewer).json()["items"]]
    assert [i["id"] for i in client.get("/api/products?archived=true", headers=viewer).json()["items"]] == [
        pid
    ]
    with engine.connect() as conn:
        row = conn.execute(
            text("SELECT archived_at, selling_stopped_at FROM retail.products WHERE id = :p"), {"p": pid}
        ).one()
    assert row.archived_at and row.selling_stopped_at
    assert client.delete("/api/products/777777", headers=operator).status_code == 404


ITEM = {"source_id": "A-1", "title": "Canon EOS R6 body", "price": "1999.00", "currency": "PLN"}


def test_operator_import_uses_the_webhook_path(client, engine, operator) -> None:
    one = client.post("/api/import/product", json=ITEM, headers=operator)
    assert one.status_code == 202, one.text
    job = one.json()
    assert job["total_items"] == 1 and job["invalid_items"] == []
    again = client.post("/api/import/product", json=ITEM, headers=operator).json()
    assert again["duplicate"] is True and again["import_job_id"] == job["import_job_id"]

    bad = client.post("/api/import/product", json={**ITEM, "price": "-3"}, headers=operator)
    assert bad.status_code == 422 and bad.json()["detail"]["field"] == "price"

    batch = client.post(
        "/api/import/batch",
        json={"source": "allegro", "products": [{**ITEM, "source_id": "A-2"}, {"source_id": "A-3"}]},
        headers=operator,
    ).json()
    assert batch["total_items"] == 2 and [e["index"] for e in batch["invalid_items"]] == [1]
    with engine.connect() as conn:
        event = conn.execute(
            text("SELECT source, topic, payload, headers FROM retail.webhook_events WHERE id = :id"),
            {"id": batch["webhook_event_id"]},
        ).one()
    assert (event.source, event.topic) == ("allegro", "import")  # the webhook import's sensor picks it up
    assert len(event.payload["products"]) == 2 and event.headers["via"] == "operator_api"
    assert "x-api-key" not in json.dumps(event.headers).lower()
    envelope = client.post("/api/import/batch", json={"products": "nope"}, headers=operator)
    assert envelope.status_code == 422 and envelope.json()["detail"]["field"] == "body"


def test_search_beyond_the_window_comes_from_the_indexes(client, drafted, viewer, monkeypatch) -> None:
    """With a window of one product, a search's page is filled from the index path: same answer, same order."""
    from retail_pipeline.api import products as products_api

    monkeypatch.setattr(products_api, "SEARCH_WINDOW", 1)
    found = client.get("/api/products", params={"q": "rp-100"}, headers=viewer).json()
    assert [i["sku"] for i in found["items"]] == ["RP-1003", "RP-1002", "RP-1001"]
    skus, cursor = [], None
    while True:  # one product per page, by keyset, through both steps
        params = {"q": "rp-100", "limit": 1, **({"cursor": cursor} if cursor else {})}
        page = client.get("/api/products", params=params, headers=viewer).json()
        skus += [i["sku"] for i in page["items"]]
        if not (cursor := page["next_cursor"]):
            break
    assert skus == ["RP-1003", "RP-1002", "RP-1001"]
    words = client.get("/api/products", params={"q": "Stratocaster"}, headers=viewer).json()
    assert [i["sku"] for i in words["items"]] == ["RP-1002"]


def test_search_words_are_whole_but_the_last_may_be_a_start():
    from retail_pipeline.api.products import search_query

    assert search_query("Fender strat") == "fender & strat:*"
    assert search_query("  thinkpad ") == "thinkpad:*"
    assert search_query("++ --") is None

"""POST /channels/{channel}/validate_drafts and GET /channels/{channel}/account_summary against the
Trade Me simulator."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, text

from retail_pipeline.api import keys
from retail_pipeline.channels.trademe import TradeMeClient, TradeMeSettings
from retail_pipeline.defs.listings.drafts import build_drafts
from retail_pipeline.defs.listings.publish import run_publish
from retail_pipeline.simulators import get_simulator
from retail_pipeline_tests.seeds.listed_products import seed_products, signed


@pytest.fixture
def drafts(engine: Engine, settings_env, simulator_url) -> dict[str, int]:
    seed_products(engine, settings_env.media_dir)
    with engine.begin() as conn:
        build_drafts(conn, "trademe")
        build_drafts(conn, "shopify")
        conn.execute(text("""UPDATE retail.listing_drafts SET payload = jsonb_set(payload, '{fields,Category}', '"nonsense"')
                              WHERE sku = 'RP-1002' AND channel = 'trademe'"""))  # fmt: skip
        return {
            f"{r.channel}:{r.sku}": r.id
            for r in conn.execute(text("SELECT id, channel, sku FROM retail.listing_drafts"))
        }


def test_needs_an_operator_key(client: TestClient, engine: Engine) -> None:
    viewer = {"X-API-Key": keys.create_api_key(engine, "viewer")}
    assert client.post("/channels/trademe/validate_drafts", json={}, headers=viewer).status_code == 403
    assert client.get("/channels/trademe/account_summary").status_code == 403


def test_validate_chosen_drafts_reports_trade_mes_own_errors(client, operator, drafts) -> None:
    ids = [drafts["trademe:RP-1001"], drafts["trademe:RP-1002"]]
    response = client.post("/channels/trademe/validate_drafts", json={"draft_ids": ids}, headers=operator)
    assert response.status_code == 200, response.text
    report = response.json()
    verdicts = {v["sku"]: v for v in report["drafts"]}
    assert verdicts["RP-1001"] == {
        "draft_id": ids[0],
        "sku": "RP-1001",
        "checked": True,
        "valid": True,
        "errors": [],
    }
    assert verdicts["RP-1002"]["checked"] and verdicts["RP-1002"]["valid"] is False
    assert any("ategory" in e for e in verdicts["RP-1002"]["errors"]), verdicts["RP-1002"]
    assert (report["valid"], report["invalid"], report["unchecked"]) == (1, 1, 0)
    assert report["budget"]["used"] == 2 and report["budget"]["remaining"] == report["budget"]["limit"] - 2


def test_validate_refuses_unknown_or_other_channel_drafts(client, operator, drafts) -> None:
    other = client.post(
        "/channels/trademe/validate_drafts", json={"draft_ids": [drafts["shopify:RP-1001"]]}, headers=operator
    )
    assert other.status_code == 400 and "not Trade Me drafts" in other.json()["detail"]
    missing = client.post("/channels/trademe/validate_drafts", json={"draft_ids": [987654]}, headers=operator)
    assert missing.status_code == 400 and "987654" in missing.json()["detail"]
    empty = client.post("/channels/trademe/validate_drafts", json={"draft_ids": []}, headers=operator)
    assert empty.status_code == 422
    unknown = client.post("/channels/etsy/validate_drafts", json={}, headers=operator)
    assert unknown.status_code == 404 and "not a channel we list on" in unknown.json()["detail"]
    orders_only = client.post("/channels/bestbuy/validate_drafts", json={}, headers=operator)  # not listed on
    assert orders_only.status_code == 404 and "not a channel we list on" in orders_only.json()["detail"]
    no_summary = client.get("/channels/shopify/account_summary", headers=operator)
    assert no_summary.status_code == 404 and "no account summary" in no_summary.json()["detail"]


def test_channel_wide_validation_then_the_summary_shares_the_budget(
    client, engine, operator, drafts, simulator_app
) -> None:
    response = client.post("/channels/trademe/validate_drafts", json={"status": "any"}, headers=operator)
    assert response.status_code == 200, response.text
    assert [v["sku"] for v in response.json()["drafts"]] == ["RP-1001", "RP-1002", "RP-1003"]
    # publish what is valid, so the account has something selling
    run_publish(engine, TradeMeClient(TradeMeSettings(_env_file=None)), media_url=signed)
    summary = client.get("/channels/trademe/account_summary", headers=operator)
    assert summary.status_code == 200, summary.text
    body = summary.json()
    assert body["channel"] == "trademe"
    assert (
        body["summary"]["selling_count"] == 2 and body["summary"]["nickname"] and "balance" in body["summary"]
    )
    # One budget in the database: the validations, the publishing run's calls and this summary.
    sent = len(get_simulator(simulator_app).journal.entries("trademe"))
    assert sent > 4 and body["budget"]["used"] == sent
    assert body["budget"]["remaining"] == body["budget"]["limit"] - sent and body["budget"]["resets_at"]


def test_a_spent_budget_leaves_drafts_unchecked_and_the_summary_429(
    client, operator, drafts, monkeypatch
) -> None:
    monkeypatch.setenv("TRADEME_HOURLY_CALL_LIMIT", "2")
    report = client.post("/channels/trademe/validate_drafts", json={}, headers=operator).json()
    assert [v["checked"] for v in report["drafts"]] == [True, True, False]
    assert report["drafts"][2]["valid"] is None and "budget" in report["drafts"][2]["errors"][0]
    assert report["unchecked"] == 1 and report["budget"]["remaining"] == 0
    summary = client.get("/channels/trademe/account_summary", headers=operator)
    assert summary.status_code == 429 and "budget" in summary.json()["detail"]
    assert int(summary.headers["Retry-After"]) >= 1

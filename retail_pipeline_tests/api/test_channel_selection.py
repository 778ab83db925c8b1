"""Which channels a product goes to, per supplier and per product, through the API and the listing
assets: a deselected channel's draft is excluded and its live listing withdrawn, never deleted."""

from __future__ import annotations

from fastapi.testclient import TestClient
from sqlalchemy import Engine, text

from retail_pipeline.defs.listings.drafts import build_drafts
from retail_pipeline.defs.listings.publish import run_publish
from retail_pipeline_tests.seeds.listed_products import seed_products, signed


def listings(engine: Engine) -> dict[tuple[str, str], tuple[str, str, str | None]]:
    with engine.connect() as conn:
        rows = conn.execute(text("SELECT sku, channel, desired_state, actual_state, withdraw_reason "
                                 "FROM retail.channel_listings"))  # fmt: skip
        return {(r.sku, r.channel): (r.desired_state, r.actual_state, r.withdraw_reason) for r in rows}


def drafted(engine: Engine, channel: str) -> set[str]:
    with engine.connect() as conn:
        return set(
            conn.scalars(text("SELECT sku FROM retail.listing_drafts WHERE channel = :c"), {"c": channel})
        )


def publish(engine: Engine, channels, channel: str) -> dict[str, int]:
    with engine.begin() as conn:
        build_drafts(conn, channel)  # the listing_drafts asset's body
    result = run_publish(engine, channels.client(channel), media_url=signed)  # channel_listings'
    assert result.counts["failed"] == 0, result.errors
    return result.counts


def test_channel_selection_per_product_and_supplier(
    client: TestClient, engine: Engine, settings_env, channels, sim, operator, viewer
):
    ids = seed_products(engine, settings_env.media_dir)
    for channel in ("trademe", "ebay"):
        assert publish(engine, channels, channel)["created"] == 3
    with engine.begin() as conn:
        build_drafts(conn, "reverb")  # drafted, not published
    pid = ids["RP-1001"]
    url = f"/api/products/{pid}/channels"

    assert client.put(url, json={"channels": ["trademe"]}, headers=viewer).status_code == 403
    refused = client.put(url, json={"channels": ["trademe", "etsy"]}, headers=operator)
    assert refused.status_code == 422 and "unknown channels ['etsy']" in refused.json()["detail"]["message"]

    done = client.put(url, json={"channels": ["trademe"]}, headers=operator)
    assert done.status_code == 200, done.text
    assert done.json()["channels"] == ["trademe"] and done.json()["listings_withdrawn"] == 1
    assert done.json()["drafts_dropped"] == 1 and drafted(engine, "reverb") == {"RP-1002", "RP-1003"}
    assert len(done.json()["withdraw_commands"]) == 1  # queued, as stop-selling queues them
    detail = client.get(f"/api/products/{pid}", headers=viewer).json()
    assert (
        detail["channels"] == detail["selected_channels"] == ["trademe"]
        and detail["supplier_channels"] is None
    )
    history = {listing["channel"]: listing["price_history"] for listing in detail["listings"]}
    assert history["ebay"][0]["fx_date"] == "2025-05-30" and history["ebay"][0]["fx_rate"]  # NZD→USD
    assert history["trademe"][0]["fx_rate"] is None  # NZD cost, NZD price
    assert listings(engine)[("RP-1001", "ebay")][0] == "withdrawn"

    # The hourly pass: the draft stays out of the intent (a listing keeps it for its history) and the
    # listing comes down on eBay; nothing is deleted.
    counts = publish(engine, channels, "ebay")
    assert counts["withdrawn"] == 1 and counts["created"] == 0
    assert listings(engine)[("RP-1001", "ebay")] == (
        "withdrawn",
        "withdrawn",
        "channel deselected for the product",
    )
    ebay = sim.backend("ebay")
    assert "RP-1001" not in ebay.live_skus() and {"RP-1002", "RP-1003"} <= set(ebay.live_skus())
    assert listings(engine)[("RP-1001", "trademe")][1] == "live"

    # The supplier's default: eBay only. RP-1001 keeps its own choice; the others leave Trade Me.
    refused = client.put(
        "/api/suppliers/testsup/channels", json={"channels": ["ebay", "etsy"]}, headers=operator
    )
    assert refused.status_code == 422
    done = client.put("/api/suppliers/testsup/channels", json={"channels": ["ebay"]}, headers=operator)
    assert done.status_code == 200 and done.json()["listings_withdrawn"] == 2
    assert done.json()["drafts_dropped"] == 2 and drafted(engine, "reverb") == set()
    suppliers = {s["code"]: s for s in client.get("/api/suppliers", headers=viewer).json()}
    assert suppliers["testsup"]["channels"] == ["ebay"]
    assert publish(engine, channels, "trademe")["withdrawn"] == 2
    state = listings(engine)
    assert state[("RP-1002", "trademe")][1] == state[("RP-1003", "trademe")][1] == "withdrawn"
    assert state[("RP-1001", "trademe")][1] == "live"
    with engine.begin() as conn:
        assert build_drafts(conn, "shopify")["products"] == 0  # selected nowhere on Shopify
    assert drafted(engine, "shopify") == set()

    # Back to the supplier's choice (null): RP-1001 now follows it, so Trade Me goes too.
    back = client.put(url, json={"channels": None}, headers=operator)
    assert back.status_code == 200 and back.json()["listings_withdrawn"] == 1
    assert client.get(f"/api/products/{pid}", headers=viewer).json()["selected_channels"] == ["ebay"]

    # The console shows the choice on the product and supplier pages (their forms PUT to these routes).
    signed_in = client.post(
        "/console/signin", data={"api_key": operator["X-API-Key"]}, follow_redirects=False
    )
    assert signed_in.status_code == 303
    page = client.get(f"/console/products/{pid}").text
    assert "Sells on: eBay" in page and "the supplier&#39;s default" in page and 'id="channels-form"' in page
    page = client.get("/console/suppliers").text
    assert 'class="channels-form" data-code="testsup"' in page and 'value="ebay" checked' in page

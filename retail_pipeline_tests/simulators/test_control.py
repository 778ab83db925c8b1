"""The root index, the simulated clock and the request journal, over HTTP and in-process."""

from __future__ import annotations

import pytest

from retail_pipeline.simulators import SYSTEMS

pytestmark = pytest.mark.anyio


async def test_index_lists_every_mounted_system(client):
    body = (await client.get("/")).json()
    assert (
        [s["name"] for s in body["systems"]]
        == list(SYSTEMS)
        == [
            "onecheq",
            "noelleeming",
            "cashconverters",
            "llm",
            "trademe",
            "shopify",
            "reverb",
            "ebay",
            "canadapost",
            "amazon",
            "mirakl",
            "ecb",
            "kaufland",
            "vintage_and_rare",
        ]
    )
    assert body["systems"][0]["base_url"] == "http://sim/onecheq"


async def test_clock_starts_at_the_configured_instant_and_only_moves_forward(client, config):
    assert (await client.get("/_control/clock")).json() == {
        "now": config.start_time.isoformat(),
        "start": config.start_time.isoformat(),
        "elapsed_hours": 0.0,
    }
    moved = (await client.post("/_control/clock/advance", json={"hours": 1.5})).json()
    assert moved["elapsed_hours"] == 1.5 and moved["now"] == "2025-06-02T10:30:00+00:00"
    assert (await client.post("/_control/clock/advance", json={"hours": -1})).status_code == 422


async def test_advancing_the_clock_over_http_changes_what_is_served(client):
    before = {
        p["handle"]: p for p in (await client.get("/onecheq/products.json?limit=250")).json()["products"]
    }
    await client.post("/_control/clock/advance", json={"hours": 24 * 7})
    after = {
        p["handle"]: p for p in (await client.get("/onecheq/products.json?limit=250")).json()["products"]
    }
    assert before.keys() - after.keys() and after.keys() - before.keys()
    kept = before.keys() & after.keys()
    assert any(before[h]["variants"] != after[h]["variants"] for h in kept)


async def test_journal_records_requests(client, sim):
    await client.get(
        "/onecheq/products.json?limit=2&page=1",
        headers={"User-Agent": "retail-pipeline/0.1", "If-None-Match": '"x"'},
    )
    await client.get("/noelleeming/nowhere")
    await client.get("/_control/clock")  # control calls are not journalled

    entries = (await client.get("/_control/journal")).json()["entries"]
    assert [(e["system"], e["path"], e["status"]) for e in entries] == [
        ("onecheq", "/products.json", 200),
        ("noelleeming", "/nowhere", 404),
    ]
    first = entries[0]
    assert first["method"] == "GET" and first["query"] == "limit=2&page=1"
    assert (
        first["headers"]["user-agent"] == "retail-pipeline/0.1" and first["headers"]["if-none-match"] == '"x"'
    )
    assert first["sim_time"] == sim.clock.now().isoformat() and first["fault"] is None

    only = (await client.get("/_control/journal", params={"system": "noelleeming", "limit": 5})).json()
    assert only["count"] == 1 and only["entries"][0]["path"] == "/nowhere"
    assert [e.path for e in sim.journal.entries(limit=1)] == ["/nowhere"]  # the same journal in-process

    assert (await client.delete("/_control/journal")).status_code == 204
    assert len(sim.journal) == 0

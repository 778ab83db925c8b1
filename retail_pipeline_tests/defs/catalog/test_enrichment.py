"""``enriched_products`` through ``dg.materialize`` against the LLM simulator on loopback."""

from __future__ import annotations

import hashlib
from decimal import Decimal

import dagster as dg
import pytest
from sqlalchemy import text

from retail_pipeline.defs.catalog.enrichment import enriched_products
from retail_pipeline.defs.resources import LLMResource
from retail_pipeline.domain.enrichment import (
    FAILED_RETRY_RUNS,
    OFFLINE_VERSION,
    PROMPT_VERSION,
    STORE_CONTENT_VERSION,
    quality_score,
)
from retail_pipeline.simulators import FaultConfig
from retail_pipeline.simulators.llm import OutputFaults

from .seed import add_products, add_supplier

LONG_TITLE = "Bose QuietComfort Ultra Wireless Noise Cancelling Over-Ear Headphones with Spatial Audio, Black, Bluetooth"


def _product(sku: str, **changes) -> dict:
    product = {
        "sku": sku,
        "title": f"Sony WH-1000XM5 Headphones {sku}",
        "description": f"<p>Noise cancelling headphones &amp; 30 hours of battery ({sku}).</p>",
        "brand": "Sony",
        "categories": ["Audio", "Headphones"],
        "condition": "new",
        "gtin": "4548736132610",
        "price": "499.00",
        "currency": "NZD",
        "raw": {"attributes": {"Colour": "Black", "Battery (h)": 30}},
    }
    return {**product, **changes}


CATALOGUE = [
    _product("S-1"),
    _product("S-2", title=LONG_TITLE, brand="Bose"),
    _product("S-3"),
    # Two products with identical content (one supplier listing the same item twice): one call.
    _product("S-4", title="Sony WH-1000XM5 Headphones", description="Same."),
    _product("S-5", title="Sony WH-1000XM5 Headphones", description="Same."),
]


def _add_images(engine, sku: str, count: int) -> None:
    with engine.begin() as conn:
        for n in range(count):
            url = f"https://img.example/{sku}/{n}.jpg"
            sha = hashlib.sha256(url.encode()).hexdigest()
            conn.execute(
                text(
                    "WITH a AS (INSERT INTO retail.media_assets (sha256, rel_path, content_type, bytes)"
                    " VALUES (:sha, :path, 'image/jpeg', 100) RETURNING id)"
                    " INSERT INTO retail.supplier_product_images (supplier_product_id, source_url, position,"
                    " media_asset_id) SELECT sp.id, :url, :n, a.id FROM a, retail.supplier_products sp"
                    " WHERE sp.sku = :sku"
                ),
                {
                    "sha": sha,
                    "path": f"images/{sha[:2]}/{sha[2:4]}/{sha}.jpg",
                    "url": url,
                    "n": n,
                    "sku": sku,
                },
            )


@pytest.fixture
def acme(env, engine, instance) -> int:
    supplier_id = add_supplier(engine, instance, "acme")
    add_products(engine, supplier_id, CATALOGUE)
    _add_images(engine, "S-1", 2)
    return supplier_id


@pytest.fixture
def llm() -> LLMResource:
    return LLMResource(backoff_initial_seconds=0.01)  # LLM_* unset: the simulator at SIMULATOR_URL


def _materialize(instance, db, llm, code: str = "acme", *, raise_on_error: bool = True):
    return dg.materialize(
        [enriched_products],
        partition_key=code,
        instance=instance,
        resources={"db": db, "llm": llm},
        raise_on_error=raise_on_error,
    )


def _metadata(result) -> dict:
    return {
        k: v.value for k, v in result.asset_materializations_for_node("enriched_products")[0].metadata.items()
    }


def _calls(sim) -> list:
    return [e for e in sim.journal.entries("llm") if e.path == "/v1/chat/completions"]


def _rows(engine) -> dict:
    with engine.connect() as conn:
        rows = conn.execute(
            text(
                "SELECT sp.sku AS supplier_sku, p.* FROM retail.products p"
                " JOIN retail.supplier_products sp ON sp.id = p.supplier_product_id ORDER BY sp.sku"
            )
        ).all()
    return {row.supplier_sku: row for row in rows}


def test_products_are_enriched_once_and_a_rerun_makes_no_llm_calls(acme, sim, engine, db, instance, llm):
    meta = _metadata(_materialize(instance, db, llm))
    assert (meta["candidates"], meta["enriched"], meta["reused"], meta["cached"], meta["failed"]) == (
        5,
        5,
        1,
        0,
        0,
    )
    assert meta["llm_calls"] == len(_calls(sim)) == 4  # the two identical products shared one call
    assert (meta["enricher"], meta["model"], meta["prompt_version"]) == ("llm", "gpt-4o-mini", PROMPT_VERSION)

    rows = _rows(engine)
    assert all(
        r.status == "enriched" and r.enricher == "llm" and r.model == "gpt-4o-mini" for r in rows.values()
    )
    assert all(len(r.title) <= 80 and r.description and r.category == "Headphones" for r in rows.values())
    assert rows["S-2"].title.startswith("Bose QuietComfort Ultra") and len(LONG_TITLE) > 80
    assert (
        rows["S-1"].sku == "acme-S-1" and rows["S-1"].keywords and rows["S-1"].attributes["Colour"] == "Black"
    )
    expected = quality_score(
        title=rows["S-1"].title,
        description=rows["S-1"].description,
        image_count=2,
        attributes=rows["S-1"].attributes,
        brand="Sony",
    )
    assert rows["S-1"].quality_score == expected.total and expected.images == 15
    assert rows["S-3"].quality_score == expected.total - 15  # same shape, no images
    booked = [r for sku, r in rows.items() if sku != "S-5"]  # S-5 reused S-4's call
    assert all(r.prompt_tokens > 0 and r.completion_tokens > 0 and r.llm_attempts == 1 for r in booked)
    assert sum(r.prompt_tokens for r in rows.values()) == meta["prompt_tokens"] > 0
    assert sum(r.completion_tokens for r in rows.values()) == meta["completion_tokens"] > 0
    assert meta["products_enriched_total"] == 5 and meta["quality_score_mean"] > 0

    meta = _metadata(_materialize(instance, db, llm))
    assert len(_calls(sim)) == 4 and meta["llm_calls"] == 0
    assert (meta["cached"], meta["enriched"], meta["prompt_tokens"]) == (5, 0, 0)
    assert _rows(engine) == rows  # not even updated_at moved


def test_changed_input_costs_one_call_and_a_price_change_none(acme, sim, engine, db, instance, llm):
    _materialize(instance, db, llm)
    before = _rows(engine)
    changed = [_product("S-1", description="A new description."), _product("S-3", price="1.00")]
    add_products(engine, acme, changed)
    meta = _metadata(_materialize(instance, db, llm))
    assert (meta["llm_calls"], meta["enriched"], meta["cached"]) == (1, 1, 4)
    after = _rows(engine)
    assert (
        after["S-1"].input_hash != before["S-1"].input_hash and "new description" in after["S-1"].description
    )
    assert after["S-3"] == before["S-3"]


def test_a_new_image_refreshes_the_quality_score_without_a_call(acme, sim, engine, db, instance, llm):
    _materialize(instance, db, llm)
    before = _rows(engine)["S-3"].quality_score
    _add_images(engine, "S-3", 3)
    meta = _metadata(_materialize(instance, db, llm))
    assert meta["llm_calls"] == 0 and meta["quality_scores_refreshed"] == 1
    assert _rows(engine)["S-3"].quality_score == before + 20


@pytest.mark.parametrize(
    ("fault", "reason"),
    [
        ("invalid_json_rate", "invalid JSON"),
        ("schema_violation_rate", "schema violation at title"),
        ("truncated_rate", "truncated: finish_reason is length"),
        ("refusal_rate", "refused: I'm sorry"),
    ],
)
def test_unusable_answers_are_retried_then_recorded_as_failures(
    acme, sim, engine, db, instance, llm, fault, reason
):
    sim.backend("llm").configure_output_faults(OutputFaults(**{fault: 1.0}))
    result = _materialize(instance, db, llm)  # per-product failures never fail the partition
    meta = _metadata(result)
    assert (meta["failed"], meta["enriched"], meta["llm_calls"]) == (5, 0, 4 * 3)
    assert len(meta["failure_reasons"]) == 1 and reason in next(iter(meta["failure_reasons"]))
    rows = _rows(engine)
    assert all(r.status == "failed" and reason in r.error and r.title is None for r in rows.values())
    assert rows["S-1"].llm_attempts == 3 and rows["S-1"].prompt_tokens > 0

    # A later run retries them; once the model behaves they are enriched, attempts adding up.
    sim.backend("llm").configure_output_faults(OutputFaults())
    meta = _metadata(_materialize(instance, db, llm))
    assert (meta["enriched"], meta["failed"], meta["llm_calls"]) == (5, 0, 4)
    assert _rows(engine)["S-1"].llm_attempts == 4 and _rows(engine)["S-1"].error is None


def test_an_answer_that_fails_once_is_retried_within_the_run(acme, sim, engine, db, instance, llm):
    faults = OutputFaults(invalid_json_rate=0.5, truncated_rate=0.5, max_per_conversation=1)
    sim.backend("llm").configure_output_faults(faults)
    meta = _metadata(_materialize(instance, db, llm))
    assert (meta["enriched"], meta["failed"], meta["llm_calls"]) == (5, 0, 8)
    assert all(r.llm_attempts == 2 for sku, r in _rows(engine).items() if sku != "S-5")


def test_a_failing_product_is_given_up_after_its_retry_runs(acme, sim, engine, db, instance, llm):
    sim.backend("llm").configure_output_faults(OutputFaults(refusal_rate=1.0))
    for _ in range(FAILED_RETRY_RUNS):
        _materialize(instance, db, llm)
    sim.journal.clear()
    meta = _metadata(_materialize(instance, db, llm))
    assert (meta["llm_calls"], meta["cached"], len(_calls(sim))) == (0, 5, 0)
    assert _rows(engine)["S-1"].llm_attempts == 3 * FAILED_RETRY_RUNS


def test_429s_5xx_and_garbled_bodies_are_retried(acme, sim, engine, db, instance):
    faults = FaultConfig(
        rate_limit_rate=0.2, error_rate=0.1, malformed_rate=0.1, retry_after_seconds=0, latency_ms=5
    )
    sim.faults.set("llm", faults)
    llm = LLMResource(backoff_initial_seconds=0.01, max_attempts=12)  # 0.4 ** 12: no product runs out
    meta = _metadata(_materialize(instance, db, llm))
    calls = _calls(sim)
    assert {"rate_limit", "error", "malformed"} <= {e.fault for e in calls}
    assert (meta["enriched"], meta["failed"], meta["llm_calls"]) == (5, 0, len(calls))


def test_an_llm_outage_fails_the_run_after_recording_the_failures(acme, sim, engine, db, instance, llm):
    sim.faults.set("llm", FaultConfig(error_rate=1.0))
    result = _materialize(instance, db, llm, raise_on_error=False)
    assert not result.success
    failure = next(e for e in result.all_events if e.event_type_value == "STEP_FAILURE")
    assert "the service looks down" in failure.event_specific_data.error.message
    rows = _rows(engine)
    assert len(rows) == 5 and all(
        r.status == "failed" and r.error.startswith("HTTP 50") for r in rows.values()
    )


@pytest.mark.parametrize(
    ("config", "message"),
    [
        ({"api_key": "sk-wrong"}, "HTTP 401: Incorrect API key provided"),
        ({"api_key": "sk-right", "model": "no-such-model"}, "The model `no-such-model` does not exist"),
    ],
)
def test_a_bad_key_or_model_stops_the_run_with_the_reason(acme, sim, engine, db, instance, config, message):
    backend = sim.backend("llm")
    backend.config = backend.config.model_copy(update={"api_key": "sk-right"})
    result = _materialize(instance, db, LLMResource(**config), raise_on_error=False)
    failure = next(e for e in result.all_events if e.event_type_value == "STEP_FAILURE")
    assert "the LLM cannot be used as configured" in failure.event_specific_data.error.message
    assert message in failure.event_specific_data.error.message
    assert _rows(engine) == {}  # a configuration error is not blamed on the products


def test_a_blocked_supplier_keeps_the_stores_content_with_the_reason(env, sim, engine, db, instance, llm):
    reason = "second-hand stock: listings keep the store's own description"
    supplier_id = add_supplier(engine, instance, "cash_converters", blocked_reason=reason)
    add_products(engine, supplier_id, CATALOGUE[:2])
    meta = _metadata(_materialize(instance, db, llm, "cash_converters"))
    assert (meta["blocked"], meta["blocked_reason"], meta["llm_calls"], meta["enriched"]) == (2, reason, 0, 0)
    assert meta["enricher"] == "none: supplier blocked" and _calls(sim) == []
    rows = _rows(engine)
    for row in rows.values():
        assert (row.status, row.error, row.enricher, row.model) == ("blocked", reason, "offline", None)
        assert row.prompt_version == STORE_CONTENT_VERSION and row.quality_score is not None
    assert (
        rows["S-1"].title == CATALOGUE[0]["title"] and rows["S-1"].description == CATALOGUE[0]["description"]
    )
    assert rows["S-2"].title is None  # too long to list: LaunchLock reads and flags the store's title

    again = _metadata(_materialize(instance, db, llm, "cash_converters"))
    assert (again["cached"], again["blocked"]) == (2, 2) and _rows(engine) == rows


def test_without_an_llm_the_offline_enricher_runs_and_says_so(acme, sim, engine, db, instance, monkeypatch):
    monkeypatch.setenv("LLM_MODE", "offline")
    meta = _metadata(_materialize(instance, db, LLMResource()))
    assert (meta["enricher"], meta["model"], meta["enriched"], meta["llm_calls"]) == ("offline", "", 5, 0)
    assert _calls(sim) == []
    rows = _rows(engine)
    assert all(
        (r.enricher, r.model, r.prompt_version) == ("offline", None, OFFLINE_VERSION) for r in rows.values()
    )
    assert rows["S-1"].title == "Sony WH-1000XM5 Headphones S-1" and rows["S-1"].prompt_tokens == 0
    assert rows["S-1"].quality_score > Decimal(0)
    # No supplier weight and no estimate: the category default, saying which.
    assert (rows["S-1"].parcel_source, rows["S-1"].weight_grams) == ("category_default", 600)
    assert rows["S-1"].parcel_reason == "category default 'headphones'"

    # Once an LLM is configured, every product is enriched by it (the cache key names the enricher).
    monkeypatch.setenv("LLM_MODE", "auto")
    meta = _metadata(_materialize(instance, db, LLMResource()))
    assert (meta["enricher"], meta["enriched"], meta["llm_calls"]) == ("llm", 5, 4)


def test_the_parcel_is_the_suppliers_else_the_models_estimate_and_follows_supplier_changes(
    env, sim, engine, db, instance, llm
):
    supplier_id = add_supplier(engine, instance, "acme")
    weighed = {"weight_grams": 254, "length_mm": 270, "width_mm": 210, "height_mm": 80}
    add_products(engine, supplier_id, [_product("W-1", **weighed), _product("W-2", title="Sony WH-CH720N")])
    _materialize(instance, db, llm)
    rows = _rows(engine)
    w1, w2 = rows["W-1"], rows["W-2"]
    assert (w1.parcel_source, w1.weight_grams, w1.length_mm, w1.parcel_reason) == ("supplier", 254, 270, None)
    assert (w2.parcel_source, w2.weight_grams) == ("estimate", 390)  # the model's estimate, with its reason
    assert (
        w2.parcel_reason == w2.parcel_estimate["reason"] == "typical headphones & audio in retail packaging"
    )
    assert (w2.length_mm, w2.width_mm, w2.height_mm) == (186, 128, 70)

    # The supplier starts giving W-2's weight: the parcel follows on the next run, without a call.
    calls = len(_calls(sim))
    add_products(engine, supplier_id, [_product("W-2", title="Sony WH-CH720N", weight_grams=192)])
    meta = _metadata(_materialize(instance, db, llm))
    assert (meta["cached"], meta["parcels_refreshed"], len(_calls(sim))) == (2, 1, calls)
    w2 = _rows(engine)["W-2"]
    assert (w2.parcel_source, w2.weight_grams, w2.length_mm) == ("supplier", 192, 186)
    assert w2.parcel_reason == "box estimated: typical headphones & audio in retail packaging"
    assert (
        _metadata(_materialize(instance, db, llm))["parcels_refreshed"] == 0
    )  # settled: a re-run writes nothing


def test_a_product_with_nothing_to_enrich_fails_without_a_call(env, sim, engine, db, instance, llm):
    supplier_id = add_supplier(engine, instance, "acme")
    add_products(engine, supplier_id, [{"sku": "EMPTY", "brand": "Sony"}])
    meta = _metadata(_materialize(instance, db, llm))
    assert (meta["failed"], meta["llm_calls"]) == (1, 0) and _calls(sim) == []
    assert _rows(engine)["EMPTY"].error.startswith("nothing to enrich")
    assert (
        _metadata(_materialize(instance, db, llm))["cached"] == 1
    )  # not retried: it would fail the same way


def test_products_imported_from_a_channels_listings_are_never_enriched(env, sim, engine, db, instance, llm):
    from retail_pipeline.defs.listings.adoption import import_product, listing_supplier

    remote = {"external_id": "E-7", "sku": "SHOP-7", "title": "Marshall MG15 practice amp", "price": "149.00",
              "currency": "NZD", "quantity": 1, "description": "As sold on the channel.", "condition": "used"}  # fmt: skip
    with engine.begin() as conn:
        import_product(conn, "reverb", remote)
        instance.add_dynamic_partitions("supplier", ["listings_reverb"])
        assert listing_supplier(conn, "reverb")  # made once, found again
    before = _rows(engine)
    meta = _metadata(_materialize(instance, db, llm, "listings_reverb"))
    assert meta["skipped"] is True and _calls(sim) == []
    assert _rows(engine) == before and before["SHOP-7"].title == "Marshall MG15 practice amp"

"""The pure enrichment rules: strict schema, output parsing, cache key, quality score, offline enricher."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest

from retail_pipeline.domain.enrichment import (
    FAILED_RETRY_RUNS,
    STORE_CONTENT,
    Enricher,
    EnrichmentInput,
    EnrichmentOutput,
    InvalidOutput,
    build_messages,
    input_hash,
    offline_enrich,
    parse_output,
    product_sku,
    quality_score,
    response_format,
    should_enrich,
    store_content,
    strict_json_schema,
)
from retail_pipeline.media.links import check_media_path

ROW = {
    "title": "Sony WH-1000XM5 Wireless Noise Cancelling Headphones",
    "description": "<p>Industry-leading noise cancellation &amp; 30 hours of battery.</p>",
    "brand": "Sony",
    "categories": ["Audio", "Headphones"],
    "condition": "refurbished",
    "gtin": "4548736132610",
    "mpn": "WH1000XM5/B",
    "raw": {"attributes": {"Colour": "Black", "Weight (g)": 250, "Nested": {"ignored": True}}},
}


def _answer(**changes) -> str:
    answer = {
        "title": "t",
        "description": "d",
        "category": "c",
        "attributes": [],
        "condition": "new",
        "keywords": [],
    }
    return json.dumps({k: v for k, v in {**answer, **changes}.items() if v is not None})


def _objects(schema):
    if isinstance(schema, dict):
        if schema.get("type") == "object":
            yield schema
        for value in schema.values():
            yield from _objects(value)
    elif isinstance(schema, list):
        for item in schema:
            yield from _objects(item)


def test_strict_schema_closes_every_object_and_requires_every_property():
    schema = strict_json_schema(EnrichmentOutput)
    objects = list(_objects(schema))
    assert len(objects) == 3  # the output, the attribute pair and the shipping estimate
    for obj in objects:
        assert obj["additionalProperties"] is False
        assert obj["required"] == list(obj["properties"])
    assert set(schema["properties"]) == {
        "title",
        "description",
        "category",
        "attributes",
        "condition",
        "keywords",
        "shipping_estimate",
    }
    # Limits strict mode cannot carry are stated for the model, and enforced by the pydantic model.
    title = schema["properties"]["title"]
    assert "maxLength" not in title and "At most 80 characters" in title["description"]
    assert schema["properties"]["condition"]["enum"] == ["new", "used", "refurbished", "damaged", "unknown"]
    assert "default" not in json.dumps(schema) and '"title": "' not in json.dumps(schema)
    fmt = response_format()
    assert fmt["type"] == "json_schema" and fmt["json_schema"]["strict"] is True
    assert fmt["json_schema"]["schema"] == schema


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        ('{"title": "x"', "invalid JSON"),
        ('{"title": "A"} trailing', "invalid JSON"),
        ("", "empty content"),
        (None, "empty content"),
        (_answer(title="T" * 81), "schema violation at title"),
        (_answer(title=None), "schema violation at title"),
        (_answer(condition="mint"), "schema violation at condition"),
        (_answer(attributes=[{"name": "Colour"}]), "schema violation at attributes.0.value"),
        (_answer(extra="field"), "schema violation at extra"),
    ],
)
def test_unusable_output_is_classified(content, reason):
    with pytest.raises(InvalidOutput, match=reason):
        parse_output(content)


def test_valid_output_parses_and_keeps_the_first_ten_distinct_keywords():
    output = parse_output(
        json.dumps(
            {
                "title": "  Sony WH-1000XM5 Headphones ",
                "description": "Quiet.",
                "category": "Headphones",
                "attributes": [{"name": "Colour", "value": "Black"}, {"name": "Colour", "value": "Blue"}],
                "condition": "used",
                "keywords": ["sony", "Sony", *[f"k{i}" for i in range(20)]],
            }
        )
    )
    assert output.title == "Sony WH-1000XM5 Headphones"
    assert output.keywords == ["sony", *[f"k{i}" for i in range(9)]]
    assert output.attributes_object() == {"Colour": "Black"}


def test_input_reads_source_attributes_and_the_user_message_carries_the_product():
    product = EnrichmentInput.from_supplier_product(ROW)
    assert product.attributes == (("Colour", "Black"), ("Weight (g)", "250"))
    system, user = build_messages(product)
    assert system["role"] == "system" and "80 characters" in system["content"]
    payload = json.loads(user["content"].split("\n", 1)[1])
    assert payload["title"] == ROW["title"] and payload["attributes"][0] == {
        "name": "Colour",
        "value": "Black",
    }
    assert "price" not in payload


def test_input_hash_moves_with_content_prompt_and_model_but_not_with_price_or_key_order():
    product = EnrichmentInput.from_supplier_product(ROW)
    llm = Enricher.llm("gpt-4o-mini")
    base = input_hash(product, llm)
    assert base == input_hash(EnrichmentInput.from_supplier_product(dict(reversed(ROW.items()))), llm)
    assert base == input_hash(EnrichmentInput.from_supplier_product({**ROW, "price": Decimal("1")}), llm)
    changed = EnrichmentInput.from_supplier_product({**ROW, "description": "Other words."})
    others = [
        input_hash(changed, llm),
        input_hash(product, Enricher.llm("gpt-4o")),
        input_hash(product, Enricher.offline()),
        input_hash(product, STORE_CONTENT, blocked_reason="second-hand"),
    ]
    assert len({base, *others}) == 5


def test_should_enrich_caches_unchanged_input_and_retries_failures_a_bounded_number_of_runs():
    assert should_enrich(
        stored_hash=None, stored_status=None, stored_attempts=0, new_hash="h", max_attempts_per_run=3
    )
    common = {"stored_hash": "h", "new_hash": "h", "max_attempts_per_run": 3}
    assert not should_enrich(stored_status="enriched", stored_attempts=3, **common)
    assert should_enrich(stored_status="failed", stored_attempts=3, **common)
    assert not should_enrich(stored_status="failed", stored_attempts=3 * FAILED_RETRY_RUNS, **common)
    assert not should_enrich(
        stored_status="failed", stored_attempts=0, **common
    )  # nothing to enrich: no retry


def test_quality_score_sub_scores():
    full = quality_score(
        title="Sony WH-1000XM5 Wireless Noise Cancelling Headphones Black",
        description="x" * 400,
        image_count=3,
        attributes={f"a{i}": "v" for i in range(5)},
        brand="Sony",
    )
    assert (full.title, full.description, full.images, full.attributes, full.total) == (30, 30, 20, 20, 100)
    partial = quality_score(
        title="WH-1000XM5 Headphones",  # 21 characters, no brand
        description="<p>" + "y" * 100 + "</p>",  # tags do not count
        image_count=1,
        attributes={"Colour": "Black", "Empty": " "},
        brand="Sony",
    )
    assert partial.title == Decimal("8.40") and partial.description == Decimal("7.50")
    assert (partial.images, partial.attributes, partial.total) == (10, 4, Decimal("29.90"))
    too_long = quality_score(title="t" * 81, description=None, image_count=0, attributes={}, brand=None)
    assert too_long.total == 0
    assert quality_score(
        title="Tiny", description="", image_count=2, attributes={}, brand=None
    ).total == Decimal("26.60")


def test_offline_enricher_is_deterministic_and_uses_only_the_suppliers_facts():
    long_title = {
        **ROW,
        "title": "Wireless Noise Cancelling Over-Ear Headphones with Carry Case, Cable and Adapter",
    }
    product = EnrichmentInput.from_supplier_product(long_title)
    output = offline_enrich(product)
    assert output == offline_enrich(product)
    assert (
        output.title.startswith("Sony Wireless")
        and len(output.title) <= 80
        and not output.title.endswith(",")
    )
    assert (
        "Industry-leading noise cancellation & 30 hours" in output.description
        and "<p>" not in output.description
    )
    assert output.category == "Headphones" and output.condition == "refurbished"
    assert output.attributes_object() == {
        "Colour": "Black",
        "Weight (g)": "250",
        "Brand": "Sony",
        "MPN": "WH1000XM5/B",
        "GTIN": "4548736132610",
    }
    assert "sony" in output.keywords and len(output.keywords) <= 10
    with pytest.raises(InvalidOutput, match="nothing to enrich"):
        offline_enrich(EnrichmentInput(brand="Sony"))


def test_store_content_keeps_the_stores_words_and_drops_a_title_too_long_to_list():
    long_description = "<p>Line one.</p>\n\n<p>Line two.</p>" + "x" * 7000
    content = store_content({**ROW, "description": long_description})
    assert content["title"] == ROW["title"] and content["description"] == long_description  # unabridged
    assert content["category"] == "Headphones" and content["keywords"] == []
    assert content["attributes"] == {"Colour": "Black", "Weight (g)": "250"}
    assert store_content({"title": "x" * 81})["title"] is None


def test_product_sku_is_plain_when_it_can_be_and_unique_within_50_characters_otherwise():
    assert product_sku("onecheq", "OC-100007") == "onecheq-OC-100007"
    awkward = [product_sku("cash_converters", s) for s in ("A B/C", "A-B-C", "x" * 60, "x" * 61)]
    assert all(len(s) <= 50 and check_media_path(s) for s in awkward)  # URL- and path-safe too
    assert len(set(awkward)) == 4

"""`channel_categories` [channel]: each listable product's category on the channel, from the channel's
own taxonomy, and the attributes that category takes, filled by the LLM.

For a channel whose plug-in has a `Taxonomy` (a channel without one takes our category as free text:
nothing to do here). Per product, only when its question changed (`query_hash`: title, brand, our
category, keywords, description excerpt) and no operator has chosen:

1. the taxonomy's suggestions (one or two calls through the channel's client, in its call budget; a
   budget used up leaves the rest for the next run);
2. `domain.channel_categories.choose`: the top one when confident and clearly ahead (chosen_by auto);
   else ONE ops task `category_choice` per product × channel with the candidates (raised again it is
   bumped, never doubled), and the draft waits ("waiting for the operator to choose a … category (task
   #n)"); no candidate at all: "<channel> has no category for this product", and no task;
3. for a chosen category: its attribute schema (cached per channel × category in
   `category_attribute_schemas`), and the LLM fills it with the schema itself as the strict
   structured-output schema, cached by input hash (product data, schema, model): a second run makes no
   call. Required attributes left empty are `missing_required`, which block the draft naming them.

`listing_drafts` reads the result (`category_problems`, `channel_category`, `channel_attributes`).
"""

# No `from __future__ import annotations`: Dagster inspects the context annotations at runtime.

import asyncio
import json
from dataclasses import dataclass, field
from typing import Any

import dagster as dg
from sqlalchemy import Connection, Engine, text

from retail_pipeline.channels.plugin import CategorySuggestion, Channel
from retail_pipeline.channels.registry import channel as channel_plugin
from retail_pipeline.db.activity import log_activity
from retail_pipeline.db.ops_tasks import open_task, resolve_task
from retail_pipeline.defs.channel_pools import holding_channel_pool
from retail_pipeline.defs.listings.drafts import build_drafts
from retail_pipeline.defs.resources import ChannelsResource, DatabaseResource, LLMResource
from retail_pipeline.domain.channel_categories import (
    Choice,
    attributes_input_hash,
    choose,
    clean_attributes,
    known_values,
    missing_required,
    query_for,
    query_hash,
    tied,
)
from retail_pipeline.integrations.llm.client import EnrichmentFailed
from retail_pipeline.integrations.marketplaces.base import BudgetExhausted, ChannelBlocked, ChannelError
from retail_pipeline.partitions import listing_channels
from retail_pipeline.settings import get_settings

TASK_KIND = "category_choice"

LISTABLE = text(
    """
    SELECT p.id AS product_id, p.sku, p.title, coalesce(p.description, sp.description, '') AS description,
           p.category, p.attributes, p.keywords, sp.brand, sp.gtin, sp.mpn
      FROM retail.products p
      JOIN retail.validation_results vr ON vr.product_id = p.id AND vr.passed
      JOIN retail.supplier_products sp ON sp.id = p.supplier_product_id
     WHERE p.status = 'enriched' AND sp.removed_at IS NULL AND p.selling_stopped_at IS NULL
       AND (CAST(:product_ids AS bigint[]) IS NULL OR p.id = ANY(CAST(:product_ids AS bigint[])))
     ORDER BY p.id
    """
)
STORED = text("SELECT * FROM retail.channel_categories WHERE channel = :channel")
UPSERT = text(
    """
    INSERT INTO retail.channel_categories AS c
           (product_id, channel, status, category_id, category_path, confidence, chosen_by, chosen_by_actor,
            reason, candidates, query, query_hash, attributes, missing_required, attributes_hash, enricher,
            model, prompt_tokens, completion_tokens, llm_attempts, task_id, error, updated_at)
    VALUES (:product_id, :channel, :status, :category_id, :category_path, :confidence, :chosen_by,
            :chosen_by_actor, :reason, CAST(:candidates AS jsonb), CAST(:query AS jsonb), :query_hash,
            CAST(:attributes AS jsonb), :missing_required, :attributes_hash, :enricher, :model,
            :prompt_tokens, :completion_tokens, :llm_attempts, :task_id, :error, now())
    ON CONFLICT (product_id, channel) DO UPDATE SET
        status = EXCLUDED.status, category_id = EXCLUDED.category_id, category_path = EXCLUDED.category_path,
        confidence = EXCLUDED.confidence, chosen_by = EXCLUDED.chosen_by,
        chosen_by_actor = EXCLUDED.chosen_by_actor, reason = EXCLUDED.reason,
        candidates = EXCLUDED.candidates, query = EXCLUDED.query, query_hash = EXCLUDED.query_hash,
        attributes = EXCLUDED.attributes, missing_required = EXCLUDED.missing_required,
        attributes_hash = EXCLUDED.attributes_hash, enricher = EXCLUDED.enricher, model = EXCLUDED.model,
        prompt_tokens = EXCLUDED.prompt_tokens, completion_tokens = EXCLUDED.completion_tokens,
        llm_attempts = EXCLUDED.llm_attempts, task_id = EXCLUDED.task_id, error = EXCLUDED.error,
        updated_at = now()
    """
)
SCHEMA = text(
    "SELECT schema FROM retail.category_attribute_schemas WHERE channel = :channel AND category_id = :id"
)
STORE_SCHEMA = text(
    """INSERT INTO retail.category_attribute_schemas (channel, category_id, schema)
       VALUES (:channel, :id, CAST(:schema AS jsonb))
       ON CONFLICT (channel, category_id) DO UPDATE SET schema = EXCLUDED.schema, fetched_at = now()"""
)


def task_key(channel: str, product_id: int) -> str:
    return f"{channel}:{product_id}"


def candidates_json(suggestions: list[CategorySuggestion]) -> list[dict[str, Any]]:
    return [{"category_id": s.category_id, "path": s.path, "confidence": s.confidence} for s in suggestions]


def product_payload(row: dict[str, Any]) -> dict[str, Any]:
    """What the LLM is shown of a product (and what its cache key covers)."""
    return {
        "title": row["title"] or "",
        "brand": row["brand"],
        "mpn": row["mpn"],
        "gtin": row["gtin"],
        "category": row["category"],
        "description": (row["description"] or "")[:2000],
        "attributes": row["attributes"] or {},
    }


@dataclass
class Outcome:
    counts: dict[str, int] = field(
        default_factory=lambda: {
            "products": 0,
            "asked": 0,
            "unchanged": 0,
            "chosen_auto": 0,
            "chosen_operator": 0,
            "chosen_by_model": 0,  # of chosen_auto: close candidates the model chose between
            "needs_choice": 0,
            "no_category": 0,
            "failed": 0,
            "deferred": 0,
            "attributes_filled": 0,
            "attributes_cached": 0,
            "missing_required": 0,
            "llm_calls": 0,
            "prompt_tokens": 0,
            "completion_tokens": 0,
            "schemas_fetched": 0,
        }
    )
    # category id -> its attribute schema, read once per run (many products share a category)
    schemas: dict[str, dict] = field(default_factory=dict)


def _row_params(
    channel: str, product_id: int, stored: dict[str, Any] | None, **changes: Any
) -> dict[str, Any]:
    base = {
        "status": "failed",
        "category_id": None,
        "category_path": None,
        "confidence": None,
        "chosen_by": None,
        "chosen_by_actor": None,
        "reason": None,
        "candidates": [],
        "query": {},
        "query_hash": "",
        "attributes": {},
        "missing_required": [],
        "attributes_hash": None,
        "enricher": None,
        "model": None,
        "prompt_tokens": 0,
        "completion_tokens": 0,
        "llm_attempts": 0,
        "task_id": None,
        "error": None,
    }
    if stored:
        base.update({k: stored[k] for k in base if k in stored})
    base.update(changes)
    out = dict(base, product_id=product_id, channel=channel)
    out["candidates"] = json.dumps(out["candidates"])
    out["query"] = json.dumps(out["query"], default=list)
    out["attributes"] = json.dumps(out["attributes"])
    out["missing_required"] = list(out["missing_required"] or [])
    return out


def record_choice(
    conn: Connection,
    plugin: Channel,
    row: dict[str, Any],
    stored: dict[str, Any] | None,
    choice: Choice,
    suggestions: list[CategorySuggestion],
    query: dict[str, Any],
    qhash: str,
    run_id: str | None,
) -> dict[str, Any]:
    """Store the decision (and open or close the operator's task); the row as stored."""
    product_id, channel = row["product_id"], plugin.name
    key = task_key(channel, product_id)
    common = {
        "candidates": candidates_json(suggestions),
        "query": query,
        "query_hash": qhash,
        "reason": choice.reason,
    }
    if choice.status == "chosen":
        chosen = choice.chosen
        resolve_task(conn, kind=TASK_KIND, key=key, by="system")
        changes = dict(
            common,
            status="chosen",
            category_id=chosen.category_id,
            category_path=chosen.path,
            confidence=chosen.confidence,
            chosen_by="auto",
            chosen_by_actor=None,
            task_id=None,
            error=None,
        )
        if not stored or stored.get("category_id") != chosen.category_id:
            changes |= {"attributes": {}, "missing_required": [], "attributes_hash": None}
    elif choice.status == "needs_choice":
        task_id = open_task(
            conn,
            kind=TASK_KIND,
            key=key,
            severity="warning",
            title=f"Choose a {plugin.title} category for {row['sku']}: {row['title'] or ''}"[:300],
            details={"product_id": product_id, "sku": row["sku"], "reason": choice.reason,
                     "candidates": candidates_json(suggestions)},
            channel=channel,
            entity_type="product",
            entity_id=str(product_id),
            run_id=run_id,
        )  # fmt: skip
        changes = dict(
            common,
            status="needs_choice",
            category_id=None,
            category_path=None,
            confidence=suggestions[0].confidence if suggestions else None,
            chosen_by=None,
            task_id=task_id,
            attributes={},
            missing_required=[],
            attributes_hash=None,
            error=None,
        )
    else:
        resolve_task(conn, kind=TASK_KIND, key=key, by="system")
        changes = dict(
            common,
            status="no_category",
            category_id=None,
            category_path=None,
            confidence=None,
            chosen_by=None,
            task_id=None,
            attributes={},
            missing_required=[],
            attributes_hash=None,
            error=None,
        )
    params = _row_params(channel, product_id, stored, **changes)
    conn.execute(UPSERT, params)
    return {**(stored or {}), **changes}


async def _schema(engine: Engine, plugin: Channel, client: Any, category_id: str, outcome: Outcome) -> dict:
    if category_id in outcome.schemas:
        return outcome.schemas[category_id]
    with engine.connect() as conn:
        cached = conn.scalar(SCHEMA, {"channel": plugin.name, "id": category_id})
    if cached is not None:
        outcome.schemas[category_id] = cached
        return cached
    attributes = await plugin.taxonomy.attributes(client, category_id)
    outcome.counts["schemas_fetched"] += 1
    with engine.begin() as conn:
        conn.execute(
            STORE_SCHEMA, {"channel": plugin.name, "id": category_id, "schema": json.dumps(attributes.schema)}
        )
    outcome.schemas[category_id] = attributes.schema
    return attributes.schema


async def fill_attributes(
    engine: Engine, plugin: Channel, client: Any, llm: LLMResource, row: dict[str, Any], stored: dict[str, Any],
    outcome: Outcome,
) -> None:  # fmt: skip
    """The chosen category's attributes for one product (cached by input hash)."""
    if plugin.taxonomy.attributes is None:
        return
    category_id = stored["category_id"]
    schema = await _schema(engine, plugin, client, category_id, outcome)
    payload = product_payload(row)
    enricher = llm.enricher
    ahash = attributes_input_hash(
        plugin.name, category_id, schema, payload, f"{enricher.kind}:{enricher.model}"
    )
    if stored.get("attributes_hash") == ahash:
        outcome.counts["attributes_cached"] += 1
        return
    changes: dict[str, Any] = {"enricher": enricher.kind, "model": enricher.model}
    try:
        result = await asyncio.to_thread(
            llm.fill_attributes, plugin.title, stored["category_path"], schema, payload
        )
    except EnrichmentFailed as failed:
        outcome.counts["llm_calls"] += failed.attempts
        values = known_values(row["brand"], row["mpn"], schema)
        changes |= {
            "attributes": values,
            "missing_required": missing_required(schema, values),
            "attributes_hash": None,  # asked again next run
            "error": f"attributes not filled: {failed.reason}",
            "prompt_tokens": stored.get("prompt_tokens", 0) + failed.usage.prompt_tokens,
            "completion_tokens": stored.get("completion_tokens", 0) + failed.usage.completion_tokens,
            "llm_attempts": stored.get("llm_attempts", 0) + failed.attempts,
        }
    else:
        outcome.counts["llm_calls"] += result.attempts
        outcome.counts["prompt_tokens"] += result.usage.prompt_tokens
        outcome.counts["completion_tokens"] += result.usage.completion_tokens
        values = known_values(row["brand"], row["mpn"], schema) | clean_attributes(schema, result.output)
        missing = missing_required(schema, values)
        outcome.counts["attributes_filled"] += 1
        outcome.counts["missing_required"] += bool(missing)
        changes |= {
            "attributes": values,
            "missing_required": missing,
            "attributes_hash": ahash,
            "error": None,
            "model": result.model or enricher.model,
            "prompt_tokens": result.usage.prompt_tokens,
            "completion_tokens": result.usage.completion_tokens,
            "llm_attempts": result.attempts,
        }
    with engine.begin() as conn:
        conn.execute(UPSERT, _row_params(plugin.name, row["product_id"], stored, **changes))
    stored.update(changes)


async def _model_choice(
    plugin: Channel, llm: LLMResource, row: dict[str, Any], close: list[CategorySuggestion], choice: Choice,
    outcome: Outcome,
) -> Choice:  # fmt: skip
    """Close candidates the channel's order cannot separate: the model chooses one, or none (then the
    operator does, as before)."""
    try:
        result = await asyncio.to_thread(llm.choose_category, plugin.title, close, product_payload(row))
    except EnrichmentFailed as failed:
        outcome.counts["llm_calls"] += failed.attempts
        return choice
    outcome.counts["llm_calls"] += result.attempts
    outcome.counts["prompt_tokens"] += result.usage.prompt_tokens
    outcome.counts["completion_tokens"] += result.usage.completion_tokens
    picked = next((c for c in close if c.category_id == result.output), None)
    if picked is None:
        return choice
    outcome.counts["chosen_by_model"] += 1
    return Choice("chosen", picked, f"the model chose {picked.path} of {len(close)} close candidates")


async def categorise(
    engine: Engine,
    channel: str,
    client: Any,
    llm: LLMResource,
    *,
    product_ids: list[int] | None = None,
    run_id: str | None = None,
    min_confidence: float | None = None,
    margin: float | None = None,
) -> dict[str, int]:
    """Choose (or keep) each listable product's category on `channel` and fill its attributes."""
    plugin = channel_plugin(channel)
    outcome = Outcome()
    if plugin.taxonomy is None:
        return outcome.counts
    settings = get_settings()
    min_confidence = settings.category_min_confidence if min_confidence is None else min_confidence
    margin = settings.category_margin if margin is None else margin
    with engine.connect() as conn:
        rows = [dict(r._mapping) for r in conn.execute(LISTABLE, {"product_ids": product_ids})]
        stored_rows = {r.product_id: dict(r._mapping) for r in conn.execute(STORED, {"channel": channel})}
    budget_spent = False
    for row in rows:
        outcome.counts["products"] += 1
        product_id = row["product_id"]
        stored = stored_rows.get(product_id)
        query = query_for(
            title=row["title"] or "",
            brand=row["brand"],
            category=row["category"],
            gtin=row["gtin"],
            mpn=row["mpn"],
            keywords=row["keywords"] or (),
            description=row["description"] or "",
        )
        qhash = query_hash(channel, query)
        operator_chose = stored is not None and stored["chosen_by"] == "operator"
        if stored is not None and (
            operator_chose or (stored["query_hash"] == qhash and stored["status"] != "failed")
        ):
            outcome.counts["unchanged"] += 1
        elif budget_spent:
            outcome.counts["deferred"] += 1
            continue
        else:
            outcome.counts["asked"] += 1
            try:
                suggestions = await plugin.taxonomy.suggest(client, query)
            except (BudgetExhausted, ChannelBlocked):  # blocked: a person first (the listing pass asks)
                budget_spent = True
                outcome.counts["deferred"] += 1
                continue
            except ChannelError as error:
                outcome.counts["failed"] += 1
                with engine.begin() as conn:
                    conn.execute(
                        UPSERT,
                        _row_params(channel, product_id, stored, status="failed", category_id=None, chosen_by=None,
                                    query=query.__dict__, query_hash=qhash, error=str(error)[:500]),
                    )  # fmt: skip
                continue
            choice = choose(suggestions, min_confidence=min_confidence, margin=margin)
            if close := tied(suggestions, min_confidence=min_confidence, margin=margin):
                choice = await _model_choice(plugin, llm, row, close, choice, outcome)
            with engine.begin() as conn:
                stored = record_choice(
                    conn, plugin, row, stored, choice, suggestions, query.__dict__, qhash, run_id
                )
        status = stored["status"]
        if status == "chosen":
            outcome.counts["chosen_operator" if stored["chosen_by"] == "operator" else "chosen_auto"] += 1
            if budget_spent:
                continue
            try:
                await fill_attributes(engine, plugin, client, llm, row, stored, outcome)
            except BudgetExhausted:
                budget_spent = True
                outcome.counts["deferred"] += 1
            except ChannelError as error:
                outcome.counts["failed"] += 1
                with engine.begin() as conn:
                    conn.execute(
                        UPSERT, _row_params(channel, product_id, stored, error=f"attributes: {error}"[:500])
                    )
        elif status in ("needs_choice", "no_category"):
            outcome.counts[status] += 1
    return outcome.counts


@dg.asset(
    partitions_def=listing_channels,
    deps=[dg.AssetDep("validated_products", partition_mapping=dg.AllPartitionMapping())],
    group_name="listings",
    kinds={"postgres"},
    pool="channel_listing_apis",  # the channels' taxonomy APIs (and the LLM, for attributes)
)
def channel_categories(
    context: dg.AssetExecutionContext, db: DatabaseResource, channels: ChannelsResource, llm: LLMResource
) -> dg.MaterializeResult:
    """Each listable product's category on the channel from the channel's taxonomy (auto when
    confident, else an operator's task with the candidates) and the attributes it requires, filled by
    the LLM from the category's own schema. Channels without a taxonomy: nothing to do."""
    channel = context.partition_key
    if channel_plugin(channel).taxonomy is None:
        return dg.MaterializeResult(metadata={"taxonomy": "none: our category is sent as free text"})

    async def run() -> dict[str, int]:
        client = channels.client(channel)
        try:
            return await categorise(db.engine, channel, client, llm, run_id=context.run_id)
        finally:
            await client.aclose()

    with holding_channel_pool(context, channel):
        counts = asyncio.run(run())
    return dg.MaterializeResult(metadata=counts)


# --- an operator's pick ------------------------------------------------------------------------------


class NotAChoice(ValueError):
    """The category cannot be chosen for this product on this channel (the message says why)."""


async def operator_choice(
    engine: Engine,
    channel: str,
    product_id: int,
    category_id: str,
    *,
    actor: str,
    client: Any,
    llm: LLMResource,
) -> dict[str, Any]:
    """An operator's category for one product: one of the stored candidates, or any category the
    channel's taxonomy knows (its attribute schema answers for it). Recorded as chosen_by operator (a
    later run keeps it), the `category_choice` task resolved, the attributes filled, the draft rebuilt.
    Returns the stored row. Raises NotAChoice, LookupError (no such listable product)."""
    plugin = channel_plugin(channel)
    if plugin.taxonomy is None:
        raise NotAChoice(f"{plugin.title} has no categories to choose from: it takes our category as text")
    with engine.connect() as conn:
        row = conn.execute(LISTABLE, {"product_ids": [product_id]}).mappings().first()
        stored = (
            conn.execute(
                text("SELECT * FROM retail.channel_categories WHERE channel = :c AND product_id = :p"),
                {"c": channel, "p": product_id},
            )
            .mappings()
            .first()
        )
    if row is None:
        raise LookupError(f"no listable product {product_id}")
    row, stored = dict(row), dict(stored) if stored else None
    candidates = {c["category_id"]: c for c in (stored or {}).get("candidates") or []}
    path = candidates.get(category_id, {}).get("path")
    if category_id not in candidates:
        if plugin.taxonomy.attributes is None:
            raise NotAChoice(f"{category_id} is not one of the candidates: {', '.join(candidates) or 'none'}")
        try:
            await _schema(engine, plugin, client, category_id, Outcome())
        except ChannelError as error:
            raise NotAChoice(
                f"{category_id} is not a {plugin.title} category you can list in: {error}"
            ) from None
        path = f"{plugin.title} category {category_id}"
    changes = {
        "status": "chosen",
        "category_id": category_id,
        "category_path": path,
        "confidence": None,
        "chosen_by": "operator",
        "chosen_by_actor": actor,
        "reason": "chosen by an operator",
        "task_id": None,
        "error": None,
        "attributes": {},
        "missing_required": [],
        "attributes_hash": None,
    }
    if stored is None:
        query = query_for(
            title=row["title"] or "", brand=row["brand"], category=row["category"], gtin=row["gtin"],
            mpn=row["mpn"], keywords=row["keywords"] or (), description=row["description"] or "",
        )  # fmt: skip
        changes |= {"query": query.__dict__, "query_hash": query_hash(channel, query)}
    with engine.begin() as conn:
        conn.execute(UPSERT, _row_params(channel, product_id, stored, **changes))
        resolve_task(conn, kind=TASK_KIND, key=task_key(channel, product_id), by=actor)
        log_activity(
            conn, actor=actor, action="product.category_choice", channel=channel, entity_type="product",
            entity_id=str(product_id), details={"category_id": category_id, "path": path},
        )  # fmt: skip
    stored = {**(stored or {}), **changes}
    await fill_attributes(engine, plugin, client, llm, row, stored, Outcome())
    with engine.begin() as conn:
        build_drafts(conn, channel, [product_id])
    return stored

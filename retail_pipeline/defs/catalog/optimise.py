"""Re-optimise one product's title and/or description for one channel, on an operator's request.

The same path as ``enriched_products``: the product's ``EnrichmentInput``, its cache key
(``input_hash`` under the configured enricher), the enrichment cache (the product's own row when its
input is unchanged, else any product enriched from identical input), and ``LLMResource.enrich`` on a
miss. ``force`` skips the cache and always asks the enricher.

Where the result goes:
- a row per field in ``retail.product_optimisations`` (original, previous and new text, quality
  score, cache or model): the channel's listing draft uses it from then on, the other channels keep
  theirs;
- when the product's own enrichment was out of date (a cache miss without ``force``), the product's
  row is refreshed exactly as the asset would refresh it, so the next hourly run does not pay again.

Errors: ``ProductNotFound``, ``NotOptimisable`` (archived, enrichment-blocked supplier, nothing to
enrich), and the enricher's own ``EnrichmentFailed`` (this product) / ``LLMUnavailable``
(configuration), which the caller turns into 502 / 503.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Literal

from sqlalchemy import Engine, text

from retail_pipeline.channels.registry import channel as channel_plugin
from retail_pipeline.db.activity import log_activity
from retail_pipeline.defs.catalog.enrichment import PARCEL_COLUMNS, REUSABLE, Candidate, Writer, _content
from retail_pipeline.defs.listings.drafts import build_drafts
from retail_pipeline.defs.resources import LLMResource
from retail_pipeline.domain.enrichment import (
    NOTHING_TO_ENRICH,
    EnrichmentInput,
    fit_words,
    input_hash,
    quality_score,
)
from retail_pipeline.integrations.carriers import ShippingSettings

Field = Literal["title", "description"]
FIELDS: tuple[Field, ...] = ("title", "description")

# The enrichment asset's candidate row (CANDIDATES) for one product, with what the operator sees.
PRODUCT = text(
    f"""
    SELECT sp.id AS supplier_product_id, sp.sku AS supplier_sku, sp.title, sp.description, sp.brand,
           sp.categories, sp.condition, sp.gtin, sp.mpn,
           jsonb_build_object('attributes', sp.raw -> 'attributes') AS raw,
           p.id AS product_id, p.sku, p.status, p.input_hash, p.llm_attempts, p.quality_score,
           p.title AS stored_title, p.description AS stored_description, p.attributes AS stored_attributes,
           p.archived_at, s.code AS supplier_code, s.enrichment_blocked, s.enrichment_blocked_reason,
           {PARCEL_COLUMNS},
           (SELECT count(DISTINCT i.media_asset_id) FROM retail.supplier_product_images i
             WHERE i.supplier_product_id = sp.id) AS image_count
      FROM retail.products p
      JOIN retail.supplier_products sp ON sp.id = p.supplier_product_id
      JOIN retail.suppliers s ON s.id = sp.supplier_id
     WHERE p.id = :product_id
    """
)

CURRENT = text(
    """
    SELECT DISTINCT ON (field) field, optimised FROM retail.product_optimisations
     WHERE product_id = :product_id AND channel = :channel ORDER BY field, id DESC
    """
)

RECORD = text(
    """
    INSERT INTO retail.product_optimisations
           (product_id, channel, field, original, previous, optimised, quality_score, source, forced,
            enricher, model, prompt_version, input_hash, prompt_tokens, completion_tokens, requested_by)
    VALUES (:product_id, :channel, :field, :original, :previous, :optimised, :quality_score, :source, :forced,
            :enricher, :model, :prompt_version, :input_hash, :prompt_tokens, :completion_tokens, :requested_by)
    RETURNING id, created_at
    """
)


class ProductNotFound(LookupError):
    pass


class NotOptimisable(ValueError):
    """The product cannot be re-optimised as it is; the message says why."""


@dataclass
class FieldChange:
    field: Field
    original: str | None
    previous: str | None
    optimised: str


@dataclass
class Reoptimised:
    product_id: int
    channel: str
    source: str  # cache | llm | offline
    forced: bool
    quality_score: Decimal
    changes: list[FieldChange] = field(default_factory=list)
    prompt_tokens: int = 0
    completion_tokens: int = 0
    optimisation_ids: list[int] = field(default_factory=list)


def _fit(value: str, limit: int | None) -> str:
    return fit_words(value, limit) if limit and len(value) > limit else value


def reoptimise(
    engine: Engine,
    llm: LLMResource,
    product_id: int,
    *,
    channel: str,
    fields: tuple[Field, ...] = FIELDS,
    force: bool = False,
    requested_by: str,
) -> Reoptimised:
    policy = channel_plugin(channel).listing
    if policy is None:
        raise NotOptimisable(f"{channel} is not a channel we list on")
    with engine.connect() as conn:
        row = conn.execute(PRODUCT, {"product_id": product_id}).one_or_none()
        if row is None:
            raise ProductNotFound(f"no product {product_id}")
        current = {
            r.field: r.optimised
            for r in conn.execute(CURRENT, {"product_id": product_id, "channel": channel})
        }
    if row.archived_at is not None:
        raise NotOptimisable(f"product {product_id} is archived")
    if row.enrichment_blocked:
        raise NotOptimisable(
            f"supplier {row.supplier_code} is blocked from enrichment: {row.enrichment_blocked_reason}"
        )

    product = EnrichmentInput.from_supplier_product(row._mapping)
    if not product.has_content:
        raise NotOptimisable(f"product {product_id}: {NOTHING_TO_ENRICH}")
    enricher = llm.enricher
    candidate = Candidate(row, product, input_hash(product, enricher), ShippingSettings().category_table())
    content: dict[str, Any] | None = None
    source, spent = "cache", {"prompt_tokens": 0, "completion_tokens": 0}
    if not force:
        if row.input_hash == candidate.hash and row.status == "enriched":
            content = {
                "title": row.stored_title,
                "description": row.stored_description,
                "attributes": row.stored_attributes,
            }
        else:
            with engine.connect() as conn:
                params = {"hashes": [candidate.hash], "version": enricher.version, "model": enricher.model}
                reusable = conn.execute(REUSABLE, params).first()
            if reusable is not None:
                content = {"title": reusable.title, "description": reusable.description,
                           "attributes": reusable.attributes}  # fmt: skip
    if content is None:
        result = llm.enrich(product)  # EnrichmentFailed / LLMUnavailable go to the caller
        source = enricher.kind
        content = _content(result.output)
        spent = {
            "prompt_tokens": result.usage.prompt_tokens,
            "completion_tokens": result.usage.completion_tokens,
        }
        if not force:
            # The product's own enrichment was stale: refresh it as the asset would (same row, same cache key).
            values = candidate.row_values(
                row.supplier_code, enricher, **content, **spent, llm_attempts=result.attempts
            )
            values["sku"] = row.sku  # the product keeps the SKU its listings are keyed by
            writer = Writer(engine)
            writer.content(values, "enriched")
            writer.flush()

    new = {
        "title": _fit(content["title"] or "", policy.max_title),
        "description": content["description"] or "",
    }
    if policy.max_description and len(new["description"]) > policy.max_description:
        new["description"] = new["description"][: policy.max_description]
    shown = {
        "title": current.get("title") or row.stored_title,
        "description": current.get("description") or row.stored_description,
    }
    after = {**shown, **{f: new[f] for f in fields}}
    score = quality_score(
        title=after["title"],
        description=after["description"],
        image_count=row.image_count,
        attributes=content.get("attributes") or row.stored_attributes or {},
        brand=product.brand,
    ).total
    done = Reoptimised(product_id, channel, source, force, score, **spent)
    originals = {"title": row.title, "description": row.description}
    with engine.begin() as conn:
        for name in fields:
            recorded = conn.execute(
                RECORD,
                {
                    "product_id": product_id, "channel": channel, "field": name, "original": originals[name],
                    "previous": shown[name], "optimised": new[name], "quality_score": score, "source": source,
                    "forced": force, "enricher": enricher.kind, "model": enricher.model,
                    "prompt_version": enricher.version, "input_hash": candidate.hash,
                    "prompt_tokens": spent["prompt_tokens"] if name == fields[0] else 0,
                    "completion_tokens": spent["completion_tokens"] if name == fields[0] else 0,
                    "requested_by": requested_by,
                },
            ).one()  # fmt: skip
            done.optimisation_ids.append(recorded.id)
            done.changes.append(FieldChange(name, originals[name], shown[name], new[name]))
        log_activity(
            conn, actor=requested_by, action="product.reoptimise", outcome="succeeded", channel=channel,
            entity_type="product", entity_id=product_id,
            details={"fields": list(fields), "source": source, "forced": force, "quality_score": str(score)},
        )  # fmt: skip
        # The channel's draft takes the new text now, by the listing_drafts asset's own function.
        build_drafts(conn, channel, [product_id])
    return done

"""``enriched_products``: a supplier's products turned into listing content in ``retail.products``.

Per product (not removed by the supplier), by state:

- supplier whose config says ``"enrich": false`` (products imported from listings already on a
  channel, issue 12): skipped, they keep the content they were imported with;
- supplier blocked from enrichment (seed 002): a ``status = 'blocked'`` row carrying the store's own
  content, the reason in ``error``; no enricher runs, LaunchLock judges the store's words;
- ``input_hash`` unchanged since the last enrichment: cached, no call (only the quality score is
  refreshed when the product's stored image count moved);
- another product already enriched from identical input by the same prompt and model: its content is
  reused, no call (also within the run: one call per distinct input);
- otherwise the enricher runs (LLM or offline, see ``LLMResource``), several products at once.

Results are committed in small batches as they arrive, so a crash costs at most one batch of calls.
A product that cannot be enriched gets ``status = 'failed'`` with the reason (its earlier content,
if any, is kept for reference) and never fails the partition; it is retried on later runs within
``FAILED_RETRY_RUNS``. The run fails only when the LLM is unusable as configured (bad key, unknown
model, no quota) or every call failed on service errors after retries (an outage).
"""

# No `from __future__ import annotations`: Dagster inspects the context annotations at runtime.

import json
from collections import Counter, defaultdict
from collections.abc import Mapping
from concurrent.futures import CancelledError, Future, ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field
from typing import Any

import dagster as dg
from sqlalchemy import Engine, text

from retail_pipeline.defs.resources import DatabaseResource, LLMResource
from retail_pipeline.domain.enrichment import (
    STORE_CONTENT,
    Enricher,
    EnrichmentInput,
    EnrichmentOutput,
    input_hash,
    product_sku,
    quality_score,
    should_enrich,
    store_content,
)
from retail_pipeline.domain.parcels import (
    CategoryParcel,
    SupplierParcel,
    UnitParcel,
    resolve_parcel,
)
from retail_pipeline.integrations.carriers import ShippingSettings
from retail_pipeline.integrations.llm import EnrichmentFailed, LLMUnavailable
from retail_pipeline.partitions import supplier_partitions

FLUSH_ROWS = 50  # products per commit while results arrive
MIN_CALLS_FOR_OUTAGE = 3  # fewer all-failed calls than this are bad luck, not an outage
SAMPLE_SIZE = 5
PREVIEW_ROWS = 10

SUPPLIER = text(
    "SELECT id, enrichment_blocked, enrichment_blocked_reason, config FROM retail.suppliers WHERE code = :code"
)

# What `Candidate.parcel` reads: the supplier's figures and the product's stored parcel (shared with optimise).
PARCEL_COLUMNS = """
    sp.weight_grams AS supplier_weight_grams, sp.length_mm AS supplier_length_mm,
    sp.width_mm AS supplier_width_mm, sp.height_mm AS supplier_height_mm,
    sp.raw -> 'parcel_refused' AS parcel_refused,
    p.category AS stored_category, p.parcel_estimate AS stored_estimate,
    p.weight_grams, p.length_mm, p.width_mm, p.height_mm, p.parcel_source, p.parcel_reason
"""

CANDIDATES = text(
    f"""
    SELECT sp.id AS supplier_product_id, sp.sku AS supplier_sku, sp.title, sp.description, sp.brand,
           sp.categories, sp.condition, sp.gtin, sp.mpn,
           jsonb_build_object('attributes', sp.raw -> 'attributes') AS raw,
           p.id AS product_id, p.status, p.input_hash, p.llm_attempts, p.quality_score,
           {PARCEL_COLUMNS},
           p.title AS stored_title, p.description AS stored_description, p.attributes AS stored_attributes,
           (SELECT count(DISTINCT i.media_asset_id) FROM retail.supplier_product_images i
             WHERE i.supplier_product_id = sp.id) AS image_count
      FROM retail.supplier_products sp
      LEFT JOIN retail.products p ON p.supplier_product_id = sp.id
     WHERE sp.supplier_id = :supplier_id AND sp.removed_at IS NULL
     ORDER BY sp.id
    """
)

# Content made by the same enricher from identical input, for any product: the cache key's index.
REUSABLE = text(
    """
    SELECT DISTINCT ON (input_hash) input_hash, title, description, category, condition, attributes, keywords,
           parcel_estimate
      FROM retail.products
     WHERE input_hash = ANY(CAST(:hashes AS text[])) AND prompt_version = :version
       AND model IS NOT DISTINCT FROM :model AND status = 'enriched'
     ORDER BY input_hash, enriched_at DESC
    """
)

_ROW_TYPES = (
    "supplier_product_id bigint, sku text, status text, error text, enricher text, model text,"
    " prompt_version text, input_hash text, title text, description text, category text, condition text,"
    " attributes jsonb, keywords text[], quality_score numeric, prompt_tokens int, completion_tokens int,"
    " llm_attempts int, parcel_estimate jsonb, weight_grams int, length_mm int, width_mm int, height_mm int,"
    " parcel_source text, parcel_reason text"
)
# Tokens and attempts add up while a product's input stays the same (a failed product retried).
_SPENT = """
        prompt_tokens = EXCLUDED.prompt_tokens
            + CASE WHEN p.input_hash = EXCLUDED.input_hash THEN p.prompt_tokens ELSE 0 END,
        completion_tokens = EXCLUDED.completion_tokens
            + CASE WHEN p.input_hash = EXCLUDED.input_hash THEN p.completion_tokens ELSE 0 END,
        llm_attempts = EXCLUDED.llm_attempts
            + CASE WHEN p.input_hash = EXCLUDED.input_hash THEN p.llm_attempts ELSE 0 END,
        enriched_at = now()"""

# The unit parcel (domain.parcels.resolve_parcel) and the model's estimate it may rest on.
_PARCEL = "parcel_estimate, weight_grams, length_mm, width_mm, height_mm, parcel_source, parcel_reason"

UPSERT_CONTENT = text(
    f"""
    INSERT INTO retail.products AS p
           (supplier_product_id, sku, status, error, enricher, model, prompt_version, input_hash, title,
            description, category, condition, attributes, keywords, quality_score, prompt_tokens,
            completion_tokens, llm_attempts, {_PARCEL})
    SELECT r.supplier_product_id, r.sku, r.status, r.error, r.enricher, r.model, r.prompt_version,
           r.input_hash, r.title, r.description, r.category, r.condition, r.attributes, r.keywords,
           r.quality_score, r.prompt_tokens, r.completion_tokens, r.llm_attempts,
           {", ".join(f"r.{c}" for c in _PARCEL.split(", "))}
      FROM jsonb_to_recordset(CAST(:rows AS jsonb)) AS r({_ROW_TYPES})
    ON CONFLICT (supplier_product_id) DO UPDATE SET
        status = EXCLUDED.status, error = EXCLUDED.error, enricher = EXCLUDED.enricher,
        model = EXCLUDED.model, prompt_version = EXCLUDED.prompt_version, input_hash = EXCLUDED.input_hash,
        title = EXCLUDED.title, description = EXCLUDED.description, category = EXCLUDED.category,
        condition = EXCLUDED.condition, attributes = EXCLUDED.attributes, keywords = EXCLUDED.keywords,
        quality_score = EXCLUDED.quality_score,
        {", ".join(f"{c} = EXCLUDED.{c}" for c in _PARCEL.split(", "))},{_SPENT}
    """
)

# A failure leaves the content columns as they were.
UPSERT_FAILURE = text(
    f"""
    INSERT INTO retail.products AS p
           (supplier_product_id, sku, status, error, enricher, model, prompt_version, input_hash,
            prompt_tokens, completion_tokens, llm_attempts)
    SELECT r.supplier_product_id, r.sku, r.status, r.error, r.enricher, r.model, r.prompt_version,
           r.input_hash, r.prompt_tokens, r.completion_tokens, r.llm_attempts
      FROM jsonb_to_recordset(CAST(:rows AS jsonb)) AS r({_ROW_TYPES})
    ON CONFLICT (supplier_product_id) DO UPDATE SET
        status = EXCLUDED.status, error = EXCLUDED.error, enricher = EXCLUDED.enricher,
        model = EXCLUDED.model, prompt_version = EXCLUDED.prompt_version,
        input_hash = EXCLUDED.input_hash,{_SPENT}
    """
)

REFRESH_SCORES = text(
    """
    UPDATE retail.products p SET quality_score = r.quality_score
      FROM jsonb_to_recordset(CAST(:rows AS jsonb)) AS r(id bigint, quality_score numeric)
     WHERE p.id = r.id AND p.quality_score IS DISTINCT FROM r.quality_score
    """
)

# Cached products whose parcel moved (new supplier weight, a changed category default table).
REFRESH_PARCELS = text(
    """
    UPDATE retail.products p
       SET weight_grams = r.weight_grams, length_mm = r.length_mm, width_mm = r.width_mm,
           height_mm = r.height_mm, parcel_source = r.parcel_source, parcel_reason = r.parcel_reason
      FROM jsonb_to_recordset(CAST(:rows AS jsonb))
           AS r(id bigint, weight_grams int, length_mm int, width_mm int, height_mm int, parcel_source text,
                parcel_reason text)
     WHERE p.id = r.id
    """
)

TOTALS = text(
    """
    SELECT count(*) FILTER (WHERE p.status = 'enriched') AS enriched,
           count(*) FILTER (WHERE p.status = 'failed') AS failed,
           count(*) FILTER (WHERE p.status = 'blocked') AS blocked,
           round(avg(p.quality_score), 2) AS quality_mean
      FROM retail.products p
      JOIN retail.supplier_products sp ON sp.id = p.supplier_product_id
     WHERE sp.supplier_id = :supplier_id AND sp.removed_at IS NULL
    """
)


CONTENT_COLUMNS = (
    "title",
    "description",
    "category",
    "condition",
    "attributes",
    "keywords",
    "parcel_estimate",
)


def _content(output: EnrichmentOutput) -> dict[str, Any]:
    return {
        "title": output.title,
        "description": output.description,
        "category": output.category or None,
        "condition": output.condition,
        "attributes": output.attributes_object(),
        "keywords": output.keywords,
        "parcel_estimate": output.shipping_estimate.model_dump() if output.shipping_estimate else None,
    }


@dataclass
class Candidate:
    """One supplier product and its cache key under the enricher of this run."""

    row: Any
    product: EnrichmentInput
    hash: str
    parcel_table: Mapping[str, CategoryParcel]  # ShippingSettings().category_table(): the operator's defaults

    def row_values(self, code: str, enricher: Enricher, **values: Any) -> dict[str, Any]:
        """A products row for it: identity and cache key, then ``values`` (status, content, spend)."""
        base = {
            "supplier_product_id": self.row.supplier_product_id,
            "sku": product_sku(code, self.row.supplier_sku),
            "status": "enriched",
            "error": None,
            "enricher": enricher.kind,
            "model": enricher.model,
            "prompt_version": enricher.version,
            "input_hash": self.hash,
            "prompt_tokens": 0,
            "completion_tokens": 0,
            "llm_attempts": 0,
        }
        if "title" in values:
            values["quality_score"] = self.score(values)
            values.setdefault("parcel_estimate", None)
            values.update(self.parcel(values["parcel_estimate"], values.get("category")).columns())
        return {**base, **values}

    def parcel(self, estimate: Mapping[str, Any] | None, category: str | None) -> UnitParcel:
        """The unit parcel: the supplier's figures, else the estimate, else the category default."""
        row = self.row
        sides = (row.supplier_length_mm, row.supplier_width_mm, row.supplier_height_mm)
        supplier = SupplierParcel(
            row.supplier_weight_grams,
            sides if all(sides) else None,
            tuple(row.parcel_refused or ()),
        )
        return resolve_parcel(supplier, estimate, [*(row.categories or ()), category], self.parcel_table)

    def parcel_moved(self) -> dict[str, Any] | None:
        """For a cached product: its re-resolved parcel when that differs from the stored one."""
        parcel = self.parcel(self.row.stored_estimate, self.row.stored_category).columns()
        if all(getattr(self.row, k) == v for k, v in parcel.items()):
            return None
        return {"id": self.row.product_id, **parcel}

    def score(self, content: dict[str, Any]) -> str:
        score = quality_score(
            title=content["title"],
            description=content["description"],
            image_count=self.row.image_count,
            attributes=content["attributes"] or {},
            brand=self.product.brand,
        )
        return str(score.total)


@dataclass
class Writer:
    """Buffers products rows and commits them in small batches; counts what it wrote."""

    engine: Engine
    content_rows: list[dict] = field(default_factory=list)
    failure_rows: list[dict] = field(default_factory=list)
    counts: Counter = field(default_factory=Counter)
    reasons: Counter = field(default_factory=Counter)
    preview: list[dict] = field(default_factory=list)

    def content(self, row: dict, outcome: str) -> None:
        """``outcome``: enriched (by a call this run), reused or blocked."""
        self.content_rows.append(row)
        self._count(row, outcome)
        if outcome != "blocked" and len(self.preview) < PREVIEW_ROWS:
            self.preview.append(row)

    def failure(self, row: dict) -> None:
        self.failure_rows.append(row)
        self.reasons[row["error"]] += 1
        self._count(row, "failed")

    def _count(self, row: dict, outcome: str) -> None:
        self.counts[outcome] += 1
        self.counts["prompt_tokens"] += row["prompt_tokens"]
        self.counts["completion_tokens"] += row["completion_tokens"]
        if len(self.content_rows) + len(self.failure_rows) >= FLUSH_ROWS:
            self.flush()

    def flush(self) -> None:
        with self.engine.begin() as conn:
            if self.content_rows:
                conn.execute(UPSERT_CONTENT, {"rows": json.dumps(self.content_rows)})
            if self.failure_rows:
                conn.execute(UPSERT_FAILURE, {"rows": json.dumps(self.failure_rows)})
        self.content_rows, self.failure_rows = [], []


@dataclass
class Plan:
    pending: dict[str, list[Candidate]] = field(default_factory=lambda: defaultdict(list))  # hash -> products
    refreshed_scores: list[dict] = field(default_factory=list)
    refreshed_parcels: list[dict] = field(default_factory=list)


def _plan(
    rows: list,
    code: str,
    enricher: Enricher,
    blocked_reason: str | None,
    attempts_per_run: int,
    writer: Writer,
    parcel_table: Mapping[str, CategoryParcel],
) -> Plan:
    """Sorts the products: blocked rows are written, unchanged ones counted as cached (their score
    refreshed when it moved), the rest grouped by input hash for the enricher."""
    plan = Plan()
    for row in rows:
        product = EnrichmentInput.from_supplier_product(row._mapping)
        candidate = Candidate(
            row, product, input_hash(product, enricher, blocked_reason=blocked_reason), parcel_table
        )
        if blocked_reason:
            changed = row.input_hash != candidate.hash or row.status != "blocked"
            if changed:
                values = store_content(row._mapping) | {"status": "blocked", "error": blocked_reason}
                writer.content(candidate.row_values(code, enricher, **values), "blocked")
                continue
        elif should_enrich(
            stored_hash=row.input_hash,
            stored_status=row.status,
            stored_attempts=row.llm_attempts or 0,
            new_hash=candidate.hash,
            max_attempts_per_run=attempts_per_run,
        ):
            plan.pending[candidate.hash].append(candidate)
            continue
        writer.counts["cached"] += 1
        if row.status != "failed":
            stored = {"title": row.stored_title, "description": row.stored_description}
            score = candidate.score({**stored, "attributes": row.stored_attributes})
            if row.quality_score is None or str(row.quality_score) != score:
                plan.refreshed_scores.append({"id": row.product_id, "quality_score": score})
            if row.product_id is not None and (moved := candidate.parcel_moved()):
                plan.refreshed_parcels.append(moved)
    return plan


def _reuse(engine: Engine, plan: Plan, code: str, enricher: Enricher, writer: Writer) -> None:
    """Products whose input another product was already enriched from take that content, no call."""
    with engine.connect() as conn:
        params = {"hashes": list(plan.pending), "version": enricher.version, "model": enricher.model}
        reusable = {r.input_hash: r for r in conn.execute(REUSABLE, params)}
    for hash_ in [h for h in plan.pending if h in reusable]:
        content = {column: getattr(reusable[hash_], column) for column in CONTENT_COLUMNS}
        for candidate in plan.pending.pop(hash_):
            writer.content(candidate.row_values(code, enricher, **content), "reused")


@dataclass
class CallsOutcome:
    calls: int = 0  # distinct inputs sent to the enricher
    service_failures: int = 0  # of those, failed on service errors after retries
    stopped: LLMUnavailable | None = None


def _enrich(llm: LLMResource, plan: Plan, code: str, enricher: Enricher, writer: Writer) -> CallsOutcome:
    """Runs the enricher once per distinct input, several at once, writing each group of products
    as its result arrives. The call is booked to the group's first product; the others reused it."""
    outcome = CallsOutcome(calls=len(plan.pending))
    with ThreadPoolExecutor(max_workers=llm.concurrency, thread_name_prefix="enrich") as pool:
        futures: dict[Future, list[Candidate]] = {
            pool.submit(llm.enrich, group[0].product): group for group in plan.pending.values()
        }
        for future in as_completed(futures):
            first, *others = futures[future]
            try:
                result = future.result()
            except CancelledError:
                continue
            except LLMUnavailable as error:
                if outcome.stopped is None:
                    outcome.stopped = error
                    for other in futures:
                        other.cancel()  # calls not started yet; those in flight finish and are kept
                continue
            except EnrichmentFailed as error:
                outcome.service_failures += error.service_trouble
                writer.counts["llm_calls"] += error.attempts
                spent = {
                    "prompt_tokens": error.usage.prompt_tokens,
                    "completion_tokens": error.usage.completion_tokens,
                }
                # Every product of the group carries the attempts, so all are retried (or given up) together.
                failed = {"status": "failed", "error": error.reason, "llm_attempts": error.attempts}
                writer.failure(first.row_values(code, enricher, **failed, **spent))
                for candidate in others:
                    writer.failure(candidate.row_values(code, enricher, **failed))
                continue
            writer.counts["llm_calls"] += result.attempts
            content = _content(result.output)
            spent = {
                "prompt_tokens": result.usage.prompt_tokens,
                "completion_tokens": result.usage.completion_tokens,
                "llm_attempts": result.attempts,
            }
            writer.content(first.row_values(code, enricher, **content, **spent), "enriched")
            for candidate in others:
                writer.content(candidate.row_values(code, enricher, **content), "reused")
    return outcome


def _preview(rows: list[dict]) -> str:
    lines = ["| sku | title | quality |", "|---|---|---|"]
    lines += [f"| {r['sku']} | {r['title']} | {r['quality_score']} |" for r in rows]
    return "\n".join(lines)


@dg.asset(
    partitions_def=supplier_partitions,
    backfill_policy=dg.BackfillPolicy.multi_run(max_partitions_per_run=1),  # one supplier per run
    deps=[dg.AssetKey("product_images")],
    group_name="catalog",
    kinds={"openai", "postgres"},
    pool="llm_api",
)
def enriched_products(
    context: dg.AssetExecutionContext, db: DatabaseResource, llm: LLMResource
) -> dg.MaterializeResult:
    """Listing content (title ≤ 80, description, category, attributes, condition, keywords) and a
    quality score for each of the supplier's products, in retail.products. Unchanged input is never
    sent to the LLM again: a re-run makes zero calls."""
    engine = db.engine
    code = context.partition_key
    with engine.connect() as conn:
        supplier = conn.execute(SUPPLIER, {"code": code}).first()
        if supplier is None:
            raise dg.Failure(
                f"partition {code!r} has no row in retail.suppliers; sync the supplier partitions"
            )
        if supplier.config.get("enrich") is False:  # products imported from a channel's own listings
            return dg.MaterializeResult(
                metadata={
                    "skipped": True,
                    "reason": "this supplier's products keep the content they were imported with",
                }
            )
        rows = conn.execute(CANDIDATES, {"supplier_id": supplier.id}).all()

    blocked_reason = supplier.enrichment_blocked_reason if supplier.enrichment_blocked else None
    enricher = STORE_CONTENT if blocked_reason else llm.enricher
    writer = Writer(engine)
    parcel_table = ShippingSettings().category_table()
    plan = _plan(rows, code, enricher, blocked_reason, llm.attempts_per_run, writer, parcel_table)
    if plan.pending:
        _reuse(engine, plan, code, enricher, writer)
    calls = _enrich(llm, plan, code, enricher, writer) if plan.pending else CallsOutcome()
    writer.flush()
    with engine.begin() as conn:
        if plan.refreshed_scores:
            conn.execute(REFRESH_SCORES, {"rows": json.dumps(plan.refreshed_scores)})
        if plan.refreshed_parcels:
            conn.execute(REFRESH_PARCELS, {"rows": json.dumps(plan.refreshed_parcels)})
        totals = conn.execute(TOTALS, {"supplier_id": supplier.id}).one()

    counts = writer.counts
    metadata = {
        "candidates": len(rows),
        "enriched": counts["enriched"] + counts["reused"],
        "reused": counts["reused"],
        "cached": counts["cached"],
        "failed": counts["failed"],
        "failure_reasons": dict(writer.reasons.most_common(SAMPLE_SIZE)),
        "blocked": len(rows) if blocked_reason else 0,
        "blocked_reason": blocked_reason or "",
        "llm_calls": counts["llm_calls"],
        "prompt_tokens": counts["prompt_tokens"],
        "completion_tokens": counts["completion_tokens"],
        "quality_scores_refreshed": len(plan.refreshed_scores),
        "parcels_refreshed": len(plan.refreshed_parcels),
        "enricher": "none: supplier blocked" if blocked_reason else enricher.kind,
        "model": enricher.model or "",
        "prompt_version": enricher.version,
        "products_enriched_total": totals.enriched,
        "products_failed_total": totals.failed,
        "products_blocked_total": totals.blocked,
        "quality_score_mean": float(totals.quality_mean or 0),
        "preview": dg.MetadataValue.md(_preview(writer.preview)),
    }
    context.log.info(
        f"{code}: {len(rows)} products, {metadata['enriched']} enriched ({counts['reused']} reused),"
        f" {counts['cached']} cached, {counts['failed']} failed, {metadata['blocked']} blocked,"
        f" {counts['llm_calls']} LLM calls"
    )
    if calls.stopped is not None:
        raise dg.Failure(f"the LLM cannot be used as configured: {calls.stopped}", metadata=metadata)
    if calls.calls >= MIN_CALLS_FOR_OUTAGE and calls.service_failures == calls.calls:
        raise dg.Failure(
            f"all {calls.calls} enrichments failed on LLM service errors after retries: the service looks"
            " down; the failures are recorded and will be retried on the next run",
            metadata=metadata,
        )
    return dg.MaterializeResult(metadata=metadata)

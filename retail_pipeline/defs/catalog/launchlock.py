"""LaunchLock as assets: every product of a supplier judged by the rules, and the gate on drafts.

``validated_products`` writes one verdict per product to ``retail.validation_results`` (what drafts
read). ``launchlock_failure_rate`` is a blocking check on it: when too many of a supplier's products
fail, something upstream is broken (a bad enrichment batch, images that did not download) and the
supplier's drafts wait for a person. The check sits on ``validated_products`` rather than on
``enriched_products`` because it needs the verdicts, and a blocking check on ``enriched_products``
would stop the validation that computes them; drafts depend on ``validated_products``, so they are
the assets it holds back.
"""

# No `from __future__ import annotations`: Dagster inspects the context annotations at runtime.

import json
from collections import Counter

import dagster as dg
from pydantic_settings import BaseSettings, SettingsConfigDict
from sqlalchemy import Connection, text

from retail_pipeline.defs.resources import DatabaseResource
from retail_pipeline.domain.launchlock import (
    RULES_VERSION,
    SHELF_RULES,
    LaunchLockConfig,
    ProductFacts,
    Verdict,
    evaluate,
    gate_passes,
    input_hash,
)
from retail_pipeline.partitions import supplier_partitions

TOP_BLOCKERS = 5
PREVIEW_ROWS = 10


class LaunchLockSettings(BaseSettings, LaunchLockConfig):
    """LaunchLockConfig from the environment: LAUNCHLOCK_MAX_FAILURE_RATE=0.3,
    LAUNCHLOCK_ALLOWED_CATEGORIES='["Headphones", "Laptops"]' (collections as JSON)."""

    model_config = SettingsConfigDict(env_prefix="LAUNCHLOCK_", extra="ignore", frozen=True)


SUPPLIER_ID = text("SELECT id FROM retail.suppliers WHERE code = :code")

# One row per product of the supplier, with everything the rules look at.
PRODUCT_FACTS = text(
    """
    SELECT p.id AS product_id, p.sku, p.status AS enrichment_status, p.title, p.description, p.category,
           sp.title AS supplier_title, sp.description AS supplier_description,
           sp.categories AS supplier_categories, sp.price, sp.currency, sp.gtin,
           (SELECT count(DISTINCT i.media_asset_id) FROM retail.supplier_product_images i
             WHERE i.supplier_product_id = sp.id) AS stored_images,
           sp.removed_at IS NOT NULL AS removed, s.enabled AS supplier_enabled, sp.availability,
           p.stock_quantity, sp.stock_quantity AS supplier_stock_quantity
      FROM retail.products p
      JOIN retail.supplier_products sp ON sp.id = p.supplier_product_id
      JOIN retail.suppliers s ON s.id = sp.supplier_id
     WHERE sp.supplier_id = :supplier_id
     ORDER BY p.id
    """
)

# One statement for the whole partition; a verdict identical to the stored one is not touched.
UPSERT_VERDICTS = text(
    """
    INSERT INTO retail.validation_results AS vr
           (product_id, passed, failed_rules, details, rules_version, input_hash)
    SELECT r.product_id, r.passed, r.failed_rules, r.details, :rules_version, r.input_hash
      FROM jsonb_to_recordset(CAST(:rows AS jsonb))
           AS r(product_id bigint, passed boolean, failed_rules text[], details jsonb, input_hash text)
    ON CONFLICT (product_id) DO UPDATE SET
        passed = EXCLUDED.passed, failed_rules = EXCLUDED.failed_rules, details = EXCLUDED.details,
        rules_version = EXCLUDED.rules_version, input_hash = EXCLUDED.input_hash, validated_at = now()
    WHERE (vr.passed, vr.failed_rules, vr.details, vr.rules_version, vr.input_hash)
          IS DISTINCT FROM
          (EXCLUDED.passed, EXCLUDED.failed_rules, EXCLUDED.details, EXCLUDED.rules_version, EXCLUDED.input_hash)
    RETURNING (xmax = 0) AS inserted
    """
)

# The gate counts products the supplier still lists: removals are expected, not a broken batch. A product
# failing only shelf rules (sold out) is checked but not failed: the market emptying shelves is business.
GATE_COUNTS = text(
    """
    SELECT count(*) AS checked,
           count(*) FILTER (WHERE NOT vr.failed_rules <@ CAST(:shelf_rules AS text[])) AS failed,
           count(*) FILTER (WHERE NOT vr.passed AND vr.failed_rules <@ CAST(:shelf_rules AS text[])) AS sold_out
      FROM retail.validation_results vr
      JOIN retail.products p ON p.id = vr.product_id
      JOIN retail.supplier_products sp ON sp.id = p.supplier_product_id
     WHERE sp.supplier_id = :supplier_id AND sp.removed_at IS NULL
    """
)

# What makes products faulty, most common first (shelf rules are reported as sold_out instead).
GATE_BLOCKERS = text(
    """
    SELECT rule, count(*) AS products
      FROM retail.validation_results vr
      JOIN retail.products p ON p.id = vr.product_id
      JOIN retail.supplier_products sp ON sp.id = p.supplier_product_id
      CROSS JOIN LATERAL unnest(vr.failed_rules) AS rule
     WHERE sp.supplier_id = :supplier_id AND sp.removed_at IS NULL
       AND NOT vr.failed_rules <@ CAST(:shelf_rules AS text[])
     GROUP BY rule
     ORDER BY products DESC, rule
     LIMIT :limit
    """
)


def _supplier_id(conn: Connection, code: str) -> int:
    supplier_id = conn.scalar(SUPPLIER_ID, {"code": code})
    if supplier_id is None:
        raise dg.Failure(f"partition {code!r} has no row in retail.suppliers; sync the supplier partitions")
    return supplier_id


def _facts(row) -> ProductFacts:
    values = dict(row._mapping)
    values["supplier_categories"] = tuple(values["supplier_categories"])
    return ProductFacts(**values)


def _verdict_row(facts: ProductFacts, verdict: Verdict, config: LaunchLockConfig) -> dict:
    return {
        "product_id": facts.product_id,
        "passed": verdict.passed,
        "failed_rules": verdict.failed_rules,
        "details": verdict.reasons,
        "input_hash": input_hash(facts, config),
    }


def _preview(failing: list[tuple[ProductFacts, Verdict]]) -> str:
    lines = ["| sku | failed rules |", "|---|---|"]
    lines += [f"| {f.sku} | {', '.join(v.failed_rules)} |" for f, v in failing[:PREVIEW_ROWS]]
    return "\n".join(lines)


@dg.asset(
    partitions_def=supplier_partitions,
    backfill_policy=dg.BackfillPolicy.multi_run(max_partitions_per_run=1),  # one supplier per run
    deps=[dg.AssetKey("enriched_products")],
    group_name="catalog",
    kinds={"postgres"},
)
def validated_products(context: dg.AssetExecutionContext, db: DatabaseResource) -> dg.MaterializeResult:
    """LaunchLock verdict for every product of the supplier, upserted into retail.validation_results.

    Re-validating unchanged input writes nothing; drafts list only products whose verdict passed.
    """
    config = LaunchLockSettings()
    with db.engine.begin() as conn:
        supplier_id = _supplier_id(conn, context.partition_key)
        products = map(_facts, conn.execute(PRODUCT_FACTS, {"supplier_id": supplier_id}))
        judged = [(facts, evaluate(facts, config)) for facts in products]
        rows = [_verdict_row(facts, verdict, config) for facts, verdict in judged]
        params = {"rows": json.dumps(rows), "rules_version": RULES_VERSION}
        written = conn.execute(UPSERT_VERDICTS, params).scalars().all()  # one flag per row written

    failing = [(facts, verdict) for facts, verdict in judged if not verdict.passed]
    blockers = Counter(rule for _, verdict in failing for rule in verdict.failed_rules)
    inserted = sum(written)
    return dg.MaterializeResult(
        metadata={
            "checked": len(judged),
            "passed": len(judged) - len(failing),
            "failed": len(failing),
            "top_blockers": dict(blockers.most_common(TOP_BLOCKERS)),
            "rows_inserted": inserted,
            "rows_updated": len(written) - inserted,
            "rows_unchanged": len(rows) - len(written),
            "rules_version": RULES_VERSION,
            "failed_preview": dg.MetadataValue.md(_preview(failing)),
        }
    )


@dg.asset_check(asset=validated_products, blocking=True, partitions_def=supplier_partitions)
def launchlock_failure_rate(
    context: dg.AssetCheckExecutionContext, db: DatabaseResource
) -> dg.AssetCheckResult:
    """Fails, holding back the supplier's drafts, when more than LAUNCHLOCK_MAX_FAILURE_RATE (default
    50%) of the products the supplier still lists are faulty: fail a LaunchLock rule other than a shelf
    rule. Sold-out products are counted as checked, and reported, but are not failures."""
    max_rate = LaunchLockSettings().max_failure_rate
    with db.engine.connect() as conn:
        supplier_id = _supplier_id(conn, context.partition_key)
        params = {"supplier_id": supplier_id, "shelf_rules": sorted(SHELF_RULES)}
        counts = conn.execute(GATE_COUNTS, params).one()
        blockers = conn.execute(GATE_BLOCKERS, {**params, "limit": TOP_BLOCKERS}).all()
    rate = counts.failed / counts.checked if counts.checked else 0.0
    return dg.AssetCheckResult(
        passed=gate_passes(counts.checked, counts.failed, max_rate),
        metadata={
            "checked": counts.checked,
            "failed": counts.failed,
            "sold_out": counts.sold_out,
            "failure_rate": round(rate, 4),
            "max_failure_rate": max_rate,
            "top_blockers": {b.rule: b.products for b in blockers},
        },
    )

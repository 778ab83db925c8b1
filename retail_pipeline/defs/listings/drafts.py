"""`listing_drafts` [channel]: every LaunchLock-passed product priced and mapped for the channel."""

# No `from __future__ import annotations`: Dagster inspects the context annotations at runtime.

import json
from datetime import UTC, date, datetime
from decimal import Decimal

import dagster as dg
from sqlalchemy import Connection, text

from retail_pipeline.channels.plugin import Channel
from retail_pipeline.channels.registry import channel as channel_plugin
from retail_pipeline.db.fx import rates_on
from retail_pipeline.defs.resources import DatabaseResource
from retail_pipeline.domain.listings import ProductForListing, build_draft
from retail_pipeline.partitions import listing_channels

PRODUCTS = text(
    """
    SELECT p.id AS product_id, p.sku,
           -- an operator's re-optimisation for this channel wins over the product's own content
           coalesce((SELECT o.optimised FROM retail.product_optimisations o
                      WHERE o.product_id = p.id AND o.channel = :channel AND o.field = 'title'
                      ORDER BY o.id DESC LIMIT 1), p.title) AS title,
           coalesce((SELECT o.optimised FROM retail.product_optimisations o
                      WHERE o.product_id = p.id AND o.channel = :channel AND o.field = 'description'
                      ORDER BY o.id DESC LIMIT 1), p.description, sp.description, '') AS description,
           p.category, p.condition, sp.price AS cost, sp.currency AS cost_currency,
           CASE WHEN sp.removed_at IS NOT NULL OR sp.availability IN ('out_of_stock', 'discontinued') THEN 0
                ELSE coalesce(p.stock_quantity, sp.stock_quantity, 1) END AS quantity,
           sp.brand, sp.gtin, sp.mpn, p.attributes, p.keywords,
           cc.status AS cc_status, cc.category_id AS cc_category_id, cc.category_path AS cc_path,
           cc.attributes AS cc_attributes, cc.missing_required AS cc_missing, cc.task_id AS cc_task_id,
           cc.error AS cc_error,
           coalesce((SELECT jsonb_agg(jsonb_build_object('sha256', m.sha256, 'rel_path', m.rel_path,
                                                         'content_type', m.content_type) ORDER BY i.position)
                       FROM retail.supplier_product_images i
                       JOIN retail.media_assets m ON m.id = i.media_asset_id
                      WHERE i.supplier_product_id = sp.id), '[]') AS photos
      FROM retail.products p
      JOIN retail.validation_results vr ON vr.product_id = p.id AND vr.passed
      JOIN retail.supplier_products sp ON sp.id = p.supplier_product_id
      JOIN retail.suppliers s ON s.id = sp.supplier_id
      LEFT JOIN retail.channel_categories cc ON cc.product_id = p.id AND cc.channel = :channel
     WHERE p.status = 'enriched' AND sp.removed_at IS NULL AND p.selling_stopped_at IS NULL
       -- channel selection (012): the product's own, else its supplier's, else every channel
       AND coalesce(:channel = ANY(CAST(coalesce(p.channels, s.channels) AS text[])), true)
       AND (CAST(:product_ids AS bigint[]) IS NULL OR p.id = ANY(CAST(:product_ids AS bigint[])))
     ORDER BY p.id
    """
)

UPSERT = text(
    """
    INSERT INTO retail.listing_drafts AS d
           (product_id, channel, sku, title, price, currency, quantity, pricing, payload, status,
            validation_errors, input_hash, validated_at)
    VALUES (:product_id, :channel, :sku, :title, :price, :currency, :quantity, CAST(:pricing AS jsonb),
            CAST(:payload AS jsonb), :status, CAST(:errors AS jsonb), :input_hash, now())
    ON CONFLICT (product_id, channel) DO UPDATE SET
        sku = EXCLUDED.sku, title = EXCLUDED.title, price = EXCLUDED.price, currency = EXCLUDED.currency,
        quantity = EXCLUDED.quantity, pricing = EXCLUDED.pricing, payload = EXCLUDED.payload,
        status = EXCLUDED.status, validation_errors = EXCLUDED.validation_errors,
        input_hash = EXCLUDED.input_hash, validated_at = now()
    WHERE d.input_hash IS DISTINCT FROM EXCLUDED.input_hash
    RETURNING (xmax = 0) AS inserted
    """
)


def category_problems(v: dict, plugin: Channel) -> tuple[str, ...]:
    """Why the channel's category (`channel_categories`) blocks the draft; () when it does not."""
    title, status = plugin.title, v.get("cc_status")
    if plugin.taxonomy is None:
        return ()
    if status is None:
        return (f"no {title} category chosen yet (channel_categories has not run for this product)",)
    if status == "needs_choice":
        return (f"waiting for the operator to choose a {title} category (task #{v['cc_task_id']})",)
    if status == "no_category":
        return (f"{title} has no category for this product",)
    if status == "failed":
        return (f"{title} category not chosen yet: {v.get('cc_error') or 'the taxonomy could not be asked'}",)
    missing = list(v.get("cc_missing") or ())
    if missing:
        names = ", ".join(missing)
        return (f"{title} requires {names} in {v.get('cc_path')}: not found in the product data",)
    return ()


def _product(row, plugin: Channel) -> ProductForListing:
    v = dict(row._mapping)
    return ProductForListing(
        product_id=v["product_id"],
        sku=v["sku"],
        title=v["title"] or "",
        description=v["description"] or "",
        category=v["category"],
        condition=v["condition"],
        cost=Decimal(v["cost"]) if v["cost"] is not None else None,
        cost_currency=(v["cost_currency"] or "").strip() or None,
        quantity=int(v["quantity"]),
        brand=v["brand"],
        gtin=v["gtin"],
        mpn=v["mpn"],
        attributes=v["attributes"] or {},
        keywords=tuple(v["keywords"] or ()),
        photos=tuple(v["photos"] or ()),
        channel_category=v["cc_category_id"] if v["cc_status"] == "chosen" else None,
        channel_attributes=dict(v["cc_attributes"] or {}) if v["cc_status"] == "chosen" else {},
        category_problems=category_problems(v, plugin),
    )


# Drafts of products no longer selected for the channel: gone, unless a listing points at one (it is
# withdrawn by channel_listings and keeps its draft for its history; SYNC_INTENT skips it).
DROP_DESELECTED = text(
    """
    DELETE FROM retail.listing_drafts d
     USING retail.products p, retail.supplier_products sp, retail.suppliers s
     WHERE d.channel = :channel AND p.id = d.product_id AND sp.id = p.supplier_product_id
       AND s.id = sp.supplier_id AND coalesce(p.channels, s.channels) IS NOT NULL  -- a choice was made
       AND NOT :channel = ANY(CAST(coalesce(p.channels, s.channels) AS text[]))
       AND (CAST(:product_ids AS bigint[]) IS NULL OR d.product_id = ANY(CAST(:product_ids AS bigint[])))
       AND NOT EXISTS (SELECT 1 FROM retail.channel_listings cl WHERE cl.draft_id = d.id)
    """
)


def drop_deselected_drafts(conn: Connection, channel: str, product_ids: list[int] | None = None) -> int:
    return conn.execute(DROP_DESELECTED, {"channel": channel, "product_ids": product_ids}).rowcount


def build_drafts(
    conn: Connection, channel: str, product_ids: list[int] | None = None, *, today: date | None = None
) -> dict[str, int]:
    """Upsert the channel's drafts (or only those of `product_ids`: an operator's change shows at once);
    unchanged drafts (same input hash) are not rewritten. Prices convert with the latest reference
    rates on or before `today` (default: today, UTC)."""
    counts = {"products": 0, "valid": 0, "invalid": 0, "inserted": 0, "updated": 0, "unchanged": 0}
    plugin = channel_plugin(channel)
    policy = plugin.listing
    rates = rates_on(conn, today or datetime.now(UTC).date())
    counts["deselected"] = drop_deselected_drafts(conn, channel, product_ids)
    for row in conn.execute(PRODUCTS, {"channel": channel, "product_ids": product_ids}):
        draft = build_draft(policy, _product(row, plugin), rates)
        counts["products"] += 1
        counts[draft.status] += 1
        title = draft.title[: policy.max_title]  # the table checks the channel's limit; the error is kept
        written = conn.execute(
            UPSERT,
            {
                "product_id": draft.product_id,
                "channel": channel,
                "sku": draft.sku,
                "title": title,
                "price": draft.price,
                "currency": draft.currency,
                "quantity": max(draft.quantity, 0),
                "pricing": json.dumps(draft.pricing, default=str),
                "payload": json.dumps(draft.payload, default=str),
                "status": draft.status,
                "errors": json.dumps(draft.errors),
                "input_hash": draft.input_hash(),
            },
        ).first()
        if written is None:
            counts["unchanged"] += 1
        elif written.inserted:
            counts["inserted"] += 1
        else:
            counts["updated"] += 1
    return counts


@dg.asset(
    partitions_def=listing_channels,
    deps=[
        dg.AssetDep("validated_products", partition_mapping=dg.AllPartitionMapping()),
        dg.AssetKey("channel_categories"),
        "fx_rates",
    ],
    group_name="listings",
    kinds={"postgres"},
)
def listing_drafts(context: dg.AssetExecutionContext, db: DatabaseResource) -> dg.MaterializeResult:
    """Drafts for the channel from every product that passed LaunchLock and is selected for it:
    per-channel pricing (converted with the latest published reference rate), channel
    field mapping (the channel's category and attributes from `channel_categories`) and the channel's
    rules checked locally (status valid/invalid with errors)."""
    with db.engine.begin() as conn:
        counts = build_drafts(conn, context.partition_key)
    return dg.MaterializeResult(metadata=counts)

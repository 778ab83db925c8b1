"""The product catalogue for operators (seed 003): ``GET /api/products`` (filters, keyset pages),
``GET|DELETE /api/products/{id}`` (delete = archive), ``POST /api/products/{id}/stop-selling`` and
``GET /api/products/stats/summary``. The console's product pages call the same functions.

Stages, as a funnel: every product was scraped; then enriched (listing content), validated (LaunchLock
passed), drafted (a valid draft on a channel), live (live on a channel). The ``stage`` filter keeps the
products that *reached* a stage (with ``channel``: on that channel), so its counts are the funnel's
and come from ``retail.kpi_counts`` (exact, and cheap at a million products); each row also says the
furthest stage it reached.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, HTTPException, Path, Query, status
from pydantic import BaseModel, Field
from sqlalchemy import Connection, Engine, text
from sqlalchemy.exc import IntegrityError
from starlette.concurrency import run_in_threadpool

from retail_pipeline.api.auth import Operator, Viewer
from retail_pipeline.api.database import db_engine
from retail_pipeline.channels.registry import channel_names
from retail_pipeline.db.activity import log_activity
from retail_pipeline.db.patterns import like_prefix
from retail_pipeline.defs.listings.commands import (
    CommandRejected,
    IdempotencyConflict,
    WithdrawListing,
    WithdrawListingCommand,
    submit,
)
from retail_pipeline.media.links import MediaPathError, media_url

router = APIRouter(prefix="/api/products", tags=["products"])

Stage = Literal["scraped", "enriched", "validated", "drafted", "live"]
STAGES: tuple[Stage, ...] = ("scraped", "enriched", "validated", "drafted", "live")
PAGE_DEFAULT, PAGE_MAX = 50, 200
PRICE_HISTORY_POINTS = 30
MAX_SEARCH_WORDS = 6
ProductId = Annotated[int, Path(ge=1, le=2**63 - 1, description="retail.products id")]


# --- list -------------------------------------------------------------------------------------------


class ProductFilters(BaseModel):
    stage: Stage | None = None
    channel: str | None = None
    supplier: str | None = None
    q: str | None = None
    status: Literal["enriched", "failed", "blocked"] | None = None
    archived: bool = False
    selling_stopped: bool | None = None
    cursor: int | None = None
    limit: int = PAGE_DEFAULT


class ProductSummary(BaseModel):
    id: int
    sku: str
    supplier: str
    supplier_sku: str
    title: str | None = Field(description="our listing title (the supplier's when not enriched)")
    supplier_title: str | None
    status: str = Field(description="enrichment status: enriched | failed | blocked")
    stage: Stage = Field(description="the furthest stage reached")
    quality_score: Decimal | None
    cost: Decimal | None
    currency: str | None
    drafted_channels: list[str]
    live_channels: list[str]
    archived: bool
    selling_stopped: bool
    updated_at: datetime
    thumbnail: str | None = Field(default=None, description="signed link to the first image")


class ProductPage(BaseModel):
    items: list[ProductSummary]
    next_cursor: int | None = Field(description="pass as `cursor` for the next page; null on the last")
    limit: int


class FilterError(ValueError):
    def __init__(self, field: str, message: str):
        super().__init__(message)
        self.field, self.message = field, message


def search_query(q: str) -> str | None:
    """A tsquery over the words of ``q`` (all must match), or None when it has no words. As people type:
    the words before the last are whole, the last may be the start of one ("fender strat"). A whole word
    is one entry of the title index that the scan can skip through; a prefix gathers every word it
    begins, which for a common word is most of the catalogue (1M products: 32 ms against 0.4 ms)."""
    words = re.findall(r"\w+", q.lower())[:MAX_SEARCH_WORDS]
    return " & ".join([*words[:-1], f"{words[-1]}:*"]) if words else None


def sku_prefixes(conn: Connection, q: str) -> list[str]:
    """LIKE patterns for a SKU typed whole or in part: ours (``<supplier>-<their sku>``) or the supplier's."""
    term = q.strip()
    if not term or " " in term or not re.search(r"\w", term):
        return []
    codes = conn.scalars(text("SELECT code FROM retail.suppliers ORDER BY code")).all()
    return [like_prefix(term)] + [like_prefix(f"{code}-{term}") for code in codes]


LIST_COLUMNS = """
    SELECT p.id, p.sku, s.code AS supplier, sp.sku AS supplier_sku, coalesce(p.title, sp.title) AS title,
           sp.title AS supplier_title, p.status, p.quality_score, sp.price AS cost,
           CAST(sp.currency AS text) AS currency, p.archived_at IS NOT NULL AS archived,
           p.selling_stopped_at IS NOT NULL AS selling_stopped, p.updated_at,
           coalesce(vr.passed, false) AS validated,
           (SELECT m.rel_path FROM retail.supplier_product_images i
              JOIN retail.media_assets m ON m.id = i.media_asset_id
             WHERE i.supplier_product_id = sp.id ORDER BY i.position LIMIT 1) AS thumbnail_path,
           ARRAY(SELECT CAST(d.channel AS text) FROM retail.listing_drafts d
                  WHERE d.product_id = p.id AND d.status = 'valid' ORDER BY d.channel) AS drafted_channels,
           ARRAY(SELECT CAST(cl.channel AS text) FROM retail.channel_listings cl
                  WHERE cl.product_id = p.id AND cl.actual_state = 'live' ORDER BY cl.channel) AS live_channels
"""
LIST_FROM = """
      FROM retail.products p
      JOIN retail.supplier_products sp ON sp.id = p.supplier_product_id
      JOIN retail.suppliers s ON s.id = sp.supplier_id
      LEFT JOIN retail.validation_results vr ON vr.product_id = p.id
"""
LIST_SELECT = LIST_COLUMNS + LIST_FROM


def furthest_stage(row: Any) -> Stage:
    if row.live_channels:
        return "live"
    if row.drafted_channels:
        return "drafted"
    if row.validated:
        return "validated"
    return "enriched" if row.status == "enriched" else "scraped"


def list_products(conn: Connection, filters: ProductFilters) -> ProductPage:
    """One page, newest first, after ``cursor`` (a product id)."""
    where, params = [], {"limit": filters.limit + 1}
    if filters.channel is not None:
        if filters.channel not in channel_names("listings"):
            raise FilterError(
                "channel",
                f"not a channel we list on: {filters.channel!r}; one of {list(channel_names('listings'))}",
            )
        if filters.stage not in ("drafted", "live"):
            raise FilterError(
                "channel", "channel filters the drafted or live stage: add stage=drafted or stage=live"
            )
        params["channel"] = filters.channel
    channel_clause = " AND channel = :channel" if filters.channel else ""
    if filters.stage == "enriched":
        where.append("p.status = 'enriched'")
    elif filters.stage == "validated":
        where.append("vr.passed")
    elif filters.stage == "drafted":
        where.append(
            f"EXISTS (SELECT 1 FROM retail.listing_drafts WHERE product_id = p.id AND status = 'valid'{channel_clause})"
        )
    elif filters.stage == "live":
        where.append(
            f"EXISTS (SELECT 1 FROM retail.channel_listings WHERE product_id = p.id AND actual_state = 'live'{channel_clause})"
        )
    where.append("p.archived_at IS NOT NULL" if filters.archived else "p.archived_at IS NULL")
    if filters.selling_stopped is not None:
        where.append("p.selling_stopped_at IS " + ("NOT NULL" if filters.selling_stopped else "NULL"))
    if filters.status:
        where.append("p.status = :status")
        params["status"] = filters.status
    if filters.supplier:
        where.append("s.code = :supplier")
        params["supplier"] = filters.supplier
    match = None
    if filters.q and filters.q.strip():
        tsquery = search_query(filters.q)
        prefixes = sku_prefixes(conn, filters.q)
        if tsquery is None and not prefixes:
            raise FilterError("q", "search for at least one word or SKU")
        matches = []
        if tsquery is not None:
            matches.append("to_tsvector('simple', coalesce(p.title, '')) @@ to_tsquery('simple', :q)")
            params["q"] = tsquery
        for n, prefix in enumerate(prefixes):
            matches.append(f"lower(p.sku) LIKE :sku{n}")
            params[f"sku{n}"] = prefix
        match = "(" + " OR ".join(matches) + ")"
    if filters.cursor is not None:
        where.append("p.id < :cursor")
        params["cursor"] = filters.cursor

    def page(extra: list[str], limit: int) -> list:
        sql = f"{LIST_SELECT} WHERE {' AND '.join(where + extra)} ORDER BY p.id DESC LIMIT :limit"
        return conn.execute(text(sql), {**params, "limit": limit}).all()

    rows = page([], filters.limit + 1) if match is None else _search(conn, page, match, params, filters)
    items = [
        ProductSummary.model_validate(
            {**row._mapping, "stage": furthest_stage(row), "thumbnail": _signed(row.thumbnail_path, "")}
        )
        for row in rows[: filters.limit]
    ]
    more = len(rows) > filters.limit
    return ProductPage(items=items, next_cursor=items[-1].id if more else None, limit=filters.limit)


SEARCH_WINDOW = 500  # newest products checked row by row before the indexes take over

# The search's matches below the window, from the indexes alone (a bitmap of the GIN and btree scans):
# the planner cannot tell a rare word from a common one well enough to choose this itself.
SEARCH_MATCHES = """
    SELECT p.id FROM retail.products p
     WHERE {match} AND p.id <= :floor AND (CAST(:cursor AS bigint) IS NULL OR p.id < :cursor)
       AND (p.archived_at IS NOT NULL) = :archived
     ORDER BY p.id DESC LIMIT :cap
"""
# Each step states its plan: row by row in id order (the window), or bitmaps of the indexes (the rest).
# The planner's guess of a prefix term's frequency is too rough to trust with either choice.
ORDERED_PLANS = text("SELECT set_config('enable_bitmapscan', :on, true)")
BITMAP_PLANS = text(
    "SELECT set_config('enable_seqscan', :on, true), set_config('enable_indexscan', :on, true),"
    " set_config('enable_indexonlyscan', :on, true)"
)


@contextmanager
def _plans_without(conn: Connection, setting: Any) -> Iterator[None]:
    conn.execute(setting, {"on": "off"})
    try:
        yield
    finally:
        conn.execute(setting, {"on": "on"})


def _search(conn: Connection, page, match: str, params: dict[str, Any], filters: ProductFilters) -> list:
    """A search page in two steps, so neither a common nor a rare term costs a scan of every product:
    the newest SEARCH_WINDOW products (below the cursor) are checked in order, which fills the page
    when the term is common; if it does not, the rest of the matches come from the indexes."""
    wanted = filters.limit + 1
    # A page of ids wants no parallel workers: starting them costs more (8 ms) than the whole index scan.
    # SET LOCAL: until this request's transaction ends.
    conn.execute(text("SET LOCAL max_parallel_workers_per_gather = 0"))
    floor = conn.scalar(
        text(
            "SELECT id FROM retail.products WHERE (CAST(:cursor AS bigint) IS NULL OR id < :cursor)"
            " ORDER BY id DESC OFFSET :window LIMIT 1"
        ),
        {"cursor": filters.cursor, "window": SEARCH_WINDOW},
    )
    if floor is None:  # fewer products than the window: one ordered pass
        return page([match], wanted)
    params["floor"] = floor
    with _plans_without(conn, ORDERED_PLANS):
        rows = page([match, "p.id > :floor"], wanted)
    if len(rows) >= wanted:
        return rows
    # Without other filters the page is simply the newest matches; with them, every match is a candidate.
    only_search = not (
        filters.stage or filters.status or filters.supplier or filters.selling_stopped is not None
    )
    cap = wanted - len(rows) if only_search else None
    with _plans_without(conn, BITMAP_PLANS):
        ids = conn.scalars(
            text(SEARCH_MATCHES.format(match=match)),
            {**params, "cursor": filters.cursor, "archived": filters.archived, "cap": cap},
        ).all()
    if not ids:
        return rows
    params["matched"] = list(ids)
    return rows + page(["p.id = ANY(:matched)", "p.id <= :floor"], wanted - len(rows))


# --- stage counts (the funnel) ----------------------------------------------------------------------


class StageCounts(BaseModel):
    scraped: int = Field(description="products (every enrichment status)")
    enriched: int
    validated: int
    drafted: dict[str, int] = Field(description="valid drafts per channel")
    live: dict[str, int] = Field(description="live listings per channel")
    failed_enrichment: int
    blocked: int
    validation_failed: int


COUNTS = text(
    """
    SELECT metric, dim1, dim2, CAST(sum(n) AS bigint) AS n FROM retail.kpi_counts
     WHERE metric IN ('products', 'validation_results', 'listing_drafts', 'channel_listings')
     GROUP BY metric, dim1, dim2
    """
)


def stage_counts(conn: Connection) -> StageCounts:
    cells = {(r.metric, r.dim1, r.dim2): r.n for r in conn.execute(COUNTS)}
    products = {d1: n for (m, d1, _), n in cells.items() if m == "products"}
    listing = channel_names("listings")
    return StageCounts(
        scraped=sum(products.values()),
        enriched=products.get("enriched", 0),
        failed_enrichment=products.get("failed", 0),
        blocked=products.get("blocked", 0),
        validated=cells.get(("validation_results", "passed", ""), 0),
        validation_failed=cells.get(("validation_results", "failed", ""), 0),
        drafted={c: cells.get(("listing_drafts", c, "valid"), 0) for c in listing},
        live={c: cells.get(("channel_listings", c, "live"), 0) for c in listing},
    )


class ProductStats(BaseModel):
    stages: StageCounts
    archived: int
    selling_stopped: int
    optimisations_today: int


def product_stats(conn: Connection) -> ProductStats:
    row = conn.execute(
        text(
            """SELECT (SELECT count(*) FROM retail.products WHERE archived_at IS NOT NULL) AS archived,
                      (SELECT count(*) FROM retail.products WHERE selling_stopped_at IS NOT NULL) AS selling_stopped,
                      (SELECT count(*) FROM retail.product_optimisations
                        WHERE created_at >= date_trunc('day', now())) AS optimisations_today"""
        )
    ).one()
    return ProductStats(stages=stage_counts(conn), **row._mapping)


# --- detail -----------------------------------------------------------------------------------------


class Image(BaseModel):
    url: str | None = Field(description="signed media link; null when not downloaded")
    source_url: str
    error: str | None


class ChannelContent(BaseModel):
    channel: str
    title: str | None
    description: str | None
    optimised: bool = Field(description="an operator's re-optimisation for this channel is in use")


class Optimisation(BaseModel):
    id: int
    channel: str
    field: str
    original: str | None
    previous: str | None
    optimised: str
    quality_score: Decimal | None
    source: str
    forced: bool
    model: str | None
    requested_by: str
    created_at: datetime


class PricePoint(BaseModel):
    price: Decimal
    at: datetime
    source: str
    fx_rate: Decimal | None = Field(default=None, description="the exchange rate it was converted with")
    fx_date: date | None = Field(default=None, description="that rate's publication day")


class ListingView(BaseModel):
    id: int | None
    channel: str
    draft_id: int | None
    draft_status: str | None
    draft_errors: list[Any]
    draft_title: str | None
    draft_price: Decimal | None
    currency: str | None
    external_listing_id: str | None
    listing_url: str | None
    desired_state: str | None
    actual_state: str | None
    desired_price: Decimal | None
    actual_price: Decimal | None
    withdraw_reason: str | None
    last_error: str | None
    price_history: list[PricePoint]


class Verdict(BaseModel):
    passed: bool
    failed_rules: list[str]
    details: dict[str, Any]
    rules_version: str
    validated_at: datetime


class ProductDetail(ProductSummary):
    description: str | None
    supplier_description: str | None
    supplier_name: str
    supplier_url: str | None
    brand: str | None
    gtin: str | None
    mpn: str | None
    categories: list[str]
    condition: str | None
    availability: str
    stock_quantity: int | None
    attributes: dict[str, Any]
    keywords: list[str]
    error: str | None
    enricher: str
    model: str | None
    prompt_version: str
    enriched_at: datetime
    archived_at: datetime | None
    selling_stopped_at: datetime | None
    selling_stopped_by: str | None
    selling_stopped_reason: str | None
    channels: list[str] | None = Field(description="its own channel choice (null = its supplier's)")
    supplier_channels: list[str] | None = Field(description="its supplier's default (null = every channel)")
    selected_channels: list[str] = Field(description="the listing channels it goes to")
    images: list[Image]
    verdict: Verdict | None
    content: list[ChannelContent]
    listings: list[ListingView]
    optimisations: list[Optimisation]


# The list's columns and the detail's own in one SELECT (as a subquery joined back to the same rows it
# cost a second plan of the same joins).
DETAIL = text(
    f"""{LIST_COLUMNS},
           p.description, sp.description AS supplier_description, s.name AS supplier_name,
           sp.url AS supplier_url, sp.brand, sp.gtin, sp.mpn, sp.categories, p.condition,
           sp.availability, coalesce(p.stock_quantity, sp.stock_quantity) AS stock_quantity,
           p.attributes, p.keywords, p.error, p.enricher, p.model, p.prompt_version, p.enriched_at,
           p.archived_at, p.selling_stopped_at, p.selling_stopped_by, p.selling_stopped_reason,
           CAST(p.channels AS text[]) AS channels, CAST(s.channels AS text[]) AS supplier_channels,
           sp.id AS supplier_product_id, vr.product_id IS NOT NULL AS has_verdict,
           vr.passed AS verdict_passed, vr.failed_rules AS verdict_failed_rules, vr.details AS verdict_details,
           vr.rules_version AS verdict_rules_version, vr.validated_at AS verdict_validated_at
    {LIST_FROM} WHERE p.id = :id
    """
)

IMAGES = text(
    """
    SELECT i.source_url, i.error, m.rel_path FROM retail.supplier_product_images i
      LEFT JOIN retail.media_assets m ON m.id = i.media_asset_id
     WHERE i.supplier_product_id = :sp ORDER BY i.position, i.id
    """
)

DRAFTS = text(
    """
    SELECT CAST(channel AS text) AS channel, id AS draft_id, status AS draft_status,
           validation_errors AS draft_errors, title AS draft_title, price AS draft_price,
           CAST(currency AS text) AS currency
      FROM retail.listing_drafts WHERE product_id = :id
    """
)

LISTINGS = text(
    """
    SELECT CAST(cl.channel AS text) AS channel, cl.id, cl.external_listing_id, cl.listing_url, cl.desired_state,
           cl.actual_state, cl.desired_price, cl.actual_price, cl.withdraw_reason, cl.last_error,
           CAST(cl.currency AS text) AS currency,
           coalesce((SELECT json_agg(h ORDER BY h.at) FROM (
                SELECT ph.new_price AS price, ph.created_at AS at, ph.source, ph.fx_rate, ph.fx_date
                  FROM retail.price_history ph
                 WHERE ph.channel_listing_id = cl.id ORDER BY ph.created_at DESC LIMIT :points) h), '[]')
               AS price_history
      FROM retail.channel_listings cl WHERE cl.product_id = :id
    """
)

EMPTY_LISTING = dict.fromkeys(
    ("id", "draft_id", "draft_status", "draft_title", "draft_price", "currency", "external_listing_id",
     "listing_url", "desired_state", "actual_state", "desired_price", "actual_price", "withdraw_reason",
     "last_error"),
) | {"draft_errors": [], "price_history": []}  # fmt: skip


def _listings(conn: Connection, product_id: int) -> list[ListingView]:
    """Per channel: its draft and its listing (either may be missing)."""
    merged: dict[str, dict[str, Any]] = {}
    for r in conn.execute(DRAFTS, {"id": product_id}):
        merged.setdefault(r.channel, {**EMPTY_LISTING, "channel": r.channel}).update(r._mapping)
    for r in conn.execute(LISTINGS, {"id": product_id, "points": PRICE_HISTORY_POINTS}):
        merged.setdefault(r.channel, {**EMPTY_LISTING, "channel": r.channel}).update(r._mapping)
    return [ListingView.model_validate(merged[c]) for c in sorted(merged)]


OPTIMISATIONS = text(
    """
    SELECT id, CAST(channel AS text) AS channel, field, original, previous, optimised, quality_score, source,
           forced, model, requested_by, created_at
      FROM retail.product_optimisations WHERE product_id = :id ORDER BY id DESC LIMIT 20
    """
)

CHANNEL_CONTENT = text(
    """
    SELECT DISTINCT ON (channel, field) CAST(channel AS text) AS channel, field, optimised
      FROM retail.product_optimisations WHERE product_id = :id ORDER BY channel, field, id DESC
    """
)


def _signed(rel_path: str | None, base_url: str) -> str | None:
    if rel_path is None:
        return None
    try:
        return media_url(rel_path, base_url=base_url)
    except MediaPathError:
        return None


def coalesce_channels(own: list[str] | None, supplier: list[str] | None) -> list[str] | None:
    """A product's channel choice: its own, else its supplier's (None = every listing channel)."""
    return own if own is not None else supplier


def product_detail(conn: Connection, product_id: int, *, media_base_url: str = "") -> ProductDetail | None:
    row = conn.execute(DETAIL, {"id": product_id}).one_or_none()
    if row is None:
        return None
    values = dict(row._mapping)
    images = [
        Image(url=_signed(i.rel_path, media_base_url), source_url=i.source_url, error=i.error)
        for i in conn.execute(IMAGES, {"sp": values["supplier_product_id"]})
    ]
    verdict = None
    if values.pop("has_verdict"):
        verdict = {k.removeprefix("verdict_"): values[k] for k in list(values) if k.startswith("verdict_")}
    for k in [k for k in values if k.startswith("verdict_")]:
        del values[k]
    listings = _listings(conn, product_id)
    overrides: dict[str, dict[str, str]] = {}
    for r in conn.execute(CHANNEL_CONTENT, {"id": product_id}):
        overrides.setdefault(r.channel, {})[r.field] = r.optimised
    content = [
        ChannelContent(
            channel=c,
            title=overrides.get(c, {}).get("title") or values["title"],
            description=overrides.get(c, {}).get("description") or values["description"],
            optimised=c in overrides,
        )
        for c in channel_names("listings")
    ]
    optimisations = [
        Optimisation.model_validate(dict(r._mapping)) for r in conn.execute(OPTIMISATIONS, {"id": product_id})
    ]
    chosen = coalesce_channels(values["channels"], values["supplier_channels"])
    return ProductDetail.model_validate(
        {
            **values,
            "categories": list(values["categories"] or []),
            "keywords": list(values["keywords"] or []),
            "stage": furthest_stage(row),
            "thumbnail": images[0].url if images else None,
            "images": images,
            "verdict": Verdict.model_validate(verdict) if verdict else None,
            "content": content,
            "listings": listings,
            "optimisations": optimisations,
            "selected_channels": [c for c in channel_names("listings") if chosen is None or c in chosen],
        }
    )


# --- stop selling, archive ------------------------------------------------------------------------


class NotFound(LookupError):
    pass


@dataclass
class StopResult:
    product_id: int
    already: bool
    listings_withdrawn: int  # listings now desired withdrawn
    withdraw_commands: list[int]  # WITHDRAW_LISTING commands queued for the live ones


STOP = text(
    """
    UPDATE retail.products
       SET selling_stopped_at = coalesce(selling_stopped_at, now()),
           selling_stopped_by = coalesce(selling_stopped_by, :by),
           selling_stopped_reason = coalesce(selling_stopped_reason, :reason),
           archived_at = CASE WHEN :archive THEN coalesce(archived_at, now()) ELSE archived_at END,
           archived_by = CASE WHEN :archive THEN coalesce(archived_by, :by) ELSE archived_by END
     WHERE id = :id
    -- the sub-select reads the statement's snapshot: the row as it was before this update
    RETURNING (SELECT selling_stopped_at IS NOT NULL AND (NOT :archive OR archived_at IS NOT NULL)
                 FROM retail.products WHERE id = :id) AS already
    """
)

WITHDRAW_ALL = text(
    """
    UPDATE retail.channel_listings SET desired_state = 'withdrawn', withdraw_reason = :reason
     WHERE product_id = :id AND desired_state <> 'withdrawn'
    """
)

LIVE_LISTINGS = text(
    "SELECT id FROM retail.channel_listings WHERE product_id = :id AND actual_state = 'live' ORDER BY id"
)


def stop_selling(
    engine: Engine, product_id: int, *, by: str, reason: str | None = None, archive: bool = False
) -> StopResult:
    """Stop selling everywhere (and archive when asked): the flag and every listing's desired state are
    committed first (the hourly channel_listings pass then withdraws whatever is still live even if
    what follows never runs); then one WITHDRAW_LISTING command per live listing, so the channels
    hear it within the sensor's interval. Repeating it changes nothing."""
    reason = reason or ("archived by an operator" if archive else "an operator stopped selling it")
    with engine.begin() as conn:
        row = conn.execute(
            STOP, {"id": product_id, "by": by, "reason": reason, "archive": archive}
        ).one_or_none()
        if row is None:
            raise NotFound(f"no product {product_id}")
        withdrawn = conn.execute(WITHDRAW_ALL, {"id": product_id, "reason": reason}).rowcount
        log_activity(
            conn, actor=by, action="product.archive" if archive else "product.stop_selling", outcome="succeeded",
            entity_type="product", entity_id=product_id, details={"reason": reason, "listings": withdrawn},
        )  # fmt: skip
        live = [r.id for r in conn.execute(LIVE_LISTINGS, {"id": product_id})]
    commands = []
    for listing_id in live:
        command = WithdrawListingCommand(
            command_type="WITHDRAW_LISTING",
            payload=WithdrawListing(listing_id=listing_id, reason=reason[:255]),
            idempotency_key=f"stop-selling:{product_id}:{listing_id}",
        )
        try:
            stored, _ = submit(engine, command, by)
        except (CommandRejected, IdempotencyConflict):
            continue  # no longer live, or already asked: the listing pass has it either way
        commands.append(stored.id)
    return StopResult(product_id, bool(row.already), withdrawn, commands)


class StopSelling(BaseModel):
    reason: str | None = Field(default=None, min_length=1, max_length=255)


class StopSellingResult(BaseModel):
    product_id: int
    archived: bool
    already: bool = Field(description="it was already stopped (archived): nothing new was asked")
    listings_withdrawn: int
    withdraw_commands: list[int] = Field(description="operator commands queued to withdraw live listings")


def _stop_view(result: StopResult, archived: bool) -> StopSellingResult:
    return StopSellingResult(
        product_id=result.product_id,
        archived=archived,
        already=result.already,
        listings_withdrawn=result.listings_withdrawn,
        withdraw_commands=result.withdraw_commands,
    )


# --- routes -----------------------------------------------------------------------------------------


def filters_from_query(
    stage: Annotated[Stage | None, Query(description="products that reached this stage")] = None,
    channel: Annotated[str | None, Query(description="with stage=drafted|live: on this channel")] = None,
    supplier: Annotated[str | None, Query(max_length=63, description="supplier code")] = None,
    q: Annotated[
        str | None, Query(max_length=200, description="words of the title or SKU (prefixes)")
    ] = None,
    status_: Annotated[Literal["enriched", "failed", "blocked"] | None, Query(alias="status")] = None,
    archived: Annotated[bool, Query(description="true: the archived products instead")] = False,
    selling_stopped: bool | None = None,
    cursor: Annotated[
        int | None, Query(ge=1, le=2**63 - 1, description="next_cursor of the previous page")
    ] = None,
    limit: Annotated[int, Query(ge=1, le=PAGE_MAX)] = PAGE_DEFAULT,
) -> ProductFilters:
    return ProductFilters(
        stage=stage, channel=channel, supplier=supplier, q=q, status=status_, archived=archived,
        selling_stopped=selling_stopped, cursor=cursor, limit=limit,
    )  # fmt: skip


def bad_filter(error: FilterError) -> HTTPException:
    return HTTPException(
        status.HTTP_422_UNPROCESSABLE_CONTENT, {"field": error.field, "message": error.message}
    )


@router.get("")
def get_products(
    _: Viewer,
    engine: Annotated[Engine, Depends(db_engine)],
    filters: Annotated[ProductFilters, Depends(filters_from_query)],
) -> ProductPage:
    """Products newest first, one keyset page (pass `next_cursor` back as `cursor`)."""
    try:
        with engine.connect() as conn:
            return list_products(conn, filters)
    except FilterError as error:
        raise bad_filter(error) from None


@router.get("/stats/summary")
def get_stats(_: Viewer, engine: Annotated[Engine, Depends(db_engine)]) -> ProductStats:
    """The funnel (products per stage, drafts and live listings per channel), archived and stopped counts."""
    with engine.connect() as conn:
        return product_stats(conn)


def not_found(product_id: int) -> HTTPException:
    return HTTPException(status.HTTP_404_NOT_FOUND, {"field": "id", "message": f"no product {product_id}"})


@router.get("/{product_id}")
def get_product(
    product_id: ProductId, _: Viewer, engine: Annotated[Engine, Depends(db_engine)]
) -> ProductDetail:
    """Supplier data and images (signed links), listing content per channel, the LaunchLock verdict,
    drafts and listings per channel with their price history, and the re-optimisation history."""
    with engine.connect() as conn:
        detail = product_detail(conn, product_id)
    if detail is None:
        raise not_found(product_id)
    return detail


@router.delete("/{product_id}")
async def delete_product(
    product_id: ProductId, principal: Operator, engine: Annotated[Engine, Depends(db_engine)]
) -> StopSellingResult:
    """Archive: stop selling everywhere (live listings withdrawn) and hide it from the list. Nothing is
    deleted; the product's history stays."""
    try:
        result = await run_in_threadpool(stop_selling, engine, product_id, by=actor(principal), archive=True)
    except NotFound:
        raise not_found(product_id) from None
    return _stop_view(result, archived=True)


@router.post("/{product_id}/stop-selling")
async def post_stop_selling(
    product_id: ProductId,
    principal: Operator,
    engine: Annotated[Engine, Depends(db_engine)],
    body: StopSelling | None = None,
) -> StopSellingResult:
    """Stop selling everywhere: every listing withdrawn, and never published again by the pipeline."""
    try:
        result = await run_in_threadpool(
            stop_selling, engine, product_id, by=actor(principal), reason=body.reason if body else None
        )
    except NotFound:
        raise not_found(product_id) from None
    except IntegrityError as error:  # a concurrent archive: the constraint holds; say so plainly
        raise HTTPException(status.HTTP_409_CONFLICT, str(error.orig).splitlines()[0]) from None
    return _stop_view(result, archived=False)


def actor(principal: Any) -> str:
    return f"api_key:{principal.key_prefix}"

"""Publishing for operators (seed 003): ``POST /api/export/publish/{id}?marketplace=``,
``POST /api/export/bulk-publish`` and ``GET /api/export/marketplaces``.

Publishing is never done in the request: each becomes an operator command (PUBLISH_LISTING for the
product's draft on the marketplace, BULK_PUBLISH for several), queued for ``operator_commands_sensor``
and carried out by the channel_listings Publisher, crash-safe and within the channel's call budget.
Poll ``GET /ops/commands/{id}`` for the outcome.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, HTTPException, Query, status
from pydantic import BaseModel, Field, field_validator
from sqlalchemy import Engine, text
from starlette.concurrency import run_in_threadpool

from retail_pipeline.api.auth import Operator
from retail_pipeline.api.coalesce import AsyncSingleFlight
from retail_pipeline.api.commands import CommandView, _view
from retail_pipeline.api.database import db_engine
from retail_pipeline.api.products import ProductId, actor
from retail_pipeline.channels.registry import all_channels, channel_names
from retail_pipeline.defs.listings.commands import (
    BULK_MAX,
    BulkPublish,
    BulkPublishCommand,
    CommandRejected,
    IdempotencyConflict,
    PublishListing,
    PublishListingCommand,
    submit,
)
from retail_pipeline.integrations.marketplaces.base import ChannelError

router = APIRouter(prefix="/api/export", tags=["export"])

PRODUCT_DRAFTS = text(
    """
    SELECT p.id AS product_id, p.archived_at, p.selling_stopped_at, d.id AS draft_id, d.status,
           d.validation_errors, cl.actual_state
      FROM retail.products p
      LEFT JOIN retail.listing_drafts d ON d.product_id = p.id AND d.channel = :channel
      LEFT JOIN retail.channel_listings cl ON cl.channel = d.channel AND cl.sku = d.sku
     WHERE p.id = ANY(:ids)
    """
)


class NotPublishable(Exception):
    def __init__(self, status_code: int, message: str):
        super().__init__(message)
        self.status_code, self.message = status_code, message


def _why_not(row: Any, channel: str) -> NotPublishable | None:
    """Why this product's draft cannot be published on `channel`, or None."""
    if row.archived_at is not None:
        return NotPublishable(409, f"product {row.product_id} is archived")
    if row.selling_stopped_at is not None:
        return NotPublishable(409, f"product {row.product_id}: selling was stopped; it stays withdrawn")
    if row.draft_id is None:
        return NotPublishable(
            409, f"product {row.product_id} has no {channel} draft: it has not passed LaunchLock, or "
            "listing_drafts has not run for it yet",
        )  # fmt: skip
    if row.status != "valid":
        problems = "; ".join(row.validation_errors or []) or row.status
        return NotPublishable(409, f"product {row.product_id}'s {channel} draft is not valid: {problems}")
    if row.actual_state == "live":
        return NotPublishable(409, f"product {row.product_id} is already live on {channel}")
    return None


def publish_product(engine: Engine, product_id: int, channel: str, *, by: str, dry_run: bool = False):
    """Queue PUBLISH_LISTING for the product's draft on `channel`; (command row, created). The
    idempotency key is the draft: asking twice while the first is queued returns the same command."""
    with engine.connect() as conn:
        row = conn.execute(PRODUCT_DRAFTS, {"channel": channel, "ids": [product_id]}).one_or_none()
    if row is None:
        raise NotPublishable(404, f"no product {product_id}")
    if (problem := _why_not(row, channel)) is not None:
        raise problem
    command = PublishListingCommand(
        command_type="PUBLISH_LISTING", payload=PublishListing(draft_id=row.draft_id), dry_run=dry_run
    )
    try:
        return submit(engine, command, by)
    except CommandRejected as rejected:
        raise NotPublishable(409, str(rejected)) from None


def _marketplace(marketplace: Annotated[str, Query(description="a marketplace we list on")]) -> str:
    if marketplace not in channel_names("listings"):
        raise HTTPException(
            status.HTTP_422_UNPROCESSABLE_CONTENT,
            {"field": "marketplace", "message": f"not a marketplace we list on: {marketplace!r}; "
             f"one of {list(channel_names('listings'))}"},
        )  # fmt: skip
    return marketplace


@router.post(
    "/publish/{product_id}",
    status_code=status.HTTP_202_ACCEPTED,
    responses={
        404: {"description": "no such product"},
        409: {"description": "not publishable (reason given)"},
    },
)
async def publish(
    product_id: ProductId,
    principal: Operator,
    engine: Annotated[Engine, Depends(db_engine)],
    marketplace: Annotated[str, Depends(_marketplace)],
    dry_run: bool = False,
) -> CommandView:
    """Queue the product's publication on the marketplace (an operator command; 202 with the command)."""
    try:
        row, _ = await run_in_threadpool(
            publish_product, engine, product_id, marketplace, by=actor(principal), dry_run=dry_run
        )
    except NotPublishable as problem:
        raise HTTPException(problem.status_code, {"field": "id", "message": problem.message}) from None
    return _view(row)


class BulkPublishRequest(BaseModel):
    marketplace: str
    product_ids: list[Annotated[int, Field(ge=1, le=2**63 - 1)]] | None = Field(
        default=None,
        min_length=1,
        max_length=BULK_MAX,
        description="omit: every valid draft on the marketplace",
    )
    limit: int | None = Field(default=None, ge=1, le=BULK_MAX)
    dry_run: bool = False
    idempotency_key: str | None = Field(default=None, min_length=1, max_length=200)

    @field_validator("marketplace")
    @classmethod
    def _known(cls, value: str) -> str:
        if value not in channel_names("listings"):
            raise ValueError(
                f"not a marketplace we list on: {value!r}; one of {list(channel_names('listings'))}"
            )
        return value


class SkippedProduct(BaseModel):
    product_id: int
    reason: str


class BulkPublishResult(BaseModel):
    command: CommandView | None = Field(description="null when none of the products can be published")
    queued_products: int
    skipped: list[SkippedProduct] = Field(description="products left out, with the reason")


def bulk_publish(engine: Engine, body: BulkPublishRequest, *, by: str) -> BulkPublishResult:
    draft_ids: list[int] | None = None
    skipped: list[SkippedProduct] = []
    if body.product_ids is not None:
        with engine.connect() as conn:
            rows = {
                r.product_id: r
                for r in conn.execute(PRODUCT_DRAFTS, {"channel": body.marketplace, "ids": body.product_ids})
            }
        draft_ids = []
        for product_id in dict.fromkeys(body.product_ids):
            row = rows.get(product_id)
            problem = (
                NotPublishable(404, f"no product {product_id}")
                if row is None
                else _why_not(row, body.marketplace)
            )
            if problem is None:
                draft_ids.append(row.draft_id)
            else:
                skipped.append(SkippedProduct(product_id=product_id, reason=problem.message))
        if not draft_ids:
            return BulkPublishResult(command=None, queued_products=0, skipped=skipped)
    command = BulkPublishCommand(
        command_type="BULK_PUBLISH",
        payload=BulkPublish(channel=body.marketplace, draft_ids=draft_ids, limit=body.limit),
        dry_run=body.dry_run,
        idempotency_key=body.idempotency_key,
    )
    row, _ = submit(engine, command, by)
    return BulkPublishResult(
        command=_view(row), queued_products=len(draft_ids) if draft_ids is not None else 0, skipped=skipped
    )


@router.post("/bulk-publish", status_code=status.HTTP_202_ACCEPTED)
async def post_bulk_publish(
    principal: Operator,
    engine: Annotated[Engine, Depends(db_engine)],
    body: Annotated[BulkPublishRequest, Body()],
) -> BulkPublishResult:
    """Queue one BULK_PUBLISH command for the products' drafts on the marketplace (or every valid draft);
    products that cannot be published are listed in `skipped` and do not hold up the others."""
    try:
        result = await run_in_threadpool(bulk_publish, engine, body, by=actor(principal))
    except CommandRejected as rejected:
        raise HTTPException(
            status.HTTP_409_CONFLICT, {"field": "product_ids", "message": str(rejected)}
        ) from None
    except IdempotencyConflict as conflict:
        raise HTTPException(
            status.HTTP_409_CONFLICT, {"field": "idempotency_key", "message": str(conflict)}
        ) from None
    if result.command is None:
        raise HTTPException(
            status.HTTP_409_CONFLICT,
            {"field": "product_ids", "message": "none of the products can be published: "
             + "; ".join(s.reason for s in result.skipped)},
        )  # fmt: skip
    return result


class Marketplace(BaseModel):
    name: str
    title: str
    enabled: bool = Field(description="listings are published there (the channel's plug-in lists products)")
    capabilities: list[str]
    credentials_configured: bool
    credentials_error: str | None
    call_limit: int | None = Field(
        description="calls allowed in the current window; null: the channel sets none"
    )
    calls_used: int | None
    calls_left: int | None
    window_resets_at: str | None


_marketplace_flights: AsyncSingleFlight[list[Marketplace]] = AsyncSingleFlight()


async def marketplaces_status() -> list[Marketplace]:
    found = []
    for plugin in all_channels():
        entry: dict[str, Any] = {
            "name": plugin.name, "title": plugin.title, "enabled": plugin.listing is not None,
            "capabilities": sorted(plugin.capabilities), "credentials_configured": False, "credentials_error": None,
            "call_limit": None, "calls_used": None, "calls_left": None, "window_resets_at": None,
        }  # fmt: skip
        try:
            client = plugin.new_client()
        except (ValueError, ChannelError) as missing:
            entry["credentials_error"] = str(missing)
            found.append(Marketplace(**entry))
            continue
        entry["credentials_configured"] = True
        try:
            if hasattr(client, "budget"):  # listing channels' clients keep one; order-only ones may not
                budget = client.budget()
                entry.update(
                    call_limit=budget.limit, calls_used=budget.used, calls_left=budget.remaining,
                    window_resets_at=budget.resets_at,
                )  # fmt: skip
        finally:
            await client.aclose()
        found.append(Marketplace(**entry))
    return found


@router.get("/marketplaces")
async def get_marketplaces(_: Operator) -> list[Marketplace]:
    """Each channel: enabled for listings, credentials configured, call budget left in this window
    (the budget every process of the deployment shares through the database). Requests arriving while
    one is being answered share its answer."""
    return await _marketplace_flights.run("marketplaces", marketplaces_status)

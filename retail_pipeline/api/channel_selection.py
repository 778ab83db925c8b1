"""Which channels a product goes to: ``PUT /api/products/{id}/channels`` and
``PUT /api/suppliers/{code}/channels`` (operator key).

A supplier's `channels` is the default for its products (null = every listing channel); a product's
overrides it (null = its supplier's); an empty list lists nowhere. Names are checked against the channel
registry's listing channels (422 naming the unknown ones). A channel taken away from a product where it
is live is withdrawn the way stop-selling withdraws (the listing's desired state committed first, then
one WITHDRAW_LISTING command per live listing); its draft is dropped (kept while a listing points at it,
for the listing's history). Newly selected channels get their drafts from `listing_drafts` (at once
for one product)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Path, status
from pydantic import BaseModel, Field
from sqlalchemy import Connection, Engine, text
from starlette.concurrency import run_in_threadpool

from retail_pipeline.api.auth import Operator
from retail_pipeline.api.database import db_engine
from retail_pipeline.api.products import ProductId, actor
from retail_pipeline.channels.registry import channel_names
from retail_pipeline.db.activity import log_activity
from retail_pipeline.defs.listings.commands import (
    CommandRejected,
    IdempotencyConflict,
    WithdrawListing,
    WithdrawListingCommand,
    submit,
)
from retail_pipeline.defs.listings.drafts import build_drafts, drop_deselected_drafts

router = APIRouter(tags=["channel selection"])
REASON = "channel deselected for the product"


class ChannelSelection(BaseModel):
    channels: list[str] | None = Field(
        description="listing channels to sell on; null = the default (the supplier's, or every channel)",
        max_length=64,
    )


class SelectionResult(BaseModel):
    channels: list[str] | None = Field(description="as stored (null = the default)")
    listings_withdrawn: int = Field(description="listings now desired withdrawn on deselected channels")
    withdraw_commands: list[int] = Field(description="operator commands queued to withdraw live listings")
    drafts_dropped: int


class UnknownChannels(ValueError):
    pass


class NotFound(LookupError):
    pass


def checked(channels: list[str] | None) -> list[str] | None:
    """The selection in the registry's order, without repeats; UnknownChannels names any unknown one."""
    if channels is None:
        return None
    known = channel_names("listings")
    unknown = sorted({c for c in channels if c not in known})
    if unknown:
        raise UnknownChannels(f"unknown channels {unknown}: listing channels are {list(known)}")
    return [c for c in known if c in channels]


# Listings of these products on channels no longer selected: desired withdrawn, with the reason.
DESELECT = text(
    """
    UPDATE retail.channel_listings cl SET desired_state = 'withdrawn', withdraw_reason = :reason
     WHERE cl.product_id = ANY(CAST(:ids AS bigint[])) AND cl.desired_state <> 'withdrawn'
       AND NOT retail.sells_on(cl.product_id, cl.channel)
    RETURNING cl.id, cl.product_id, cl.actual_state, now() AS at
    """
)


@dataclass
class Withdrawals:
    listings: int = 0
    live: list[tuple[int, int, str]] | None = None  # (product, listing, stamp)
    drafts: int = 0


def _withdraw_deselected(conn: Connection, product_ids: list[int]) -> Withdrawals:
    rows = conn.execute(DESELECT, {"ids": product_ids, "reason": REASON}).all()
    drafts = sum(drop_deselected_drafts(conn, c, product_ids) for c in channel_names("listings"))
    live = [(r.product_id, r.id, r.at.isoformat()) for r in rows if r.actual_state == "live"]
    return Withdrawals(len(rows), live, drafts)


def _queue_withdrawals(engine: Engine, live: list[tuple[int, int, str]], by: str) -> list[int]:
    """One WITHDRAW_LISTING per live listing (as stop-selling does), after the desired state is committed."""
    commands = []
    for product_id, listing_id, stamp in live:
        command = WithdrawListingCommand(
            command_type="WITHDRAW_LISTING",
            payload=WithdrawListing(listing_id=listing_id, reason=REASON),
            idempotency_key=f"channels:{product_id}:{listing_id}:{stamp}",
        )
        try:
            stored, _ = submit(engine, command, by)
        except (CommandRejected, IdempotencyConflict):
            continue  # no longer live, or already asked: the listing pass has it either way
        commands.append(stored.id)
    return commands


def set_product_channels(
    engine: Engine, product_id: int, channels: list[str] | None, *, by: str
) -> SelectionResult:
    channels = checked(channels)
    with engine.begin() as conn:
        found = conn.execute(
            text(
                "UPDATE retail.products SET channels = CAST(:c AS retail.channel[]) WHERE id = :id RETURNING id"
            ),
            {"c": channels, "id": product_id},
        ).one_or_none()
        if found is None:
            raise NotFound(f"no product {product_id}")
        done = _withdraw_deselected(conn, [product_id])
        for channel in channel_names("listings"):  # the newly selected ones drafted at once
            build_drafts(conn, channel, [product_id])
        log_activity(
            conn, actor=by, action="product.channels", outcome="succeeded", entity_type="product",
            entity_id=product_id, details={"channels": channels, "listings_withdrawn": done.listings},
        )  # fmt: skip
    commands = _queue_withdrawals(engine, done.live or [], by)
    return SelectionResult(
        channels=channels,
        listings_withdrawn=done.listings,
        withdraw_commands=commands,
        drafts_dropped=done.drafts,
    )


def set_supplier_channels(
    engine: Engine, supplier: str, channels: list[str] | None, *, by: str
) -> SelectionResult:
    """`supplier`: its code, or its numeric id. Its products without their own choice follow."""
    channels = checked(channels)
    column = "id" if supplier.isdigit() else "code"
    with engine.begin() as conn:
        found = conn.execute(
            text(
                f"UPDATE retail.suppliers SET channels = CAST(:c AS retail.channel[]) "
                f"WHERE {column} = :key RETURNING id, code"
            ),
            {"c": channels, "key": int(supplier) if column == "id" else supplier},
        ).one_or_none()
        if found is None:
            raise NotFound(f"no supplier {supplier!r}")
        product_ids = list(
            conn.scalars(
                text(
                    """SELECT p.id FROM retail.products p
                         JOIN retail.supplier_products sp ON sp.id = p.supplier_product_id
                        WHERE sp.supplier_id = :s AND p.channels IS NULL"""
                ),
                {"s": found.id},
            )
        )
        done = _withdraw_deselected(conn, product_ids)
        log_activity(
            conn, actor=by, action="supplier.channels", outcome="succeeded", entity_type="supplier",
            entity_id=found.code, details={"channels": channels, "listings_withdrawn": done.listings},
        )  # fmt: skip
    commands = _queue_withdrawals(engine, done.live or [], by)
    return SelectionResult(
        channels=channels,
        listings_withdrawn=done.listings,
        withdraw_commands=commands,
        drafts_dropped=done.drafts,
    )


def _unprocessable(error: UnknownChannels) -> HTTPException:
    return HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, {"field": "channels", "message": str(error)})


@router.put("/api/products/{product_id}/channels")
async def put_product_channels(
    product_id: ProductId,
    body: ChannelSelection,
    principal: Operator,
    engine: Annotated[Engine, Depends(db_engine)],
) -> SelectionResult:
    """The channels this product goes to (null = its supplier's). Live listings on channels taken away
    are withdrawn; drafts appear for channels added."""
    try:
        return await run_in_threadpool(
            set_product_channels, engine, product_id, body.channels, by=actor(principal)
        )
    except UnknownChannels as error:
        raise _unprocessable(error) from None
    except NotFound as error:
        raise HTTPException(status.HTTP_404_NOT_FOUND, {"field": "id", "message": str(error)}) from None


@router.put("/api/suppliers/{supplier}/channels")
async def put_supplier_channels(
    supplier: Annotated[str, Path(max_length=63, description="the supplier's code or id")],
    body: ChannelSelection,
    principal: Operator,
    engine: Annotated[Engine, Depends(db_engine)],
) -> SelectionResult:
    """The default channels of this supplier's products (null = every listing channel); products with
    their own choice keep it. Live listings on channels taken away are withdrawn."""
    try:
        return await run_in_threadpool(
            set_supplier_channels, engine, supplier, body.channels, by=actor(principal)
        )
    except UnknownChannels as error:
        raise _unprocessable(error) from None
    except NotFound as error:
        raise HTTPException(status.HTTP_404_NOT_FOUND, {"field": "supplier", "message": str(error)}) from None

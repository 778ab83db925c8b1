"""Channels for operators: ``POST /channels/{channel}/validate_drafts`` and
``GET /channels/{channel}/account_summary``.

Validation sends each draft to the channel's own validation (through the same client and the same
request builder as publishing) and lists nothing; nothing is written. Every call counts against the
channel's call budget, which the sidecar shares with the pipeline's runs through the database; a
draft not checked because it ran out is reported as such, not as invalid. The account summary is
there for channels whose client can give one.
"""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator, Callable
from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, HTTPException, status
from pydantic import BaseModel, Field
from sqlalchemy import Engine, text
from starlette.concurrency import run_in_threadpool

from retail_pipeline.api.auth import require_role
from retail_pipeline.api.database import db_engine
from retail_pipeline.channels.plugin import Channel
from retail_pipeline.channels.registry import channel as channel_plugin
from retail_pipeline.channels.registry import channel_names
from retail_pipeline.defs.listings.publish import _listing_draft
from retail_pipeline.integrations.marketplaces.base import BudgetExhausted, ChannelClient, ChannelError

router = APIRouter(prefix="/channels", tags=["channels"], dependencies=[Depends(require_role("operator"))])
MAX_DRAFTS = 200  # one request should not be able to spend the hour's budget


def channel_that_can(capability: str, refusal: str) -> Callable[[str], Channel]:
    """A route dependency: the channel named in the path, if its plug-in has `capability`; else 404
    with `refusal` and the channels that do."""

    def named(channel: str) -> Channel:
        if channel not in channel_names(capability):
            raise HTTPException(
                status.HTTP_404_NOT_FOUND, f"{refusal}: {channel!r}; one of {list(channel_names(capability))}"
            )
        return channel_plugin(channel)

    return named


listing_channel = channel_that_can("listings", "not a channel we list on")


async def channel_client(
    plugin: Annotated[Channel, Depends(listing_channel)],
) -> AsyncIterator[ChannelClient]:
    """Dependency: the channel's client (its own settings from the environment; a call budget is the
    deployment's one, in its database, as for every other process)."""
    try:
        client = plugin.new_client()
    except (ValueError, ChannelError) as missing:  # credentials not configured
        raise HTTPException(status.HTTP_503_SERVICE_UNAVAILABLE, str(missing)) from None
    async with client:
        yield client


Client = Annotated[ChannelClient, Depends(channel_client)]


class Budget(BaseModel):
    limit: int | None
    used: int
    remaining: int | None
    resets_at: str | None


def _budget(client: ChannelClient) -> Budget:
    b = client.budget()
    return Budget(limit=b.limit, used=b.used, remaining=b.remaining, resets_at=b.resets_at)


class ValidateDrafts(BaseModel):
    draft_ids: list[int] | None = Field(
        default=None, min_length=1, max_length=MAX_DRAFTS, description="omit: the channel's drafts"
    )
    status: Literal["valid", "invalid", "any"] = Field(
        default="valid", description="without draft_ids: which of the channel's drafts to check"
    )
    limit: int = Field(default=50, ge=1, le=MAX_DRAFTS, description="without draft_ids: at most this many")


class DraftVerdict(BaseModel):
    draft_id: int
    sku: str
    checked: bool = Field(description="false: not sent (the hourly budget ran out, or the call failed)")
    valid: bool | None
    errors: list[str]


class ValidationReport(BaseModel):
    drafts: list[DraftVerdict]
    valid: int
    invalid: int
    unchecked: int
    budget: Budget


DRAFT_ROWS = text(
    """
    SELECT d.id, d.channel, d.sku, d.title, d.payload, d.currency, d.price AS desired_price,
           d.quantity AS desired_quantity
      FROM retail.listing_drafts d
     WHERE (CAST(:ids AS bigint[]) IS NOT NULL AND d.id = ANY(CAST(:ids AS bigint[])))
        OR (CAST(:ids AS bigint[]) IS NULL AND d.channel = :channel AND (:status = 'any' OR d.status = :status))
     ORDER BY d.id
     LIMIT :limit
    """
)


def _draft_rows(engine: Engine, plugin: Channel, body: ValidateDrafts) -> list:
    with engine.connect() as conn:
        rows = conn.execute(
            DRAFT_ROWS,
            {
                "ids": body.draft_ids,
                "channel": plugin.name,
                "status": body.status,
                "limit": len(body.draft_ids or ()) or body.limit,
            },  # fmt: skip
        ).all()
    if body.draft_ids:
        found = {r.id: r for r in rows}
        if missing := sorted(set(body.draft_ids) - set(found)):
            raise HTTPException(status.HTTP_400_BAD_REQUEST, f"drafts {missing} do not exist")
        if other := sorted(i for i, r in found.items() if r.channel != plugin.name):
            raise HTTPException(status.HTTP_400_BAD_REQUEST, f"drafts {other} are not {plugin.title} drafts")
    return rows


@router.post("/{channel}/validate_drafts")
async def validate_drafts(
    body: ValidateDrafts,
    plugin: Annotated[Channel, Depends(listing_channel)],
    client: Client,
    engine: Annotated[Engine, Depends(db_engine)],
) -> ValidationReport:
    """Each draft through the channel's own validation: valid, or the channel's own error messages."""
    rows = await run_in_threadpool(_draft_rows, engine, plugin, body)
    verdicts: list[DraftVerdict] = []
    exhausted: str | None = None
    for row in rows:
        verdict = DraftVerdict(draft_id=row.id, sku=row.sku, checked=False, valid=None, errors=[])
        if exhausted:
            verdict.errors = [exhausted]
        else:
            try:
                errors = await client.validate(_listing_draft(row, "", lambda _: None))
            except BudgetExhausted as spent:
                exhausted = spent.message
                verdict.errors = [exhausted]
            except ChannelError as error:  # this draft only; the next may go through
                verdict.errors = [error.message]
            else:
                verdict.checked, verdict.valid, verdict.errors = True, not errors, errors
        verdicts.append(verdict)
    return ValidationReport(
        drafts=verdicts,
        valid=sum(v.valid is True for v in verdicts),
        invalid=sum(v.valid is False for v in verdicts),
        unchecked=sum(not v.checked for v in verdicts),
        budget=_budget(client),
    )


class AccountSummaryView(BaseModel):
    channel: str
    summary: dict[str, Any] = Field(
        description="the channel's own account figures (balance, listing counts...)"
    )
    budget: Budget = Field(description="the channel's call budget, after this call")
    as_of: datetime


@router.get("/{channel}/account_summary")
async def account_summary(
    plugin: Annotated[Channel, Depends(listing_channel)], client: Client
) -> AccountSummaryView:
    """The channel's account figures (balance, listing counts: what its client's `account_summary` reads),
    and the calls left in the budget's window."""
    if not hasattr(client, "account_summary"):
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"{plugin.title} gives no account summary")
    try:
        summary = await client.account_summary()
    except BudgetExhausted as spent:
        raise HTTPException(
            status.HTTP_429_TOO_MANY_REQUESTS,
            f"{plugin.title} call budget used up: {spent.message}",
            headers={"Retry-After": _seconds_until(spent.budget.resets_at)},
        ) from None
    except ChannelError as error:
        raise HTTPException(status.HTTP_502_BAD_GATEWAY, f"{plugin.title}: {error.message}") from None
    return AccountSummaryView(
        channel=plugin.name,
        summary=dataclasses.asdict(summary) if dataclasses.is_dataclass(summary) else dict(summary),
        budget=_budget(client),
        as_of=datetime.now().astimezone(),
    )


def _seconds_until(instant: str | None) -> str:
    if not instant:
        return "3600"
    delta = datetime.fromisoformat(instant) - datetime.now().astimezone()
    return str(max(1, int(delta.total_seconds())))

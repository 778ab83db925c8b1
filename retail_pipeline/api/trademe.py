"""Trade Me for operators: ``POST /trademe/validate_drafts`` and ``GET /trademe/account_summary``.

Validation sends each draft to Trade Me's Selling/Validate (through the same client and the same
request builder as publishing) and lists nothing; nothing is written. Every call counts against the
hourly budget, which the sidecar shares with the pipeline's runs through the database; a draft not
checked because it ran out is reported as such, not as invalid.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import datetime
from decimal import Decimal
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, HTTPException, Request, status
from pydantic import BaseModel, Field
from sqlalchemy import Engine, text
from starlette.concurrency import run_in_threadpool

from retail_pipeline.api.auth import require_role
from retail_pipeline.api.database import db_engine
from retail_pipeline.defs.listings.publish import _listing_draft
from retail_pipeline.integrations.marketplaces.base import BudgetExhausted, ChannelError
from retail_pipeline.integrations.marketplaces.trademe import TradeMeClient, TradeMeSettings

router = APIRouter(prefix="/trademe", tags=["trademe"], dependencies=[Depends(require_role("operator"))])
MAX_DRAFTS = 200  # one request should not be able to spend the hour's budget


async def trademe_client(request: Request) -> AsyncIterator[TradeMeClient]:
    """Dependency: a Trade Me client (TRADEME_* settings) on the hourly budget in the app's database."""
    settings = TradeMeSettings()
    try:
        client = TradeMeClient(settings, budget_engine=db_engine(request))
    except ValueError as missing:  # credentials not configured
        raise HTTPException(status.HTTP_503_SERVICE_UNAVAILABLE, str(missing)) from None
    async with client:
        yield client


Client = Annotated[TradeMeClient, Depends(trademe_client)]


class Budget(BaseModel):
    limit: int | None
    used: int
    remaining: int | None
    resets_at: str | None


def _budget(client: TradeMeClient) -> Budget:
    b = client.budget()
    return Budget(limit=b.limit, used=b.used, remaining=b.remaining, resets_at=b.resets_at)


class ValidateDrafts(BaseModel):
    draft_ids: list[int] | None = Field(
        default=None, min_length=1, max_length=MAX_DRAFTS, description="omit: the channel's drafts"
    )
    status: Literal["valid", "invalid", "any"] = Field(
        default="valid", description="without draft_ids: which of Trade Me's drafts to check"
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
        OR (CAST(:ids AS bigint[]) IS NULL AND d.channel = 'trademe' AND (:status = 'any' OR d.status = :status))
     ORDER BY d.id
     LIMIT :limit
    """
)


def _draft_rows(engine: Engine, body: ValidateDrafts) -> list:
    with engine.connect() as conn:
        rows = conn.execute(
            DRAFT_ROWS,
            {"ids": body.draft_ids, "status": body.status, "limit": len(body.draft_ids or ()) or body.limit},
        ).all()
    if body.draft_ids:
        found = {r.id: r for r in rows}
        if missing := sorted(set(body.draft_ids) - set(found)):
            raise HTTPException(status.HTTP_400_BAD_REQUEST, f"drafts {missing} do not exist")
        if other := sorted(i for i, r in found.items() if r.channel != "trademe"):
            raise HTTPException(status.HTTP_400_BAD_REQUEST, f"drafts {other} are not Trade Me drafts")
    return rows


@router.post("/validate_drafts")
async def validate_drafts(
    body: ValidateDrafts, client: Client, engine: Annotated[Engine, Depends(db_engine)]
) -> ValidationReport:
    """Each draft through Trade Me's Selling/Validate: valid, or Trade Me's own error messages."""
    rows = await run_in_threadpool(_draft_rows, engine, body)
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
    member_id: int
    nickname: str
    balance: Decimal
    pay_now_balance: Decimal
    selling_count: int
    sold_count: int
    unsold_count: int
    budget: Budget = Field(description="this sidecar's hourly call budget, after this call")
    as_of: datetime


@router.get("/account_summary")
async def account_summary(client: Client) -> AccountSummaryView:
    """Balance and listing counts from MyTradeMe/Summary, and the calls left this hour."""
    try:
        summary = await client.account_summary()
    except BudgetExhausted as spent:
        raise HTTPException(
            status.HTTP_429_TOO_MANY_REQUESTS,
            f"Trade Me call budget used up: {spent.message}",
            headers={"Retry-After": _seconds_until(spent.budget.resets_at)},
        ) from None
    except ChannelError as error:
        raise HTTPException(status.HTTP_502_BAD_GATEWAY, f"Trade Me: {error.message}") from None
    return AccountSummaryView(
        member_id=summary.member_id,
        nickname=summary.nickname,
        balance=summary.balance,
        pay_now_balance=summary.pay_now_balance,
        selling_count=summary.selling_count,
        sold_count=summary.sold_count,
        unsold_count=summary.unsold_count,
        budget=_budget(client),
        as_of=datetime.now().astimezone(),
    )


def _seconds_until(instant: str | None) -> str:
    if not instant:
        return "3600"
    delta = datetime.fromisoformat(instant) - datetime.now().astimezone()
    return str(max(1, int(delta.total_seconds())))

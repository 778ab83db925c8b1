"""A product's category on each channel with a taxonomy (`channel_categories`), and the operator's pick.

- ``GET /api/products/{id}/categories``: per channel, the chosen category (and who chose it), or what
  waits (the candidates, the task), the attributes filled and the required ones missing;
- ``POST /api/products/{id}/categories/{channel}`` ``{"category_id": ...}`` (operator key): the
  operator's category, one of the candidates or any the channel's taxonomy knows; recorded as chosen by
  the operator (later runs keep it), the ``category_choice`` task resolved, the attributes filled and
  the product's draft on that channel rebuilt at once (the answer carries it).
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Path, status
from pydantic import BaseModel, Field
from sqlalchemy import Engine, text

from retail_pipeline.api.auth import Operator, Viewer
from retail_pipeline.api.database import db_engine
from retail_pipeline.channels.registry import channel as channel_plugin
from retail_pipeline.channels.registry import channel_names
from retail_pipeline.defs.listings.categories import NotAChoice, operator_choice
from retail_pipeline.defs.resources import LLMResource

router = APIRouter(prefix="/api/products", tags=["products"])
ProductId = Annotated[int, Path(ge=1, le=2**63 - 1, description="retail.products id")]


class CategoryPick(BaseModel):
    category_id: str = Field(min_length=1, max_length=100, description="the channel's own category id")


class ChannelCategory(BaseModel):
    channel: str
    status: str = Field(description="chosen | needs_choice | no_category | failed | not_yet")
    category_id: str | None = None
    category_path: str | None = None
    confidence: float | None = None
    chosen_by: str | None = None
    reason: str | None = None
    candidates: list[dict[str, Any]] = []
    attributes: dict[str, Any] = {}
    missing_required: list[str] = []
    task_id: int | None = None
    error: str | None = None
    draft_status: str | None = None
    draft_errors: list[str] = []


ROWS = text(
    """
    SELECT c.*, d.status AS draft_status, d.validation_errors AS draft_errors
      FROM retail.channel_categories c
      LEFT JOIN retail.listing_drafts d ON d.product_id = c.product_id AND d.channel = c.channel
     WHERE c.product_id = :id
    """
)


def _view(row: dict[str, Any]) -> ChannelCategory:
    return ChannelCategory(
        channel=row["channel"],
        status=row["status"],
        category_id=row["category_id"],
        category_path=row["category_path"],
        confidence=float(row["confidence"]) if row["confidence"] is not None else None,
        chosen_by=row["chosen_by"],
        reason=row["reason"],
        candidates=row["candidates"] or [],
        attributes=row["attributes"] or {},
        missing_required=list(row["missing_required"] or []),
        task_id=row["task_id"],
        error=row["error"],
        draft_status=row.get("draft_status"),
        draft_errors=list(row.get("draft_errors") or []),
    )


def categories_of(engine: Engine, product_id: int) -> list[ChannelCategory] | None:
    with engine.connect() as conn:
        if conn.scalar(text("SELECT 1 FROM retail.products WHERE id = :id"), {"id": product_id}) is None:
            return None
        rows = {r["channel"]: dict(r) for r in conn.execute(ROWS, {"id": product_id}).mappings()}
    out = []
    for name in channel_names("listings"):
        if channel_plugin(name).taxonomy is None:
            continue
        out.append(_view(rows[name]) if name in rows else ChannelCategory(channel=name, status="not_yet"))
    return out


@router.get("/{product_id}/categories")
def get_categories(
    product_id: ProductId, _: Viewer, engine: Annotated[Engine, Depends(db_engine)]
) -> list[ChannelCategory]:
    """The product's category per channel with a taxonomy (channels without one take our category)."""
    found = categories_of(engine, product_id)
    if found is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, {"field": "id", "message": f"no product {product_id}"})
    return found


@router.post("/{product_id}/categories/{channel}")
async def post_category(
    product_id: ProductId,
    channel: str,
    body: CategoryPick,
    principal: Operator,
    engine: Annotated[Engine, Depends(db_engine)],
) -> ChannelCategory:
    """The operator's category for the product on the channel; its draft is rebuilt at once."""
    if channel not in channel_names("listings"):
        raise HTTPException(
            status.HTTP_404_NOT_FOUND, {"field": "channel", "message": f"no channel {channel}"}
        )
    client = channel_plugin(channel).new_client()
    llm = LLMResource()
    try:
        await operator_choice(
            engine,
            channel,
            product_id,
            body.category_id.strip(),
            actor=f"api_key:{principal.key_prefix}",
            client=client,
            llm=llm,
        )
    except LookupError as error:
        raise HTTPException(status.HTTP_404_NOT_FOUND, {"field": "id", "message": str(error)}) from None
    except NotAChoice as error:
        raise HTTPException(
            status.HTTP_422_UNPROCESSABLE_CONTENT, {"field": "category_id", "message": str(error)}
        ) from None
    finally:
        await client.aclose()
        llm.teardown_after_execution(None)  # type: ignore[arg-type]
    found = categories_of(engine, product_id) or []
    return next(c for c in found if c.channel == channel)

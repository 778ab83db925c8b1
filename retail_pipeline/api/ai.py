"""Re-optimisation on request (seed 003): ``POST /api/ai/optimize/{id}``, ``/optimize-title/{id}``,
``/optimize-description/{id}`` and ``/batch-optimize``, for one marketplace.

Synchronous, through the enrichment asset's own path and cache (``defs/catalog/optimise.py``): an
unchanged product answers from the cache without a model call unless ``force`` is set. The LLM is the
one configured for the pipeline (``LLM_*``; the simulator's OpenAI-compatible endpoint in tests),
called with a request-sized timeout and few attempts: 502 when the model's answer or the service
failed for this product, 503 when the LLM cannot be used as configured.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from decimal import Decimal
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Body, Depends, HTTPException, Query, status
from pydantic import BaseModel, Field, field_validator
from sqlalchemy import Engine

from retail_pipeline.api.auth import Operator
from retail_pipeline.api.database import db_engine
from retail_pipeline.api.products import ProductId, actor
from retail_pipeline.channels.registry import channel_names
from retail_pipeline.defs.catalog.optimise import (
    FIELDS,
    NotOptimisable,
    ProductNotFound,
    Reoptimised,
    reoptimise,
)
from retail_pipeline.defs.resources import LLMResource
from retail_pipeline.integrations.llm import EnrichmentFailed, LLMUnavailable

router = APIRouter(prefix="/api/ai", tags=["ai"])

# An operator waits for the answer: one retry at most, and well under a proxy's timeout.
REQUEST_TIMEOUT_SECONDS = 20.0
REQUEST_ATTEMPTS = 2
BATCH_MAX = 20

Which = Literal["both", "title", "description"]
WHICH_FIELDS: dict[str, tuple[str, ...]] = {
    "both": FIELDS,
    "title": ("title",),
    "description": ("description",),
}


@contextmanager
def request_llm() -> Iterator[LLMResource]:
    """The pipeline's enrichment LLM, sized for a request; its HTTP client is closed afterwards."""
    llm = LLMResource(
        timeout_seconds=REQUEST_TIMEOUT_SECONDS, max_attempts=REQUEST_ATTEMPTS, backoff_initial_seconds=0.2
    )
    try:
        yield llm
    finally:
        llm.teardown_after_execution(None)


def check_marketplace(value: str) -> str:
    if value not in channel_names("listings"):
        raise ValueError(f"not a marketplace we list on: {value!r}; one of {list(channel_names('listings'))}")
    return value


class FieldChangeView(BaseModel):
    field: str
    original: str | None = Field(description="the supplier's text")
    previous: str | None = Field(description="what the marketplace's listing content was")
    optimised: str


class OptimiseResult(BaseModel):
    product_id: int
    marketplace: str
    source: str = Field(description="cache (no model call) | llm | offline")
    forced: bool
    quality_score: Decimal
    changes: list[FieldChangeView]
    prompt_tokens: int
    completion_tokens: int
    optimisation_ids: list[int]


def _view(done: Reoptimised) -> OptimiseResult:
    return OptimiseResult(
        product_id=done.product_id,
        marketplace=done.channel,
        source=done.source,
        forced=done.forced,
        quality_score=done.quality_score,
        changes=[FieldChangeView(**vars(c)) for c in done.changes],
        prompt_tokens=done.prompt_tokens,
        completion_tokens=done.completion_tokens,
        optimisation_ids=done.optimisation_ids,
    )


class OptimiseFailure(Exception):
    def __init__(self, status_code: int, detail: Any):
        super().__init__(str(detail))
        self.status_code, self.detail = status_code, detail


def optimise_one(
    engine: Engine, llm: LLMResource, product_id: int, *, marketplace: str, which: Which, force: bool, by: str
) -> OptimiseResult:
    """The one implementation behind the routes and the console: OptimiseFailure carries the HTTP answer."""
    try:
        done = reoptimise(
            engine,
            llm,
            product_id,
            channel=marketplace,
            fields=WHICH_FIELDS[which],
            force=force,
            requested_by=by,
        )
    except ProductNotFound as error:
        raise OptimiseFailure(status.HTTP_404_NOT_FOUND, {"field": "id", "message": str(error)}) from None
    except NotOptimisable as error:
        raise OptimiseFailure(status.HTTP_409_CONFLICT, {"field": "id", "message": str(error)}) from None
    except EnrichmentFailed as error:
        message = f"the LLM could not optimise product {product_id}: {error.reason}"
        raise OptimiseFailure(status.HTTP_502_BAD_GATEWAY, {"field": None, "message": message}) from None
    except (LLMUnavailable, ValueError) as error:  # ValueError: LLM_MODE=llm with no endpoint
        message = f"the LLM cannot be used as configured: {error}"
        raise OptimiseFailure(
            status.HTTP_503_SERVICE_UNAVAILABLE, {"field": None, "message": message}
        ) from None
    return _view(done)


Marketplace = Annotated[str, Query(description="the marketplace (channel) the content is for")]
Force = Annotated[bool, Query(description="bypass the enrichment cache: always ask the model")]


def _marketplace(marketplace: Marketplace) -> str:
    try:
        return check_marketplace(marketplace)
    except ValueError as error:
        raise HTTPException(
            status.HTTP_422_UNPROCESSABLE_CONTENT, {"field": "marketplace", "message": str(error)}
        ) from None


def _run(
    engine: Engine, product_id: int, marketplace: str, which: Which, force: bool, by: str
) -> OptimiseResult:
    with request_llm() as llm:
        try:
            return optimise_one(
                engine, llm, product_id, marketplace=marketplace, which=which, force=force, by=by
            )
        except OptimiseFailure as failure:
            raise HTTPException(failure.status_code, failure.detail) from None


RESPONSES: dict[int | str, dict[str, Any]] = {
    404: {"description": "no such product"},
    409: {"description": "archived, or its supplier is blocked from enrichment"},
    422: {"description": "unknown marketplace (field named)"},
    502: {"description": "the LLM failed for this product (answer or service, after a retry)"},
    503: {"description": "the LLM cannot be used as configured (key, model, quota)"},
}


@router.post("/optimize/{product_id}", responses=RESPONSES)
def optimize(
    product_id: ProductId,
    principal: Operator,
    engine: Annotated[Engine, Depends(db_engine)],
    marketplace: Annotated[str, Depends(_marketplace)],
    force: Force = False,
) -> OptimiseResult:
    """Title and description for one marketplace."""
    return _run(engine, product_id, marketplace, "both", force, actor(principal))


@router.post("/optimize-title/{product_id}", responses=RESPONSES)
def optimize_title(
    product_id: ProductId,
    principal: Operator,
    engine: Annotated[Engine, Depends(db_engine)],
    marketplace: Annotated[str, Depends(_marketplace)],
    force: Force = False,
) -> OptimiseResult:
    """The title only, for one marketplace."""
    return _run(engine, product_id, marketplace, "title", force, actor(principal))


@router.post("/optimize-description/{product_id}", responses=RESPONSES)
def optimize_description(
    product_id: ProductId,
    principal: Operator,
    engine: Annotated[Engine, Depends(db_engine)],
    marketplace: Annotated[str, Depends(_marketplace)],
    force: Force = False,
) -> OptimiseResult:
    """The description only, for one marketplace."""
    return _run(engine, product_id, marketplace, "description", force, actor(principal))


class BatchOptimise(BaseModel):
    product_ids: list[Annotated[int, Field(ge=1, le=2**63 - 1)]] = Field(min_length=1, max_length=BATCH_MAX)
    marketplace: str
    fields: Which = "both"
    force: bool = False

    @field_validator("marketplace")
    @classmethod
    def _known(cls, value: str) -> str:
        return check_marketplace(value)

    @field_validator("product_ids")
    @classmethod
    def _distinct(cls, ids: list[int]) -> list[int]:
        return list(dict.fromkeys(ids))


class BatchItemError(BaseModel):
    product_id: int
    status: int
    message: str


class BatchResult(BaseModel):
    optimised: list[OptimiseResult]
    errors: list[BatchItemError] = Field(description="products that could not be optimised, with the reason")


@router.post("/batch-optimize")
def batch_optimize(
    principal: Operator, engine: Annotated[Engine, Depends(db_engine)], body: Annotated[BatchOptimise, Body()]
) -> BatchResult:
    """Up to 20 products, one after the other; one product's failure never stops the others. An LLM
    that cannot be used at all (503) stops the batch: the rest would fail the same way."""
    optimised, errors = [], []
    with request_llm() as llm:
        for product_id in body.product_ids:
            try:
                optimised.append(
                    optimise_one(engine, llm, product_id, marketplace=body.marketplace, which=body.fields,
                                 force=body.force, by=actor(principal))
                )  # fmt: skip
            except OptimiseFailure as failure:
                if failure.status_code == status.HTTP_503_SERVICE_UNAVAILABLE:
                    raise HTTPException(failure.status_code, failure.detail) from None
                errors.append(
                    BatchItemError(
                        product_id=product_id, status=failure.status_code, message=failure.detail["message"]
                    )
                )
    return BatchResult(optimised=optimised, errors=errors)

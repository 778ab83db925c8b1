"""Console pages: Products (``/console/products``) and one product (``/console/products/{id}``).

Both read through the JSON routes' functions (``api/products.py``); the detail page's actions call the
JSON routes themselves (``/api/ai/optimize…``, ``/api/export/publish``, ``/api/products/{id}/stop-selling``,
``DELETE /api/products/{id}``) with the session's CSRF token, so a page and its route are one code path.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, HTTPException, Path, Request, status
from fastapi.responses import HTMLResponse
from sqlalchemy import Engine

from retail_pipeline.api.categories import categories_of
from retail_pipeline.api.console.session import PageViewer
from retail_pipeline.api.console.templating import render
from retail_pipeline.api.database import db_engine
from retail_pipeline.api.products import (
    STAGES,
    FilterError,
    ProductFilters,
    filters_from_query,
    list_products,
    product_detail,
    stage_counts,
)
from retail_pipeline.channels.registry import all_channels, channel_names

router = APIRouter(tags=["console"], include_in_schema=False)

SPARK_WIDTH, SPARK_HEIGHT = 120, 28


def sparkline(prices: list[Decimal]) -> str:
    """SVG polyline points for a price series (numbers only: safe in the template)."""
    if not prices:
        return ""
    if len(prices) == 1:
        prices = prices * 2
    low, high = min(prices), max(prices)
    span = (high - low) or Decimal(1)
    step = SPARK_WIDTH / (len(prices) - 1)
    return " ".join(
        f"{i * step:.1f},{SPARK_HEIGHT - 3 - float((p - low) / span) * (SPARK_HEIGHT - 6):.1f}"
        for i, p in enumerate(prices)
    )


def safe_link(url: str | None) -> str | None:
    """Only http(s) links become hrefs: a supplier's "javascript:" URL stays text."""
    return url if url and url.lower().startswith(("http://", "https://")) else None


def _channel_titles() -> dict[str, str]:
    return {c.name: c.title for c in all_channels()}


@router.get("/console/products", response_class=HTMLResponse)
def products_page(
    request: Request,
    principal: PageViewer,
    engine: Annotated[Engine, Depends(db_engine)],
    filters: Annotated[ProductFilters, Depends(filters_from_query)],
) -> HTMLResponse:
    error = None
    with engine.connect() as conn:
        counts = stage_counts(conn)
        try:
            page = list_products(conn, filters)
        except FilterError as problem:
            error, page = f"{problem.field}: {problem.message}", None
    kept = {
        k: v
        for k, v in {
            "q": filters.q,
            "supplier": filters.supplier,
            "archived": "true" if filters.archived else None,
        }.items()
        if v
    }

    def link(**changes) -> str:
        query = {**kept, **{k: v for k, v in changes.items() if v is not None}}
        return "/console/products" + (f"?{urlencode(query)}" if query else "")

    context = {
        "active": "products",
        "filters": filters,
        "counts": counts,
        "page": page,
        "error": error,
        "stages": STAGES,
        "channels": channel_names("listings"),
        "channel_titles": _channel_titles(),
        "link": link,
        "next_link": link(stage=filters.stage, channel=filters.channel, cursor=page.next_cursor)
        if page and page.next_cursor
        else None,
    }
    return render(request, "products.html", context, principal, status_code=422 if error else 200)


@router.get("/console/products/{product_id}", response_class=HTMLResponse)
def product_page(
    request: Request,
    product_id: Annotated[int, Path(ge=1, le=2**63 - 1)],
    principal: PageViewer,
    engine: Annotated[Engine, Depends(db_engine)],
) -> HTMLResponse:
    with engine.connect() as conn:
        detail = product_detail(conn, product_id)
    if detail is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no product {product_id}")
    overridden = [c for c in detail.content if c.optimised]
    categories = categories_of(engine, product_id) or []
    context = {
        "active": "products",
        "p": detail,
        "overridden": overridden,
        "categories": categories,
        "channels": channel_names("listings"),
        "channel_titles": _channel_titles(),
        "sparkline": sparkline,
        "safe_link": safe_link,
        "spark": {"w": SPARK_WIDTH, "h": SPARK_HEIGHT},
    }
    return render(request, "product.html", context, principal)

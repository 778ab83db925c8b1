"""Console pages: Orders (``/console/orders``: filter, search, keyset pages, new orders arriving live) and
one order (``/console/orders/{id}``: lines, address, status timeline, shipment with its label PDF and
Reprint). Both call the functions behind ``GET /api/orders`` and ``GET /api/orders/{id}``."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, get_args

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse
from sqlalchemy import Engine

from retail_pipeline.api.console.session import PageViewer
from retail_pipeline.api.console.templating import render
from retail_pipeline.api.database import db_engine
from retail_pipeline.api.orders import OrderFilters, list_orders, order_detail, order_filters
from retail_pipeline.channels.registry import channel_names
from retail_pipeline.domain.orders import OrderStatus

router = APIRouter(tags=["console"], include_in_schema=False)

STATUS_BADGE = {
    "shipped": "ok", "delivered": "ok", "label_created": "info", "packed": "info", "accepted": "info",
    "acceptance_failed": "error", "label_failed": "error", "tracking_failed": "error", "refused": "warning",
    "cancelled": "warning", "refunded": "warning",
}  # fmt: skip


def elapsed(start: datetime, end: datetime) -> str:
    """'42 s', '9 min', '5 h 12 min', '2 d 3 h': the time between two steps of an order."""
    seconds = max(0, int((end - start).total_seconds()))
    if seconds < 60:
        return f"{seconds} s"
    minutes, hours, days = seconds // 60, seconds // 3600, seconds // 86400
    if minutes < 60:
        return f"{minutes} min"
    if hours < 48:
        return f"{hours} h {minutes % 60} min"
    return f"{days} d {hours % 24} h"


@router.get("/console/orders", response_class=HTMLResponse)
def orders_page(
    request: Request,
    principal: PageViewer,
    engine: Annotated[Engine, Depends(db_engine)],
    filters: Annotated[OrderFilters, Depends(order_filters)],
) -> HTMLResponse:
    with engine.connect() as conn:
        page = list_orders(conn, filters)
    query = {k: v for k, v in filters.model_dump(mode="json", exclude={"limit", "cursor"}).items() if v}
    return render(
        request,
        "orders.html",
        {
            "active": "orders", "page": page, "filters": filters, "query": query,
            "channels": channel_names(), "statuses": get_args(OrderStatus), "badge": STATUS_BADGE,
        },
        principal,
    )  # fmt: skip


@router.get("/console/orders/{order_id}", response_class=HTMLResponse)
def order_page(
    order_id: int, request: Request, principal: PageViewer, engine: Annotated[Engine, Depends(db_engine)]
) -> HTMLResponse:
    with engine.connect() as conn:
        order = order_detail(conn, order_id, request.app.state.settings)
    context = {"active": "orders", "order": order, "badge": STATUS_BADGE, "elapsed": elapsed}
    return render(request, "order.html", context, principal)

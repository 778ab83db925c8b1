"""Console page: Suppliers (``/console/suppliers``): each supplier's funnel as bars, its top LaunchLock
blockers and a re-scrape button. It reads through ``api/suppliers.py`` (the JSON route's function);
the button posts to ``POST /api/suppliers/{code}/rescrape`` with the session's CSRF token."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, BackgroundTasks, Depends, Request
from fastapi.responses import HTMLResponse
from sqlalchemy import Engine

from retail_pipeline.api.console.session import PageViewer
from retail_pipeline.api.console.templating import render
from retail_pipeline.api.database import db_engine
from retail_pipeline.api.suppliers import refresh_funnels, supplier_views
from retail_pipeline.channels.registry import all_channels, channel_names

router = APIRouter(tags=["console"], include_in_schema=False)

FUNNEL = (
    ("raw", "Scraped"),
    ("enriched", "Enriched"),
    ("validated", "Validated"),
    ("drafted", "Drafted"),
    ("live", "Live"),
)


@router.get("/console/suppliers", response_class=HTMLResponse)
def page(
    request: Request,
    principal: PageViewer,
    engine: Annotated[Engine, Depends(db_engine)],
    background: BackgroundTasks,
) -> HTMLResponse:
    funnels = supplier_views(engine)
    if funnels.stale:  # counted again after this answer, for the next reader
        background.add_task(refresh_funnels, engine)
    suppliers = funnels.suppliers
    counted = [s.counted_at for s in suppliers if s.counted_at]
    totals = {stage: sum(getattr(s.counts, stage) for s in suppliers) for stage, _ in FUNNEL}
    context = {
        "active": "suppliers", "suppliers": suppliers, "funnel": FUNNEL, "totals": totals,
        "counted_at": min(counted) if counted else None, "channels": channel_names("listings"),
        "channel_titles": {c.name: c.title for c in all_channels()},
    }  # fmt: skip
    return render(request, "suppliers.html", context, principal)

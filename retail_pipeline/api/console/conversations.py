"""Console page: Customer service (being built)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from retail_pipeline.api.console.session import PageViewer
from retail_pipeline.api.console.templating import render

router = APIRouter(tags=["console"], include_in_schema=False)


@router.get("/console/conversations", response_class=HTMLResponse)
def page(request: Request, principal: PageViewer) -> HTMLResponse:
    return render(
        request, "placeholder.html", {"heading": "Customer service", "active": "conversations"}, principal
    )

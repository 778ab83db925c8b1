"""Console page: Home (``/console``): KPI tiles and inline SVG charts over ``shared_home_kpis``, the same
function ``GET /api/kpis/home`` answers with."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, BackgroundTasks, Depends, Request
from fastapi.responses import HTMLResponse
from sqlalchemy import Engine

from retail_pipeline.api.console import charts
from retail_pipeline.api.console.session import PageViewer
from retail_pipeline.api.console.templating import render
from retail_pipeline.api.database import db_engine
from retail_pipeline.api.home_kpis import HomeKpis, compact_later, shared_home_kpis

router = APIRouter(tags=["console"], include_in_schema=False)


def _hours(value: float | None) -> str:
    if value is None:
        return "—"
    return f"{value / 24:.1f} d" if value >= 48 else f"{value:.1f} h"


def home_charts(k: HomeKpis) -> dict[str, charts.Chart]:
    labels = [day.strftime("%d %b") for day in k.days]
    channel_colors = charts.color_for(k.channels)
    currencies = list(k.revenue)
    return {
        "orders": charts.stacked_bars(
            labels,
            {c: [d.by_channel.get(c, 0) for d in k.orders_by_day] for c in k.channels},
            channel_colors,
            width=760,
            unit=" orders",
        ),
        "revenue": charts.line_chart(
            labels,
            {cur: [float(d.revenue.get(cur, 0)) for d in k.orders_by_day] for cur in currencies},
            charts.color_for(currencies),
            width=380,
        ),
        "fulfilment": charts.line_chart(
            labels,
            {
                "p50": [d.p50_hours for d in k.fulfilment.by_day],
                "p95": [d.p95_hours for d in k.fulfilment.by_day],
            },
            {"p50": charts.PALETTE[2], "p95": charts.PALETTE[5]},
            width=380,
            unit=" h",
        ),
        "listings": charts.horizontal_bars(dict(k.live_listings), channel_colors),
        "tasks": charts.horizontal_bars(dict(k.open_tasks), {kind: "#c62828" for kind in k.open_tasks}),
        "llm": charts.stacked_bars(
            labels,
            {
                "prompt": [d.prompt_tokens for d in k.llm.by_day],
                "completion": [d.completion_tokens for d in k.llm.by_day],
            },
            {"prompt": charts.PALETTE[4], "completion": charts.PALETTE[3]},
            width=1160,
            height=170,
            unit=" tokens",
        ),
    }


@router.get("/console", response_class=HTMLResponse)
def page(
    request: Request,
    principal: PageViewer,
    engine: Annotated[Engine, Depends(db_engine)],
    background: BackgroundTasks,
) -> HTMLResponse:
    k, daily_rows = shared_home_kpis(engine, request.app.state.settings)
    compact_later(background, engine, daily_rows)
    context = {
        "active": "home",
        "k": k,
        "charts": home_charts(k),
        "hours": _hours,
        "tokens": charts.short_number,
    }
    response = render(request, "home.html", context, principal)
    response.background = background
    return response

"""Console page: Pick & pack. The pick list and the packing bench; every action on the bench is a call to
the JSON routes of `api.packing` (the same ones the simulated packer uses), the page only shows them."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Query, Request
from fastapi.responses import HTMLResponse
from sqlalchemy import Engine

from retail_pipeline.api.console.session import PageViewer
from retail_pipeline.api.console.templating import render
from retail_pipeline.api.database import db_engine
from retail_pipeline.api.packing import queue_snapshot
from retail_pipeline.db import manual_tracking, packing
from retail_pipeline.domain.shipping import CARRIER_NAMES, MANUAL_COURIERS

router = APIRouter(tags=["console"], include_in_schema=False)

Db = Annotated[Engine, Depends(db_engine)]


@router.get("/console/pack", response_class=HTMLResponse)
def page(
    request: Request, principal: PageViewer, engine: Db, batch: Annotated[int, Query(ge=1, le=100)] = 20
) -> HTMLResponse:
    queue = queue_snapshot(engine, batch)
    with engine.connect() as conn:  # a reload (or another tab) resumes the order this key was packing
        current = packing.open_order_of(conn, principal.key_id) if principal.can_act else None
        awaiting = manual_tracking.awaiting_tracking(conn, batch)  # hand-booked: tracking entered here
    held = sum(1 for o in queue["orders"] if o["held_by"])
    shorts = sum(1 for o in queue["orders"] if o["short_pick"])
    context = {"active": "pack", "queue": queue, "current_order": current, "held": held, "shorts": shorts,
               "batch": batch, "awaiting": awaiting,
               "couriers": [(code, CARRIER_NAMES[code]) for code in MANUAL_COURIERS]}  # fmt: skip
    return render(request, "pack.html", context, principal)


@router.get("/console/pack/orders/{order_id}/slip", response_class=HTMLResponse)
def packing_slip(request: Request, order_id: int, principal: PageViewer, engine: Db) -> HTMLResponse:
    """The printable packing slip that goes in the parcel."""
    try:
        with engine.connect() as conn:
            slip = packing.packing_slip(conn, order_id)
    except packing.PackingError as error:
        raise HTTPException(error.status, detail=error.message) from None
    return render(request, "pack_slip.html", {"slip": slip, "address": slip["order"]["shipping_address"] or {}},
                  principal)  # fmt: skip

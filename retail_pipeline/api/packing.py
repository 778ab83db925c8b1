"""Pick & pack JSON routes (viewer reads, operator packs): the pick queue, a pack session per order
(start, scan, undo, short pick, complete) and a product's bin. The console page `/console/pack` and the
simulated packer use these very routes; the work is `db.packing`."""

from __future__ import annotations

import json
from datetime import date, datetime
from decimal import Decimal
from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, HTTPException, Query, Response
from pydantic import BaseModel, Field
from sqlalchemy import Engine

from retail_pipeline.api.auth import Operator, Principal, Viewer
from retail_pipeline.api.coalesce import SingleFlight
from retail_pipeline.api.database import db_engine
from retail_pipeline.db import packing

router = APIRouter(tags=["pack"])

Db = Annotated[Engine, Depends(db_engine)]


class ScanRequest(BaseModel):
    code: str = Field(
        min_length=1, max_length=200, description="What the scanner typed: a label, order id, GTIN or SKU."
    )
    scan_id: str = Field(
        min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.:-]+$",
        description="The client's id for this scan (a UUID): the same scan sent twice counts once.",
    )  # fmt: skip
    order_id: int | None = Field(
        default=None, description="The order on the bench; default: your latest open one."
    )


class UndoRequest(BaseModel):
    scan_id: str | None = Field(
        default=None, max_length=64, description="Undo this scan (default: the latest)."
    )


class ShortRequest(BaseModel):
    note: str = Field(min_length=1, max_length=2000, description="What is missing and where you looked.")


class BinRequest(BaseModel):
    bin_location: str | None = Field(
        max_length=32, pattern=r"^[^\x00-\x1f]*$", description='e.g. "A-03-2"; null or empty clears it.'
    )


def packer_of(principal: Principal) -> packing.Packer:
    actor = f"api_key:{principal.key_prefix}"
    return packing.Packer(key_id=principal.key_id, name=principal.label or actor, actor=actor)


def _refused(error: packing.PackingError) -> HTTPException:
    detail: Any = {"field": error.field, "message": error.message} if error.field else error.message
    return HTTPException(error.status, detail=detail)


def run(engine: Engine, operation, *args: Any, **kwargs: Any) -> dict[str, Any]:
    """One packing operation in one transaction; a refusal becomes its 4xx (nothing written)."""
    try:
        with engine.begin() as conn:
            return operation(conn, *args, **kwargs)
    except packing.PackingError as error:
        raise _refused(error) from None


def _json_value(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    raise TypeError(f"{type(value).__name__} is not JSON")


def json_response(body: dict[str, Any]) -> Response:
    # The read routes' plain dicts straight to JSON: FastAPI's generic encoder costs more than the query.
    return Response(
        json.dumps(body, default=_json_value, separators=(",", ":")), media_type="application/json"
    )


# Every packing bench polls the same queue: identical reads in flight share one query.
_queue_flights: SingleFlight[dict[str, Any]] = SingleFlight()


def queue_snapshot(engine: Engine, limit: int) -> dict[str, Any]:
    """`db.packing.pick_queue`, shared by the identical requests in flight (this route and the page)."""

    def answer() -> dict[str, Any]:
        with engine.connect() as conn:
            return packing.pick_queue(conn, limit=limit)

    return _queue_flights.run((str(engine.url), limit), answer)


@router.get("/api/pack/queue")
def pack_queue(
    engine: Db, _: Viewer, limit: Annotated[int, Query(ge=1, le=100, description="Orders in the batch.")] = 20
) -> Response:
    """The next batch of labelled orders (oldest label first) and its pick list sorted by bin."""
    return json_response(queue_snapshot(engine, limit))


@router.get("/api/pack/orders/{order_id}")
def pack_order(order_id: int, engine: Db, _: Viewer) -> Response:
    """One order as the packing bench sees it: lines with what is left, the session, recent scans."""
    try:
        with engine.connect() as conn:
            return json_response(packing.order_state(conn, order_id))
    except packing.PackingError as error:
        raise _refused(error) from None


@router.post("/api/pack/orders/{order_id}/start")
def start_packing(order_id: int, engine: Db, principal: Operator) -> dict[str, Any]:
    """Take the order (or resume your session). 409 while another worker holds it."""
    return run(engine, packing.start, order_id, packer_of(principal))


@router.post("/api/pack/scan")
def scan(request: ScanRequest, engine: Db, principal: Operator) -> dict[str, Any]:
    """One scan: an item of the order on the bench (counted, or refused as a wrong item or over-scan:
    `accepted` false, recorded, nothing counted), or an order's label/id (that order is taken)."""
    return run(
        engine, packing.scan, request.code, request.scan_id, packer_of(principal), order_id=request.order_id
    )


@router.post("/api/pack/orders/{order_id}/undo")
def undo_scan(
    order_id: int, engine: Db, principal: Operator, request: Annotated[UndoRequest | None, Body()] = None
) -> dict[str, Any]:
    """Take back the latest counted scan (or the one named)."""
    scan_id = request.scan_id if request else None
    return run(engine, packing.undo, order_id, packer_of(principal), scan_id=scan_id)


@router.post("/api/pack/orders/{order_id}/short")
def short_pick(order_id: int, request: ShortRequest, engine: Db, principal: Operator) -> dict[str, Any]:
    """An item cannot be found: an ops task is opened and the order stays label_created."""
    return run(engine, packing.short_pick, order_id, packer_of(principal), request.note.strip())


@router.post("/api/pack/orders/{order_id}/complete")
def complete_packing(order_id: int, engine: Db, principal: Operator) -> dict[str, Any]:
    """Every item scanned: the order becomes `packed` (once; a repeat answers changed=false)."""
    result = run(engine, packing.complete, order_id, packer_of(principal))
    result["slip_url"] = f"/console/pack/orders/{order_id}/slip"
    return result


@router.patch("/api/products/{product_id}/bin")
def set_bin(product_id: int, request: BinRequest, engine: Db, principal: Operator) -> dict[str, Any]:
    """Where the product sits in the warehouse; the pick list walks the bins in order."""
    return run(engine, packing.set_bin, product_id, request.bin_location, f"api_key:{principal.key_prefix}")

"""``POST /api/adoptions/{task_id}/adopt|create-product|ignore`` (operator): the answer to a
``listing_adoption`` task, a remote listing we did not make.

- adopt ``{"product_id"}``: the listing becomes that product's listing on the channel;
- create-product: the listing is imported as a catalogue product, then adopted to it;
- ignore: not ours to manage; later syncs leave it alone.

Each resolves (ignore: dismisses) the task and is idempotent: the same answer again returns the first
result; another answer to an answered task, or one the data forbids (the product already has a listing
there), is 409 with the reason. The work is ``defs/listings/adoption.py``'s, shared with the sync.
"""

from typing import Annotated, Literal

from fastapi import APIRouter, Depends, HTTPException, status
from pydantic import BaseModel, Field
from sqlalchemy import Engine

from retail_pipeline.api.auth import Operator
from retail_pipeline.api.database import db_engine
from retail_pipeline.defs.listings import adoption

router = APIRouter(prefix="/api/adoptions", tags=["listings"])


class AdoptBody(BaseModel):
    product_id: int = Field(
        description="The product the remote listing is (one of the task's candidates, or any)."
    )


class Decision(BaseModel):
    task_id: int
    action: Literal["adopt", "create_product", "ignore"]
    product_id: int | None = None
    listing_id: int | None = Field(
        default=None, description="The channel_listings row now holding the listing."
    )


def _answer(engine: Engine, task_id: int, answer) -> Decision:
    try:
        with engine.begin() as conn:
            decision = answer(conn)
    except adoption.TaskNotFound as error:
        raise HTTPException(status.HTTP_404_NOT_FOUND, detail=str(error)) from error
    except adoption.AdoptionConflict as error:
        raise HTTPException(status.HTTP_409_CONFLICT, detail=str(error)) from error
    return Decision(task_id=task_id, **decision)


@router.post("/{task_id}/adopt")
def adopt(
    task_id: int, body: AdoptBody, engine: Annotated[Engine, Depends(db_engine)], principal: Operator
) -> Decision:
    """Adopt the remote listing as the listing of `product_id` on its channel; nothing changes remotely."""
    actor = f"api_key:{principal.key_prefix}"
    return _answer(engine, task_id, lambda conn: adoption.adopt(conn, task_id, body.product_id, actor))


@router.post("/{task_id}/create-product")
def create_product(
    task_id: int, engine: Annotated[Engine, Depends(db_engine)], principal: Operator
) -> Decision:
    """Import the remote listing as a catalogue product (title, description, photos, price, identifiers,
    condition), then adopt the listing to it."""
    actor = f"api_key:{principal.key_prefix}"
    return _answer(engine, task_id, lambda conn: adoption.create_product(conn, task_id, actor))


@router.post("/{task_id}/ignore")
def ignore(task_id: int, engine: Annotated[Engine, Depends(db_engine)], principal: Operator) -> Decision:
    """Not ours to manage: the task is dismissed and later syncs leave the listing alone."""
    actor = f"api_key:{principal.key_prefix}"
    return _answer(engine, task_id, lambda conn: adoption.ignore(conn, task_id, actor))

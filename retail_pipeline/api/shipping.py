"""Ship-from locations and hand-booked parcels for operators (viewer reads, operator writes):

- ``GET /api/locations``, ``POST /api/locations``: where stock sits (an order ships from there, with a
  carrier serving that route: see ``domain/shipping.py``);
- ``PUT /api/products/{id}/location``: place a product (null: back to its supplier's default);
- ``PUT /api/suppliers/{code}/location``: where a supplier's stock arrives by default;
- ``GET /api/shipments/awaiting-tracking``, ``POST /api/orders/{id}/tracking``: the courier's tracking
  number for a shipment of the manual carrier (the console's pack screen posts the same route).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Query, status
from pydantic import BaseModel, Field, field_validator, model_validator
from sqlalchemy import Engine

from retail_pipeline.api.auth import Operator, Principal, Viewer
from retail_pipeline.api.database import db_engine
from retail_pipeline.db import locations, manual_tracking
from retail_pipeline.domain.shipping import MANUAL_COURIERS

router = APIRouter(tags=["shipping"])

Db = Annotated[Engine, Depends(db_engine)]
NO_CONTROL = r"^[^\x00-\x1f]*$"


class LocationCreate(BaseModel):
    code: str = Field(pattern=r"^[a-z][a-z0-9_]{0,31}$", description='e.g. "nz_christchurch"')
    name: str = Field(min_length=1, max_length=100, pattern=NO_CONTROL)
    company: str | None = Field(default=None, max_length=44, pattern=NO_CONTROL)
    phone: str | None = Field(default=None, max_length=25, pattern=NO_CONTROL)
    street_1: str = Field(min_length=1, max_length=44, pattern=NO_CONTROL)
    street_2: str | None = Field(default=None, max_length=44, pattern=NO_CONTROL)
    city: str = Field(min_length=1, max_length=40, pattern=NO_CONTROL)
    region: str | None = Field(default=None, max_length=20, pattern=NO_CONTROL)
    postal_code: str = Field(min_length=1, max_length=14, pattern=NO_CONTROL)
    country: str = Field(pattern=r"^[A-Za-z]{2}$", description="ISO 3166-1 alpha-2, e.g. NZ")
    active: bool = True

    @field_validator("country")
    @classmethod
    def upper(cls, value: str) -> str:
        return value.upper()


class LocationUpdate(BaseModel):
    """The fields to change (those sent; the code is fixed). Required address parts cannot be nulled."""

    name: str | None = Field(default=None, min_length=1, max_length=100, pattern=NO_CONTROL)
    company: str | None = Field(default=None, max_length=44, pattern=NO_CONTROL)
    phone: str | None = Field(default=None, max_length=25, pattern=NO_CONTROL)
    street_1: str | None = Field(default=None, min_length=1, max_length=44, pattern=NO_CONTROL)
    street_2: str | None = Field(default=None, max_length=44, pattern=NO_CONTROL)
    city: str | None = Field(default=None, min_length=1, max_length=40, pattern=NO_CONTROL)
    region: str | None = Field(default=None, max_length=20, pattern=NO_CONTROL)
    postal_code: str | None = Field(default=None, min_length=1, max_length=14, pattern=NO_CONTROL)
    country: str | None = Field(default=None, pattern=r"^[A-Za-z]{2}$")
    active: bool | None = None

    model_config = {"extra": "forbid"}

    @field_validator("country")
    @classmethod
    def upper(cls, value: str | None) -> str | None:
        return value.upper() if value else value

    @model_validator(mode="after")
    def required_stay_set(self) -> LocationUpdate:
        nulled = [
            f for f in REQUIRED_LOCATION_FIELDS if f in self.model_fields_set and getattr(self, f) is None
        ]
        if nulled:
            raise ValueError(f"{', '.join(nulled)} cannot be null")
        return self


REQUIRED_LOCATION_FIELDS = ("name", "street_1", "city", "postal_code", "country", "active")


class ProductLocation(BaseModel):
    location: str | None = Field(
        pattern=r"^[a-z][a-z0-9_]{0,31}$",
        description="A location code; null: a product goes back to its supplier's default.",
    )


class TrackingEntry(BaseModel):
    tracking_number: str = Field(
        min_length=1, max_length=60, description="As printed on the courier's label."
    )
    carrier: str = Field(default="nz_post", description=f"One of {', '.join(MANUAL_COURIERS)}.")


@contextmanager
def _as_http_error() -> Iterator[None]:
    """A refused location, placement or tracking entry as the HTTP error it names."""
    try:
        yield
    except locations.LocationError as error:
        raise HTTPException(error.status, detail=error.message) from None


def _actor(principal: Principal) -> str:
    return f"api_key:{principal.key_prefix}"


@router.get("/api/locations")
def list_locations(engine: Db, _: Viewer) -> list[dict[str, Any]]:
    """Every ship-from location, with how many products are placed there and how many suppliers
    deliver there by default."""
    with engine.connect() as conn:
        return locations.list_locations(conn)


@router.post("/api/locations", status_code=status.HTTP_201_CREATED)
def create_location(body: LocationCreate, engine: Db, _: Operator) -> dict[str, Any]:
    """A new ship-from location; 409 when its code is taken."""
    with _as_http_error(), engine.begin() as conn:
        return locations.create_location(conn, body.model_dump())


@router.patch("/api/locations/{code}")
def update_location(code: str, body: LocationUpdate, engine: Db, _: Operator) -> dict[str, Any]:
    """Changes a location's name, address (the sender of the next label from there) or `active`
    (inactive: nothing new is placed there, and orders from it wait with an ops task)."""
    with _as_http_error(), engine.begin() as conn:
        return locations.update_location(conn, code, body.model_dump(exclude_unset=True))


@router.put("/api/products/{product_id}/location")
def set_product_location(product_id: int, body: ProductLocation, engine: Db, _: Operator) -> dict[str, Any]:
    """Where the product sits (an operator's override of its supplier's default location)."""
    with _as_http_error(), engine.begin() as conn:
        return locations.set_product_location(conn, product_id, body.location)


@router.put("/api/suppliers/{code}/location")
def set_supplier_location(code: str, body: ProductLocation, engine: Db, _: Operator) -> dict[str, Any]:
    """Where the supplier's stock arrives by default (its products without a location of their own)."""
    with _as_http_error(), engine.begin() as conn:
        return locations.set_supplier_location(conn, code, body.location)


@router.get("/api/shipments/awaiting-tracking")
def awaiting_tracking(
    engine: Db, _: Viewer, limit: Annotated[int, Query(ge=1, le=200)] = 50
) -> list[dict[str, Any]]:
    """Hand-booked parcels waiting for the courier's tracking number, oldest first."""
    with engine.connect() as conn:
        return manual_tracking.awaiting_tracking(conn, limit)


@router.post("/api/orders/{order_id}/tracking")
def enter_tracking(order_id: int, body: TrackingEntry, engine: Db, principal: Operator) -> dict[str, Any]:
    """The courier's tracking number for the order's hand-booked parcel: the order becomes
    label_created (then packed and its tracking pushed to the channel). The same number again answers
    changed=false; 409 for another number or an order whose label a carrier's API bought."""
    with _as_http_error(), engine.begin() as conn:
        return manual_tracking.enter_tracking(
            conn, order_id, body.tracking_number, body.carrier, actor=_actor(principal)
        )

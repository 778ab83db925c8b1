"""Hand-booked parcels: a shipment of the `manual` carrier waits ('awaiting_tracking') until an operator
enters the courier's tracking number; the order then has its `label_created` row and is packed and its
tracking pushed like any other (defs/fulfilment/tracking.py)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, text
from sqlalchemy.exc import IntegrityError

from retail_pipeline.db.activity import log_activity
from retail_pipeline.db.locations import LocationError
from retail_pipeline.db.order_workflow import append_status
from retail_pipeline.domain.shipping import MANUAL_COURIERS, normalise_tracking_number

SOURCE = "manual_tracking"


class TrackingEntryError(LocationError):
    """A refused entry, with the HTTP status that says why (404 unknown, 409 conflict, 422 invalid)."""


AWAITING = text(
    """
    SELECT s.id AS shipment_id, s.order_id, o.channel::text AS channel, o.external_order_id,
           o.shipping_address, s.created_at, l.code AS origin, l.name AS origin_name
      FROM retail.shipments s
      JOIN retail.orders o ON o.id = s.order_id
      LEFT JOIN retail.locations l ON l.id = s.origin_location_id
     WHERE s.status = 'awaiting_tracking' AND o.current_status = 'accepted'  -- not once cancelled
     ORDER BY s.created_at, s.id
     LIMIT :limit
    """
)


def awaiting_tracking(conn: Connection, limit: int = 50) -> list[dict[str, Any]]:
    """Hand-booked shipments still waiting for their tracking number, oldest first."""
    return [dict(row._mapping) for row in conn.execute(AWAITING, {"limit": limit})]


def enter_tracking(
    conn: Connection, order_id: int, tracking_number: str, courier: str, *, actor: str
) -> dict[str, Any]:
    """Records the courier's tracking number for the order's hand-booked shipment and moves the order
    to `label_created`. Entering the same number again changes nothing (`changed` False); another
    number once one is recorded, or an order whose label a carrier's API bought, is a 409."""
    try:
        pin = normalise_tracking_number(tracking_number)
    except ValueError as error:
        raise TrackingEntryError(422, str(error)) from None
    if courier not in MANUAL_COURIERS:
        raise TrackingEntryError(422, f"courier {courier!r} is not one of {', '.join(MANUAL_COURIERS)}")
    shipment = conn.execute(
        text(
            """SELECT s.id, s.status, s.carrier, s.tracking_pin, s.tracking_entered_by, o.channel::text AS channel
                 FROM retail.shipments s JOIN retail.orders o ON o.id = s.order_id
                WHERE s.order_id = :id FOR UPDATE OF s"""
        ),
        {"id": order_id},
    ).one_or_none()
    if shipment is None:
        raise TrackingEntryError(404, f"order {order_id} has no shipment (no such order, or not routed yet)")
    result = {"order_id": order_id, "tracking_number": pin, "carrier": courier}
    if shipment.status != "awaiting_tracking":
        if shipment.tracking_entered_by is None:
            raise TrackingEntryError(
                409, f"order {order_id} ships with {shipment.carrier}: its tracking comes from the carrier"
            )
        if (shipment.tracking_pin, shipment.carrier) == (pin, courier):
            return {**result, "changed": False}
        raise TrackingEntryError(
            409, f"order {order_id} already has tracking {shipment.tracking_pin} ({shipment.carrier})"
        )
    details = {"carrier": courier, "tracking_pin": pin, "manual": True, "entered_by": actor}
    if not append_status(conn, order_id, "label_created", source=SOURCE, run_id=None, details=details):
        raise TrackingEntryError(409, f"order {order_id} is no longer waiting to ship")
    try:
        with conn.begin_nested():
            conn.execute(
                text(
                    """UPDATE retail.shipments
                          SET status = 'label_created', carrier = :carrier, tracking_pin = :pin, error = NULL,
                              tracking_entered_by = :actor, tracking_entered_at = now(), label_created_at = now()
                        WHERE id = :id"""
                ),
                {"carrier": courier, "pin": pin, "actor": actor, "id": shipment.id},
            )
    except IntegrityError as error:
        if "tracking_pin" not in str(error.orig):
            raise
        raise TrackingEntryError(409, f"tracking number {pin} ({courier}) belongs to another order") from None
    log_activity(conn, actor=actor, action="shipment.tracking_entered", outcome="succeeded",
                 channel=shipment.channel, entity_type="shipment", entity_id=shipment.id,
                 key=f"tracking-entry:order:{order_id}", details=details)  # fmt: skip
    return {**result, "changed": True}

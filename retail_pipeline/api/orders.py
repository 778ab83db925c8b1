"""Orders for people: ``GET /api/orders`` (filter, search, keyset pages), ``GET /api/orders/{id}`` (lines,
address, status-history timeline, shipment with a signed label link, activity) and
``POST /api/orders/{id}/label/reprint`` (a fresh signed link to the same stored label PDF, logged).

The console's Orders pages call ``list_orders`` and ``order_detail`` here, so the page and the JSON
route are one implementation. A reprint never buys a second label: the PDF bought and checked by
``defs/fulfilment/labels.py`` is stored once in the media storage (``shipments.label_path`` is its key); a
reprint is a new signed link to it.

Each query is an index scan bounded by the page (sql/009_console_events.sql): the list walks
``orders_placed_list_idx`` (or ``orders_status_placed_idx``, ``orders_channel_placed_idx``) newest
first from the cursor; a search is a case-insensitive prefix match on the order id, the customer's
name or e-mail, or a SKU, each with its own ``text_pattern_ops`` index.
"""

from __future__ import annotations

import base64
import binascii
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from typing import Annotated, Any, get_args
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, HTTPException, Query, Request, status
from pydantic import BaseModel, Field
from sqlalchemy import Connection, Engine, text

from retail_pipeline.api.auth import Operator, Viewer
from retail_pipeline.api.database import db_engine
from retail_pipeline.channels.registry import channel_names
from retail_pipeline.db.activity import log_activity
from retail_pipeline.db.patterns import like_prefix
from retail_pipeline.domain.orders import OrderStatus
from retail_pipeline.media.links import MediaPathError, sign_media_path
from retail_pipeline.media.storage import get_storage
from retail_pipeline.settings import Settings

router = APIRouter(prefix="/api/orders", tags=["orders"])

DEFAULT_LIMIT = 50
MAX_LIMIT = 200
SEARCH_MIN_CHARS = 2
ACTIVITY_LIMIT = 50


# ------------------------------------------------------------------------------------------------
# Shapes
# ------------------------------------------------------------------------------------------------


class OrderRow(BaseModel):
    id: int
    channel: str
    external_order_id: str
    status: str | None
    status_at: datetime | None
    placed_at: datetime
    currency: str
    total: Decimal
    customer_name: str | None
    items: int = Field(description="Units ordered (sum of line quantities).")
    shipment_status: str | None
    tracking_pin: str | None


class OrderPage(BaseModel):
    items: list[OrderRow]
    next_cursor: str | None = Field(
        description="Pass as `cursor` for the next (older) page; null at the end."
    )


class OrderFilters(BaseModel):
    channel: str | None = None
    status: str | None = None
    date_from: date | None = None
    date_to: date | None = None
    q: str | None = None
    limit: int = DEFAULT_LIMIT
    cursor: str | None = None


class Line(BaseModel):
    id: int
    external_line_id: str
    sku: str | None
    title: str | None
    quantity: int
    unit_price: Decimal
    status: str
    refusal_reason: str | None


class StatusEntry(BaseModel):
    status: str
    reason: str | None
    source: str | None
    run_id: str | None
    details: dict[str, Any]
    created_at: datetime


class Shipment(BaseModel):
    id: int
    carrier: str
    service_code: str | None
    status: str
    tracking_pin: str | None
    weight_grams: int | None
    length_cm: Decimal | None = None
    width_cm: Decimal | None = None
    height_cm: Decimal | None = None
    parcel_source: str | None = Field(
        default=None, description="Where the weight came from: supplier, estimate, category_default or mixed."
    )
    error: str | None
    label_created_at: datetime | None
    shipped_at: datetime | None
    quoted_price: Decimal | None = Field(
        default=None, description="What the carrier quoted before the label."
    )
    quoted_currency: str | None = None
    tracking_entered_by: str | None = Field(
        default=None, description="Who entered the tracking number of a hand-booked courier."
    )
    label_url: str | None = Field(description="Signed /media link to the label PDF; null without a label.")
    label_link_expires_at: datetime | None


class Activity(BaseModel):
    occurred_at: datetime
    actor: str
    action: str
    outcome: str
    entity_type: str | None
    details: dict[str, Any]


class Customer(BaseModel):
    name: str | None
    email: str | None
    phone: str | None
    external_customer_id: str


class OrderDetail(BaseModel):
    id: int
    channel: str
    external_order_id: str
    remote_state: str | None
    status: str | None
    status_at: datetime | None
    placed_at: datetime
    shipping_deadline: datetime | None
    currency: str
    subtotal: Decimal
    shipping_total: Decimal
    tax_total: Decimal
    total: Decimal
    customer: Customer | None
    shipping_address: dict[str, Any] | None
    lines: list[Line]
    history: list[StatusEntry] = Field(description="The status-history timeline, oldest first.")
    shipment: Shipment | None
    activity: list[Activity] = Field(description="The newest activity on the order and its shipment.")


class LabelLink(BaseModel):
    order_id: int
    shipment_id: int
    tracking_pin: str | None
    label_url: str
    expires_at: datetime


# ------------------------------------------------------------------------------------------------
# The list
# ------------------------------------------------------------------------------------------------


def _encode_cursor(placed_at: datetime, order_id: int) -> str:
    return base64.urlsafe_b64encode(f"{placed_at.isoformat()}|{order_id}".encode()).decode().rstrip("=")


def _decode_cursor(cursor: str) -> tuple[datetime, int]:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        placed_at, order_id = raw.rsplit("|", 1)
        return datetime.fromisoformat(placed_at), int(order_id)
    except (ValueError, binascii.Error, UnicodeDecodeError):
        raise HTTPException(
            status.HTTP_422_UNPROCESSABLE_CONTENT,
            detail={"field": "cursor", "message": "not a cursor this route returned; start without one"},
        ) from None


def check_filters(filters: OrderFilters) -> OrderFilters:
    """422 with the field named for a filter no order can match."""
    if filters.channel and filters.channel not in channel_names():
        raise HTTPException(
            status.HTTP_422_UNPROCESSABLE_CONTENT,
            detail={
                "field": "channel",
                "message": f"unknown channel {filters.channel!r}; one of {list(channel_names())}",
            },
        )
    if filters.status and filters.status not in get_args(OrderStatus):
        raise HTTPException(
            status.HTTP_422_UNPROCESSABLE_CONTENT,
            detail={
                "field": "status",
                "message": f"unknown status {filters.status!r}; one of {list(get_args(OrderStatus))}",
            },
        )
    if filters.date_from and filters.date_to and filters.date_from > filters.date_to:
        raise HTTPException(
            status.HTTP_422_UNPROCESSABLE_CONTENT,
            detail={"field": "date_to", "message": "date_to is before date_from"},
        )
    if filters.q is not None:
        filters = filters.model_copy(update={"q": filters.q.strip() or None})
        if filters.q and len(filters.q) < SEARCH_MIN_CHARS:
            raise HTTPException(
                status.HTTP_422_UNPROCESSABLE_CONTENT,
                detail={"field": "q", "message": f"search for at least {SEARCH_MIN_CHARS} characters"},
            )
    return filters


def list_orders(conn: Connection, filters: OrderFilters) -> OrderPage:
    """One page of orders, newest placed first, and the cursor of the next page."""
    filters = check_filters(filters)
    where, params = [], {"limit": filters.limit + 1}
    if filters.channel:
        where.append("o.channel = :channel")
        params["channel"] = filters.channel
    if filters.status:
        where.append("o.current_status = :status")
        params["status"] = filters.status
    if filters.date_from:
        where.append("o.placed_at >= :date_from")
        params["date_from"] = datetime.combine(filters.date_from, time(), UTC)
    if filters.date_to:
        where.append("o.placed_at < :date_to")
        params["date_to"] = datetime.combine(filters.date_to + timedelta(days=1), time(), UTC)
    if filters.q:
        # Each branch is an index range scan; the union is the (small) set of matching orders. As an
        # array it is computed first and the orders fetched by primary key: as `IN (…)` the planner
        # guessed the union's size from the joins (200k) and scanned every order.
        where.append(
            """o.id = ANY (ARRAY(
                SELECT id FROM retail.orders WHERE lower(external_order_id) LIKE :q
                UNION SELECT o2.id FROM retail.customers c JOIN retail.orders o2 ON o2.customer_id = c.id
                       WHERE lower(c.name) LIKE :q OR lower(c.email) LIKE :q
                UNION SELECT order_id FROM retail.order_lines WHERE lower(sku) LIKE :q))"""
        )
        params["q"] = like_prefix(filters.q)
    if filters.cursor:
        placed_at, order_id = _decode_cursor(filters.cursor)
        where.append("(o.placed_at, o.id) < (:cursor_placed_at, :cursor_id)")
        params |= {"cursor_placed_at": placed_at, "cursor_id": order_id}
    rows = conn.execute(
        text(
            f"""
            SELECT o.id, o.channel, o.external_order_id, o.current_status AS status,
                   o.current_status_at AS status_at, o.placed_at, o.currency, o.total,
                   c.name AS customer_name,
                   (SELECT coalesce(sum(quantity), 0) FROM retail.order_lines l WHERE l.order_id = o.id) AS items,
                   s.status AS shipment_status, s.tracking_pin
              FROM (SELECT * FROM retail.orders o {"WHERE " + " AND ".join(where) if where else ""}
                     ORDER BY o.placed_at DESC, o.id DESC LIMIT :limit) o
              LEFT JOIN retail.customers c ON c.id = o.customer_id
              LEFT JOIN retail.shipments s ON s.order_id = o.id
             ORDER BY o.placed_at DESC, o.id DESC
            """
        ),
        params,
    ).mappings()
    items = [OrderRow(**row) for row in rows]
    next_cursor = None
    if len(items) > filters.limit:
        items = items[: filters.limit]
        next_cursor = _encode_cursor(items[-1].placed_at, items[-1].id)
    return OrderPage(items=items, next_cursor=next_cursor)


def _day(field: str, value: str | None) -> date | None:
    if not value:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise HTTPException(
            status.HTTP_422_UNPROCESSABLE_CONTENT,
            detail={"field": field, "message": f"{value!r} is not a day; use YYYY-MM-DD"},
        ) from None


def order_filters(
    channel: Annotated[str | None, Query(description="One channel's orders.")] = None,
    status_: Annotated[
        str | None, Query(alias="status", description="Current status, e.g. label_created.")
    ] = None,
    date_from: Annotated[
        str | None, Query(max_length=10, description="Placed on or after this day (UTC), YYYY-MM-DD.")
    ] = None,
    date_to: Annotated[
        str | None, Query(max_length=10, description="Placed on or before this day (UTC), YYYY-MM-DD.")
    ] = None,
    q: Annotated[
        str | None,
        Query(max_length=100, description="Prefix of an order id, a customer's name or e-mail, or a SKU."),
    ] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = DEFAULT_LIMIT,
    cursor: Annotated[
        str | None, Query(max_length=200, description="next_cursor of the previous page.")
    ] = None,
) -> OrderFilters:
    """Query parameters -> OrderFilters; blank values (an empty form field) mean no filter."""
    return OrderFilters(
        channel=channel or None, status=status_ or None,
        date_from=_day("date_from", date_from), date_to=_day("date_to", date_to),
        q=q, limit=limit, cursor=cursor or None,
    )  # fmt: skip


@router.get("", response_model=OrderPage)
def get_orders(
    engine: Annotated[Engine, Depends(db_engine)],
    _: Viewer,
    filters: Annotated[OrderFilters, Depends(order_filters)],
) -> OrderPage:
    """Orders newest first: filter by channel, status and placed date; search by order id, customer
    name or e-mail, or SKU (case-insensitive prefix); keyset pages through `cursor`."""
    with engine.connect() as conn:
        return list_orders(conn, filters)


# ------------------------------------------------------------------------------------------------
# One order
# ------------------------------------------------------------------------------------------------

ORDER = text(
    """
    SELECT o.*, c.name AS customer_name, c.email AS customer_email, c.phone AS customer_phone,
           c.external_customer_id
      FROM retail.orders o LEFT JOIN retail.customers c ON c.id = o.customer_id
     WHERE o.id = :id
    """
)
LINES = text(
    """
    SELECT id, external_line_id, sku, title, quantity, unit_price, status, refusal_reason
      FROM retail.order_lines WHERE order_id = :id ORDER BY id
    """
)
HISTORY = text(
    """
    SELECT status, reason, source, run_id, details, created_at
      FROM retail.order_status_history WHERE order_id = :id ORDER BY created_at, id
    """
)
SHIPMENT = text("SELECT * FROM retail.shipments WHERE order_id = :id")
ACTIVITY = text(
    """
    (SELECT occurred_at, actor, action, outcome, entity_type, details, id FROM retail.activity_log
      WHERE entity_type = 'order' AND entity_id = :order_id ORDER BY id DESC LIMIT :limit)
    UNION ALL
    (SELECT occurred_at, actor, action, outcome, entity_type, details, id FROM retail.activity_log
      WHERE entity_type = 'shipment' AND entity_id = :shipment_id ORDER BY id DESC LIMIT :limit)
    ORDER BY id DESC LIMIT :limit
    """
)


def _label_link(settings: Settings, label_path: str | None) -> tuple[str | None, datetime | None]:
    """The signed /media link to a stored label and when it stops working."""
    if not label_path:
        return None, None
    try:
        signed = sign_media_path(label_path, settings=settings)
    except MediaPathError:  # the table's check forbids such paths; never link outside the root
        return None, None
    return f"/media/{label_path}?{urlencode(signed)}", datetime.fromtimestamp(int(signed["expires"]), UTC)


def order_detail(conn: Connection, order_id: int, settings: Settings) -> OrderDetail:
    order = conn.execute(ORDER, {"id": order_id}).mappings().one_or_none()
    if order is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, detail=f"no order with id {order_id}")
    shipment_row = conn.execute(SHIPMENT, {"id": order_id}).mappings().one_or_none()
    shipment = None
    if shipment_row is not None:
        url, expires = _label_link(settings, shipment_row["label_path"])
        shipment = Shipment(
            **{k: shipment_row[k] for k in Shipment.model_fields if k in shipment_row and k != "label_url"},
            label_url=url,
            label_link_expires_at=expires,
        )
    activity = conn.execute(
        ACTIVITY,
        {
            "order_id": str(order_id),
            "shipment_id": str(shipment_row["id"]) if shipment_row else "",
            "limit": ACTIVITY_LIMIT,
        },
    ).mappings()
    customer = None
    if order["external_customer_id"] is not None:
        customer = Customer(
            name=order["customer_name"], email=order["customer_email"], phone=order["customer_phone"],
            external_customer_id=order["external_customer_id"],
        )  # fmt: skip
    return OrderDetail(
        **{k: order[k] for k in OrderDetail.model_fields if k in order},
        status=order["current_status"],
        status_at=order["current_status_at"],
        customer=customer,
        lines=[Line(**r) for r in conn.execute(LINES, {"id": order_id}).mappings()],
        history=[StatusEntry(**r) for r in conn.execute(HISTORY, {"id": order_id}).mappings()],
        shipment=shipment,
        activity=[Activity(**{k: r[k] for k in Activity.model_fields}) for r in activity],
    )


@router.get("/{order_id}", response_model=OrderDetail)
def get_order(
    order_id: int, request: Request, engine: Annotated[Engine, Depends(db_engine)], _: Viewer
) -> OrderDetail:
    """One order: lines, address, the status-history timeline, its shipment with a signed link to the
    label PDF, and the newest activity on it."""
    with engine.connect() as conn:
        return order_detail(conn, order_id, request.app.state.settings)


def reprint_label(engine: Engine, order_id: int, settings: Settings, actor: str) -> LabelLink:
    """A fresh signed link to the order's stored label, and an activity row saying who reprinted it.
    Never a carrier call: the label was bought once."""
    with engine.begin() as conn:
        shipment = conn.execute(
            text(
                "SELECT s.id, s.tracking_pin, s.label_path, o.channel FROM retail.shipments s"
                " JOIN retail.orders o ON o.id = s.order_id WHERE s.order_id = :id"
            ),
            {"id": order_id},
        ).one_or_none()
        if shipment is None or not shipment.label_path:
            exists = conn.scalar(
                text("SELECT EXISTS (SELECT 1 FROM retail.orders WHERE id = :id)"), {"id": order_id}
            )
            raise HTTPException(
                status.HTTP_404_NOT_FOUND,
                detail=f"order {order_id} has no label to reprint"
                if exists
                else f"no order with id {order_id}",
            )
        url, expires = _label_link(settings, shipment.label_path)
        if url is None or expires is None:
            raise HTTPException(status.HTTP_409_CONFLICT, detail=f"cannot link to {shipment.label_path!r}")
        if not get_storage(settings).exists(shipment.label_path):
            raise HTTPException(
                status.HTTP_409_CONFLICT,
                detail=f"the label file {shipment.label_path} is missing from the media storage",
            )
        log_activity(
            conn, actor=actor, action="shipment.label_reprint", outcome="succeeded", channel=shipment.channel,
            entity_type="shipment", entity_id=shipment.id,
            details={"order_id": order_id, "label_path": shipment.label_path, "tracking_pin": shipment.tracking_pin},
        )  # fmt: skip
    return LabelLink(
        order_id=order_id, shipment_id=shipment.id, tracking_pin=shipment.tracking_pin, label_url=url,
        expires_at=expires,
    )  # fmt: skip


@router.post("/{order_id}/label/reprint", response_model=LabelLink)
def post_reprint(
    order_id: int, request: Request, engine: Annotated[Engine, Depends(db_engine)], principal: Operator
) -> LabelLink:
    """A fresh signed link to the same stored label PDF (no second label is bought), logged in the
    activity log as a reprint."""
    return reprint_label(engine, order_id, request.app.state.settings, f"api_key:{principal.key_prefix}")

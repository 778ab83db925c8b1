"""`shipping_labels`: one checked label per accepted order, crash-safely (no order ever gets two).

Per order whose latest status is `accepted` and that has no shipment yet:
1. Intent: the `retail.shipments` row (one per order, status 'pending', its ship-from location and a
   carrier serving that route chosen by `domain.shipping.route_order`) is committed before any carrier
   call. The manual carrier's row waits as 'awaiting_tracking' for an operator (db/manual_tracking.py);
   an order no carrier serves gets one ops task and no row (looked at again by the next run).
2. The parcel is rated first (Get Rates): the chosen service must be offered for the route and weight,
   and its quoted price is kept on the shipment; else the order fails before anything is bought.
   Before `create_label`, an 'intent' activity row keyed by our reference (`rp-order-<id>`, sent as
   Canada Post customer-ref-1) is committed. A pending row whose reference already has such an intent
   is looked up with `find_shipment` first: a crash between the remote create and our commit is
   reconciled by asking the carrier, never by buying again.
3. The carrier's shipment id, PIN and label link are committed as soon as they are known; the label is
   downloaded, checked (`domain.labels.check_label`: opens, one page, PIN and postal code on it) and
   stored by sha256 in the media storage as labels/<yyyy>/<sha256>.pdf (local disk: under RETAIL_DATA_DIR).
4. `label_created` (or `label_failed` with its problems and an ops task, once per order) is appended
   to the order's history; the shipment row moves out of 'pending', so a re-run does nothing.

Unpartitioned on purpose: the work is chosen by state (every accepted order without a label, whatever
its channel or day), and every order shares the one carrier account and its rate limit (pool
`canadapost_api`), so per-channel partitions would only run concurrent passes against the same limit.

Per-order isolation: a carrier refusal (bad address, wrong service) fails that order only; a carrier
outage that outlasts the retries leaves the row 'pending' for the next run; authentication failures
fail the run (every other order would fail the same way).
"""

import asyncio
import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import ROUND_UP, Decimal
from typing import Any

import dagster as dg
from sqlalchemy import Connection, Engine, text

from retail_pipeline.db.activity import log_activity
from retail_pipeline.db.locations import Location, all_locations
from retail_pipeline.db.locks import one_at_a_time
from retail_pipeline.db.order_workflow import (
    append_status,
    each_order,
    open_order_task,
    resolve_order_task,
    task_key,
)
from retail_pipeline.defs.resources import CarriersResource, DatabaseResource
from retail_pipeline.domain.labels import check_label
from retail_pipeline.domain.orders import Address
from retail_pipeline.domain.parcels import LineParcel, Parcel, pack, stored_unit
from retail_pipeline.domain.shipping import route_order
from retail_pipeline.integrations.carriers import CARRIER_CLIENTS, ShippingSettings
from retail_pipeline.integrations.carriers.base import (
    Carrier,
    CarrierError,
    CreatedLabel,
    CustomsItem,
    Dimensions,
    LabelRequest,
)
from retail_pipeline.media.storage import MediaStorage, get_storage

SOURCE = "shipping_labels"
PREVIEW = 5

NEW_ORDERS = text(
    """
    SELECT o.id, o.channel, o.shipping_address
      FROM retail.orders o
     WHERE o.current_status = 'accepted'
       AND NOT EXISTS (SELECT 1 FROM retail.shipments s WHERE s.order_id = o.id)
     ORDER BY o.id
    """
)

# Each line with its product (by listing, else by our SKU; none for a foreign SKU): the unit parcel, and
# where it sits (the product's own location, else its supplier's; NULL when unknown).
LINES = text(
    """
    SELECT ol.id, ol.order_id, ol.sku, ol.title, ol.quantity, ol.unit_price, p.category,
           p.weight_grams, p.length_mm, p.width_mm, p.height_mm, p.parcel_source, p.parcel_reason,
           coalesce(pl.code, sl.code) AS location
      FROM retail.order_lines ol
      LEFT JOIN retail.channel_listings cl ON cl.id = ol.channel_listing_id
      LEFT JOIN retail.products p
             ON p.id = COALESCE(cl.product_id, (SELECT q.id FROM retail.products q WHERE q.sku = ol.sku))
      LEFT JOIN retail.locations pl ON pl.id = p.location_id
      LEFT JOIN retail.supplier_products sp ON sp.id = p.supplier_product_id
      LEFT JOIN retail.suppliers s ON s.id = sp.supplier_id
      LEFT JOIN retail.locations sl ON sl.id = s.location_id
     WHERE ol.order_id = ANY(:ids) AND ol.status NOT IN ('refused', 'cancelled')
     ORDER BY ol.order_id, ol.id
    """
)

INTENT = text(
    """
    INSERT INTO retail.shipments (order_id, carrier, service_code, weight_grams, length_cm, width_cm,
                                  height_cm, parcel_source, parcel_lines, origin_location_id, status)
    VALUES (:order_id, :carrier, :service_code, :weight_grams, :length_cm, :width_cm, :height_cm,
            :parcel_source, CAST(:parcel_lines AS jsonb), :origin, :status)
    ON CONFLICT (order_id) DO NOTHING
    """
)

WORK = text(
    """
    SELECT s.id, s.order_id, s.carrier, s.service_code, s.weight_grams, s.length_cm, s.width_cm,
           s.height_cm, s.parcel_lines, s.remote_shipment_id,
           s.tracking_pin, s.label_url, o.channel, o.external_order_id, o.currency, o.shipping_address,
           l.code AS origin
      FROM retail.shipments s
      JOIN retail.orders o ON o.id = s.order_id
      LEFT JOIN retail.locations l ON l.id = s.origin_location_id
     WHERE s.status = 'pending' AND o.current_status IN ('accepted', 'label_failed')
     ORDER BY s.order_id
    """
)


OPEN_ROUTE_TASK = text(
    """
    SELECT EXISTS (SELECT 1 FROM retail.ops_tasks
                    WHERE kind = 'label_failed' AND dedupe_key = :key AND status IN ('open', 'acknowledged'))
    """
)

INTENT_LOGGED = text(
    """
    SELECT EXISTS (SELECT 1 FROM retail.activity_log
                    WHERE action = 'shipment.create' AND outcome = 'intent' AND idempotency_key = :key)
    """
)


@dataclass
class LabelResult:
    counts: dict[str, int] = field(
        default_factory=lambda: {
            "orders_new": 0, "created": 0, "adopted": 0, "labels_created": 0, "label_failed": 0,
            "retry_later": 0, "no_carrier": 0, "awaiting_tracking": 0,
        }
    )  # fmt: skip
    created: list[dict[str, Any]] = field(default_factory=list)
    failed: list[dict[str, Any]] = field(default_factory=list)


def _address(value: dict[str, Any] | None) -> Address:
    known = Address.__dataclass_fields__
    return Address(**{k: v for k, v in (value or {}).items() if k in known and v is not None})


def order_parcel(lines: list, shipping: ShippingSettings) -> Parcel:
    """The order's one parcel from its lines (domain.parcels.pack: weights summed, units stacked)."""
    table = shipping.category_table()
    units = [
        LineParcel(line.quantity, stored_unit(line._mapping, table), line.sku, line.id) for line in lines
    ]
    return pack(units, shipping.packaging_grams)


def label_rel_path(digest: str, when: datetime) -> str:
    return f"labels/{when:%Y}/{digest}.pdf"


class LabelMaker:
    """One pass over the orders waiting for a label. `after_create` is a test hook called between the
    remote create and the local commit (raise or exit there to simulate a crash)."""

    def __init__(
        self,
        engine: Engine,
        carriers: CarriersResource,
        *,
        storage: MediaStorage,
        shipping: ShippingSettings | None = None,
        run_id: str | None = None,
        concurrency: int = 4,
        after_create: Callable[[int, CreatedLabel], None] | None = None,
    ):
        self.engine, self.carriers, self.storage = engine, carriers, storage
        self.shipping = shipping or ShippingSettings()
        self.run_id, self.after_create = run_id, after_create
        self.actor = f"run:{run_id}" if run_id else "system"
        self.concurrency = max(1, concurrency)
        self.result = LabelResult()
        self._clients: dict[str, Carrier] = {}
        self._sites: dict[str, Location] = {}

    # --- local writes (each its own short transaction)

    def _log(self, conn: Connection, action: str, outcome: str, row, details: dict[str, Any]) -> None:
        log_activity(conn, actor=self.actor, action=action, outcome=outcome, channel=row.channel,
                     entity_type="shipment", entity_id=row.id, key=self.shipping.reference(row.order_id),
                     details=details, run_id=self.run_id)  # fmt: skip

    def prepare(self) -> None:
        """Step 1: a pending shipment row per new accepted order, committed before any call, from the
        order's ship-from location with a carrier serving its route (`route_order`). A hand-booked
        courier's shipment waits for its tracking number ('awaiting_tracking'); an order no carrier
        serves (or whose lines sit in different places) gets one ops task and no shipment, and is
        looked at again on the next run; a rule naming a carrier without a client fails at once."""
        with self.engine.connect() as conn:
            orders = list(conn.execute(NEW_ORDERS))
            lines: dict[int, list] = {}
            for line in conn.execute(LINES, {"ids": [o.id for o in orders]}) if orders else ():
                lines.setdefault(line.order_id, []).append(line)
        sites = self._sites
        with self.engine.begin() as conn:
            for order in orders:
                places = [line.location for line in lines.get(order.id, [])]
                route = route_order(
                    order.channel, _address(order.shipping_address).country_iso_code, places,
                    {code: site.country for code, site in sites.items()},
                    default_location=self.shipping.default_location, rules=self.shipping.rules,
                    inactive=frozenset(code for code, site in sites.items() if not site.active),
                )  # fmt: skip
                if route.choice is None:
                    self._no_carrier(conn, order, route.problem or "no route")
                    continue
                carrier, service = route.choice.carrier, route.choice.service_code
                manual = carrier == "manual"
                error = None if manual or carrier in CARRIER_CLIENTS else f"no client for carrier {carrier!r}"
                parcel_row = {"weight_grams": None, "length_cm": None, "width_cm": None, "height_cm": None,
                              "parcel_source": None, "parcel_lines": "[]"}  # fmt: skip
                try:
                    parcel = order_parcel(lines.get(order.id, []), self.shipping)
                    length, width, height = parcel.box_cm
                    parcel_row = {"weight_grams": parcel.weight_grams, "length_cm": length, "width_cm": width,
                                  "height_cm": height, "parcel_source": parcel.source,
                                  "parcel_lines": json.dumps(parcel.lines)}  # fmt: skip
                except ValueError as no_lines:
                    error = error or str(no_lines)
                conn.execute(
                    INTENT,
                    {"order_id": order.id, "carrier": carrier, "service_code": service,
                     "origin": sites[route.origin].id,
                     "status": "awaiting_tracking" if manual else "pending", **parcel_row},
                )  # fmt: skip
                resolve_order_task(conn, "label_failed", order.id, SOURCE)  # a routing task, now fixed
                self.result.counts["orders_new"] += 1
                if error:
                    row = conn.execute(
                        text(
                            """SELECT s.id, s.order_id, o.channel FROM retail.shipments s
                               JOIN retail.orders o ON o.id = s.order_id WHERE s.order_id = :id"""
                        ),
                        {"id": order.id},
                    ).one()
                    self._failed_in(conn, row, [error], stage="carrier choice")
                elif manual:
                    self.result.counts["awaiting_tracking"] += 1

    def _no_carrier(self, conn: Connection, order, problem: str) -> None:
        """One ops task per order (not bumped by every run); the order stays accepted, without a shipment."""
        self.result.counts["no_carrier"] += 1
        self.result.failed.append({"order_id": order.id, "stage": "route", "problems": [problem]})
        if conn.scalar(OPEN_ROUTE_TASK, {"key": task_key("label_failed", order.id)}):
            return
        open_order_task(conn, "label_failed", order.id, order.channel,
                        f"No carrier for order {order.id} ({order.channel}): {problem[:200]}",
                        {"problems": [problem], "stage": "route"}, self.run_id)  # fmt: skip

    def _lines(self, order_id: int) -> list:
        with self.engine.connect() as conn:
            return list(conn.execute(LINES, {"ids": [order_id]}))

    def _request(self, row) -> LabelRequest:
        destination = _address(row.shipping_address)
        items = ()
        if (destination.country_iso_code or "").upper() != "CA":
            # The unit weights the parcel was weighed with (a row from before migration 016: resolved now).
            unit_grams = {line["line_id"]: line["unit_weight_grams"] for line in row.parcel_lines or []}
            defaults = self.shipping.category_table()
            items = tuple(
                CustomsItem(
                    description=line.title or line.sku or "Merchandise",
                    quantity=line.quantity,
                    unit_value=Decimal(line.unit_price),
                    unit_weight_kg=Decimal(
                        unit_grams.get(line.id) or stored_unit(line._mapping, defaults).weight_grams
                    ).scaleb(-3),
                    sku=line.sku,
                )  # fmt: skip
                for line in self._lines(row.order_id)
            )
        dimensions = None
        if row.length_cm and row.width_cm and row.height_cm:
            dimensions = Dimensions(Decimal(row.length_cm), Decimal(row.width_cm), Decimal(row.height_cm))
        origin = self._sites.get(row.origin) if row.origin else None
        return LabelRequest(
            reference=self.shipping.reference(row.order_id),
            destination=destination,
            weight_kg=(Decimal(row.weight_grams or 1) / 1000).quantize(Decimal("0.001"), ROUND_UP),
            service_code=row.service_code or "",
            dimensions=dimensions,
            reference_2=f"{row.channel} {row.external_order_id}",
            currency=(row.currency or "CAD").strip(),
            customs=items,
            sender=origin.address if origin else None,  # None: the client's configured sender
        )

    def _failed_in(self, conn: Connection, row, problems: list[str], *, stage: str) -> None:
        """Marks the shipment and the order failed, and opens (or bumps) the order's ops task."""
        message = "; ".join(problems)
        conn.execute(
            text("UPDATE retail.shipments SET status = 'label_failed', error = :e WHERE id = :id"),
            {"e": message[:2000], "id": row.id},
        )
        append_status(conn, row.order_id, "label_failed", source=SOURCE, run_id=self.run_id,
                      reason=f"{stage}: {message}", details={"problems": problems, "stage": stage})  # fmt: skip
        open_order_task(conn, "label_failed", row.order_id, row.channel,
                        f"Label for order {row.order_id} failed ({stage}): {message[:200]}",
                        {"problems": problems, "stage": stage, "shipment_id": row.id}, self.run_id)  # fmt: skip
        self.result.counts["label_failed"] += 1
        self.result.failed.append({"order_id": row.order_id, "stage": stage, "problems": problems})

    def _fail(self, row, problems: list[str], *, stage: str) -> None:
        with self.engine.begin() as conn:
            self._failed_in(conn, row, problems, stage=stage)

    def _retry_later(self, row, error: CarrierError) -> None:
        with self.engine.begin() as conn:
            conn.execute(
                text("UPDATE retail.shipments SET error = :e WHERE id = :id"),
                {"e": error.message[:2000], "id": row.id},
            )
            self._log(conn, "shipment.create", "failed", row, {"error": error.message, "retryable": True})
        self.result.counts["retry_later"] += 1

    def _commit_remote(self, row, label: CreatedLabel, action: str) -> None:
        with self.engine.begin() as conn:
            conn.execute(
                text(
                    """UPDATE retail.shipments
                          SET remote_shipment_id = :sid, tracking_pin = :pin, label_url = :url, error = NULL
                        WHERE id = :id"""
                ),
                {"sid": label.shipment_id, "pin": label.tracking_pin, "url": label.label_url, "id": row.id},
            )
            self._log(conn, "shipment.create", "succeeded", row,
                      {"adopted": action == "adopted", "remote_shipment_id": label.shipment_id,
                       "tracking_pin": label.tracking_pin})  # fmt: skip
        self.result.counts[action] += 1

    def _store(self, pdf: bytes) -> tuple[str, str]:
        digest = hashlib.sha256(pdf).hexdigest()
        rel = label_rel_path(digest, datetime.now(UTC))
        self.storage.put(rel, pdf, "application/pdf")  # atomic, and once per content
        return rel, digest

    async def _quote(self, client: Carrier, row, request: LabelRequest) -> str | None:
        """Rates the parcel and records the chosen service's price on the shipment; a problem when the
        carrier does not offer that service for this route and weight (nothing is bought then)."""
        quotes = await client.rate(request)
        quote = next((q for q in quotes if q.service_code == request.service_code), None)
        if quote is None:
            offered = ", ".join(sorted(q.service_code for q in quotes)) or "none"
            return (f"{client.carrier} does not offer {request.service_code} for this parcel "
                    f"({request.weight_kg} kg to {request.destination.country_iso_code}); offered: {offered}")  # fmt: skip
        with self.engine.begin() as conn:
            conn.execute(
                text("UPDATE retail.shipments SET quoted_price = :p, quoted_currency = :c WHERE id = :id"),
                {"p": quote.price, "c": quote.currency, "id": row.id},
            )
        return None

    # --- one order

    def client(self, carrier: str) -> Carrier:
        if carrier not in self._clients:
            self._clients[carrier] = self.carriers.client(carrier)
        return self._clients[carrier]

    async def _one(self, row) -> None:
        client = self.client(row.carrier)
        request = self._request(row)
        if row.remote_shipment_id is None:
            problems = client.problems(request)
            if problems:
                self._fail(row, problems, stage="request")
                return
            label = None
            with self.engine.connect() as conn:
                attempted = conn.scalar(INTENT_LOGGED, {"key": request.reference})
            if attempted:  # an earlier run may have bought it: ask before buying
                label = await client.find_shipment(request.reference)
                if label is not None:
                    self._commit_remote(row, label, "adopted")
            if label is None:
                problem = await self._quote(client, row, request)
                if problem:
                    self._fail(row, [problem], stage="rating")
                    return
                with self.engine.begin() as conn:
                    self._log(conn, "shipment.create", "intent", row,
                              {"service_code": request.service_code, "weight_kg": request.weight_kg})  # fmt: skip
                label = await client.create_label(request)
                if self.after_create is not None:
                    self.after_create(row.order_id, label)
                self._commit_remote(row, label, "created")
        else:
            label = CreatedLabel(row.remote_shipment_id, row.tracking_pin, row.label_url, request.reference)
        pdf = await client.download_label(label)
        postal_code = request.destination.zip_code
        problems = check_label(pdf, label.tracking_pin or "", postal_code)
        rel, digest = await asyncio.to_thread(self._store, pdf)  # S3: a network PUT, off the event loop
        with self.engine.begin() as conn:
            if problems:
                conn.execute(
                    text("UPDATE retail.shipments SET label_path = :p, label_sha256 = :d WHERE id = :id"),
                    {"p": rel, "d": digest, "id": row.id},
                )  # the bad label is kept for whoever looks into it
                self._failed_in(conn, row, problems, stage="label check")
                self._log(conn, "label.check", "failed", row, {"problems": problems, "label_path": rel})
                return
            conn.execute(
                text(
                    """UPDATE retail.shipments
                          SET status = 'label_created', label_path = :p, label_sha256 = :d, error = NULL,
                              label_created_at = now()
                        WHERE id = :id"""
                ),
                {"p": rel, "d": digest, "id": row.id},
            )
            append_status(conn, row.order_id, "label_created", source=SOURCE, run_id=self.run_id,
                          details={"carrier": row.carrier, "tracking_pin": label.tracking_pin, "label_path": rel})  # fmt: skip
            resolve_order_task(conn, "label_failed", row.order_id, SOURCE)
        self.result.counts["labels_created"] += 1
        self.result.created.append({"order_id": row.order_id, "tracking_pin": label.tracking_pin})

    async def run(self) -> LabelResult:
        with self.engine.connect() as conn:  # the ship-from sites, for routing and for the senders
            self._sites = all_locations(conn)
        self.prepare()
        with self.engine.connect() as conn:
            rows = list(conn.execute(WORK))

        async def one(row) -> None:
            try:
                await self._one(row)
            except CarrierError as error:
                if error.status in (401, 403):
                    raise  # systemic: every order would fail the same way
                if error.retryable:
                    self._retry_later(row, error)
                else:
                    self._fail(row, [error.message], stage="carrier")

        await each_order(rows, one, concurrency=self.concurrency, clients=self._clients.values())
        return self.result


async def make_labels(engine: Engine, carriers: CarriersResource, **kwargs: Any) -> LabelResult:
    kwargs.setdefault("storage", get_storage())
    return await LabelMaker(engine, carriers, **kwargs).run()


def run_labels(engine: Engine, carriers: CarriersResource, **kwargs: Any) -> LabelResult:
    with one_at_a_time(engine, "fulfilment:shipping_labels"):  # overlapping runs wait, then find it done
        return asyncio.run(make_labels(engine, carriers, **kwargs))


class ShippingLabelsConfig(dg.Config):
    concurrency: int = 4  # orders in flight at once against the carrier


@dg.asset(
    deps=[
        dg.AssetKey("marketplace_orders"),
        dg.AssetKey("order_acceptance"),
    ],  # labels for the orders just accepted
    group_name="fulfilment",
    kinds={"postgres"},
    pool="canadapost_api",
)
def shipping_labels(
    context: dg.AssetExecutionContext,
    config: ShippingLabelsConfig,
    db: DatabaseResource,
    carriers: CarriersResource,
) -> dg.MaterializeResult:
    """Buys one label per accepted order (intent committed first, a crash reconciled by the carrier
    lookup), checks each PDF (one page, PIN and postal code on it) and stores it by sha256; a bad
    label or a refused request becomes label_failed with an ops task, never a failed run."""
    result = run_labels(db.engine, carriers, run_id=context.run_id, concurrency=config.concurrency)
    metadata: dict[str, Any] = dict(result.counts)
    metadata["created_preview"] = dg.MetadataValue.json(result.created[:PREVIEW])
    metadata["failed_preview"] = dg.MetadataValue.json(result.failed[:PREVIEW])
    return dg.MaterializeResult(metadata=metadata)

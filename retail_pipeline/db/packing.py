"""Pick & pack over PostgreSQL: the pick queue, pack sessions and their scans, short picks and the
`packed` status. One implementation for every caller (the JSON routes, the console page through them,
the simulated packer through them); the rules themselves are `domain.packing`.

Each operation runs in the caller's transaction and locks what it changes: the order row for a start,
a short pick or a completion (so two workers never both hold or pack one order), the session row for a
scan or an undo (so two tabs of one worker never both count the last unit).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, text

from retail_pipeline.db.activity import log_activity
from retail_pipeline.db.order_workflow import append_status, open_order_task, resolve_order_task, task_key
from retail_pipeline.domain import packing
from retail_pipeline.domain.packing import OrderCandidate, PackLine, ScanVerdict
from retail_pipeline.domain.products import normalise_gtin

SOURCE = "pick_and_pack"  # order_status_history.source of a `packed` row
SHORT_PICK = "short_pick"  # ops task kind
PACKABLE = "label_created"
RECENT_SCANS = 12


class PackingError(Exception):
    """A request the packing rules refuse; `status` is the HTTP status that says why."""

    status = 409

    def __init__(self, message: str, field: str | None = None):
        super().__init__(message)
        self.message, self.field = message, field


class NotFound(PackingError):
    status = 404


class Conflict(PackingError):
    status = 409


class Invalid(PackingError):
    status = 422


@dataclass(frozen=True)
class Packer:
    """Who packs: the API key behind the request (a console session is its key's)."""

    key_id: int | None
    name: str  # shown to other workers: the key's label, else api_key:<prefix>
    actor: str = ""  # the audit trail's name for the key (api_key:<prefix>); defaults to `name`

    def __post_init__(self) -> None:
        if not self.actor:
            object.__setattr__(self, "actor", self.name)


# --- SQL

QUEUE_ORDERS = text(
    """
    SELECT o.id, o.channel::text AS channel, o.external_order_id, o.placed_at, o.current_status_at AS labelled_at,
           o.shipping_deadline, o.shipping_address->>'name' AS ship_to, o.shipping_address->>'city' AS city,
           o.shipping_address->>'country_iso_code' AS country,
           s.carrier, s.service_code, s.tracking_pin,
           ps.id AS session_id, ps.packer, ps.api_key_id, ps.started_at, ps.last_activity_at
      FROM retail.orders o
      JOIN retail.shipments s ON s.order_id = o.id AND s.status = 'label_created'
      LEFT JOIN retail.pack_sessions ps ON ps.order_id = o.id AND ps.status = 'open'
     WHERE o.current_status = 'label_created'
     ORDER BY o.current_status_at, o.id
     LIMIT :limit
    """
)

# kpi_counts keeps exact order counts per (channel, current status): no count over the orders.
QUEUE_TOTAL = text(
    "SELECT coalesce(sum(n), 0) FROM retail.kpi_counts WHERE metric = 'orders' AND dim2 = 'label_created'"
)

# A line's product: the listing it sold through, else our product with its SKU (a channel order may
# name only the SKU). GTIN from the supplier's data.
LINES = text(
    """
    SELECT l.id, l.order_id, l.sku, coalesce(p.title, l.title) AS title, l.quantity,
           p.id AS product_id, p.bin_location, sp.gtin
      FROM retail.order_lines l
      LEFT JOIN retail.channel_listings cl ON cl.id = l.channel_listing_id
      LEFT JOIN retail.products p
             ON p.id = coalesce(cl.product_id, (SELECT p2.id FROM retail.products p2 WHERE p2.sku = l.sku))
      LEFT JOIN retail.supplier_products sp ON sp.id = p.supplier_product_id
     WHERE l.order_id = ANY(:ids) AND l.status NOT IN ('refused', 'cancelled')
     ORDER BY l.order_id, l.id
    """
)

COUNTED = text(
    """
    SELECT ps.order_id, sc.order_line_id, count(*) AS n
      FROM retail.pack_scans sc JOIN retail.pack_sessions ps ON ps.id = sc.session_id
     WHERE sc.session_id = ANY(:sessions) AND sc.outcome = 'counted'
     GROUP BY ps.order_id, sc.order_line_id
    """
)

OPEN_SHORT_TASKS = text(
    """
    SELECT id, dedupe_key, details->>'note' AS note, created_at FROM retail.ops_tasks
     WHERE kind = 'short_pick' AND dedupe_key = ANY(:keys) AND status IN ('open', 'acknowledged')
    """
)

ORDER_FOR_UPDATE = text(
    """
    SELECT o.id, o.channel::text AS channel, o.external_order_id, o.current_status,
           s.status AS shipment_status, s.tracking_pin
      FROM retail.orders o LEFT JOIN retail.shipments s ON s.order_id = o.id
     WHERE o.id = :id
       FOR UPDATE OF o
    """
)

ORDER_HEADER = text(
    """
    SELECT o.id, o.channel::text AS channel, o.external_order_id, o.current_status, o.current_status_at,
           o.placed_at, o.shipping_deadline, o.shipping_address, o.currency, o.total,
           c.name AS customer_name, c.email AS customer_email,
           s.carrier, s.service_code, s.tracking_pin, s.status AS shipment_status, s.weight_grams
      FROM retail.orders o
      LEFT JOIN retail.shipments s ON s.order_id = o.id
      LEFT JOIN retail.customers c ON c.id = o.customer_id
     WHERE o.id = :id
    """
)

OPEN_SESSION = text(
    """
    SELECT id, order_id, api_key_id, packer, status, started_at, last_activity_at
      FROM retail.pack_sessions WHERE order_id = :order_id AND status = 'open'
    """
)
OPEN_SESSION_FOR_UPDATE = text(OPEN_SESSION.text + " FOR UPDATE")
LATEST_SESSION = text(
    """
    SELECT id, order_id, api_key_id, packer, status, note, ops_task_id, started_at, last_activity_at, finished_at
      FROM retail.pack_sessions WHERE order_id = :order_id ORDER BY id DESC LIMIT 1
    """
)
NEW_SESSION = text(
    """
    INSERT INTO retail.pack_sessions (order_id, api_key_id, packer) VALUES (:order_id, :key_id, :packer)
    RETURNING id, order_id, api_key_id, packer, status, started_at, last_activity_at
    """
)
TAKE_OVER = text(
    """
    UPDATE retail.pack_sessions SET api_key_id = :key_id, packer = :packer, last_activity_at = now()
     WHERE id = :id
    """
)
TOUCH = text("UPDATE retail.pack_sessions SET last_activity_at = now() WHERE id = :id")
FINISH = text(
    """
    UPDATE retail.pack_sessions
       SET status = :status, note = :note, ops_task_id = :task_id, finished_at = now(), last_activity_at = now()
     WHERE id = :id
    """
)
PACKERS_OPEN_SESSION = text(
    """
    SELECT order_id FROM retail.pack_sessions
     WHERE api_key_id = :key_id AND status = 'open' ORDER BY last_activity_at DESC LIMIT 1
    """
)

SCAN_BY_ID = text(
    "SELECT id, order_line_id, outcome, code FROM retail.pack_scans WHERE session_id = :session AND scan_id = :scan_id"
)
INSERT_SCAN = text(
    """
    INSERT INTO retail.pack_scans (session_id, scan_id, code, order_line_id, outcome)
    VALUES (:session, :scan_id, :code, :line_id, :outcome)
    """
)
SESSION_COUNTS = text(
    """
    SELECT order_line_id, count(*) AS n FROM retail.pack_scans
     WHERE session_id = :session AND outcome = 'counted' GROUP BY order_line_id
    """
)
RECENT = text(
    """
    SELECT scan_id, code, order_line_id, outcome, created_at FROM retail.pack_scans
     WHERE session_id = :session ORDER BY id DESC LIMIT :limit
    """
)
UNDO_LATEST = text(
    """
    DELETE FROM retail.pack_scans
     WHERE id = (SELECT id FROM retail.pack_scans WHERE session_id = :session AND outcome = 'counted'
                  ORDER BY id DESC LIMIT 1)
    RETURNING scan_id, code, order_line_id
    """
)
UNDO_ONE = text(
    """
    DELETE FROM retail.pack_scans WHERE session_id = :session AND scan_id = :scan_id AND outcome = 'counted'
    RETURNING scan_id, code, order_line_id
    """
)

ORDER_CANDIDATES = text(
    """
    SELECT o.id AS order_id, o.external_order_id, s.tracking_pin
      FROM retail.orders o LEFT JOIN retail.shipments s ON s.order_id = o.id
     WHERE o.id = :order_id OR o.external_order_id IN (:text, :compact)
        OR o.id = (SELECT order_id FROM retail.shipments WHERE tracking_pin = :compact LIMIT 1)
     LIMIT 20
    """
)

SET_BIN = text(
    """
    UPDATE retail.products SET bin_location = :bin WHERE id = :id
    RETURNING id, sku, title, bin_location
    """
)
OLD_BIN = text("SELECT bin_location FROM retail.products WHERE id = :id")


# --- reading


def _lines(conn: Connection, order_ids: list[int]) -> dict[int, list[dict[str, Any]]]:
    by_order: dict[int, list[dict[str, Any]]] = {order_id: [] for order_id in order_ids}
    for row in conn.execute(LINES, {"ids": order_ids}).mappings():
        by_order[row["order_id"]].append(dict(row))
    return by_order


def _pack_lines(lines: list[dict[str, Any]], counts: dict[int, int]) -> list[PackLine]:
    return [
        PackLine(line_id=line["id"], sku=line["sku"], gtin=line["gtin"], title=line["title"],
                 quantity=line["quantity"], scanned=counts.get(line["id"], 0))
        for line in lines
    ]  # fmt: skip


def _line_json(line: dict[str, Any], pack_line: PackLine) -> dict[str, Any]:
    return {
        "line_id": line["id"], "sku": line["sku"], "title": line["title"], "gtin": normalise_gtin(line["gtin"]),
        "product_id": line["product_id"], "bin_location": line["bin_location"], "quantity": line["quantity"],
        "scanned": min(pack_line.scanned, line["quantity"]), "remaining": pack_line.remaining,
    }  # fmt: skip


def pick_queue(conn: Connection, *, limit: int = 20) -> dict[str, Any]:
    """The next `limit` labelled orders (oldest label first) as one batch: each order with its lines and
    who holds it, and the batch's pick list, one row per bin and product with the quantity to take and
    the orders it goes to, in walking order of the bins."""
    orders = [dict(r) for r in conn.execute(QUEUE_ORDERS, {"limit": limit}).mappings()]
    ids = [o["id"] for o in orders]
    lines = _lines(conn, ids) if ids else {}
    sessions = [o["session_id"] for o in orders if o["session_id"]]
    counts: dict[int, dict[int, int]] = {}
    if sessions:
        for row in conn.execute(COUNTED, {"sessions": sessions}):
            counts.setdefault(row.order_id, {})[row.order_line_id] = row.n
    shorts = {}
    if ids:
        keys = [task_key(SHORT_PICK, order_id) for order_id in ids]
        shorts = {r.dedupe_key: r for r in conn.execute(OPEN_SHORT_TASKS, {"keys": keys})}
    picks: dict[tuple[str | None, str], dict[str, Any]] = {}
    out = []
    for order in orders:
        order_lines = lines.get(order["id"], [])
        pack_lines = _pack_lines(order_lines, counts.get(order["id"], {}))
        state = packing.progress(pack_lines)
        short = shorts.get(task_key(SHORT_PICK, order["id"]))
        out.append(
            {
                "order_id": order["id"], "channel": order["channel"], "external_order_id": order["external_order_id"],
                "placed_at": order["placed_at"], "labelled_at": order["labelled_at"],
                "shipping_deadline": order["shipping_deadline"], "ship_to": order["ship_to"], "city": order["city"],
                "country": order["country"], "carrier": order["carrier"], "service_code": order["service_code"],
                "tracking_pin": order["tracking_pin"], "units": state.ordered, "scanned": state.scanned,
                "held_by": order["packer"] if order["session_id"] else None,
                "held_by_key_id": order["api_key_id"] if order["session_id"] else None,
                "last_activity_at": order["last_activity_at"],
                "short_pick": {"task_id": short.id, "note": short.note, "at": short.created_at} if short else None,
                "lines": [_line_json(line, pl) for line, pl in zip(order_lines, pack_lines, strict=True)],
            }
        )  # fmt: skip
        for line, pl in zip(order_lines, pack_lines, strict=True):
            key = (line["bin_location"], line["sku"] or f"line:{line['id']}")
            pick = picks.setdefault(
                key,
                {"bin_location": line["bin_location"], "sku": line["sku"], "title": line["title"],
                 "gtin": normalise_gtin(line["gtin"]), "product_id": line["product_id"], "quantity": 0,
                 "remaining": 0, "orders": []},
            )  # fmt: skip
            pick["quantity"] += line["quantity"]
            pick["remaining"] += pl.remaining
            pick["orders"].append({"order_id": order["id"], "quantity": line["quantity"]})
    pick_list = sorted(
        picks.values(), key=lambda p: (packing.bin_sort_key(p["bin_location"]), p["sku"] or "")
    )
    return {
        "total": int(conn.scalar(QUEUE_TOTAL) or 0),
        "batch_size": len(out),
        "orders": out,
        "pick_list": pick_list,
    }


def open_order_of(conn: Connection, key_id: int | None) -> int | None:
    """The order the key is packing (its latest open session), if any."""
    return None if key_id is None else conn.scalar(PACKERS_OPEN_SESSION, {"key_id": key_id})


def order_state(conn: Connection, order_id: int) -> dict[str, Any]:
    """One order as the packing screen shows it: header, lines with what is left, the open (or latest)
    session with its recent scans, and an open short-pick task."""
    header = conn.execute(ORDER_HEADER, {"id": order_id}).mappings().one_or_none()
    if header is None:
        raise NotFound(f"no order with id {order_id}")
    session = conn.execute(LATEST_SESSION, {"order_id": order_id}).mappings().one_or_none()
    counts: dict[int, int] = {}
    recent: list[dict[str, Any]] = []
    if session is not None:
        counts = {r.order_line_id: r.n for r in conn.execute(SESSION_COUNTS, {"session": session["id"]})}
        recent = [
            dict(r)
            for r in conn.execute(RECENT, {"session": session["id"], "limit": RECENT_SCANS}).mappings()
        ]
    if session is not None and session["status"] == "short":
        counts = {}  # a short pick ended that attempt: the next one counts from zero
    lines = _lines(conn, [order_id])[order_id]
    pack_lines = _pack_lines(lines, counts)
    state = packing.progress(pack_lines)
    short = conn.execute(OPEN_SHORT_TASKS, {"keys": [task_key(SHORT_PICK, order_id)]}).one_or_none()
    return {
        "order": dict(header),
        "lines": [_line_json(line, pl) for line, pl in zip(lines, pack_lines, strict=True)],
        "units": state.ordered,
        "scanned": state.scanned,
        "complete": state.complete,
        "packable": header["current_status"] == PACKABLE and header["shipment_status"] == "label_created",
        "session": dict(session) if session is not None else None,
        "recent_scans": recent,
        "short_pick": {"task_id": short.id, "note": short.note, "at": short.created_at} if short else None,
    }


# --- writing


def _lock_order(conn: Connection, order_id: int) -> Any:
    order = conn.execute(ORDER_FOR_UPDATE, {"id": order_id}).one_or_none()
    if order is None:
        raise NotFound(f"no order with id {order_id}")
    return order


def _require_packable(order: Any) -> None:
    if order.current_status == "packed":
        raise Conflict(f"order {order.id} is already packed")
    if order.current_status != PACKABLE or order.shipment_status != "label_created":
        raise Conflict(
            f"order {order.id} is {order.current_status}: only orders with a label (label_created) are packed"
        )


def _stale(session: Any, now: datetime) -> bool:
    return (now - session.last_activity_at).total_seconds() > packing.STALE_SESSION_MINUTES * 60


def _held_session(conn: Connection, order_id: int, packer: Packer) -> Any:
    """The order's open session, which must be the packer's."""
    session = conn.execute(OPEN_SESSION_FOR_UPDATE, {"order_id": order_id}).one_or_none()
    if session is None:
        raise Conflict(f"order {order_id} is not being packed: scan its label (or start it) first")
    if session.api_key_id != packer.key_id:
        raise Conflict(f"order {order_id} is being packed by {session.packer}")
    return session


def start(conn: Connection, order_id: int, packer: Packer) -> dict[str, Any]:
    """The packer takes the order (or resumes their own session). Another worker's open session is a
    409 until it has been idle for STALE_SESSION_MINUTES; then it is taken over, scans and all (the
    items are in the tote already)."""
    order = _lock_order(conn, order_id)
    _require_packable(order)
    session = conn.execute(OPEN_SESSION, {"order_id": order_id}).one_or_none()
    if session is None:
        conn.execute(NEW_SESSION, {"order_id": order_id, "key_id": packer.key_id, "packer": packer.name})
        log_activity(conn, actor=packer.actor, action="pack.start", channel=order.channel, entity_type="order",
                     entity_id=order_id)  # fmt: skip
    elif session.api_key_id != packer.key_id:
        now = conn.scalar(text("SELECT now()"))
        if not _stale(session, now):
            idle = int((now - session.last_activity_at).total_seconds() // 60)
            raise Conflict(
                f"order {order_id} is being packed by {session.packer} (last scan {idle} min ago); it can be "
                f"taken over after {packing.STALE_SESSION_MINUTES} idle minutes"
            )
        conn.execute(TAKE_OVER, {"id": session.id, "key_id": packer.key_id, "packer": packer.name})
        log_activity(conn, actor=packer.actor, action="pack.take_over", channel=order.channel, entity_type="order",
                     entity_id=order_id, details={"from": session.packer, "session_id": session.id})  # fmt: skip
    else:
        conn.execute(TOUCH, {"id": session.id})
    return order_state(conn, order_id)


def _find_order(conn: Connection, raw: str) -> int | None:
    code = packing.order_code(raw)
    found = conn.execute(
        ORDER_CANDIDATES, {"order_id": code.order_id or -1, "text": code.text, "compact": code.compact}
    )
    candidates = [OrderCandidate(r.order_id, r.external_order_id, r.tracking_pin) for r in found]
    try:
        return packing.choose_order(code, candidates)
    except packing.AmbiguousOrderCode as error:
        raise Invalid(str(error), field="code") from None


def scan(
    conn: Connection, raw_code: str, scan_id: str, packer: Packer, *, order_id: int | None = None
) -> dict[str, Any]:
    """One scan. While an order is being packed (`order_id`, else the packer's latest open session) the
    code is first an item of it: counted, or refused as a wrong item or an over-scan (recorded, counts
    nothing). A code that is no item but names a labelled order switches to that order (started or
    resumed). Without an order being packed the code must name one. A `scan_id` seen before in the
    session returns the state again without counting twice."""
    try:
        code = packing.clean_code(raw_code)
    except packing.InvalidCode as error:
        raise Invalid(str(error), field="code") from None
    if order_id is None and packer.key_id is not None:
        order_id = conn.scalar(PACKERS_OPEN_SESSION, {"key_id": packer.key_id})
    if order_id is not None:
        session = conn.execute(OPEN_SESSION_FOR_UPDATE, {"order_id": order_id}).one_or_none()
        if session is not None and session.api_key_id == packer.key_id:
            previous = conn.execute(SCAN_BY_ID, {"session": session.id, "scan_id": scan_id}).one_or_none()
            if previous is not None:  # sent twice: answer as the first time, count nothing
                verdict = ScanVerdict(previous.outcome, previous.order_line_id, "already recorded")
                return _scanned(conn, order_id, verdict, code, duplicate=True)
            lines = _lines(conn, [order_id])[order_id]
            counts = {r.order_line_id: r.n for r in conn.execute(SESSION_COUNTS, {"session": session.id})}
            verdict = packing.match_item(code, _pack_lines(lines, counts))
            if verdict.outcome == "wrong_item":
                try:
                    other = _find_order(conn, code)
                except Invalid:  # names several orders: as an item it is simply wrong
                    other = None
                if other == order_id:  # its own label again: already on the bench, nothing to count
                    return {"kind": "order", **order_state(conn, order_id)}
                if other is not None:
                    return {"kind": "order", **start(conn, other, packer)}
            conn.execute(INSERT_SCAN, {"session": session.id, "scan_id": scan_id, "code": code,
                                       "line_id": verdict.line_id, "outcome": verdict.outcome})  # fmt: skip
            conn.execute(TOUCH, {"id": session.id})
            return _scanned(conn, order_id, verdict, code, duplicate=False)
    other = _find_order(conn, code)
    if other is None and order_id is not None:
        raise Conflict(
            f"order {order_id} is not being packed by you: scan its label (or start it) first", "code"
        )
    if other is None:
        raise NotFound(f"no order has the code {code!r}: scan the order's label first", field="code")
    return {"kind": "order", **start(conn, other, packer)}


def _scanned(
    conn: Connection, order_id: int, verdict: ScanVerdict, code: str, *, duplicate: bool
) -> dict[str, Any]:
    return {
        "kind": "item",
        "outcome": verdict.outcome,
        "accepted": verdict.counted,
        "line_id": verdict.line_id,
        "code": code,
        "message": verdict.message,
        "duplicate": duplicate,
        **order_state(conn, order_id),
    }


def undo(conn: Connection, order_id: int, packer: Packer, *, scan_id: str | None = None) -> dict[str, Any]:
    """Takes back the latest counted scan, or the one named `scan_id` (then a repeat is harmless)."""
    session = _held_session(conn, order_id, packer)
    if scan_id is not None:
        undone = conn.execute(UNDO_ONE, {"session": session.id, "scan_id": scan_id}).one_or_none()
    else:
        undone = conn.execute(UNDO_LATEST, {"session": session.id}).one_or_none()
        if undone is None:
            raise Conflict(f"order {order_id}: no counted scan to undo")
    conn.execute(TOUCH, {"id": session.id})
    return {"undone": dict(undone._mapping) if undone else None, **order_state(conn, order_id)}


def short_pick(conn: Connection, order_id: int, packer: Packer, note: str) -> dict[str, Any]:
    """An item is not where it should be: one ops task (kind short_pick, bumped if already open) with
    what is missing and the note; the session ends and the order stays label_created for a later pick."""
    order = _lock_order(conn, order_id)
    _require_packable(order)
    session = _held_session(conn, order_id, packer)
    state = order_state(conn, order_id)
    if state["complete"]:
        raise Conflict(f"order {order_id}: every item is scanned; complete it instead")
    missing = [
        {k: line[k] for k in ("line_id", "sku", "title", "bin_location", "quantity", "remaining")}
        for line in state["lines"]
        if line["remaining"]
    ]
    summary = ", ".join(f"{m['remaining']}× {m['sku'] or m['title']}" for m in missing)
    task_id = open_order_task(
        conn, SHORT_PICK, order_id, order.channel,
        f"Short pick on order {order_id} ({order.channel} {order.external_order_id}): {summary} missing",
        {"missing": missing, "note": note, "packer": packer.name, "session_id": session.id}, None,
    )  # fmt: skip
    conn.execute(FINISH, {"id": session.id, "status": "short", "note": note, "task_id": task_id})
    log_activity(conn, actor=packer.actor, action="pack.short", channel=order.channel, entity_type="order",
                 entity_id=order_id, details={"missing": missing, "note": note, "ops_task_id": task_id})  # fmt: skip
    return {"ops_task_id": task_id, "missing": missing, **order_state(conn, order_id)}


def complete(conn: Connection, order_id: int, packer: Packer) -> dict[str, Any]:
    """Every item scanned: the order gets its one `packed` row (through `append_status`, the one way a
    status is written), the session ends and a short-pick task for the order is resolved. Completing an
    order already packed changes nothing (`changed` false)."""
    order = _lock_order(conn, order_id)
    latest = conn.execute(LATEST_SESSION, {"order_id": order_id}).one_or_none()
    if order.current_status != PACKABLE and latest is not None and latest.status == "packed":
        return {"changed": False, **order_state(conn, order_id)}
    _require_packable(order)
    session = _held_session(conn, order_id, packer)
    state = order_state(conn, order_id)
    if not state["complete"]:
        left = sum(line["remaining"] for line in state["lines"])
        raise Conflict(f"order {order_id}: {left} item(s) still to scan", field="lines")
    details = {"session_id": session.id, "packer": packer.name, "units": state["units"]}
    if not append_status(conn, order_id, "packed", source=SOURCE, run_id=None, details=details):
        raise Conflict(f"order {order_id} cannot become packed from {order.current_status}")
    conn.execute(FINISH, {"id": session.id, "status": "packed", "note": None, "task_id": None})
    resolve_order_task(conn, SHORT_PICK, order_id, packer.actor)
    log_activity(conn, actor=packer.actor, action="pack.complete", outcome="succeeded", channel=order.channel,
                 entity_type="order", entity_id=order_id, details=details)  # fmt: skip
    return {"changed": True, **order_state(conn, order_id)}


def set_bin(conn: Connection, product_id: int, bin_location: str | None, actor: str) -> dict[str, Any]:
    """Sets (or clears, with None or blanks) the product's bin; audited."""
    value = (bin_location or "").strip().upper() or None
    old = conn.execute(OLD_BIN, {"id": product_id}).one_or_none()
    if old is None:
        raise NotFound(f"no product with id {product_id}")
    row = conn.execute(SET_BIN, {"id": product_id, "bin": value}).mappings().one()
    log_activity(conn, actor=actor, action="product.bin", entity_type="product", entity_id=product_id,
                 details={"from": old.bin_location, "to": value})  # fmt: skip
    return dict(row)


def packing_slip(conn: Connection, order_id: int) -> dict[str, Any]:
    """What the packing slip prints: the order, its address and lines, and when and by whom it was packed."""
    state = order_state(conn, order_id)
    packed = conn.execute(
        text(
            "SELECT created_at, details FROM retail.order_status_history WHERE order_id = :id AND status = 'packed'"
            " ORDER BY id LIMIT 1"
        ),
        {"id": order_id},
    ).one_or_none()
    state["packed_at"] = packed.created_at if packed else None
    state["packed_by"] = packed.details.get("packer") if packed else None
    return state

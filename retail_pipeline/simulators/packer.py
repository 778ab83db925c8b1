"""The simulated warehouse worker: packs every labelled order through the sidecar's pick & pack routes,
the way the simulated market buys through the channels, so a demo or a `run-once` still reaches
`shipped` while PACKING_REQUIRED holds tracking back until an order is packed.

A parcel shipping from a location no carrier API serves (New Zealand: `awaiting_tracking`) is booked
with the courier first, as the warehouse would: a tracking number in NZ Post's format (two letters, nine
digits, NZ; made from the order id, so a repeat is the same number) entered through
`POST /api/orders/{id}/tracking`, which puts the order in the pick queue.

It works as a person at the bench does: scan the label, scan each unit's barcode (its GTIN, else the
SKU), complete. A line it cannot scan (no barcode at all) is reported as a short pick, as a person would.
Its operator key is made for the pass and revoked after it.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import httpx
from sqlalchemy import Engine

from retail_pipeline.api.keys import create_api_key, revoke_api_key

KEY_LABEL = "simulated packer"
BATCH = 100


@dataclass
class PackerResult:
    counts: dict[str, int] = field(
        default_factory=lambda: {
            "orders_found": 0, "packed": 0, "short": 0, "skipped": 0, "refused": 0, "tracking_entered": 0,
        }
    )  # fmt: skip
    errors: list[str] = field(default_factory=list)


def courier_tracking_number(order_id: int) -> str:
    """The simulated courier's tracking number for an order (NZ Post's shape: EE 123456789 NZ)."""
    return f"EE{order_id % 10**9:09d}NZ"


class SimulatedPacker:
    """One pass over the pick queue. `client` is an httpx.Client on the sidecar carrying an operator key."""

    def __init__(self, client: httpx.Client):
        self.client = client
        self.result = PackerResult()

    def _post(self, path: str, body: dict[str, Any] | None = None) -> httpx.Response:
        return self.client.post(path, json=body or {})

    def _scan(self, code: str, order_id: int | None = None) -> httpx.Response:
        body: dict[str, Any] = {"code": code, "scan_id": uuid.uuid4().hex}
        if order_id is not None:
            body["order_id"] = order_id
        return self._post("/api/pack/scan", body)

    def _refused(self, order_id: int, response: httpx.Response) -> None:
        self.result.counts["refused"] += 1
        self.result.errors.append(f"order {order_id}: HTTP {response.status_code} {response.text[:200]}")

    def pack(self, order: dict[str, Any]) -> None:
        order_id = order["order_id"]
        started = self._scan(order["tracking_pin"]) if order["tracking_pin"] else None
        if started is None or started.status_code != 200:
            started = self._post(f"/api/pack/orders/{order_id}/start")
        if started.status_code != 200:
            self._refused(order_id, started)
            return
        state = started.json()
        unscannable = []
        for line in state["lines"]:
            code = line["gtin"] or line["sku"]
            if not code:
                unscannable.append(line["title"] or f"line {line['line_id']}")
                continue
            for _ in range(line["remaining"]):
                scanned = self._scan(code, order_id)
                if scanned.status_code != 200 or not scanned.json()["accepted"]:
                    self._refused(order_id, scanned)
                    return
        if unscannable:
            note = f"no barcode to scan: {', '.join(unscannable)}"
            short = self._post(f"/api/pack/orders/{order_id}/short", {"note": note})
            if short.status_code == 200:
                self.result.counts["short"] += 1
            else:
                self._refused(order_id, short)
            return
        done = self._post(f"/api/pack/orders/{order_id}/complete")
        if done.status_code == 200:
            self.result.counts["packed"] += done.json()["changed"]
        else:
            self._refused(order_id, done)

    def book_couriers(self) -> None:
        """Enters the courier's tracking number for each hand-booked parcel waiting for one."""
        waiting = self.client.get("/api/shipments/awaiting-tracking", params={"limit": 200})
        waiting.raise_for_status()
        for parcel in waiting.json():
            order_id = parcel["order_id"]
            body = {"tracking_number": courier_tracking_number(order_id), "carrier": "nz_post"}
            entered = self._post(f"/api/orders/{order_id}/tracking", body)
            if entered.status_code == 200:
                self.result.counts["tracking_entered"] += entered.json()["changed"]
            else:
                self._refused(order_id, entered)

    def run(self) -> PackerResult:
        self.book_couriers()
        seen: set[int] = set()
        while True:
            queue = self.client.get("/api/pack/queue", params={"limit": BATCH})
            queue.raise_for_status()
            # Orders another worker holds, or short-picked ones waiting for stock, are left alone.
            todo = [o for o in queue.json()["orders"] if o["order_id"] not in seen]
            if not todo:
                return self.result
            for order in todo:
                seen.add(order["order_id"])
                self.result.counts["orders_found"] += 1
                if order["held_by"] or order["short_pick"]:
                    self.result.counts["skipped"] += 1
                    continue
                self.pack(order)


@contextmanager
def packer_key(engine: Engine) -> Iterator[str]:
    """An operator key for one pass, revoked afterwards whatever happens."""
    key = create_api_key(engine, "operator", KEY_LABEL)
    try:
        yield key
    finally:
        revoke_api_key(engine, key)


def pack_labelled_orders(api_url: str, engine: Engine, *, timeout: float = 30) -> PackerResult:
    """Packs every labelled order waiting at the sidecar on `api_url` (a pass with its own key)."""
    with (
        packer_key(engine) as key,
        httpx.Client(base_url=api_url, headers={"X-API-Key": key}, timeout=timeout) as client,
    ):
        return SimulatedPacker(client).run()

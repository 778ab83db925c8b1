"""An order packed as a warehouse worker packs it (start, one scan per unit, complete), through the same
operations the pick & pack routes call."""

from __future__ import annotations

import uuid

from sqlalchemy import Engine

from retail_pipeline.db import packing

BENCH = packing.Packer(key_id=None, name="test:packer")


def pack_order(engine: Engine, order_id: int, packer: packing.Packer = BENCH) -> dict:
    with engine.begin() as conn:
        state = packing.start(conn, order_id, packer)
        for line in state["lines"]:
            for _ in range(line["remaining"]):
                packing.scan(conn, line["sku"], uuid.uuid4().hex, packer, order_id=order_id)
        return packing.complete(conn, order_id, packer)

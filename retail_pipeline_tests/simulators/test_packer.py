"""The simulated packer packs every labelled order through the sidecar's HTTP routes with a key of its own
(revoked after), reports a line it cannot scan as a short pick, and leaves an order another worker holds."""

from __future__ import annotations

from sqlalchemy import text

from retail_pipeline.db import packing
from retail_pipeline.simulators.packer import KEY_LABEL, pack_labelled_orders
from retail_pipeline.simulators.serving import serve_in_thread
from retail_pipeline_tests.seeds.ops import add_order
from retail_pipeline_tests.seeds.packing import add_labelled_order, seed_shelf


def test_the_packer_packs_through_the_routes_and_revokes_its_key(app, engine):
    with engine.begin() as conn:
        floor = seed_shelf(conn)
        packable = [
            add_labelled_order(
                conn, floor, "BB-1", [("RP-HP-XM5", 1, "449.00"), ("RP-STR-1046", 2, "12.99")]
            ),
            add_labelled_order(conn, floor, "BB-2", [("RP-KB-MX", 1, "139.00")]),
        ]
        held = add_labelled_order(conn, floor, "BB-3", [("RP-CBL-XLR", 1, "59.00")])
        packing.start(conn, held, packing.Packer(key_id=None, name="someone at bench 2"))
        no_barcode = add_labelled_order(conn, floor, "BB-4", [("RP-MIC-SM58", 1, "149.00")])
        conn.execute(text("UPDATE retail.order_lines SET sku = NULL WHERE order_id = :o"), {"o": no_barcode})
        # Stock in Auckland: the packer books the courier (enters its tracking number), then packs it.
        hand_booked = add_order(
            conn, "TM-5", ["accepted"], channel="trademe", lines=[("RP-KB-MX", 1, "139.00")]
        )
        conn.execute(
            text(
                """INSERT INTO retail.shipments (order_id, carrier, service_code, status)
                   VALUES (:o, 'manual', 'courier', 'awaiting_tracking')"""
            ),
            {"o": hand_booked},
        )

    with serve_in_thread(app) as url:
        result = pack_labelled_orders(url, engine)
    assert result.counts == {
        "orders_found": 5, "packed": 3, "short": 1, "skipped": 1, "refused": 0, "tracking_entered": 1,
    }, result.errors  # fmt: skip
    with engine.connect() as conn:
        statuses = dict(conn.execute(text("SELECT id, current_status FROM retail.orders")).all())
        keys = conn.execute(
            text("SELECT role, revoked_at FROM retail.api_keys WHERE label = :l"), {"l": KEY_LABEL}
        ).all()
        scans = conn.scalar(text("SELECT count(*) FROM retail.pack_scans WHERE outcome = 'counted'"))
        task = conn.scalar(text("SELECT details->>'note' FROM retail.ops_tasks WHERE kind = 'short_pick'"))
    assert [statuses[o] for o in [*packable, hand_booked]] == ["packed", "packed", "packed"]
    assert statuses[held] == statuses[no_barcode] == "label_created"
    assert scans == 5  # one scan per unit, as at a real bench
    assert "no barcode" in task
    assert len(keys) == 1 and keys[0].role == "operator" and keys[0].revoked_at is not None

    with serve_in_thread(app) as url:  # a second pass finds nothing new to pack
        assert pack_labelled_orders(url, engine).counts["packed"] == 0

"""`shipping_labels` end to end against the Canada Post simulator: one checked label per accepted
order, stored by sha256; bad labels and refusals become label_failed with an ops task; re-runs change
nothing; a process killed between the remote create and the local commit never yields two labels."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import textwrap

import dagster as dg
from sqlalchemy import text

from retail_pipeline.defs.fulfilment.labels import run_labels, shipping_labels
from retail_pipeline.defs.resources import CarriersResource, DatabaseResource
from retail_pipeline.domain.labels import check_label
from retail_pipeline.integrations.carriers.canadapost import CanadaPostSettings
from retail_pipeline.simulators import FaultConfig
from retail_pipeline_tests.seeds.catalog import add_product, add_supplier

from .conftest import SEATTLE, history, insert_order, rows, shipments


def test_accepted_orders_get_one_checked_label_each(engine, carriers, backend, settings_env):
    ids = [insert_order(engine, n) for n in range(3)]
    waiting = insert_order(engine, 9, statuses=("pending_acceptance",))
    result = run_labels(engine, carriers)
    assert result.counts["orders_new"] == 3
    assert result.counts["created"] == 3 and result.counts["labels_created"] == 3
    assert result.counts["label_failed"] == 0
    assert backend.created_count() == 3
    ships = shipments(engine)
    assert set(ships) == set(ids)  # the order still waiting for acceptance is left alone
    for order_id in ids:
        ship = ships[order_id]
        assert ship["status"] == "label_created" and ship["carrier"] == "canada_post"
        assert ship["service_code"] == "DOM.EP" and ship["weight_grams"] == 1200
        # rated first: the 30x20x15 cm box bills as 1.5 kg (cubed), 11.20 + 1.35 * 1.5
        assert (str(ship["quoted_price"]), ship["quoted_currency"]) == ("13.23", "CAD")
        path = settings_env.data_dir / ship["label_path"]
        assert ship["label_path"].startswith("labels/") and not ship["label_path"].startswith("/")
        pdf = path.read_bytes()
        assert hashlib.sha256(pdf).hexdigest() == ship["label_sha256"]
        assert check_label(pdf, ship["tracking_pin"], "M5V2T6") == []
        assert history(engine, order_id) == ["pending_acceptance", "accepted", "label_created"]
        remote = backend.shipments[ship["remote_shipment_id"]]
        assert remote.reference_1 == f"rp-order-{order_id}" and remote.tracking_pin == ship["tracking_pin"]
    assert history(engine, waiting) == ["pending_acceptance"]
    outcomes = rows(
        engine,
        "SELECT outcome, count(*) AS n FROM retail.activity_log WHERE action = 'shipment.create' GROUP BY outcome",
    )
    assert {r["outcome"]: r["n"] for r in outcomes} == {"intent": 3, "succeeded": 3}

    again = run_labels(engine, carriers)  # re-run: nothing to do, nothing called
    assert again.counts == {k: 0 for k in again.counts}
    assert backend.created_count() == 3
    assert rows(engine, "SELECT count(*) AS n FROM retail.order_status_history")[0]["n"] == 3 * 3 + 1


def test_corrupted_label_fails_the_order_into_the_inbox_once(engine, carriers, backend):
    order_id = insert_order(engine, 1)
    backend.corrupt_next_label("wrong_pin")
    result = run_labels(engine, carriers)
    assert result.counts["created"] == 1 and result.counts["label_failed"] == 1
    ship = shipments(engine)[order_id]
    assert ship["status"] == "label_failed" and "tracking PIN" in ship["error"]
    assert ship["remote_shipment_id"] and ship["label_path"]  # the remote shipment and bad label are kept
    assert history(engine, order_id)[-1] == "label_failed"
    reason = rows(
        engine,
        "SELECT reason, details FROM retail.order_status_history WHERE order_id = :o ORDER BY id DESC LIMIT 1",
        o=order_id,
    )[0]
    assert reason["reason"].startswith("label check:") and reason["details"]["problems"]
    tasks = rows(engine, "SELECT * FROM retail.ops_tasks WHERE kind = 'label_failed'")
    assert len(tasks) == 1 and tasks[0]["entity_id"] == str(order_id) and tasks[0]["channel"] == "bestbuy"
    assert tasks[0]["status"] == "open"

    again = run_labels(engine, carriers)  # re-run creates nothing, opens nothing new
    assert again.counts == {k: 0 for k in again.counts}
    assert backend.created_count() == 1
    assert rows(engine, "SELECT occurrences FROM retail.ops_tasks")[0]["occurrences"] == 1

    # An operator asks for another try: the label is fetched again, no second shipment is bought.
    with engine.begin() as conn:
        conn.execute(
            text("UPDATE retail.shipments SET status = 'pending' WHERE order_id = :o"), {"o": order_id}
        )
    retried = run_labels(engine, carriers)
    assert retried.counts["created"] == 0 and retried.counts["labels_created"] == 1
    assert backend.created_count() == 1
    assert shipments(engine)[order_id]["status"] == "label_created"
    assert history(engine, order_id)[-2:] == ["label_failed", "label_created"]
    assert rows(engine, "SELECT status FROM retail.ops_tasks")[0]["status"] == "resolved"


def test_unshippable_orders_fail_without_calling(engine, carriers, backend, sim):
    no_postal = insert_order(
        engine,
        1,
        address={
            "name": "X",
            "street_1": "1 Main",
            "city": "Toronto",
            "state": "ON",
            "country_iso_code": "CA",
        },
    )
    no_address = insert_order(engine, 2, address=None)
    result = run_labels(engine, carriers)
    assert result.counts["label_failed"] == 2 and result.counts["created"] == 0
    assert backend.created_count() == 0
    assert [e for e in sim.journal.entries("canadapost") if e.method == "POST"] == []
    ships = shipments(engine)
    assert "postal code" in ships[no_postal]["error"]
    assert "street" in ships[no_address]["error"]
    assert rows(engine, "SELECT count(*) AS n FROM retail.ops_tasks WHERE kind = 'label_failed'")[0]["n"] == 2


def test_no_carrier_for_the_route_is_one_task_until_fixed(engine, carriers, backend, sim, monkeypatch):
    monkeypatch.setenv("SHIPPING_RULES", '{"*:CA": "canada_post:DOM.EP"}')
    order_id = insert_order(engine, 1, address={**SEATTLE})
    for _ in range(2):  # a re-run finds the same problem: still one task, not bumped
        result = run_labels(engine, carriers)
        assert result.counts["no_carrier"] == 1 and result.counts["orders_new"] == 0
        assert shipments(engine) == {} and history(engine, order_id)[-1] == "accepted"
        tasks = rows(engine, "SELECT * FROM retail.ops_tasks WHERE kind = 'label_failed'")
        assert len(tasks) == 1 and tasks[0]["occurrences"] == 1 and tasks[0]["status"] == "open"
        assert "no carrier serves bestbuy from CA to US" in tasks[0]["title"]
    assert sim.journal.entries("canadapost") == []  # nothing rated, nothing bought
    monkeypatch.delenv("SHIPPING_RULES")  # fixed: the default rules ship it
    assert run_labels(engine, carriers).counts["labels_created"] == 1
    assert rows(engine, "SELECT status FROM retail.ops_tasks")[0]["status"] == "resolved"


def test_a_service_not_offered_for_the_parcel_is_refused_before_buying(
    engine, carriers, backend, monkeypatch
):
    monkeypatch.setenv("SHIPPING_RULES", '{"*:US": "canada_post:USA.TP"}')  # Tracked Packet: 2 kg at most
    order_id = insert_order(engine, 1, address=SEATTLE, lines=(("RP-1", 3, "50.00"),))
    result = run_labels(engine, carriers)
    assert result.counts["label_failed"] == 1 and backend.created_count() == 0
    ship = shipments(engine)[order_id]
    assert ship["status"] == "label_failed" and ship["quoted_price"] is None
    assert "does not offer USA.TP" in ship["error"] and "offered: USA.EP, USA.XP" in ship["error"]


def test_the_parcel_sums_the_products_weights_stacks_their_boxes_and_says_where_they_came_from(
    engine, carriers, backend
):
    with engine.begin() as conn:
        supplier = add_supplier(conn, "acme")
        for sku, category, parcel in (
            ("H1", "Headphones", (254, 270, 210, 80, "supplier", None)),
            ("L1", "Laptops", (2100, 260, 380, 40, "estimate", "typical 14-inch laptop")),
            ("G1", "Acoustic Guitars", None),  # not resolved yet: the category default at label time
        ):
            product_id = add_product(conn, supplier, sku, category=category)
            if parcel:
                conn.execute(
                    text(
                        "UPDATE retail.products SET weight_grams = :g, length_mm = :l, width_mm = :w, height_mm = :h,"
                        " parcel_source = :s, parcel_reason = :r WHERE id = :id"
                    ),
                    dict(zip(("g", "l", "w", "h", "s", "r"), parcel, strict=True)) | {"id": product_id},
                )
    mixed = insert_order(engine, 1, lines=(("RP-H1", 2, "99.00"), ("RP-L1", 1, "999.00")))
    guitar = insert_order(engine, 2, lines=(("RP-G1", 1, "499.00"),))
    too_big = insert_order(engine, 3, lines=(("RP-G1", 4, "499.00"),))
    result = run_labels(engine, carriers)
    assert (result.counts["labels_created"], result.counts["label_failed"]) == (2, 1)

    ships = shipments(engine)
    remote = {s.reference_1: s for s in backend.shipments.values()}
    # 2 × 254 g + 2100 g + 200 g packaging; headsets 27 × 21 × 8 twice on a 38 × 26 × 4 laptop.
    assert ships[mixed]["weight_grams"] == 2808 and ships[mixed]["parcel_source"] == "mixed"
    assert (ships[mixed]["length_cm"], ships[mixed]["width_cm"], ships[mixed]["height_cm"]) == (38, 26, 20)
    assert [(p["sku"], p["source"], p["unit_weight_grams"]) for p in ships[mixed]["parcel_lines"]] == [
        ("RP-H1", "supplier", 254), ("RP-L1", "estimate", 2100),
    ]  # fmt: skip
    assert remote[f"rp-order-{mixed}"].weight_kg == "2.808"
    assert remote[f"rp-order-{mixed}"].dimensions_cm == ("38.0", "26.0", "20.0")
    assert (ships[guitar]["weight_grams"], ships[guitar]["parcel_source"]) == (5200, "category_default")
    assert remote[f"rp-order-{guitar}"].dimensions_cm == ("110.0", "45.0", "15.0")
    assert ships[guitar]["parcel_lines"][0]["reason"] == "category default 'guitar'"
    # Four guitars stacked are 110 × 60 × 45 cm: over Canada Post's 3 m length + girth, refused before any call.
    assert ships[too_big]["status"] == "label_failed" and "length + girth 320.0 cm" in ships[too_big]["error"]
    assert f"rp-order-{too_big}" not in remote


def test_us_order_ships_with_customs(engine, carriers, backend):
    order_id = insert_order(engine, 1, address=SEATTLE, lines=(("RP-1", 2, "50.00"), ("RP-2", 1, "20.00")))
    result = run_labels(engine, carriers)
    assert result.counts["labels_created"] == 1
    remote = next(iter(backend.shipments.values()))
    assert remote.service_code == "USA.EP" and b"<customs>" in remote.delivery_spec
    assert b"<customs-number-of-units>2</customs-number-of-units>" in remote.delivery_spec
    assert remote.delivery_spec.count(b"<unit-weight>1.000</unit-weight>") == 2  # the category default '*'
    assert shipments(engine)[order_id]["weight_grams"] == 3200


def test_outage_leaves_orders_pending_then_completes(engine, carriers, backend, sim):
    ids = [insert_order(engine, n) for n in range(2)]
    sim.faults.set("canadapost", FaultConfig(error_rate=1.0))
    kwargs = carriers._client_kwargs["canada_post"]
    impatient = CarriersResource().with_kwargs(
        canada_post={**kwargs, "settings": CanadaPostSettings(_env_file=None, max_attempts=2)}
    )
    result = run_labels(engine, impatient)
    assert result.counts["retry_later"] == 2 and result.counts["label_failed"] == 0
    assert {s["status"] for s in shipments(engine).values()} == {"pending"}
    assert all(history(engine, i)[-1] == "accepted" for i in ids)
    assert all("gave up after retrying" in s["error"] for s in shipments(engine).values())
    failed = rows(engine, "SELECT count(*) AS n FROM retail.activity_log WHERE outcome = 'failed'")
    assert failed[0]["n"] == 2
    sim.faults.reset()
    done = run_labels(engine, carriers)
    assert done.counts["labels_created"] == 2
    assert backend.created_count() == 2


def test_twenty_percent_faults_still_complete_with_one_label_each(engine, carriers, backend, sim):
    ids = [insert_order(engine, n) for n in range(8)]
    sim.faults.set(
        "canadapost", FaultConfig(error_rate=0.1, malformed_rate=0.05, timeout_rate=0.05, hang_seconds=0.01)
    )
    result = run_labels(engine, carriers)
    assert result.counts["labels_created"] == 8, result
    assert backend.created_count() == 8
    assert sorted(s.reference_1 for s in backend.shipments.values()) == sorted(f"rp-order-{i}" for i in ids)
    assert sum(1 for e in sim.journal.entries("canadapost") if e.fault) > 0


def test_materialize_through_dagster(engine, backend, simulator_url, db_url):
    for n in range(2):
        insert_order(engine, n)
    resources = {"db": DatabaseResource(url=db_url), "carriers": CarriersResource()}
    result = dg.materialize([shipping_labels], resources=resources)
    assert result.success
    meta = result.asset_materializations_for_node("shipping_labels")[0].metadata
    assert meta["labels_created"].value == 2 and meta["created"].value == 2
    assert len(meta["created_preview"].value) == 2
    again = dg.materialize([shipping_labels], resources=resources)
    assert again.asset_materializations_for_node("shipping_labels")[0].metadata["labels_created"].value == 0
    assert backend.created_count() == 2


KILL_SCRIPT = textwrap.dedent(
    """
    import os, sys
    from retail_pipeline.db.engine import get_engine
    from retail_pipeline.defs.fulfilment.labels import run_labels
    from retail_pipeline.defs.resources import CarriersResource

    db_url, kill_order = sys.argv[1], int(sys.argv[2])

    def die(order_id, label):
        if order_id == kill_order:
            os._exit(9)  # killed: the shipment exists at Canada Post, our commit never happens

    result = run_labels(get_engine(db_url), CarriersResource(), concurrency=1,
                        after_create=die if kill_order else None)
    print(result.counts)
    """
)


def _run(db_url: str, kill_order: int) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-c", KILL_SCRIPT, db_url, str(kill_order)],
        env=dict(os.environ), capture_output=True, text=True, timeout=120,
    )  # fmt: skip


def test_kill_between_create_and_commit_then_rerun_finds_the_one_shipment(
    engine, backend, simulator_url, db_url, settings_env
):
    first, second, third = (insert_order(engine, n) for n in range(3))
    killed = _run(db_url, second)
    assert killed.returncode == 9, killed.stderr[-2000:]
    assert backend.created_count() == 2  # the first order and the killed second reached Canada Post
    ships = shipments(engine)
    assert ships[second]["status"] == "pending" and ships[second]["remote_shipment_id"] is None
    assert ships[third]["status"] == "pending"
    rerun = _run(db_url, 0)
    assert rerun.returncode == 0, rerun.stderr[-2000:]
    assert "'adopted': 1" in rerun.stdout and "'created': 1" in rerun.stdout
    assert backend.created_count() == 3  # one shipment per order, ever
    ships = shipments(engine)
    assert {s["status"] for s in ships.values()} == {"label_created"}
    assert len({s["tracking_pin"] for s in ships.values()}) == 3
    assert [s.reference_1 for s in backend.shipments.values()].count(f"rp-order-{second}") == 1
    files = list((settings_env.data_dir / "labels").rglob("*.pdf"))
    assert len(files) == 3


def test_labels_land_in_the_object_store_and_open_by_signed_link(
    engine, carriers, backend, s3_media, operator
):
    from fastapi.testclient import TestClient

    from retail_pipeline.api.app import create_app
    from retail_pipeline.settings import get_settings

    order_id = insert_order(engine, 1)
    assert run_labels(engine, carriers).counts["labels_created"] == 1
    ship = shipments(engine)[order_id]
    pdf = s3_media.read(ship["label_path"])  # the key is shipments.label_path, relative as before
    assert (
        ship["label_path"].startswith("labels/") and hashlib.sha256(pdf).hexdigest() == ship["label_sha256"]
    )
    assert not (get_settings().data_dir / "labels").exists()
    with TestClient(create_app(get_settings())) as client:
        link = client.post(f"/api/orders/{order_id}/label/reprint", headers=operator)
        assert link.status_code == 200, link.text
        opened = client.get(link.json()["label_url"])  # the console's "Open label" link, same route
    assert opened.status_code == 200 and opened.content == pdf
    assert opened.headers["content-type"] == "application/pdf"

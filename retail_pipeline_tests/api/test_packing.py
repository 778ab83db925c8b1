"""Pick & pack JSON routes over a real database: the pick queue sorted by bin, a pack session (scan by
label, GTIN or SKU; wrong items and over-scans refused and recorded; a double-sent scan counted once;
undo), a short pick (ops task, order left label_created), completion (one `packed` row, however often
asked), two workers on one order, bins, roles."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from sqlalchemy import Engine, text

from retail_pipeline.api.keys import create_api_key
from retail_pipeline_tests.seeds.packing import PackFloor, add_labelled_order, seed_shelf


@pytest.fixture
def floor(engine: Engine) -> PackFloor:
    with engine.begin() as conn:
        floor = seed_shelf(conn)
        add_labelled_order(conn, floor, "BB-100", [("RP-HP-XM5", 1, "449.00"), ("RP-STR-1046", 3, "12.00")])
        add_labelled_order(conn, floor, "BB-101", [("RP-PED-DS1", 1, "99.00"), ("RP-TUN-TU3", 1, "139.00")])
        add_labelled_order(conn, floor, "BB-102", [("RP-CBL-XLR", 2, "59.00"), ("RP-HP-XM5", 1, "449.00")])
    return floor


def rows(engine: Engine, sql: str, **params: Any) -> list[dict[str, Any]]:
    with engine.connect() as conn:
        return [dict(r._mapping) for r in conn.execute(text(sql), params)]


def history(engine: Engine, order_id: int) -> list[str]:
    found = rows(
        engine, "SELECT status FROM retail.order_status_history WHERE order_id = :o ORDER BY id", o=order_id
    )
    return [r["status"] for r in found]


def scan(client, headers, code: str, order_id: int | None = None, scan_id: str | None = None):
    body = {"code": code, "scan_id": scan_id or uuid.uuid4().hex}
    if order_id is not None:
        body["order_id"] = order_id
    return client.post("/api/pack/scan", json=body, headers=headers)


def remaining(body: dict[str, Any]) -> dict[str, int]:
    return {line["sku"]: line["remaining"] for line in body["lines"]}


def test_the_queue_batches_labelled_orders_into_a_pick_list_sorted_by_bin(client, engine, floor, viewer):
    with engine.begin() as conn:  # not labelled yet, and already shipped: neither is in the queue
        from retail_pipeline_tests.seeds.ops import add_order

        add_order(conn, "BB-200", ["accepted"], lines=[("RP-KB-MX", 1, "10.00")])
        add_order(conn, "BB-201", ["accepted", "label_created", "shipped"], lines=[("RP-KB-MX", 1, "10.00")])
    response = client.get("/api/pack/queue", headers=viewer)
    assert response.status_code == 200, response.text
    body = response.json()
    assert [o["order_id"] for o in body["orders"]] == floor.orders  # oldest label first
    assert body["total"] == 3 and body["batch_size"] == 3
    first = body["orders"][0]
    assert (
        first["tracking_pin"] == floor.pins[floor.orders[0]]
        and first["units"] == 4
        and first["held_by"] is None
    )
    picks = [(p["bin_location"], p["sku"], p["quantity"]) for p in body["pick_list"]]
    assert picks == [
        ("A-02-1", "RP-HP-XM5", 2),  # one product for two orders: one stop at its bin
        ("A-03-4", "RP-STR-1046", 3),
        ("A-10-3", "RP-PED-DS1", 1),  # A-10 after A-03: numbers compare as numbers
        ("B-01-2", "RP-CBL-XLR", 2),
        (None, "RP-TUN-TU3", 1),  # no bin yet: last
    ]
    assert body["pick_list"][0]["orders"] == [
        {"order_id": floor.orders[0], "quantity": 1}, {"order_id": floor.orders[2], "quantity": 1}
    ]  # fmt: skip
    assert body["pick_list"][0]["gtin"] == floor.gtins["RP-HP-XM5"]
    assert client.get("/api/pack/queue?limit=1", headers=viewer).json()["batch_size"] == 1
    assert client.get("/api/pack/queue").status_code == 403  # no key


def test_a_complete_pack_with_a_wrong_scan_a_double_sent_scan_and_an_undo(client, engine, floor, operator):
    order_id = floor.orders[0]
    started = scan(client, operator, floor.pins[order_id])  # the label's barcode
    assert started.status_code == 200, started.text
    assert started.json()["kind"] == "order" and started.json()["order"]["id"] == order_id
    assert started.json()["session"]["status"] == "open"

    relabel = scan(client, operator, floor.pins[order_id], order_id)  # its label again: nothing counted
    assert relabel.json()["kind"] == "order" and relabel.json()["recent_scans"] == []
    wrong = scan(client, operator, floor.gtins["RP-PED-DS1"], order_id)  # another order's item
    assert wrong.status_code == 200
    assert (wrong.json()["outcome"], wrong.json()["accepted"]) == ("wrong_item", False)
    assert remaining(wrong.json()) == {"RP-HP-XM5": 1, "RP-STR-1046": 3}

    ok = scan(client, operator, floor.gtins["RP-HP-XM5"], order_id, scan_id="scan-1")
    assert ok.json()["outcome"] == "counted" and remaining(ok.json())["RP-HP-XM5"] == 0
    again = scan(client, operator, floor.gtins["RP-HP-XM5"], order_id, scan_id="scan-1")  # double submit
    assert again.json()["duplicate"] is True and again.json()["outcome"] == "counted"
    assert remaining(again.json())["RP-HP-XM5"] == 0
    over = scan(client, operator, floor.gtins["RP-HP-XM5"], order_id)
    assert over.json()["outcome"] == "over_scan" and not over.json()["accepted"]

    for code in ("RP-STR-1046", "rp-str-1046", "0" + floor.gtins["RP-STR-1046"]):  # SKU, any case; EAN-14
        assert scan(client, operator, code, order_id).json()["outcome"] == "counted"
    undone = client.post(f"/api/pack/orders/{order_id}/undo", headers=operator)
    assert undone.status_code == 200 and undone.json()["undone"]["code"] == "0" + floor.gtins["RP-STR-1046"]
    assert remaining(undone.json())["RP-STR-1046"] == 1

    early = client.post(f"/api/pack/orders/{order_id}/complete", headers=operator)
    assert early.status_code == 409 and early.json()["detail"]["field"] == "lines"
    assert "1 item(s) still to scan" in early.json()["detail"]["message"]
    assert scan(client, operator, "RP-STR-1046", order_id).json()["complete"] is True

    done = client.post(f"/api/pack/orders/{order_id}/complete", headers=operator)
    assert done.status_code == 200, done.text
    assert (
        done.json()["changed"] is True and done.json()["slip_url"] == f"/console/pack/orders/{order_id}/slip"
    )
    twice = client.post(f"/api/pack/orders/{order_id}/complete", headers=operator)
    assert twice.status_code == 200 and twice.json()["changed"] is False
    assert history(engine, order_id) == ["accepted", "label_created", "packed"]
    packed = rows(engine, "SELECT source, details FROM retail.order_status_history WHERE status = 'packed'")
    assert packed[0]["source"] == "pick_and_pack" and packed[0]["details"]["units"] == 4
    outcomes = rows(engine, "SELECT outcome, count(*) AS n FROM retail.pack_scans GROUP BY outcome")
    assert {r["outcome"]: r["n"] for r in outcomes} == {"counted": 4, "wrong_item": 1, "over_scan": 1}
    assert rows(engine, "SELECT status FROM retail.pack_sessions") == [{"status": "packed"}]
    actions = rows(
        engine, "SELECT action FROM retail.activity_log WHERE entity_id = :o ORDER BY id", o=str(order_id)
    )
    assert [a["action"] for a in actions] == ["pack.start", "pack.complete"]

    queue = client.get("/api/pack/queue", headers=operator).json()
    assert order_id not in [o["order_id"] for o in queue["orders"]]
    slip = client.get(f"/console/pack/orders/{order_id}/slip", headers=operator)
    assert slip.status_code == 200 and "Sony WH-1000XM5" in slip.text and "@media print" in slip.text


def test_a_short_pick_opens_one_task_and_leaves_the_order_labelled(client, engine, floor, operator):
    order_id = floor.orders[1]
    assert client.post(f"/api/pack/orders/{order_id}/start", headers=operator).status_code == 200
    assert scan(client, operator, floor.gtins["RP-PED-DS1"], order_id).json()["outcome"] == "counted"
    empty = client.post(f"/api/pack/orders/{order_id}/short", json={"note": ""}, headers=operator)
    assert empty.status_code == 422  # a note says what happened
    short = client.post(f"/api/pack/orders/{order_id}/short", json={"note": "bin empty"}, headers=operator)
    assert short.status_code == 200, short.text
    assert [m["sku"] for m in short.json()["missing"]] == ["RP-TUN-TU3"]
    assert history(engine, order_id) == ["accepted", "label_created"]  # left where it was
    tasks = rows(
        engine, "SELECT id, kind, dedupe_key, status, entity_id, details, title FROM retail.ops_tasks"
    )
    assert len(tasks) == 1 and tasks[0]["kind"] == "short_pick" and tasks[0]["status"] == "open"
    assert tasks[0]["dedupe_key"] == f"short_pick:order:{order_id}" and tasks[0]["entity_id"] == str(order_id)
    assert tasks[0]["details"]["note"] == "bin empty" and "1× RP-TUN-TU3" in tasks[0]["title"]
    assert short.json()["ops_task_id"] == tasks[0]["id"]
    # The session ended; the order waits in the queue, flagged.
    queued = {o["order_id"]: o for o in client.get("/api/pack/queue", headers=operator).json()["orders"]}
    assert queued[order_id]["short_pick"]["task_id"] == tasks[0]["id"] and queued[order_id]["held_by"] is None
    again = client.post(f"/api/pack/orders/{order_id}/short", json={"note": "x"}, headers=operator)
    assert again.status_code == 409  # no session any more: start again first

    # Stock found: packed on a second attempt (counting from zero), the task resolves itself.
    client.post(f"/api/pack/orders/{order_id}/start", headers=operator)
    for code in ("RP-PED-DS1", "RP-TUN-TU3"):
        assert scan(client, operator, code, order_id).json()["outcome"] == "counted"
    assert client.post(f"/api/pack/orders/{order_id}/complete", headers=operator).json()["changed"]
    assert rows(engine, "SELECT status FROM retail.ops_tasks") == [{"status": "resolved"}]
    assert history(engine, order_id) == ["accepted", "label_created", "packed"]


def test_two_workers_cannot_pack_one_order_until_the_first_goes_stale(client, engine, floor, operator):
    other = {"X-API-Key": create_api_key(engine, "operator", "bench 2")}
    order_id = floor.orders[2]
    assert client.post(f"/api/pack/orders/{order_id}/start", headers=operator).status_code == 200
    assert scan(client, operator, "RP-CBL-XLR", order_id).json()["outcome"] == "counted"
    taken = client.post(f"/api/pack/orders/{order_id}/start", headers=other)
    assert taken.status_code == 409 and "is being packed by api_key:" in taken.json()["detail"]
    assert scan(client, other, "RP-CBL-XLR", order_id).status_code == 409
    assert client.post(f"/api/pack/orders/{order_id}/complete", headers=other).status_code == 409
    assert client.post(f"/api/pack/orders/{order_id}/undo", headers=other).status_code == 409

    with engine.begin() as conn:  # the first worker walked away
        conn.execute(text("UPDATE retail.pack_sessions SET last_activity_at = now() - interval '20 minutes'"))
    took = client.post(f"/api/pack/orders/{order_id}/start", headers=other)
    assert took.status_code == 200 and remaining(took.json())["RP-CBL-XLR"] == 1  # the tote came with it
    assert client.post(f"/api/pack/orders/{order_id}/start", headers=operator).status_code == 409
    assert rows(engine, "SELECT count(*) AS n FROM retail.pack_sessions")[0]["n"] == 1


def test_refusals_name_the_problem(client, engine, floor, operator, viewer):
    order_id = floor.orders[0]
    unknown = scan(client, operator, "NO-SUCH-THING")
    assert unknown.status_code == 404 and unknown.json()["detail"]["field"] == "code"
    assert client.post("/api/pack/orders/999999/start", headers=operator).status_code == 404
    assert scan(client, operator, "   ").status_code == 422
    assert (
        client.post(
            "/api/pack/scan", json={"code": "RP-1", "scan_id": "bad id!"}, headers=operator
        ).status_code
        == 422
    )
    nothing = client.post(f"/api/pack/orders/{order_id}/undo", headers=operator)
    assert nothing.status_code == 409  # not being packed
    client.post(f"/api/pack/orders/{order_id}/start", headers=operator)
    assert (
        client.post(f"/api/pack/orders/{order_id}/undo", headers=operator).status_code == 409
    )  # nothing scanned
    with engine.begin() as conn:
        from retail_pipeline_tests.seeds.ops import add_order

        accepted = add_order(conn, "BB-300", ["accepted"], lines=[("RP-KB-MX", 1, "10.00")])
    refused = client.post(f"/api/pack/orders/{accepted}/start", headers=operator)
    assert refused.status_code == 409 and "only orders with a label" in refused.json()["detail"]
    # A viewer reads but does not pack.
    assert client.get(f"/api/pack/orders/{order_id}", headers=viewer).status_code == 200
    assert client.post(f"/api/pack/orders/{order_id}/start", headers=viewer).status_code == 403
    assert scan(client, viewer, "RP-HP-XM5", order_id).status_code == 403


def test_an_operator_sets_a_products_bin(client, engine, floor, operator, viewer):
    product_id = floor.products["RP-TUN-TU3"]
    done = client.patch(
        f"/api/products/{product_id}/bin", json={"bin_location": " a-01-1 "}, headers=operator
    )
    assert done.status_code == 200 and done.json()["bin_location"] == "A-01-1"
    picks = client.get("/api/pack/queue", headers=viewer).json()["pick_list"]
    assert picks[0]["sku"] == "RP-TUN-TU3"  # A-01 now comes first
    assert (
        client.patch(
            f"/api/products/{product_id}/bin", json={"bin_location": "x" * 40}, headers=operator
        ).status_code
        == 422
    )
    assert (
        client.patch(
            f"/api/products/{product_id}/bin", json={"bin_location": "A\n1"}, headers=operator
        ).status_code
        == 422
    )
    assert (
        client.patch("/api/products/999999/bin", json={"bin_location": "A"}, headers=operator).status_code
        == 404
    )
    assert (
        client.patch(
            f"/api/products/{product_id}/bin", json={"bin_location": "B"}, headers=viewer
        ).status_code
        == 403
    )
    cleared = client.patch(f"/api/products/{product_id}/bin", json={"bin_location": ""}, headers=operator)
    assert cleared.json()["bin_location"] is None
    audit = rows(engine, "SELECT details FROM retail.activity_log WHERE action = 'product.bin' ORDER BY id")
    assert [a["details"] for a in audit] == [{"from": None, "to": "A-01-1"}, {"from": "A-01-1", "to": None}]


def test_scanning_another_label_mid_pack_switches_orders_and_keeps_the_first(client, engine, floor, operator):
    first, second = floor.orders[0], floor.orders[1]
    scan(client, operator, floor.pins[first])
    assert scan(client, operator, "RP-HP-XM5", first).json()["outcome"] == "counted"
    switched = scan(client, operator, floor.pins[second], first)  # the next parcel's label
    assert switched.json()["kind"] == "order" and switched.json()["order"]["id"] == second
    back = client.post(f"/api/pack/orders/{first}/start", headers=operator).json()
    assert remaining(back)["RP-HP-XM5"] == 0  # the first order's scans are still there


def test_concurrent_starts_and_scans_are_serialised(engine, floor):
    """Two workers starting one order at the same moment: one holds it. Two tabs scanning the last unit
    at once: one counts, the other is an over-scan."""
    from concurrent.futures import ThreadPoolExecutor

    from retail_pipeline.db import packing

    order_id = floor.orders[2]
    for label in ("bench 1", "bench 2"):
        create_api_key(engine, "operator", label)
    key_ids = [r["id"] for r in rows(engine, "SELECT id FROM retail.api_keys ORDER BY id")]

    def start(key_id: int):
        try:
            with engine.begin() as conn:
                packing.start(conn, order_id, packing.Packer(key_id=key_id, name=f"key {key_id}"))
                conn.execute(text("SELECT pg_sleep(0.2)"))  # hold the transaction open a moment
            return "held"
        except packing.Conflict:
            return "refused"

    with ThreadPoolExecutor(2) as pool:
        assert sorted(pool.map(start, key_ids)) == ["held", "refused"]
    holder = rows(engine, "SELECT api_key_id, packer FROM retail.pack_sessions")[0]
    bench = packing.Packer(key_id=holder["api_key_id"], name=holder["packer"])
    with engine.begin() as conn:
        packing.scan(conn, "RP-CBL-XLR", "one", bench, order_id=order_id)
        packing.scan(conn, "RP-HP-XM5", "two", bench, order_id=order_id)

    def last_unit(scan_id: str) -> str:
        with engine.begin() as conn:
            outcome = packing.scan(conn, "RP-CBL-XLR", scan_id, bench, order_id=order_id)["outcome"]
            conn.execute(text("SELECT pg_sleep(0.2)"))
            return outcome

    with ThreadPoolExecutor(2) as pool:
        assert sorted(pool.map(last_unit, ["tab-a", "tab-b"])) == ["counted", "over_scan"]

"""Ship-from locations and the carrier by route: a Trade Me order for stock in Auckland never gets a
Canada Post label (a hand-booked courier, tracking entered by an operator, then pushed to Trade Me);
an order whose products sit in two places is one ops task until fixed; the locations and tracking-entry
routes refuse bad input clearly."""

from __future__ import annotations

from sqlalchemy import text

from retail_pipeline.defs.fulfilment.labels import run_labels
from retail_pipeline.defs.fulfilment.tracking import run_tracking
from retail_pipeline_tests.seeds.catalog import add_product, add_supplier

from .conftest import history, insert_order, rows, shipments
from .remote import remote_tracking

AUCKLAND = {"name": "Aroha Smith", "street_1": "1 Queen St", "city": "Auckland", "zip_code": "1010",
            "country_iso_code": "NZ"}  # fmt: skip


def nz_product(engine, sku: str, supplier: str = "nzshop") -> int:
    """A product of a New Zealand supplier (stock arrives at the Auckland warehouse): its id."""
    with engine.begin() as conn:
        supplier_id = conn.scalar(text("SELECT id FROM retail.suppliers WHERE code = :c"), {"c": supplier})
        if supplier_id is None:
            supplier_id = add_supplier(conn, supplier)
            conn.execute(
                text(
                    """UPDATE retail.suppliers SET location_id =
                              (SELECT id FROM retail.locations WHERE code = 'nz_auckland') WHERE id = :id"""
                ),
                {"id": supplier_id},
            )
        return add_product(conn, supplier_id, sku)


def test_a_trade_me_order_from_auckland_ships_by_hand_then_its_tracking_reaches_trade_me(
    engine, sim, market, listed, channels, carriers, client, operator, viewer
):
    sku = "RP-2003"
    product_id = listed[sku]
    placed = client.put(
        f"/api/products/{product_id}/location", json={"location": "nz_auckland"}, headers=operator
    )
    assert placed.status_code == 200 and placed.json()["changed"] is True, placed.text
    purchase = market.buy_now("trademe", sku)
    from retail_pipeline.defs.orders.assets import sync_orders
    from retail_pipeline.domain.order_sources import Window

    sync_orders(engine, channels, "trademe", Window.day(sim.clock.now().date(), sim.clock.now()))
    order_id = rows(engine, "SELECT id FROM retail.orders WHERE external_order_id = :e", e=purchase.order_id)[
        0
    ]["id"]
    assert history(engine, order_id)[-1] == "accepted"

    for _ in range(2):  # a re-run changes nothing
        run_labels(engine, carriers)
        ship = shipments(engine)[order_id]
        assert (ship["carrier"], ship["status"], ship["tracking_pin"]) == (
            "manual",
            "awaiting_tracking",
            None,
        )
    assert sim.journal.entries("canadapost") == []  # never rated, never bought from Canada Post
    assert rows(
        engine, "SELECT l.code FROM retail.locations l WHERE l.id = :i", i=ship["origin_location_id"]
    ) == [{"code": "nz_auckland"}]
    waiting = client.get("/api/shipments/awaiting-tracking", headers=viewer).json()
    assert [(w["order_id"], w["origin"]) for w in waiting] == [(order_id, "nz_auckland")]

    entry = {"tracking_number": " nz 1234 5678 ", "carrier": "nz_post"}
    assert client.post(f"/api/orders/{order_id}/tracking", json=entry, headers=viewer).status_code == 403
    first = client.post(f"/api/orders/{order_id}/tracking", json=entry, headers=operator)
    assert first.status_code == 200 and first.json()["changed"] is True, first.text
    again = client.post(f"/api/orders/{order_id}/tracking", json=entry, headers=operator)
    assert again.status_code == 200 and again.json()["changed"] is False  # idempotent re-entry
    other = client.post(f"/api/orders/{order_id}/tracking", json={**entry, "tracking_number": "NZ999999"},
                        headers=operator)  # fmt: skip
    assert other.status_code == 409 and "already has tracking NZ12345678" in other.json()["detail"]
    ship = shipments(engine)[order_id]
    assert (ship["carrier"], ship["status"], ship["tracking_pin"]) == (
        "nz_post",
        "label_created",
        "NZ12345678",
    )
    assert ship["tracking_entered_by"].startswith("api_key:") and ship["label_path"] is None
    assert history(engine, order_id)[-2:] == ["accepted", "label_created"]

    pushed = run_tracking(engine, channels, packing_required=False)
    assert pushed.counts["shipped"] == 1, pushed.failed
    assert remote_tracking(sim, "trademe", purchase.order_id) == ["NZ12345678"]
    backend = sim.backend("trademe")
    parcel = backend.parcels[backend.sales[int(purchase.order_id)].parcel_ids[0]]
    assert parcel.courier_company == "NZ Post"
    assert history(engine, order_id)[-1] == "shipped"


def test_an_order_from_two_places_is_one_task_until_a_product_moves(engine, carriers, sim, client, operator):
    nz_product(engine, "KIWI-1")
    canadian = nz_product(engine, "MAPLE-1")
    moved = client.put(f"/api/products/{canadian}/location", json={"location": "ca_ottawa"}, headers=operator)
    assert moved.status_code == 200 and moved.json()["previous"] is None
    order_id = insert_order(engine, 1, channel="trademe", address=AUCKLAND,
                            lines=(("RP-KIWI-1", 1, "20.00"), ("RP-MAPLE-1", 1, "30.00")))  # fmt: skip
    for _ in range(2):
        result = run_labels(engine, carriers)
        assert result.counts["no_carrier"] == 1 and shipments(engine) == {}
    tasks = rows(engine, "SELECT title, occurrences, status FROM retail.ops_tasks")
    assert len(tasks) == 1 and tasks[0]["occurrences"] == 1 and tasks[0]["status"] == "open"
    assert "different locations: ca_ottawa, nz_auckland" in tasks[0]["title"]
    assert sim.journal.entries("canadapost") == []

    back = client.put(f"/api/products/{canadian}/location", json={"location": None}, headers=operator)
    assert back.json() == {"product_id": canadian, "location": None, "previous": "ca_ottawa", "changed": True}
    fixed = run_labels(engine, carriers)
    assert fixed.counts["awaiting_tracking"] == 1
    assert shipments(engine)[order_id]["status"] == "awaiting_tracking"
    assert rows(engine, "SELECT status FROM retail.ops_tasks")[0]["status"] == "resolved"


def test_locations_and_tracking_entry_refuse_bad_input(engine, carriers, client, operator, viewer):
    listed = client.get("/api/locations", headers=viewer).json()
    assert {(loc["code"], loc["country"]) for loc in listed} == {("ca_ottawa", "CA"), ("nz_auckland", "NZ")}
    new = {"code": "nz_christchurch", "name": "Christchurch", "street_1": "5 Mandeville St", "city": "Christchurch",
           "postal_code": "8011", "country": "nz"}  # fmt: skip
    assert client.post("/api/locations", json=new, headers=viewer).status_code == 403
    created = client.post("/api/locations", json=new, headers=operator)
    assert created.status_code == 201 and created.json()["country"] == "NZ", created.text
    assert client.post("/api/locations", json=new, headers=operator).status_code == 409
    assert (
        client.post(
            "/api/locations", json={**new, "code": "x1", "country": "NZL"}, headers=operator
        ).status_code
        == 422
    )
    assert (
        client.post("/api/locations", json={**new, "code": "Bad Code"}, headers=operator).status_code == 422
    )
    product = nz_product(engine, "P-1")
    unknown = client.put(f"/api/products/{product}/location", json={"location": "mars"}, headers=operator)
    assert unknown.status_code == 404 and "no location 'mars'" in unknown.json()["detail"]
    assert (
        client.put("/api/products/999999/location", json={"location": None}, headers=operator).status_code
        == 404
    )
    moved = client.put(
        "/api/suppliers/nzshop/location", json={"location": "nz_christchurch"}, headers=operator
    )
    assert moved.json() == {"supplier": "nzshop", "location": "nz_christchurch", "previous": "nz_auckland",
                            "changed": True}  # fmt: skip
    assert (
        client.put("/api/suppliers/nope/location", json={"location": None}, headers=operator).status_code
        == 404
    )

    canadian = insert_order(engine, 1)  # Canadian stock: a Canada Post label, as before
    manual = insert_order(engine, 2, channel="trademe", address=AUCKLAND, lines=(("RP-P-1", 1, "9.00"),))
    # (P-1 now ships from Christchurch, its supplier's new default: still New Zealand, still by hand)
    assert run_labels(engine, carriers).counts == {
        **dict.fromkeys(("created", "labels_created", "awaiting_tracking"), 1), "orders_new": 2,
        **dict.fromkeys(("adopted", "label_failed", "retry_later", "no_carrier"), 0),
    }  # fmt: skip
    post = client.post
    for bad in ("", "   ", "NZ 12", "NZ<script>1234", "X" * 41):
        refused = post(f"/api/orders/{manual}/tracking", json={"tracking_number": bad}, headers=operator)
        assert refused.status_code == 422, (bad, refused.text)
    assert post(f"/api/orders/{manual}/tracking", json={"tracking_number": "NZ123456", "carrier": "canada_post"},
                headers=operator).status_code == 422  # fmt: skip
    cp = post(f"/api/orders/{canadian}/tracking", json={"tracking_number": "NZ123456"}, headers=operator)
    assert cp.status_code == 409 and "tracking comes from the carrier" in cp.json()["detail"]
    assert (
        post(
            "/api/orders/999999/tracking", json={"tracking_number": "NZ123456"}, headers=operator
        ).status_code
        == 404
    )
    assert shipments(engine)[manual]["status"] == "awaiting_tracking"  # nothing valid was lost
    origin = "SELECT l.code FROM retail.shipments s JOIN retail.locations l ON l.id = s.origin_location_id WHERE s.order_id = :o"
    assert rows(engine, origin, o=manual) == [{"code": "nz_christchurch"}]
    assert rows(engine, origin, o=canadian) == [{"code": "ca_ottawa"}]
    shown = client.get(f"/api/orders/{canadian}", headers=viewer).json()["shipment"]
    assert (shown["quoted_price"], shown["quoted_currency"]) == ("13.23", "CAD")


def test_an_operator_edits_a_locations_address_and_the_next_label_carries_it(
    engine, carriers, sim, client, operator, viewer
):
    backend = sim.backend("canadapost")
    moved = {"company": "Maple Resale", "street_1": "100 Queen St W", "city": "Toronto", "region": "ON",
             "postal_code": "M5H2N2"}  # fmt: skip
    assert client.patch("/api/locations/ca_ottawa", json=moved, headers=viewer).status_code == 403
    assert client.patch("/api/locations/mars", json=moved, headers=operator).status_code == 404
    for bad in ({}, {"city": None}, {"code": "ca_toronto"}, {"country": "CAN"}, {"street_1": "x" * 45}):
        refused = client.patch("/api/locations/ca_ottawa", json=bad, headers=operator)
        assert refused.status_code == 422, (bad, refused.text)
    changed = client.patch("/api/locations/ca_ottawa", json=moved, headers=operator)
    assert changed.status_code == 200 and changed.json()["city"] == "Toronto", changed.text
    assert client.patch("/api/locations/ca_ottawa", json=moved, headers=operator).json() == changed.json()

    order = insert_order(engine, 1)  # Canadian stock ships from ca_ottawa, now in Toronto
    assert run_labels(engine, carriers).counts["labels_created"] == 1
    (remote,) = backend.shipments.values()
    assert remote.sender_lines == ["Maple Resale", "100 Queen St W", "Toronto ON M5H2N2"], remote.sender_lines

    # An inactive location ships nothing new: the next order from it is one ops task, no label.
    assert (
        client.patch("/api/locations/ca_ottawa", json={"active": False}, headers=operator).json()["active"]
        is False
    )
    waiting = insert_order(engine, 2)
    counts = run_labels(engine, carriers).counts
    assert (counts["no_carrier"], counts["labels_created"], backend.created_count()) == (1, 0, 1)
    assert waiting not in shipments(engine) and history(engine, order)[-1] == "label_created"

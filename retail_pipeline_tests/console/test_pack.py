"""Pick & pack in a real browser: a worker scans an order's label, one wrong item (refused: error state and
the error sound), the right items counting down, an undo, completes the order (packed, slip link); then a
second order is short-picked (an ops task, the order stays label_created). A viewer sees no bench."""

from __future__ import annotations

import re

from playwright.sync_api import expect
from sqlalchemy import Engine, text

from retail_pipeline_tests.seeds.packing import PackFloor, add_labelled_order, seed_shelf

CUSTOMERS = [  # channel, external id, ship to, lines
    ("bestbuy", "BB-20261206-0001", ("Jane Doe", "Toronto", "ON"), [("RP-HP-XM5", 1, "449.00"), ("RP-STR-1046", 2, "12.99")]),
    ("trademe", "5512093411", ("Aroha Ngata", "Wellington", "WGN"), [("RP-PED-DS1", 1, "99.00"), ("RP-TUN-TU3", 1, "139.00")]),
    ("ebay", "14-11982-40321", ("Marcus Chen", "Vancouver", "BC"), [("RP-CBL-XLR", 2, "59.00")]),
    ("shopify", "1042", ("Sophie Martin", "Montreal", "QC"), [("RP-MIC-SM58", 1, "149.00"), ("RP-CBL-XLR", 1, "59.00")]),
    ("reverb", "48213377", ("Tom Baker", "Calgary", "AB"), [("RP-STR-1046", 3, "12.99"), ("RP-PED-DS1", 1, "99.00")]),
    ("bestbuy", "BB-20261206-0002", ("Priya Patel", "Ottawa", "ON"), [("RP-KB-MX", 1, "139.00")]),
    ("shopify", "1043", ("Liam O'Connor", "Halifax", "NS"), [("RP-HP-XM5", 1, "449.00"), ("RP-MIC-SM58", 1, "149.00")]),
]  # fmt: skip


def seed(engine: Engine) -> PackFloor:
    with engine.begin() as conn:
        floor = seed_shelf(conn)
        for channel, external, (name, city, state), lines in CUSTOMERS:
            address = {"name": name, "street_1": "12 Harbour St", "city": city, "state": state,
                       "zip_code": "M5V 2T6", "country_iso_code": "CA"}  # fmt: skip
            add_labelled_order(conn, floor, external, lines, channel=channel, address=address)
    return floor


def status_of(engine: Engine, order_id: int) -> str:
    with engine.connect() as conn:
        return conn.scalar(text("SELECT current_status FROM retail.orders WHERE id = :o"), {"o": order_id})


def scan(page, code: str) -> None:
    scanner = page.locator("#scanner")
    expect(scanner).to_be_focused()  # the scanner never loses the keyboard
    scanner.fill(code)
    scanner.press("Enter")


def left(page, sku: str):
    return page.locator(f'#bench-lines tr[data-sku="{sku}"] td.left')


def test_pick_and_pack_with_a_wrong_scan_an_undo_and_a_short_pick(signed_in, engine, screenshot):
    floor = seed(engine)
    first, second = floor.orders[0], floor.orders[1]
    page = signed_in("operator", label="Sam (warehouse)")
    page.goto("/console/pack")
    bins = page.locator("#pick-list tbody tr td:first-child")
    expect(bins.first).to_have_text("A-02-1")  # the walk starts at the first bin
    expect(bins.last).to_have_text("no bin")

    scan(page, floor.pins[first])  # the label on the parcel
    expect(page.locator("#bench-title")).to_contain_text(f"Order #{first}")
    expect(left(page, "RP-STR-1046")).to_have_text("2")

    scan(page, floor.gtins["RP-PED-DS1"])  # a pedal: not in this order
    status = page.locator("#scan-status")
    expect(status).to_have_class(re.compile(r"\berror\b"))
    expect(status).to_contain_text("Wrong item")
    expect(page.locator("#bench")).to_have_class(re.compile(r"state-error"))
    assert page.evaluate("document.body.dataset.lastSound") == "error"

    scan(page, floor.gtins["RP-HP-XM5"])
    expect(status).to_have_class(re.compile(r"\bok\b"))
    assert page.evaluate("document.body.dataset.lastSound") == "ok"
    expect(left(page, "RP-HP-XM5")).to_have_text("0")
    scan(page, "RP-STR-1046")
    expect(left(page, "RP-STR-1046")).to_have_text("1")
    page.reload()  # the session is the server's: a reload resumes the order where it was
    expect(page.locator("#scan-status")).to_contain_text(f"Resumed order #{first}")
    expect(left(page, "RP-STR-1046")).to_have_text("1")
    expect(page.locator(f'.queue-row[data-order-id="{first}"]')).to_contain_text("packing: Sam (warehouse)")
    screenshot(page, "pack")
    page.get_by_role("button", name="Undo last scan").click()
    expect(left(page, "RP-STR-1046")).to_have_text("2")  # taken back
    expect(page.get_by_role("button", name="Complete order")).to_be_disabled()
    scan(page, "RP-STR-1046")
    scan(page, floor.gtins["RP-STR-1046"])
    expect(status).to_contain_text("All items scanned")
    page.get_by_role("button", name="Complete order").click()
    expect(page.get_by_role("link", name="Print packing slip")).to_be_visible()
    expect(page.locator(f'.queue-row[data-order-id="{first}"]')).to_have_count(0)
    assert status_of(engine, first) == "packed"

    # The slip prints.
    slip = page.context.new_page()
    slip.goto(f"/console/pack/orders/{first}/slip")
    expect(slip.locator("#slip")).to_contain_text("Sony WH-1000XM5")
    expect(slip.locator("#slip")).to_contain_text("Jane Doe")
    slip.close()

    # Next order: the tuner is not in its bin.
    page.locator(f'.queue-row[data-order-id="{second}"]').click()
    expect(page.locator("#bench-title")).to_contain_text(f"Order #{second}")
    scan(page, "RP-PED-DS1")
    expect(left(page, "RP-PED-DS1")).to_have_text("0")
    page.get_by_role("button", name="Short pick…").click()
    page.get_by_label("What is missing, and where did you look?").fill("TU-3 bin empty, checked overflow")
    page.get_by_role("button", name="Report short pick").click()
    expect(status).to_contain_text("Short pick reported")
    assert status_of(engine, second) == "label_created"  # left where it was
    with engine.connect() as conn:
        task = conn.execute(text("SELECT kind, status, details FROM retail.ops_tasks")).one()
    assert (task.kind, task.status, task.details["note"]) == (
        "short_pick",
        "open",
        "TU-3 bin empty, checked overflow",
    )
    page.reload()
    expect(page.locator(f'.queue-row[data-order-id="{second}"]')).to_contain_text("short")

    # Live: a label bought while the worker is on the page is announced, not pushed under their hands.
    expect(page.locator("body")).to_have_attribute("data-live", "ready")
    waiting = int(page.locator("#kpi-waiting").inner_text())
    with engine.begin() as conn:
        add_labelled_order(conn, floor, "BB-20261206-0099", [("RP-KB-MX", 1, "139.00")])
    expect(page.locator("#new-labels")).to_have_text("1 new to pack")
    expect(page.locator("#kpi-waiting")).to_have_text(str(waiting + 1))


def test_a_viewer_reads_the_pick_list_but_has_no_bench(signed_in, engine):
    seed(engine)
    page = signed_in("viewer")
    page.goto("/console/pack")
    expect(page.locator("#pick-list")).to_be_visible()
    expect(page.locator("#scanner")).to_have_count(0)
    expect(page.locator("#bench")).to_contain_text("needs an operator key")


def test_a_hand_booked_parcels_tracking_number_is_entered_on_the_pack_screen(signed_in, engine):
    from retail_pipeline_tests.seeds.ops import add_order

    with engine.begin() as conn:  # as shipping_labels leaves an order shipping from Auckland
        order_id = add_order(conn, "5512093499", ["accepted"], channel="trademe", lines=[("RP-X", 1, "9.00")],
                             shipping_address={"name": "Aroha Ngata", "city": "Wellington", "country_iso_code": "NZ"})  # fmt: skip
        conn.execute(
            text(
                """INSERT INTO retail.shipments (order_id, carrier, service_code, status, origin_location_id)
                   SELECT :o, 'manual', 'courier', 'awaiting_tracking', id FROM retail.locations
                    WHERE code = 'nz_auckland'"""
            ),
            {"o": order_id},
        )
    page = signed_in("operator")
    page.goto("/console/pack")
    row = page.locator(f'#awaiting-tracking tr[data-order-id="{order_id}"]')
    expect(row).to_contain_text("Auckland warehouse")
    row.get_by_label(f"Tracking number for order {order_id}").fill("ee 123 456 789 nz")
    row.get_by_role("button", name="Save").click()
    expect(row.locator(".tracking-result")).to_have_text("Saved EE123456789NZ: the order is ready to pack.")
    assert status_of(engine, order_id) == "label_created"

"""Home, Inbox and Orders in a real browser: the charts over a realistic fortnight, a task resolved with a
note, a command retried, live updates arriving without a reload, an order's detail with its label."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect
from sqlalchemy import Engine, text

from retail_pipeline.db.ops_tasks import open_task
from retail_pipeline_tests.seeds.console_ops import seed_console_ops
from retail_pipeline_tests.seeds.ops import add_conversation, add_order


@pytest.fixture
def fortnight(engine: Engine, settings_env) -> dict:
    return seed_console_ops(engine, settings_env.data_dir)


def test_home_shows_kpis_and_charts(signed_in, fortnight, screenshot):
    page = signed_in("viewer")
    page.goto("/console")
    expect(page.locator('[data-kpi="orders"] .value')).to_have_text(re.compile(r"^\d+$"))
    assert int(page.locator('[data-kpi="orders"] .value').inner_text()) == len(fortnight["orders"])
    expect(page.locator('svg[aria-label="Orders per day by channel"] rect')).not_to_have_count(0)
    screenshot(page, "home")


def test_inbox_resolves_retries_and_updates_live(signed_in, fortnight, engine, screenshot):
    page = signed_in("operator")
    page.goto("/console/inbox")
    expect(page.locator("body")).to_have_attribute("data-live", "ready")  # the stream is listening
    open_before = int(page.locator("#open-count").inner_text())

    # Resolve a task with a note: gone from the page, resolved in the database, the note in the log.
    label_task = fortnight["tasks"]["label_failed"]
    row = page.locator(f'tr[data-task-id="{label_task}"]')
    expect(row).to_contain_text("postal code M5H 2N does not match")
    row.get_by_label(f"Note for task {label_task}").fill("Fixed the address with the buyer")
    row.get_by_role("button", name="Resolve").click()
    expect(row).to_have_count(0)
    with engine.connect() as conn:
        assert (
            conn.scalar(text("SELECT status FROM retail.ops_tasks WHERE id = :id"), {"id": label_task})
            == "resolved"
        )
        note = conn.scalar(
            text("SELECT details ->> 'note' FROM retail.activity_log WHERE action = 'ops_task.resolve'")
        )
    assert note == "Fixed the address with the buyer"

    # A failed run links to its Dagster run page; a command that needs a person is retried.
    run_link = page.locator(f'tr[data-task-id="{fortnight["tasks"]["run_failure"]}"] a[data-run-link]')
    expect(run_link).to_have_attribute("href", re.compile(r"/runs/3f9c2a1e-5b7d-4c2e-9a61-0d4e8b7f1a23$"))
    command = page.locator(f'[data-command-id="{fortnight["command"]}"]')
    command.get_by_role("button", name="Retry").click()
    expect(command).to_contain_text(re.compile(r"Queued again as command #\d+"))
    # ... and its task, resolved by the retry, leaves the page through the live stream.
    expect(page.locator(f'tr[data-task-id="{fortnight["tasks"]["command_human_required"]}"]')).to_have_count(
        0
    )

    # Live: a task, an order and a message written by someone else appear without a reload.
    with engine.begin() as conn:
        open_task(conn, kind="tracking_failed", key="order:99", severity="critical",
                  title="Tracking for RV-24301 refused by Reverb: shipment already marked")  # fmt: skip
    new_task = page.locator('.task-group[data-kind="tracking_failed"] tr.task')
    expect(new_task).to_contain_text("Tracking for RV-24301 refused by Reverb")
    expect(new_task.get_by_role("button", name="Resolve")).to_be_visible()
    with engine.begin() as conn:
        add_order(conn, "BB-99001", ["pending_acceptance"], channel="bestbuy")
        conversation = add_conversation(conn, "T-live", inbound_at=None)
        conn.execute(
            text(
                "INSERT INTO retail.messages (conversation_id, direction, author_type, body)"
                " VALUES (:c, 'inbound', 'customer', 'Can I change the delivery address?')"
            ),
            {"c": conversation},
        )
    expect(page.locator("#feed")).to_contain_text("New bestbuy order BB-99001")
    expect(page.locator("#feed")).to_contain_text("Can I change the delivery address?")
    expect(page.locator("#toasts")).to_contain_text("BB-99001")
    expect(page.locator("#open-count")).to_have_text(str(open_before - 2 + 1))  # resolved, retried, new
    page.evaluate("document.getElementById('toasts').replaceChildren()")  # transient: not in the picture
    screenshot(page, "inbox")


def test_orders_list_filters_live_and_detail_with_label(signed_in, fortnight, engine, screenshot):
    page = signed_in("operator")
    page.goto("/console/orders")
    expect(page.locator("body")).to_have_attribute("data-live", "ready")
    rows = page.locator("#orders tbody tr")
    expect(rows).to_have_count(50)  # one page; older ones behind the keyset link
    expect(page.locator("#older")).to_be_visible()

    # A new order arrives without a reload, at the top.
    with engine.begin() as conn:
        add_order(conn, "RV-88888", ["pending_acceptance"], channel="reverb", currency="USD")
    expect(rows.first).to_contain_text("RV-88888")
    page.evaluate("document.getElementById('toasts').replaceChildren()")
    screenshot(page, "orders")

    # Filter by channel and search by SKU: the form's query drives the same list function.
    page.get_by_label("Channel").select_option("reverb")
    page.get_by_role("button", name="Filter").click()
    expect(page).to_have_url(re.compile(r"channel=reverb"))
    expect(page.get_by_label("Channel")).to_have_value("reverb")
    channels = page.locator("#orders tbody tr td:nth-child(2)").all_inner_texts()
    assert channels and set(channels) == {"reverb"}
    page.get_by_label("Search").fill("RP-1002")  # the Stratocaster's SKU
    page.get_by_role("button", name="Filter").click()
    expect(rows.first).to_be_visible()
    with engine.connect() as conn:
        expected = conn.scalar(
            text(
                "SELECT count(DISTINCT o.id) FROM retail.orders o JOIN retail.order_lines l ON l.order_id = o.id"
                " WHERE o.channel = 'reverb' AND l.sku = 'RP-1002'"
            )
        )
    expect(rows).to_have_count(expected)

    # The detail: lines, address, timeline, the label PDF and a reprint.
    order_id = fortnight["shipped_order"]
    page.goto(f"/console/orders/{order_id}")
    expect(page.locator("#timeline li")).to_have_count(4)
    expect(page.locator("#timeline")).to_contain_text("shipped")
    expect(page.locator("#timeline li").first).to_contain_text("after the order")
    expect(page.locator("#timeline li").nth(1)).to_contain_text(re.compile(r"\+\d+ (s|min)"))
    expect(page.locator("#address")).to_contain_text("Queen Street")
    label = page.locator("#label-link")
    first_href = label.get_attribute("href")
    pdf = page.request.get(first_href)
    assert pdf.status == 200 and pdf.headers["content-type"] == "application/pdf"
    assert pdf.body().startswith(b"%PDF")
    page.get_by_role("button", name="Reprint").click()
    expect(page.locator("#label-expiry")).to_contain_text("Reprint ready")
    assert page.request.get(label.get_attribute("href")).body() == pdf.body()  # the same stored label
    with engine.connect() as conn:
        assert (
            conn.scalar(
                text("SELECT count(*) FROM retail.activity_log WHERE action = 'shipment.label_reprint'")
            )
            == 1
        )
        assert (
            conn.scalar(text("SELECT count(*) FROM retail.shipments WHERE order_id = :id"), {"id": order_id})
            == 1
        )
    page.reload()
    screenshot(page, "order")

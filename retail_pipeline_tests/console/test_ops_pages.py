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

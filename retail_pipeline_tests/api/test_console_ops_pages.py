"""Inbox and Orders pages over HTTP (the browser tests cover the flows): roles, escaping, errors."""

from __future__ import annotations

from sqlalchemy import Engine

from retail_pipeline.db.ops_tasks import open_task
from retail_pipeline_tests.seeds.ops import add_order

MARKUP = '<img src=x onerror="alert(1)">'


def test_the_inbox_renders_task_text_inert_and_actions_only_for_operators(
    client, viewer, operator, engine: Engine
):
    with engine.begin() as conn:
        task = open_task(conn, kind="scrape_error", key="x", title=f"Supplier page said {MARKUP}")
        open_task(conn, kind="run_failure", key="run-1", title="Run failed", run_id="0f1e2d3c-aaaa")
        open_task(
            conn,
            kind="publish_failed",
            key="p-1",
            title="Browser step failed",
            details={"trace": "traces/site/step.zip"},
        )  # a kept browser trace: linked, signed
        open_task(
            conn, kind="publish_failed", key="p-2", title="Odd trace", details={"trace": "../etc/passwd"}
        )

    seen_by_viewer = client.get("/console/inbox", headers=viewer)
    assert seen_by_viewer.status_code == 200
    assert MARKUP not in seen_by_viewer.text
    assert "Supplier page said &lt;img src=x onerror=&#34;alert(1)&#34;&gt;" in seen_by_viewer.text
    assert (
        f'data-task-id="{task}"' in seen_by_viewer.text and 'data-action="resolve"' not in seen_by_viewer.text
    )
    assert 'href="http://127.0.0.1:3000/runs/0f1e2d3c-aaaa"' in seen_by_viewer.text
    assert 'href="/media/traces/site/step.zip?expires=' in seen_by_viewer.text
    assert seen_by_viewer.text.count('class="trace"') == 1  # a path the media route refuses: no link

    seen_by_operator = client.get("/console/inbox", headers=operator)
    assert 'data-action="resolve"' in seen_by_operator.text


def test_orders_pages_for_viewers_and_a_missing_order(client, viewer, engine: Engine):
    with engine.begin() as conn:
        order = add_order(conn, f"BB-{MARKUP}", ["accepted"], lines=[("RP-1", 1, "10.00")])
    listing = client.get("/console/orders", headers=viewer)
    assert (
        listing.status_code == 200
        and f'data-order-id="{order}"' in listing.text
        and MARKUP not in listing.text
    )
    detail = client.get(f"/console/orders/{order}", headers=viewer)
    assert detail.status_code == 200 and "No shipment yet." in detail.text
    assert 'id="reprint"' not in detail.text  # a viewer reads; only an operator reprints
    missing = client.get("/console/orders/999999", headers={**viewer, "Accept": "text/html"})
    assert missing.status_code == 404 and "no order with id 999999" in missing.text
    bad = client.get("/console/orders", params={"channel": "etsy"}, headers={**viewer, "Accept": "text/html"})
    assert bad.status_code == 422

"""GET /ops/summary: exact KPIs from retail.kpi_counts, kept right through inserts, updates, deletes,
truncates and compaction, and seeded correctly when 003 is applied to a database that has data."""

from __future__ import annotations

import shutil
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import Engine, text

from retail_pipeline.api import kpis
from retail_pipeline.db import migrations
from retail_pipeline.db.admin import create_database, drop_database
from retail_pipeline.db.engine import get_engine
from retail_pipeline.db.urls import with_database
from retail_pipeline.settings import PROJECT_ROOT
from retail_pipeline_tests.seeds.catalog import add_listing, add_product, add_supplier
from retail_pipeline_tests.seeds.ops import add_command, add_order

# Ground truth straight from the tables, to hold the counters to.
TRUTH = text(
    """
    SELECT (SELECT count(*) FROM retail.supplier_products) AS supplier_products,
           (SELECT count(*) FROM retail.supplier_products WHERE removed_at IS NULL) AS active,
           (SELECT count(*) FROM retail.products) AS products,
           (SELECT count(*) FROM retail.validation_results WHERE passed) AS passed,
           (SELECT count(*) FROM retail.channel_listings) AS listings,
           (SELECT count(*) FROM retail.orders) AS orders,
           (SELECT count(*) FROM retail.operator_commands) AS commands
    """
)


def _seed(conn, now: datetime) -> dict[str, int]:
    supplier = add_supplier(conn, "onecheq")
    products = [add_product(conn, supplier, f"S{i}", images=0) for i in range(4)]
    add_product(conn, supplier, "F1", status="failed", title=None, images=0)
    add_product(conn, supplier, "R1", removed=True, images=0)
    for product_id, passed in zip(products[:3], (True, True, False), strict=True):
        conn.execute(
            text(
                "INSERT INTO retail.validation_results (product_id, passed, failed_rules, rules_version, input_hash)"
                " VALUES (:p, :passed, :rules, 'r1', 'h')"
            ),
            {"p": product_id, "passed": passed, "rules": [] if passed else ["no_image"]},
        )
    add_listing(conn, products[0], "trademe", "live")
    add_listing(conn, products[1], "trademe", "live")
    add_listing(conn, products[2], "trademe", "withdrawn")
    add_listing(conn, products[0], "ebay", "live")
    for status in ("queued", "queued", "succeeded", "human_required"):
        add_command(conn, status)

    today, yesterday = now, now - timedelta(days=1, hours=1)
    add_order(conn, "A", [("pending_acceptance", None)], placed_at=today, total=Decimal("10.50"))
    add_order(
        conn, "B", [("pending_acceptance", None), ("accepted", None)], placed_at=today, total=Decimal("20.25")
    )
    add_order(conn, "C", [("accepted", None), ("shipped", None)], placed_at=yesterday)
    add_order(conn, "D", [], channel="trademe", currency="NZD", placed_at=today, total=Decimal("5.00"))
    return {"supplier": supplier, "product": products[3]}


@pytest.fixture
def seeded(engine: Engine) -> dict[str, int]:
    now = datetime.now(UTC).replace(hour=12)  # midday UTC: "yesterday" is yesterday in UTC
    with engine.begin() as conn:
        return _seed(conn, now)


def _summary(client, headers, **params) -> dict:
    response = client.get("/ops/summary", headers=headers, params=params)
    assert response.status_code == 200, response.text
    return response.json()


def _truth(engine: Engine) -> dict[str, int]:
    with engine.connect() as conn:
        return dict(conn.execute(TRUTH).one()._mapping)


def _matches_truth(body: dict, truth: dict[str, int]) -> None:
    vault = body["product_vault"]
    assert vault["supplier_products"] == truth["supplier_products"]
    assert vault["supplier_products_active"] == truth["active"]
    assert vault["products"]["total"] == truth["products"]
    assert vault["validation"]["passed"] == truth["passed"]
    assert body["listings"]["total"] == truth["listings"]
    assert body["orders"]["total"] == truth["orders"]
    assert body["commands"]["total"] == truth["commands"]


def test_summary_numbers_are_exact(client, viewer, seeded, engine):
    body = _summary(client, viewer)

    assert body["commands"] == {
        "total": 4,
        "by_status": {"queued": 2, "running": 0, "succeeded": 1, "failed": 0, "human_required": 1},
    }
    assert body["product_vault"] == {
        "supplier_products": 6,
        "supplier_products_active": 5,
        "products": {"total": 6, "by_status": {"enriched": 5, "failed": 1, "blocked": 0}},
        "validation": {"passed": 2, "failed": 1},
    }
    listings = body["listings"]
    assert listings["total"] == 4
    assert listings["by_status"] == {
        "pending": 0,
        "live": 3,
        "withdrawn": 1,
        "sold": 0,
        "ended": 0,
        "failed": 0,
    }
    assert listings["by_channel"] == {"ebay": {"live": 1}, "trademe": {"live": 2, "withdrawn": 1}}
    orders = body["orders"]
    assert orders["total"] == 4
    assert {k: v for k, v in orders["by_status"].items() if v} == {
        "pending_acceptance": 1,
        "accepted": 1,
        "shipped": 1,
        "none": 1,
    }
    assert orders["by_status"]["delivered"] == 0
    assert orders["by_channel"] == {
        "bestbuy": {"accepted": 1, "pending_acceptance": 1, "shipped": 1},
        "trademe": {"none": 1},
    }
    assert body["sales_today"] == {
        "date": datetime.now(UTC).date().isoformat(),
        "timezone": "UTC",
        "orders": 3,
        "by_currency": {"CAD": {"orders": 2, "total": "30.75"}, "NZD": {"orders": 1, "total": "5.00"}},
    }
    _matches_truth(body, _truth(engine))


def test_counts_follow_updates_deletes_and_truncates(client, viewer, seeded, engine):
    with engine.begin() as conn:
        conn.execute(
            text(
                "UPDATE retail.supplier_products SET removed_at = now() WHERE removed_at IS NULL AND sku = 'S0'"
            )
        )
        conn.execute(
            text("UPDATE retail.products SET status = 'blocked', error = 'blocked' WHERE sku = 'RP-S1'")
        )
        conn.execute(text("UPDATE retail.products SET title = 'Renamed' WHERE sku = 'RP-S2'"))  # no key moved
        conn.execute(text("DELETE FROM retail.validation_results WHERE passed"))
        conn.execute(text("UPDATE retail.channel_listings SET actual_state = 'sold' WHERE channel = 'ebay'"))
        order_id = conn.scalar(text("SELECT id FROM retail.orders WHERE external_order_id = 'C'"))
        conn.execute(
            text("INSERT INTO retail.order_status_history (order_id, status) VALUES (:id, 'delivered')"),
            {"id": order_id},
        )
        conn.execute(text("TRUNCATE retail.operator_commands CASCADE"))

    body = _summary(client, viewer)

    assert body["product_vault"]["supplier_products_active"] == 4
    assert body["product_vault"]["products"]["by_status"] == {"enriched": 4, "failed": 1, "blocked": 1}
    assert body["product_vault"]["validation"] == {"passed": 0, "failed": 1}
    assert body["listings"]["by_channel"]["ebay"] == {"sold": 1}
    assert body["orders"]["by_channel"]["bestbuy"] == {"accepted": 1, "delivered": 1, "pending_acceptance": 1}
    assert body["commands"]["total"] == 0
    _matches_truth(body, _truth(engine))


def test_compaction_folds_deltas_and_keeps_the_numbers(client, viewer, seeded, engine, monkeypatch):
    before = _summary(client, viewer)
    with engine.connect() as conn:
        rows_before = conn.scalar(text("SELECT count(*) FROM retail.kpi_counts"))
        keys = conn.scalar(
            text(
                "SELECT count(*) FROM (SELECT 1 FROM retail.kpi_counts GROUP BY metric, dim1, dim2"
                " HAVING sum(n) <> 0) k"
            )
        )
    assert rows_before > keys  # every statement above added its own delta rows; keys at 0 are dropped

    monkeypatch.setattr(kpis, "KPI_COMPACT_AFTER_ROWS", 0)
    during = _summary(client, viewer)  # TestClient runs the background compaction before returning

    with engine.connect() as conn:
        assert conn.scalar(text("SELECT count(*) FROM retail.kpi_counts")) == keys
    after = _summary(client, viewer)
    strip = lambda body: {k: v for k, v in body.items() if k != "generated_at"}  # noqa: E731
    assert strip(before) == strip(during) == strip(after)


def test_today_follows_the_requested_time_zone(client, viewer, engine):
    auckland = ZoneInfo("Pacific/Auckland")
    local_midnight = datetime.now(auckland).replace(hour=0, minute=0, second=0, microsecond=0)
    with engine.begin() as conn:
        add_order(conn, "early", [], currency="NZD", placed_at=local_midnight + timedelta(minutes=1))
        add_order(conn, "late", [], currency="NZD", placed_at=local_midnight - timedelta(minutes=1))

    body = _summary(client, viewer, tz="Pacific/Auckland")

    assert body["sales_today"]["date"] == local_midnight.date().isoformat()
    assert body["sales_today"]["orders"] == 1
    assert client.get("/ops/summary", headers=viewer, params={"tz": "Mars/Olympus"}).status_code == 422


def test_summary_needs_a_viewer_key(client):
    assert client.get("/ops/summary").status_code == 403
    assert client.get("/ops/summary", headers={"X-API-Key": "rp_00000000_nope"}).status_code == 401


def test_migration_seeds_the_counts_from_existing_rows(pg_server_url, tmp_path):
    """003 applied to a database that already has data starts from exact counts."""
    only_001 = tmp_path / "sql"
    only_001.mkdir()
    shutil.copy(PROJECT_ROOT / "sql" / "001_business_schema.sql", only_001)
    name = f"rp_seed_{datetime.now().strftime('%H%M%S%f')}"
    create_database(pg_server_url, name)
    url = with_database(pg_server_url, name)
    try:
        migrations.migrate(url, only_001)
        engine = get_engine(url)
        with engine.begin() as conn:
            _seed(conn, datetime.now(UTC))
        migrations.migrate(url, PROJECT_ROOT / "sql")
        with engine.connect() as conn:
            summary, _ = kpis.build_summary(conn)
        truth = _truth(engine)
        assert summary.product_vault.supplier_products == truth["supplier_products"] == 6
        assert summary.orders.total == truth["orders"] == 4
        assert summary.orders.by_status["none"] == 1
        assert summary.listings.total == truth["listings"] == 4
        assert summary.commands.by_status["queued"] == 2
        engine.dispose()
    finally:
        drop_database(pg_server_url, name)

"""GET /api/kpis/home: the Home page's numbers, checked against rows written by hand."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

from sqlalchemy import Engine, text

from retail_pipeline_tests.seeds.catalog import add_listing, add_product, add_supplier
from retail_pipeline_tests.seeds.ops import add_order, add_task


def test_home_kpis_count_what_the_tables_hold(client, viewer, engine: Engine):
    now = datetime.now(UTC)
    today_noon = now.replace(hour=0, minute=0, second=0, microsecond=0) + timedelta(minutes=1)
    with engine.begin() as conn:
        a = add_order(
            conn, "BB-1", ["accepted"], channel="bestbuy", total=Decimal("100.00"), placed_at=today_noon
        )
        add_order(
            conn, "BB-2", ["label_created"], channel="bestbuy", total=Decimal("50.50"), placed_at=today_noon
        )
        b = add_order(conn, "RV-1", ["shipped"], channel="reverb", currency="USD", total=Decimal("20.00"),
                      placed_at=now - timedelta(days=3))  # fmt: skip
        add_order(
            conn, "RV-old", ["shipped"], channel="reverb", placed_at=now - timedelta(days=30)
        )  # outside
        for order_id, hours in ((a, 10), (b, 30)):
            conn.execute(
                text(
                    "INSERT INTO retail.shipments (order_id, status, tracking_pin, label_path, shipped_at)"
                    " SELECT id, 'shipped', 'PIN' || id, 'labels/x.pdf', placed_at + make_interval(hours => :h)"
                    "   FROM retail.orders WHERE id = :id"
                ),
                {"id": order_id, "h": hours},
            )
        supplier = add_supplier(conn, "onecheq")
        for n in range(3):
            product = add_product(conn, supplier, f"S{n}")
            add_listing(conn, product, "trademe", "live")
        add_listing(conn, product, "ebay", "withdrawn")
        conn.execute(
            text("UPDATE retail.products SET prompt_tokens = 1000, completion_tokens = 500, llm_attempts = 1")
        )
        add_task(conn, "label_failed", "k1")
        add_task(conn, "label_failed", "k2", status="acknowledged")
        add_task(conn, "scrape_error", "k3", status="resolved")

    assert client.get("/api/kpis/home").status_code == 403
    response = client.get("/api/kpis/home", headers=viewer)
    assert response.status_code == 200, response.text
    k = response.json()
    assert len(k["days"]) == 14 and k["days"][-1] == now.date().isoformat()
    assert (k["orders_total"], k["orders_today"]) == (3, 2)
    assert k["revenue"] == {"CAD": "150.50", "USD": "20.00"}
    assert k["orders_by_day"][-1]["by_channel"] == {"bestbuy": 2}
    assert k["awaiting_shipment"] == 2  # accepted + label_created
    fulfilment = k["fulfilment"]
    assert fulfilment["shipped"] == 2 and fulfilment["p50_hours"] == 20.0 and fulfilment["p95_hours"] == 29.0
    assert k["live_listings"] == {"trademe": 3}
    assert k["open_tasks"] == {"label_failed": 2}
    llm = k["llm"]
    assert (llm["products"], llm["prompt_tokens"], llm["completion_tokens"]) == (3, 3000, 1500)
    assert Decimal(llm["spend_usd"]) == Decimal("0.0014")  # 3000 x 0.15/M + 1500 x 0.60/M
    assert client.get("/api/kpis/home", params={"days": 0}, headers=viewer).status_code == 422


def test_the_home_page_renders_the_same_numbers(client, viewer, engine: Engine):
    with engine.begin() as conn:
        add_order(conn, "BB-9", ["accepted"])
    page = client.get("/console", headers=viewer)
    assert page.status_code == 200
    assert (
        '<div class="kpi" data-kpi="orders"><div class="label">Orders, 14 days</div><div class="value">1</div>'
        in page.text
    )
    assert 'aria-label="Orders per day by channel"' in page.text


DAILY = text("SELECT metric, day, dim, sum(n) AS n FROM retail.kpi_daily GROUP BY 1, 2, 3 HAVING sum(n) <> 0")
TRUTH = text(
    """
    SELECT 'orders' AS metric, CAST(placed_at AT TIME ZONE 'UTC' AS date) AS day, channel || ' ' || currency AS dim,
           CAST(count(*) AS numeric) AS n FROM retail.orders GROUP BY 2, 3
    UNION ALL
    SELECT 'revenue', CAST(placed_at AT TIME ZONE 'UTC' AS date), channel || ' ' || currency, sum(total)
      FROM retail.orders GROUP BY 2, 3 HAVING sum(total) <> 0
    """
)


def test_kpi_daily_follows_inserts_updates_and_deletes_and_folds(engine: Engine):
    def daily(conn):
        return sorted(tuple(r) for r in conn.execute(DAILY) if r.metric in ("orders", "revenue"))

    def truth(conn):
        return sorted(tuple(r) for r in conn.execute(TRUTH))

    with engine.begin() as conn:
        now = datetime.now(UTC)
        a = add_order(conn, "A", ["accepted"], total=Decimal("10.00"), placed_at=now)
        add_order(conn, "B", ["accepted", "shipped"], channel="reverb", currency="USD", total=Decimal("5.25"),
                  placed_at=now - timedelta(days=2))  # fmt: skip
        assert daily(conn) == truth(conn) and len(daily(conn)) == 4
        # Moved to another day and re-priced; a status change alone writes no delta.
        before = conn.scalar(text("SELECT count(*) FROM retail.kpi_daily"))
        conn.execute(
            text("INSERT INTO retail.order_status_history (order_id, status) VALUES (:id, 'label_created')"),
            {"id": a},
        )
        assert conn.scalar(text("SELECT count(*) FROM retail.kpi_daily")) == before
        conn.execute(
            text(
                "UPDATE retail.orders SET total = 12.50, placed_at = placed_at - interval '3 days' WHERE id = :id"
            ),
            {"id": a},
        )
        assert daily(conn) == truth(conn)
        folded = conn.scalar(text("SELECT retail.compact_kpi_daily()"))
        assert folded > conn.scalar(text("SELECT count(*) FROM retail.kpi_daily"))  # deltas folded
        assert daily(conn) == truth(conn)


def test_a_shipment_carries_its_orders_placed_at(engine: Engine):
    placed = datetime(2026, 11, 2, 9, 30, tzinfo=UTC)
    with engine.begin() as conn:
        order_id = add_order(conn, "P-1", ["accepted"], placed_at=placed)
        conn.execute(text("INSERT INTO retail.shipments (order_id) VALUES (:id)"), {"id": order_id})
        assert conn.scalar(text("SELECT order_placed_at FROM retail.shipments")) == placed

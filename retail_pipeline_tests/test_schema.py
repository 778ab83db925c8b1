"""The business schema (sql/001_business_schema.sql) keeps the promises of ARCHITECTURE §5.

Uses the ``db_url`` fixture: a fresh database with every migration in sql/ applied. Keys are made
unique per test, so the tests also hold if a database is shared.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

CHECK_VIOLATION = "23514"
UNIQUE_VIOLATION = "23505"

CONTRACT_TABLES = [
    "suppliers",
    "supplier_products",
    "media_assets",
    "products",
    "validation_results",
    "listing_drafts",
    "channel_listings",
    "price_history",
    "sync_events",
    "orders",
    "order_lines",
    "order_status_history",
    "shipments",
    "customers",
    "conversations",
    "messages",
    "webhook_events",
    "import_jobs",
    "operator_commands",
    "ops_tasks",
    "api_keys",
    "activity_log",
]

# Columns that outside checks and SQL users rely on by name, plus the ones the issues fill.
CONTRACT_COLUMNS = {
    "supplier_products": [
        "supplier_id",
        "sku",
        "content_hash",
        "first_seen_at",
        "last_seen_at",
        "removed_at",
        "raw",
        "price",
        "currency",
        "stock_quantity",
        "availability",
        "condition",
        "url",
        "images",
    ],
    "media_assets": ["sha256", "rel_path", "content_type", "bytes", "source_url"],
    "products": [
        "supplier_product_id",
        "input_hash",
        "model",
        "prompt_version",
        "quality_score",
        "enricher",
        "title",
        "attributes",
        "prompt_tokens",
        "completion_tokens",
    ],
    "channel_listings": [
        "channel",
        "external_listing_id",
        "sku",
        "desired_price",
        "actual_price",
        "desired_state",
        "actual_state",
    ],
    "orders": ["channel", "external_order_id", "created_at"],
    "order_status_history": ["order_id", "status", "created_at"],
    "shipments": ["order_id", "tracking_pin", "label_path"],
    "webhook_events": [
        "dedupe_key",
        "payload",
        "headers",
        "signature_valid",
        "error",
        "received_at",
        "processed_at",
    ],
    "import_jobs": ["total_items", "processed_items", "failed_items", "errors"],
    "operator_commands": ["command_type", "status", "payload", "dry_run"],
    "api_keys": ["key_hash", "prefix", "role", "label", "created_at", "revoked_at", "last_used_at"],
    "order_current_status": ["order_id", "status"],
}


@pytest.fixture
def engine(db_url: str) -> Iterator[Engine]:
    eng = sa.create_engine(db_url)
    try:
        yield eng
    finally:
        eng.dispose()


def _key(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:12]}"


def _sqlstate(exc: pytest.ExceptionInfo[sa.exc.DBAPIError]) -> str | None:
    return getattr(exc.value.orig, "sqlstate", None)


def _make_order(conn: Connection, channel: str = "bestbuy") -> int:
    return conn.execute(
        sa.text(
            "INSERT INTO retail.orders (channel, external_order_id, currency, total, placed_at)"
            " VALUES (:channel, :ext, 'CAD', 42.50, now()) RETURNING id"
        ),
        {"channel": channel, "ext": _key("order")},
    ).scalar_one()


def _add_status(conn: Connection, order_id: int, status: str, created_at: datetime | None = None) -> int:
    if created_at is None:
        sql = "INSERT INTO retail.order_status_history (order_id, status) VALUES (:o, :s) RETURNING id"
        params = {"o": order_id, "s": status}
    else:
        sql = (
            "INSERT INTO retail.order_status_history (order_id, status, created_at)"
            " VALUES (:o, :s, :t) RETURNING id"
        )
        params = {"o": order_id, "s": status, "t": created_at}
    return conn.execute(sa.text(sql), params).scalar_one()


def _make_product(conn: Connection) -> tuple[int, str]:
    """A supplier, one scraped product and its enriched product; returns (product id, our sku)."""
    supplier_id = conn.execute(
        sa.text(
            "INSERT INTO retail.suppliers (code, name, adapter) VALUES (:code, 'Test', 'generic') RETURNING id"
        ),
        {"code": _key("sup").replace("-", "_")},
    ).scalar_one()
    sp_id = conn.execute(
        sa.text(
            "INSERT INTO retail.supplier_products (supplier_id, sku, price, currency, content_hash)"
            " VALUES (:s, 'SKU-1', 10.00, 'NZD', 'hash') RETURNING id"
        ),
        {"s": supplier_id},
    ).scalar_one()
    sku = _key("P")
    product_id = conn.execute(
        sa.text(
            "INSERT INTO retail.products (supplier_product_id, sku, enricher, prompt_version, input_hash, title)"
            " VALUES (:sp, :sku, 'offline', 'v1', 'in', 'A title') RETURNING id"
        ),
        {"sp": sp_id, "sku": sku},
    ).scalar_one()
    return product_id, sku


def _listing(
    conn: Connection, product_id: int, sku: str, external_id: str | None, channel: str = "trademe"
) -> None:
    conn.execute(
        sa.text(
            "INSERT INTO retail.channel_listings"
            " (channel, sku, product_id, external_listing_id, currency, desired_price, actual_price, actual_state)"
            " VALUES (:c, :sku, :p, :ext, 'NZD', 20, 20, :state)"
        ),
        # No external id yet = intent recorded before the create call.
        {
            "c": channel,
            "sku": sku,
            "p": product_id,
            "ext": external_id,
            "state": "pending" if external_id is None else "live",
        },
    )


# --- structure -----------------------------------------------------------------------------------


def test_every_contract_table_exists(engine: Engine) -> None:
    with engine.connect() as conn:
        tables = set(
            conn.execute(
                sa.text(
                    "SELECT table_name FROM information_schema.tables"
                    " WHERE table_schema = 'retail' AND table_type = 'BASE TABLE'"
                )
            ).scalars()
        )
        views = set(
            conn.execute(
                sa.text("SELECT table_name FROM information_schema.views WHERE table_schema = 'retail'")
            ).scalars()
        )
    assert sorted(set(CONTRACT_TABLES) - tables) == []
    assert "order_current_status" in views


@pytest.mark.parametrize("table", sorted(CONTRACT_COLUMNS))
def test_contract_columns_exist(engine: Engine, table: str) -> None:
    with engine.connect() as conn:
        columns = set(
            conn.execute(
                sa.text(
                    "SELECT column_name FROM information_schema.columns"
                    " WHERE table_schema = 'retail' AND table_name = :t"
                ),
                {"t": table},
            ).scalars()
        )
    assert sorted(set(CONTRACT_COLUMNS[table]) - columns) == []


def test_every_table_has_a_bigint_identity_key(engine: Engine) -> None:
    with engine.connect() as conn:
        rows = conn.execute(
            sa.text(
                "SELECT table_name, data_type, is_identity FROM information_schema.columns"
                " WHERE table_schema = 'retail' AND column_name = 'id' AND table_name = ANY(:t)"
            ),
            {"t": CONTRACT_TABLES},
        ).all()
    found = {r.table_name: (r.data_type, r.is_identity) for r in rows}
    assert found == {t: ("bigint", "YES") for t in CONTRACT_TABLES}


# --- order status history ------------------------------------------------------------------------


def test_status_history_accepts_new_rows_but_refuses_update_and_delete(engine: Engine) -> None:
    with engine.begin() as conn:
        order_id = _make_order(conn)
        first = _add_status(conn, order_id, "pending_acceptance")
        _add_status(conn, order_id, "accepted")

    with engine.connect() as conn:
        count = conn.execute(
            sa.text("SELECT count(*) FROM retail.order_status_history WHERE order_id = :o"), {"o": order_id}
        ).scalar_one()
    assert count == 2

    with pytest.raises(sa.exc.DBAPIError, match="append-only"), engine.begin() as conn:
        conn.execute(
            sa.text("UPDATE retail.order_status_history SET status = 'shipped' WHERE id = :i"), {"i": first}
        )
    with pytest.raises(sa.exc.DBAPIError, match="append-only"), engine.begin() as conn:
        conn.execute(sa.text("DELETE FROM retail.order_status_history WHERE id = :i"), {"i": first})

    with engine.connect() as conn:
        status = conn.execute(
            sa.text("SELECT status FROM retail.order_status_history WHERE id = :i"), {"i": first}
        ).scalar_one()
    assert status == "pending_acceptance"


def test_current_status_view_returns_latest_status(engine: Engine) -> None:
    now = datetime.now(UTC)
    with engine.begin() as conn:
        shipped = _make_order(conn)
        for status in ("pending_acceptance", "accepted", "label_created", "shipped"):
            _add_status(conn, shipped, status)  # same transaction: ordering falls back on id
        failed = _make_order(conn)
        _add_status(conn, failed, "pending_acceptance", now - timedelta(hours=2))
        _add_status(conn, failed, "acceptance_failed", now - timedelta(hours=1))
        # Recorded later but back-dated: it is not the latest state.
        _add_status(conn, failed, "pending_acceptance", now - timedelta(hours=3))
        no_history = _make_order(conn)

    with engine.connect() as conn:
        view = dict(
            conn.execute(
                sa.text(
                    "SELECT order_id, status FROM retail.order_current_status WHERE order_id = ANY(:ids)"
                ),
                {"ids": [shipped, failed, no_history]},
            ).all()
        )
        cached = dict(
            conn.execute(
                sa.text("SELECT id, current_status FROM retail.orders WHERE id = ANY(:ids)"),
                {"ids": [shipped, failed, no_history]},
            ).all()
        )
    assert view == {shipped: "shipped", failed: "acceptance_failed"}
    # orders.current_status is the trigger-kept cache of the same answer.
    assert cached == {shipped: "shipped", failed: "acceptance_failed", no_history: None}


# --- uniqueness ----------------------------------------------------------------------------------


def test_one_shipment_per_order(engine: Engine) -> None:
    with engine.begin() as conn:
        order_id = _make_order(conn)
        conn.execute(sa.text("INSERT INTO retail.shipments (order_id) VALUES (:o)"), {"o": order_id})

    with pytest.raises(sa.exc.IntegrityError) as exc, engine.begin() as conn:
        conn.execute(sa.text("INSERT INTO retail.shipments (order_id) VALUES (:o)"), {"o": order_id})
    assert _sqlstate(exc) == UNIQUE_VIOLATION


def test_channel_listings_unique_per_channel_and_external_id(engine: Engine) -> None:
    external_id = _key("L")
    with engine.begin() as conn:
        product_id, sku = _make_product(conn)
        _listing(conn, product_id, sku, external_id, channel="trademe")
        # The same external id on another channel is a different listing.
        _listing(conn, product_id, sku, external_id, channel="ebay")

    with engine.begin() as conn:
        product_2, sku_2 = _make_product(conn)

    with pytest.raises(sa.exc.IntegrityError) as exc, engine.begin() as conn:
        _listing(conn, product_2, sku_2, external_id, channel="trademe")
    assert _sqlstate(exc) == UNIQUE_VIOLATION


def test_channel_listings_unique_per_channel_and_sku(engine: Engine) -> None:
    with engine.begin() as conn:
        product_id, sku = _make_product(conn)
        _listing(conn, product_id, sku, None)  # intent recorded before the create call

    with pytest.raises(sa.exc.IntegrityError) as exc, engine.begin() as conn:
        _listing(conn, product_id, sku, _key("L"))
    assert _sqlstate(exc) == UNIQUE_VIOLATION


def test_orders_unique_per_channel_and_external_id(engine: Engine) -> None:
    ext = _key("order")
    insert = sa.text(
        "INSERT INTO retail.orders (channel, external_order_id, currency, total, placed_at)"
        " VALUES (:c, :e, 'CAD', 1, now())"
    )
    with engine.begin() as conn:
        conn.execute(insert, {"c": "bestbuy", "e": ext})
        conn.execute(insert, {"c": "ebay", "e": ext})
    with pytest.raises(sa.exc.IntegrityError) as exc, engine.begin() as conn:
        conn.execute(insert, {"c": "bestbuy", "e": ext})
    assert _sqlstate(exc) == UNIQUE_VIOLATION


def test_webhook_dedupe_key_is_unique(engine: Engine) -> None:
    insert = sa.text(
        "INSERT INTO retail.webhook_events (source, dedupe_key, payload) VALUES ('shopify', :k, '{}'::jsonb)"
    )
    key = _key("delivery")
    with engine.begin() as conn:
        conn.execute(insert, {"k": key})
    with pytest.raises(sa.exc.IntegrityError) as exc, engine.begin() as conn:
        conn.execute(insert, {"k": key})
    assert _sqlstate(exc) == UNIQUE_VIOLATION


# --- checks --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "sql",
    [
        pytest.param(
            "INSERT INTO retail.order_status_history (order_id, status) VALUES (:o, 'Shipped')",
            id="status-not-lower-case",
        ),
        pytest.param(
            "INSERT INTO retail.order_status_history (order_id, status) VALUES (:o, 'teleported')",
            id="status-unknown",
        ),
        pytest.param(
            "INSERT INTO retail.orders (channel, external_order_id, currency, total, placed_at)"
            " VALUES ('etsy', 'x-' || :o, 'USD', 1, now())",
            id="channel-unknown",
        ),
        pytest.param(
            "INSERT INTO retail.orders (channel, external_order_id, currency, total, placed_at)"
            " VALUES ('ebay', 'neg-' || :o, 'USD', -1, now())",
            id="negative-total",
        ),
        pytest.param(
            "INSERT INTO retail.order_lines (order_id, external_line_id, quantity, unit_price)"
            " VALUES (:o, '1', 0, 5)",
            id="zero-quantity",
        ),
        pytest.param(
            "INSERT INTO retail.shipments (order_id, status) VALUES (:o, 'label_created')",
            id="label-without-pin",
        ),
        pytest.param(
            "INSERT INTO retail.operator_commands (command_type, status) VALUES ('UPDATE_PRICE', 'done')",
            id="command-status",
        ),
        pytest.param(
            "INSERT INTO retail.api_keys (key_hash, prefix, role) VALUES ('h-' || :o, 'rp_ab', 'root')",
            id="api-key-role",
        ),
    ],
)
def test_bad_values_violate_a_check(engine: Engine, sql: str) -> None:
    with engine.begin() as conn:
        order_id = _make_order(conn)
    with pytest.raises(sa.exc.IntegrityError) as exc, engine.begin() as conn:
        conn.execute(sa.text(sql), {"o": order_id})
    assert _sqlstate(exc) == CHECK_VIOLATION


def test_listing_states_and_prices_are_checked(engine: Engine) -> None:
    with engine.begin() as conn:
        product_id, sku = _make_product(conn)
        _listing(conn, product_id, sku, _key("L"))

    for assignment in ("actual_state = 'vanished'", "desired_price = -0.01", "desired_state = 'maybe'"):
        with pytest.raises(sa.exc.IntegrityError) as exc, engine.begin() as conn:
            conn.execute(
                sa.text(f"UPDATE retail.channel_listings SET {assignment} WHERE sku = :s"), {"s": sku}
            )
        assert _sqlstate(exc) == CHECK_VIOLATION, assignment


def test_enriched_title_is_at_most_80_characters(engine: Engine) -> None:
    with engine.begin() as conn:
        product_id, _ = _make_product(conn)
    with pytest.raises(sa.exc.IntegrityError) as exc, engine.begin() as conn:
        conn.execute(
            sa.text("UPDATE retail.products SET title = repeat('x', 81) WHERE id = :p"), {"p": product_id}
        )
    assert _sqlstate(exc) == CHECK_VIOLATION

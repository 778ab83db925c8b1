"""GET /api/orders (filters, search, keyset pages), GET /api/orders/{id}, POST .../label/reprint."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qs, urlsplit

import pytest
from sqlalchemy import Connection, Engine, text

from retail_pipeline_tests.seeds.ops import add_order, add_shipment

LABEL = b"%PDF-1.4\n% label for order\n%%EOF\n"
LABEL_PATH = "labels/2026/" + "ab" * 32 + ".pdf"
DAY = datetime(2026, 11, 20, 12, tzinfo=UTC)


def add_customer(conn: Connection, order_id: int, name: str, email: str) -> None:
    customer_id = conn.scalar(
        text(
            "INSERT INTO retail.customers (channel, external_customer_id, name, email)"
            " SELECT channel, 'C-' || :order_id, :name, :email FROM retail.orders WHERE id = :order_id RETURNING id"
        ),
        {"order_id": order_id, "name": name, "email": email},
    )
    conn.execute(
        text("UPDATE retail.orders SET customer_id = :c WHERE id = :o"), {"c": customer_id, "o": order_id}
    )


@pytest.fixture
def orders(engine: Engine, settings_env) -> dict[str, int]:
    with engine.begin() as conn:
        ids = {
            "shipped": add_order(
                conn, "BB-2001", ["pending_acceptance", "accepted", "label_created", "shipped"],
                placed_at=DAY, lines=[("RP-HEADPHONES", 1, "199.00"), ("RP-CABLE", 2, "9.50")],
                shipping_address={"name": "Aroha Ngata", "street_1": "1 Queen St", "city": "Toronto",
                                  "zip_code": "M5H 2N2", "country_iso_code": "CA"},
            ),
            "accepted": add_order(conn, "RV-77", ["accepted"], channel="reverb", currency="USD",
                                  placed_at=DAY - timedelta(days=1), lines=[("RP-PEDAL", 1, "89.00")]),
            "failed": add_order(conn, "BB-2002", ["pending_acceptance", ("acceptance_failed", "out of stock")],
                                placed_at=DAY - timedelta(days=3)),
        }  # fmt: skip
        add_customer(conn, ids["shipped"], "Aroha Ngata", "aroha@example.com")
        add_customer(conn, ids["accepted"], "Sam Smith", "sam@example.org")
        add_shipment(conn, ids["shipped"], "shipped", tracking_pin="7023210039414604", label_path=LABEL_PATH)
    label = settings_env.data_dir / LABEL_PATH
    label.parent.mkdir(parents=True)
    label.write_bytes(LABEL)
    return ids


def _ids(response) -> list[str]:
    assert response.status_code == 200, response.text
    return [o["external_order_id"] for o in response.json()["items"]]


def test_filters_and_search(client, viewer, orders):
    get = lambda **q: client.get("/api/orders", params=q, headers=viewer)  # noqa: E731
    assert client.get("/api/orders").status_code == 403
    assert _ids(get()) == ["BB-2001", "RV-77", "BB-2002"]  # newest placed first
    assert _ids(get(channel="reverb")) == ["RV-77"]
    assert _ids(get(status="acceptance_failed")) == ["BB-2002"]
    assert _ids(get(date_from="2026-11-19", date_to="2026-11-19")) == ["RV-77"]
    assert _ids(get(date_from="2026-11-17")) == ["BB-2001", "RV-77", "BB-2002"]
    # Search: order id, customer name or e-mail, SKU; case-insensitive prefixes; wildcards are literal.
    assert _ids(get(q="bb-200")) == ["BB-2001", "BB-2002"]
    assert _ids(get(q="aroha")) == ["BB-2001"]
    assert _ids(get(q="SAM@EX")) == ["RV-77"]
    assert _ids(get(q="rp-pedal")) == ["RV-77"]
    assert _ids(get(q="%%")) == []
    assert _ids(get(channel="", status="", q="", date_from="", date_to="")) == [
        "BB-2001",
        "RV-77",
        "BB-2002",
    ]  # blank = no filter

    row = get(q="BB-2001").json()["items"][0]
    assert (row["customer_name"], row["items"], row["shipment_status"], row["total"]) == (
        "Aroha Ngata", 3, "shipped", "218.00",
    )  # fmt: skip


def test_keyset_pages(client, viewer, orders):
    first = client.get("/api/orders", params={"limit": 2}, headers=viewer).json()
    assert [o["external_order_id"] for o in first["items"]] == ["BB-2001", "RV-77"]
    second = client.get(
        "/api/orders", params={"limit": 2, "cursor": first["next_cursor"]}, headers=viewer
    ).json()
    assert [o["external_order_id"] for o in second["items"]] == ["BB-2002"] and second["next_cursor"] is None


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"channel": "etsy"}, "channel"),
        ({"status": "lost"}, "status"),
        ({"date_from": "2026-11-20", "date_to": "2026-11-01"}, "date_to"),
        ({"q": "x"}, "q"),
        ({"date_from": "20-11-2026"}, "date_from"),
        ({"cursor": "not-a-cursor"}, "cursor"),
    ],
)
def test_bad_filters_name_the_field(client, viewer, params, field):
    response = client.get("/api/orders", params=params, headers=viewer)
    assert response.status_code == 422 and response.json()["detail"]["field"] == field


def test_detail_has_lines_address_timeline_and_a_signed_label(client, viewer, orders):
    response = client.get(f"/api/orders/{orders['shipped']}", headers=viewer)
    assert response.status_code == 200, response.text
    order = response.json()
    assert [line["sku"] for line in order["lines"]] == ["RP-HEADPHONES", "RP-CABLE"]
    assert order["shipping_address"]["city"] == "Toronto"
    assert order["customer"]["email"] == "aroha@example.com"
    assert [h["status"] for h in order["history"]] == [
        "pending_acceptance",
        "accepted",
        "label_created",
        "shipped",
    ]
    assert order["status"] == "shipped"
    shipment = order["shipment"]
    assert shipment["tracking_pin"] == "7023210039414604"
    pdf = client.get(shipment["label_url"])  # the link itself is the credential
    assert (
        pdf.status_code == 200 and pdf.content == LABEL and pdf.headers["content-type"] == "application/pdf"
    )

    failed = client.get(f"/api/orders/{orders['failed']}", headers=viewer).json()
    assert failed["shipment"] is None and failed["history"][-1]["reason"] == "out of stock"
    assert client.get("/api/orders/999999", headers=viewer).status_code == 404


def test_reprint_is_a_fresh_link_to_the_same_label_and_is_logged(client, operator, viewer, orders, engine):
    url = f"/api/orders/{orders['shipped']}/label/reprint"
    assert client.post(url, headers=viewer).status_code == 403
    response = client.post(url, headers=operator)
    assert response.status_code == 200, response.text
    link = response.json()
    assert urlsplit(link["label_url"]).path == f"/media/{LABEL_PATH}"
    assert "token" in parse_qs(urlsplit(link["label_url"]).query)
    assert client.get(link["label_url"]).content == LABEL
    with engine.connect() as conn:
        logged = conn.execute(
            text(
                "SELECT action, entity_type, details FROM retail.activity_log WHERE action LIKE 'shipment.%'"
            )
        ).one()
        shipments = conn.scalar(text("SELECT count(*) FROM retail.shipments"))
    assert logged.details["label_path"] == LABEL_PATH and shipments == 1  # no second label
    detail = client.get(f"/api/orders/{orders['shipped']}", headers=viewer).json()
    assert detail["activity"][0]["action"] == "shipment.label_reprint"

    no_label = client.post(f"/api/orders/{orders['accepted']}/label/reprint", headers=operator)
    assert no_label.status_code == 404 and "no label" in no_label.json()["detail"]

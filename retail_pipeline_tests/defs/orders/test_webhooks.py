"""POST /webhooks/shopify (deliveries made and signed by the Shopify simulator), the webhook sensor (one
run per event), the run itself (the order upserted once, stock pushed), and the sold-items sensor."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
from datetime import UTC, datetime

import dagster as dg
import httpx
import pytest

from retail_pipeline.defs.orders.schedules import orders_every_10_minutes, sold_items_sensor
from retail_pipeline.defs.orders.webhooks import (
    order_webhook,
    order_webhook_sensor,
    webhook_run_config,
)
from retail_pipeline.defs.resources import ChannelsResource, DatabaseResource
from retail_pipeline.simulators.shopify import DEFAULT_API_SECRET
from retail_pipeline_tests.simulated_channels import ORDER_CHANNELS

from .conftest import count

URL = "/webhooks/shopify"


@pytest.fixture
def deliveries(sim, app):
    """The Shopify simulator subscribed to the sidecar: its orders/create webhooks land in the route."""
    backend = sim.backend("shopify")
    backend.subscribe("orders/create", "http://sidecar/webhooks/shopify", "2025-07")
    backend.webhook_transport = httpx.ASGITransport(app=app)
    return backend


def deliver(backend):
    return asyncio.run(backend.deliver_webhooks())


def sign(body: bytes, secret: str = DEFAULT_API_SECRET) -> str:
    return base64.b64encode(hmac.new(secret.encode(), body, hashlib.sha256).digest()).decode()


def events(engine):
    from sqlalchemy import text

    with engine.connect() as conn:
        return [
            dict(r._mapping) for r in conn.execute(text("SELECT * FROM retail.webhook_events ORDER BY id"))
        ]


def test_a_simulator_delivery_is_verified_and_stored_once(engine, sim, market, listed, deliveries, client):
    sale = market.buy_now("shopify", "RP-2001")
    [sent] = deliver(deliveries)
    assert sent.response_status == 200, sent.error
    [event] = events(engine)
    assert (
        event["status"] == "pending"
        and event["signature_valid"] is True
        and event["topic"] == "orders/create"
    )
    assert event["dedupe_key"] == f"id:{sent.webhook_id}" and str(event["payload"]["id"]) == sale.order_id
    # Shopify redelivers when it misses our 200: the same delivery is recognised, not stored again.
    again = client.post(URL, content=sent.body, headers=sent.headers)
    assert again.status_code == 200 and again.json() == {
        "webhook_event_id": event["id"], "topic": "orders/create", "duplicate": True,
    }  # fmt: skip
    assert len(events(engine)) == 1


def test_a_channel_that_pushes_no_orders_is_404_and_nothing_is_stored(engine, client):
    body = json.dumps({"id": 1}).encode()
    headers = {"X-Shopify-Topic": "orders/create", "X-Shopify-Webhook-Id": "w-1"}
    for path in ("/webhooks/ebay", "/webhooks/amazon"):
        refused = client.post(path, content=body, headers={**headers, "X-Shopify-Hmac-Sha256": sign(body)})
        assert refused.status_code == 404 and "no order webhooks" in refused.json()["detail"]
        assert "shopify" in refused.json()["detail"]  # the channels that do push orders
    assert events(engine) == []


def test_bad_signature_is_401_and_stored_rejected(engine, client):
    body = json.dumps({"id": 1, "created_at": "2025-06-02T09:00:00+12:00"}).encode()
    headers = {"X-Shopify-Topic": "orders/create", "X-Shopify-Webhook-Id": "w-1"}
    wrong = client.post(URL, content=body, headers={**headers, "X-Shopify-Hmac-Sha256": sign(body, "not-it")})
    assert wrong.status_code == 401 and "HMAC" in wrong.json()["detail"]
    missing = client.post(URL, content=body + b" ", headers=headers)
    assert missing.status_code == 401
    rejected = events(engine)
    assert [(e["status"], e["signature_valid"]) for e in rejected] == [("rejected", False)] * 2
    assert rejected[0]["payload"] is None and bytes(rejected[0]["raw_body"]) == body


def test_malformed_body_is_400_and_stored_rejected(engine, client):
    body = b'{"id": 5, "line_items": ['
    headers = {
        "X-Shopify-Topic": "orders/create",
        "X-Shopify-Webhook-Id": "w-2",
        "X-Shopify-Hmac-Sha256": sign(body),
    }
    response = client.post(URL, content=body, headers=headers)
    assert response.status_code == 400 and "malformed JSON" in response.json()["detail"]
    [event] = events(engine)
    assert (
        event["status"] == "rejected" and event["signature_valid"] is True and "malformed" in event["error"]
    )
    other_topic = json.dumps({"id": 6}).encode()
    response = client.post(
        URL,
        content=other_topic,
        headers={**headers, "X-Shopify-Topic": "products/update", "X-Shopify-Hmac-Sha256": sign(other_topic)},
    )
    assert response.status_code == 400 and "orders/*" in response.json()["detail"]


def test_oversize_body_is_413(engine, client):
    body = b"x" * (1024 * 1024 + 1)
    response = client.post(URL, content=body, headers={"X-Shopify-Hmac-Sha256": sign(body)})
    assert response.status_code == 413
    assert events(engine) == []


def test_sensor_one_run_per_event_and_the_run_upserts_once(
    engine, sim, market, listed, deliveries, client, simulator_url, db_url
):
    sales = [market.buy_now("shopify", sku) for sku in ("RP-2002", "RP-2003")]
    deliver(deliveries)
    ids = [e["id"] for e in events(engine)]
    assert len(ids) == 2
    resources = {"db": DatabaseResource(url=db_url)}
    with dg.instance_for_test() as instance:
        first = order_webhook_sensor(dg.build_sensor_context(instance=instance, resources=resources))
        assert [r.run_key for r in first.run_requests] == [f"webhook:{i}" for i in ids]
        assert [r.run_config for r in first.run_requests] == [webhook_run_config(i) for i in ids]
        again = order_webhook_sensor(
            dg.build_sensor_context(instance=instance, cursor=first.cursor, resources=resources)
        )
        assert again.run_requests == []  # exactly one run per event

        run_resources = {"db": DatabaseResource(url=db_url), "channels": ChannelsResource()}
        for event_id in ids:
            for _ in range(2):  # the same event twice: the second run changes nothing
                result = order_webhook.execute_in_process(
                    run_config=webhook_run_config(event_id), instance=instance, resources=run_resources
                )
                assert result.success
    assert [e["status"] for e in events(engine)] == ["processed", "processed"]
    assert count(engine, "SELECT count(*) FROM retail.orders WHERE channel = 'shopify'") == 2
    assert count(engine, "SELECT count(*) FROM retail.order_status_history") == 2
    assert count(engine, "SELECT count(*) FROM retail.activity_log WHERE action = 'stock.sale'") == 2
    # RP-2002 (one unit) sold on Shopify: withdrawn on the three other channels by the webhook run.
    for channel in ("trademe", "ebay", "reverb"):
        state = count(
            engine, "SELECT count(*) FROM retail.channel_listings WHERE sku = 'RP-2002' AND channel = :c"
            " AND actual_state = 'withdrawn'", c=channel,
        )  # fmt: skip
        assert state == 1, channel
    assert {s.order_id for s in sales} == {str(e["payload"]["id"]) for e in events(engine)}


def test_the_poll_and_the_webhook_write_one_order(
    engine, sim, market, listed, deliveries, client, simulator_url, db_url
):
    from retail_pipeline.defs.orders.assets import marketplace_orders
    from retail_pipeline.partitions import order_partition_key

    sale = market.buy_now("shopify", "RP-2001")
    deliver(deliveries)
    [event] = events(engine)
    resources = {
        "db": DatabaseResource(url=db_url),
        "channels": ChannelsResource(),
    }
    assert order_webhook.execute_in_process(
        run_config=webhook_run_config(event["id"]), resources=resources
    ).success
    polled = dg.materialize(
        [marketplace_orders],
        partition_key=str(order_partition_key("shopify", sale.at.date())),
        resources=resources,
    )
    meta = polled.asset_materializations_for_node("marketplace_orders")[0].metadata
    assert meta["fetched"].value == 1 and meta["rows_written"].value == 0
    assert count(engine, "SELECT count(*) FROM retail.order_status_history") == 1


def test_sold_items_sensor_requests_the_partition_of_new_sales_only(
    engine, sim, market, listed, simulator_url, db_url
):
    resources = {"db": DatabaseResource(url=db_url), "channels": ChannelsResource()}
    sim.clock.advance(2)  # the listings' own creation is over an hour ago
    sales = [market.buy_now("trademe", "RP-2003"), market.buy_now("ebay", "RP-2001")]
    before = len(sim.journal.entries())
    with dg.instance_for_test() as instance:
        result = sold_items_sensor(dg.build_sensor_context(instance=instance, resources=resources))
        day = sales[0].at.date().isoformat()
        assert sorted(r.partition_key for r in result.run_requests) == [f"ebay|{day}", f"trademe|{day}"]
        # One call per channel per tick (Trade Me SoldItems/LastHour; one page elsewhere), plus OAuth.
        calls = [e for e in sim.journal.entries()[before:] if "token" not in e.path]
        assert len(calls) == len(ORDER_CHANNELS), [(e.system, e.path) for e in calls]
        assert any("SoldItems/LastHour" in e.path for e in calls)
        same = sold_items_sensor(dg.build_sensor_context(instance=instance, resources=resources))
        assert [r.run_key for r in same.run_requests] == [r.run_key for r in result.run_requests]

        run_resources = {**resources, "channels": ChannelsResource()}
        for request in result.run_requests:
            run = dg.materialize(
                _order_assets(),
                partition_key=request.partition_key,
                instance=instance,
                resources=run_resources,
            )
            assert run.success
        after = sold_items_sensor(dg.build_sensor_context(instance=instance, resources=resources))
        assert after.run_requests == []
    assert count(engine, "SELECT count(*) FROM retail.orders") == 2


def test_schedule_requests_todays_partition_per_channel(sim, simulator_url):
    tick = datetime(2026, 1, 5, 10, 20, tzinfo=UTC)  # the wall clock; the partitions follow the channels'
    context = dg.build_schedule_context(
        resources={"channels": ChannelsResource()}, scheduled_execution_time=tick
    )
    requests = orders_every_10_minutes(context)
    assert all(r.run_key.endswith(tick.isoformat()) for r in requests)
    today = sim.clock.now().date().isoformat()
    assert sorted(r.partition_key for r in requests) == sorted(f"{c}|{today}" for c in ORDER_CHANNELS)


def _order_assets():
    from retail_pipeline.defs.orders.assets import channel_stock, marketplace_orders

    return [marketplace_orders, channel_stock]

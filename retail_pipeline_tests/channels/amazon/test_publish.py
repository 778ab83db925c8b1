"""Amazon through the pipeline's own code: drafts wait for a product type, then list; a reprice of many
SKUs goes as one JSON_LISTINGS_FEED through the publisher's generic bulk hook; a problem Amazon finds
later reaches the listing and the ops inbox; an order is synced, labelled and its tracking confirmed."""

from __future__ import annotations

import asyncio

from sqlalchemy import text

from retail_pipeline.channels.amazon import AmazonSettings
from retail_pipeline.defs.fulfilment.tracking import run_tracking
from retail_pipeline.defs.listings.drafts import build_drafts
from retail_pipeline.defs.listings.publish import run_publish
from retail_pipeline.defs.listings.state import _selling, detect, reconcile
from retail_pipeline.defs.resources import ChannelsResource
from retail_pipeline.simulators.amazon.models import issue
from retail_pipeline.simulators.market import Market
from retail_pipeline_tests.defs.fulfilment.conftest import history
from retail_pipeline_tests.defs.fulfilment.remote import remote_tracking
from retail_pipeline_tests.defs.fulfilment.test_tracking import labelled_order
from retail_pipeline_tests.seeds.listed_products import ORDERABLE_PRODUCTS, seed_products, signed
from retail_pipeline_tests.simulated_channels import QUICK, categorised, client_kwargs, store_categories

from .conftest import Recorder, sent

PIN = "7023210039414604"
ROWS = [
    (sku, title, category, brand, mpn) for sku, title, category, _, _, brand, mpn, _ in ORDERABLE_PRODUCTS
]


def test_drafts_wait_for_a_product_type_then_list_reprice_in_one_feed_and_ship(
    engine, settings_env, sim, transport
):
    recorder = Recorder(transport)
    kwargs = client_kwargs(sim)
    kwargs["amazon"] = {**kwargs["amazon"], "policy": QUICK,
                        "settings": AmazonSettings(_env_file=None, feed_poll_seconds=0, feed_threshold=2)}  # fmt: skip
    channels = ChannelsResource().with_transport(recorder, **kwargs)
    seed_products(engine, settings_env.media_dir, ORDERABLE_PRODUCTS)
    with engine.begin() as conn:
        counts = build_drafts(conn, "amazon")
        errors = conn.execute(
            text("SELECT validation_errors FROM retail.listing_drafts WHERE channel = 'amazon'")
        )
        assert counts["invalid"] == 3
        assert all(any("no Amazon category chosen yet" in e for e in row[0]) for row in errors)
    choices = categorised(channels.client("amazon"), "amazon", ROWS)
    assert choices["RP-2001"][0] == "HEADPHONES"
    store_categories(engine, "amazon", choices)
    with engine.begin() as conn:
        assert build_drafts(conn, "amazon")["valid"] == 3
    result = run_publish(engine, channels.client("amazon"), media_url=signed)
    assert result.counts["created"] == 3 and result.counts["failed"] == 0, result.errors
    put = sent(recorder.calls("PUT", "/RP-2002")[0])
    assert put["productType"] == choices["RP-2002"][0]
    assert put["attributes"]["main_product_image_locator"][0]["media_location"].startswith("http")
    with engine.begin() as conn:
        conn.execute(text("UPDATE retail.listing_drafts SET price = price + 10 WHERE channel = 'amazon'"))
    result = run_publish(engine, channels.client("amazon"), media_url=signed)
    assert result.counts["repriced"] == 3 and result.counts["failed"] == 0, result.errors
    assert len(recorder.calls("POST", "/feeds/2021-06-30/feeds")) == 1 and recorder.calls("PATCH") == []
    with engine.connect() as conn:
        live = conn.execute(
            text(
                "SELECT count(*) FROM retail.channel_listings WHERE channel = 'amazon' AND actual_price = desired_price"
            )
        ).scalar()
    assert live == 3
    # Amazon's later check takes one listing off sale: its issue lands on the listing and in the ops inbox
    found = sim.backend("amazon").listings[("A1SIMULATEDSELLER", "RP-2003")]
    found.late_issues = [
        issue("18027", "The image does not meet Amazon's requirements.", ["main_product_image_locator"])
    ]
    sim.clock.advance(0.1)
    remote = asyncio.run(_selling(channels.client("amazon")))
    assert detect(engine, "amazon", remote)["status"] == 1 and reconcile(engine, "amazon")["processed"] == 1
    with engine.connect() as conn:
        state, error = conn.execute(
            text(
                "SELECT actual_state, last_error FROM retail.channel_listings WHERE channel = 'amazon' AND sku = 'RP-2003'"
            )
        ).one()
        task = conn.execute(text("SELECT title FROM retail.ops_tasks WHERE channel = 'amazon'")).scalar()
    assert state == "ended" and "18027" in error and "18027" in task
    # a sale: the order synced, labelled, packed, and its tracking confirmed on Amazon once
    order_id = labelled_order(
        engine, sim, Market(sim, deliver_webhooks=False), channels, "amazon", PIN, "RP-2001"
    )
    result = run_tracking(engine, channels)
    assert (result.counts["pushed"], result.counts["shipped"], result.counts["tracking_failed"]) == (1, 1, 0)
    with engine.connect() as conn:
        external = conn.scalar(
            text("SELECT external_order_id FROM retail.orders WHERE id = :o"), {"o": order_id}
        )
    assert remote_tracking(sim, "amazon", external) == [PIN]
    assert history(engine, order_id) == ["accepted", "label_created", "packed", "shipped"]
    assert run_tracking(engine, channels).counts["orders_found"] == 0
    assert recorder.spec_violations()[0] == []

"""Adopting listings a shop already has: exact matches become our listings, the rest one ops task each,
never a second listing for a product, and a publish pass after adoption creates nothing."""

from __future__ import annotations

import asyncio
from decimal import Decimal

import pytest
from sqlalchemy import text

from retail_pipeline.channels.registry import channel
from retail_pipeline.defs.listings.publish import Scope, run_publish
from retail_pipeline.defs.listings.state import _selling, detect, reconcile
from retail_pipeline.integrations.marketplaces.base import RemoteListing
from retail_pipeline.simulators.existing_listings import ExistingListing
from retail_pipeline_tests.seeds.listed_products import signed
from retail_pipeline_tests.simulated_channels import LISTING_CHANNELS

from .conftest import listing_rows

CHANNEL = "reverb"
EAN = "4006381333931"  # RP-1003's GTIN in these tests (GTIN-13; the listing shows it as a UPC-less 14)
BY_SKU = RemoteListing("E-1", "RP-1001", Decimal("379.00"), 2, "live", title="Sony XM5 headphones",
                       url="https://reverb.example/item/E-1", remote_ids={"slug": "e-1"}, currency="USD")  # fmt: skip
BY_GTIN = RemoteListing("E-3", "THEIR-3", Decimal("1999.00"), 1, "live", title="ThinkPad X1 Carbon",
                        gtin="0" + EAN)  # fmt: skip
LIKELY = RemoteListing("E-2", None, Decimal("1100.00"), 1, "live", brand="Fender", mpn="0144502500",
                       title="Fender Player Strat, sunburst, barely played")  # fmt: skip
STRANGER = RemoteListing("E-4", "X-9", Decimal("50.00"), 1, "live", title="Yamaha PSR-E373 keyboard")


def _sync(engine, remote, channel=CHANNEL):
    detected = detect(engine, channel, remote)
    return detected, reconcile(engine, channel)


def _tasks(engine):
    with engine.connect() as conn:
        return {
            r.entity_id: r
            for r in conn.execute(
                text("SELECT * FROM retail.ops_tasks WHERE kind = 'listing_adoption' ORDER BY id")
            )
        }


def _with_gtin(engine, seeded):
    with engine.begin() as conn:
        conn.execute(
            text("UPDATE retail.supplier_products SET gtin = :g WHERE id = (SELECT supplier_product_id FROM retail.products WHERE id = :p)"),
            {"g": EAN, "p": seeded["RP-1003"]},
        )  # fmt: skip


def test_exact_matches_are_adopted_the_rest_proposed_and_a_second_sync_changes_nothing(engine, seeded):
    _with_gtin(engine, seeded)
    detected, applied = _sync(engine, [BY_SKU, BY_GTIN, LIKELY, STRANGER])
    assert detected["unknown_listing"] == 4
    assert (applied["adopted"], applied["proposed"], applied["unmatched"]) == (2, 1, 1), applied

    rows = listing_rows(engine, CHANNEL)
    assert set(rows) == {"RP-1001", "THEIR-3"}  # the SKU the listing carries on the channel
    sony, laptop = rows["RP-1001"], rows["THEIR-3"]
    assert sony["product_id"] == seeded["RP-1001"] and laptop["product_id"] == seeded["RP-1003"]
    assert sony["external_listing_id"] == "E-1" and sony["listing_url"] == BY_SKU.url
    assert sony["remote_ids"] == {"slug": "e-1"} and sony["currency"] == "USD"
    assert laptop["currency"] == channel(CHANNEL).listing.currency  # the channel's, when it does not say
    # the remote values as both actual and desired: nothing to push at adoption
    assert sony["actual_price"] == sony["desired_price"] == Decimal("379.00")
    assert sony["actual_quantity"] == sony["desired_quantity"] == 2
    assert sony["actual_state"] == "live" and sony["desired_state"] == "live"

    tasks = _tasks(engine)
    assert set(tasks) == {"E-2", "E-4"}
    likely, stranger = tasks["E-2"], tasks["E-4"]
    assert likely.dedupe_key == f"listing_adoption:{CHANNEL}:E-2" and likely.status == "open"
    assert [c["product_id"] for c in likely.details["candidates"]][:1] == [seeded["RP-1002"]]
    assert likely.details["candidates"][0]["score"] >= 0.5 and likely.details["remote"]["mpn"] == "0144502500"
    assert stranger.details["candidates"] == [] and stranger.details["actions"] == [
        "create_product",
        "ignore",
    ]
    with engine.connect() as conn:
        adopted_log = conn.execute(
            text(
                "SELECT entity_id, details FROM retail.activity_log WHERE action = 'listing.adopt' ORDER BY id"
            )
        ).all()
    assert [d["external_listing_id"] for _, d in adopted_log] == ["E-1", "E-3"]

    again, applied_again = _sync(engine, [BY_SKU, BY_GTIN, LIKELY, STRANGER])
    assert again.get("unknown_listing") == 2 and "price" not in again  # adopted ones are simply ours now
    assert (applied_again.get("adopted", 0), applied_again["proposed"], applied_again["unmatched"]) == (
        0,
        1,
        1,
    )
    assert listing_rows(engine, CHANNEL) == rows
    tasks_again = _tasks(engine)
    assert set(tasks_again) == {"E-2", "E-4"} and tasks_again["E-2"].occurrences == 2


def test_a_product_that_has_a_listing_is_never_given_a_second(engine, seeded):
    _sync(engine, [BY_SKU])
    duplicate = RemoteListing("E-9", "RP-1001", Decimal("360.00"), 1, "live", title="Sony XM5 (second copy)")
    _, applied = _sync(engine, [BY_SKU, duplicate])
    assert applied == {"processed": 1, "failed": 0, "proposed": 1}
    rows = listing_rows(engine, CHANNEL)
    assert [r["external_listing_id"] for r in rows.values()] == ["E-1"]
    task = _tasks(engine)["E-9"]
    assert "already has listing E-1" in task.details["reason"]
    assert [c["product_id"] for c in task.details["candidates"]] == [seeded["RP-1001"]]


def test_an_ignored_listing_is_left_alone_by_later_syncs(engine, seeded):
    _sync(engine, [STRANGER])
    with engine.begin() as conn:
        conn.execute(
            text(
                "UPDATE retail.ops_tasks SET status = 'dismissed', resolved_at = now() WHERE entity_id = 'E-4'"
            )
        )
    _, applied = _sync(engine, [STRANGER])
    assert applied == {"processed": 1, "failed": 0, "ignored": 1}
    with engine.connect() as conn:
        assert conn.scalar(text("SELECT count(*) FROM retail.ops_tasks WHERE kind = 'listing_adoption'")) == 1


def _existing(currency: str) -> list[ExistingListing]:
    """What a shop made by hand before us: one of our products under our SKU, one of our products
    retitled with no SKU, one item we never carried (each with a GTIN no product of ours has: Kaufland
    lists by EAN only)."""
    common = {"description": "As new, NZ stock.", "currency": currency, "photos": (), "category": None}
    return [
        ExistingListing(sku="RP-1001", title="Sony WH-1000XM5 Wireless Noise Cancelling Headphones",
                        price=Decimal("389.00"), quantity=2, brand="Sony", gtin="4548736132610", mpn="WH1000XM5",
                        condition="new", origin="ours", catalogue_sku="RP-1001", **common),
        ExistingListing(sku=None, title="Fender Player Stratocaster Electric Guitar 3-Colour Sunburst - NZ stock",
                        price=Decimal("1090.00"), quantity=1, brand="Fender", gtin="0885978910992",
                        mpn="0144502500", condition="used", origin="by_hand", catalogue_sku="RP-1002", **common),
        ExistingListing(sku="SHOP-41533", title="Handmade rimu guitar stand", price=Decimal("120.00"), quantity=1,
                        brand=None, gtin="9421902960017", mpn=None, condition="new", **common),
    ]  # fmt: skip


# Served over the in-process transport; a browser-driven channel (its pool the browser pool) has this
# test on loopback with one Chromium in its own package (channels/vintage_and_rare).
IN_PROCESS = tuple(name for name in LISTING_CHANNELS if channel(name).pool != "browser")


@pytest.mark.parametrize("channel", IN_PROCESS)
def test_a_shop_already_selling_on_the_channel_is_adopted_without_a_second_remote_listing(
    channel, engine, seeded, sim, channels
):
    sim.backend(channel).seed_existing(_existing(channel_currency(channel)))
    remote = asyncio.run(_selling(channels.client(channel)))
    assert len(remote) == 3
    _, applied = _sync(engine, remote, channel)
    assert (applied.get("adopted"), applied.get("proposed"), applied.get("unmatched")) == (1, 1, 1), applied
    adopted = listing_rows(engine, channel)["RP-1001"]
    assert adopted["product_id"] == seeded["RP-1001"] and adopted["actual_state"] == "live"
    assert adopted["actual_price"] == adopted["desired_price"] == Decimal("389.00")
    proposals = [t.details["candidates"] for t in _tasks(engine).values() if t.details["candidates"]]
    assert [[c["sku"] for c in candidates][:1] for candidates in proposals] == [["RP-1002"]]

    # a publish pass with a draft for the adopted product takes the adopted row, never makes a second listing
    with engine.begin() as conn:
        draft = conn.scalar(
            text("""INSERT INTO retail.listing_drafts (product_id, channel, sku, title, price, currency, quantity,
                                                       status, payload)
                    VALUES (:p, :c, 'RP-1001', 'Sony WH-1000XM5', 389, :cur, 2, 'valid', '{}') RETURNING id"""),
            {"p": seeded["RP-1001"], "c": channel, "cur": adopted["currency"].strip()},
        )  # fmt: skip
    result = run_publish(engine, channels.client(channel), media_url=signed, scope=Scope(draft_ids=(draft,)))
    assert result.counts["created"] == 0 and result.counts["adopted"] == 0, result.counts
    after = asyncio.run(_selling(channels.client(channel)))
    assert sorted(r.external_id for r in after) == sorted(r.external_id for r in remote)  # no second listing
    row = listing_rows(engine, channel)["RP-1001"]
    assert row["draft_id"] == draft and row["external_listing_id"] == adopted["external_listing_id"]
    assert "unknown_listing" not in detect(engine, channel, [r for r in after if r.sku == "RP-1001"])


def channel_currency(name: str) -> str:
    return channel(name).listing.currency

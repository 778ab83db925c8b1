"""tracking_updates: real simulator orders (bought by the market, synced by the order sync) with a label
are pushed to Trade Me, eBay, Shopify and Reverb once, marked shipped once; re-runs push nothing; a crash
after the push is adopted; a refusal becomes tracking_failed with one ops task; 401 fails the run."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import dagster as dg
import pytest
from sqlalchemy import Engine, text

from retail_pipeline.channels.plugin import ChannelCarrier, UnknownCarrier
from retail_pipeline.channels.registry import all_channels, channel_names
from retail_pipeline.channels.registry import channel as channel_plugin
from retail_pipeline.defs.fulfilment import tracking
from retail_pipeline.defs.fulfilment.tracking import run_tracking, tracking_updates
from retail_pipeline.defs.orders.assets import sync_orders
from retail_pipeline.defs.resources import ChannelsResource, DatabaseResource
from retail_pipeline.domain.order_sources import Window
from retail_pipeline.integrations.marketplaces.base import ChannelError
from retail_pipeline.simulators.market import Market
from retail_pipeline_tests.simulated_channels import CHANNELS

from .conftest import history, rows
from .remote import URL, remote_tracking


def labelled_order(
    engine: Engine,
    sim,
    market: Market,
    sources: ChannelsResource,
    channel: str,
    pin: str,
    sku: str = "RP-2003",
    *,
    packed: bool = True,
) -> int:
    """A purchase on the channel's simulator, synced as the order sync does (status 'accepted'), then
    given a label as shipping_labels leaves it (shipment 'label_created' with the PIN, history row), and
    packed as pick & pack leaves it (unless `packed` is false)."""
    purchase = market.buy_now(channel, sku)
    assert purchase is not None, f"nothing to buy on {channel}"
    _, result = sync_orders(engine, sources, channel, Window.day(sim.clock.now().date(), sim.clock.now()))
    assert not result.failed, result.failed
    with engine.begin() as conn:
        order_id = conn.scalar(
            text(
                "SELECT id FROM retail.orders WHERE channel = CAST(:c AS retail.channel) AND external_order_id = :e"
            ),
            {"c": channel, "e": purchase.order_id},
        )
        assert order_id is not None
        conn.execute(
            text(
                """INSERT INTO retail.shipments (order_id, carrier, service_code, status, tracking_pin,
                                                 remote_shipment_id, label_path, weight_grams, label_created_at)
                   VALUES (:o, 'canada_post', 'DOM.EP', 'label_created', :pin, :sid, :path, 1200, now())"""
            ),
            {"o": order_id, "pin": pin, "sid": f"sid-{pin}", "path": f"labels/2026/{pin}.pdf"},
        )
        conn.execute(
            text(
                """INSERT INTO retail.order_status_history (order_id, status, source)
                   VALUES (:o, 'label_created', 'test')"""
            ),
            {"o": order_id},
        )
        if packed:
            conn.execute(
                text(
                    """INSERT INTO retail.order_status_history (order_id, status, source)
                       VALUES (:o, 'packed', 'test')"""
                ),
                {"o": order_id},
            )
    assert history(engine, order_id) == ["accepted", "label_created", *(["packed"] if packed else [])]
    return order_id


def external_id(engine: Engine, order_id: int) -> str:
    return rows(engine, "SELECT external_order_id AS e FROM retail.orders WHERE id = :o", o=order_id)[0]["e"]


def shipped_rows(engine: Engine) -> list[dict[str, Any]]:
    return rows(
        engine,
        "SELECT order_id, details FROM retail.order_status_history WHERE status = 'shipped' ORDER BY order_id",
    )


def writes(sim, since: int) -> list:
    return [e for e in sim.journal.entries()[since:] if e.method != "GET" and "oauth" not in e.path]


def pins(n: int) -> str:
    return f"7023{n:012d}"


# --- the carrier names (pure)


def test_channel_carrier_names_canada_post_per_channel():
    pin = "7023210039414604"
    assert channel_plugin("trademe").carrier("canada_post", pin).name == "Canada Post"
    assert channel_plugin("ebay").carrier("canada_post", pin).name == "CanadaPost"
    assert channel_plugin("shopify").carrier("canada_post", pin) == ChannelCarrier(
        "Canada Post", None, URL + pin
    )
    assert channel_plugin("reverb").carrier("canada_post", pin).name == "Canada Post"
    mirakl = channel_plugin("bestbuy").carrier("canada_post", pin)
    assert mirakl.name == "Canada Post" and mirakl.url == URL + pin and mirakl.code == "CPCL"
    # A hand-booked courier from Auckland (see test_carrier_routes.py) is named on every tracking channel.
    assert {channel_plugin(name).carrier("nz_post", pin).name for name in channel_names("tracking")} == {
        "NZ Post", "NZPost", "Other"
    }  # fmt: skip
    with pytest.raises(UnknownCarrier):
        channel_plugin("ebay").carrier("fedex", pin)
    with pytest.raises(ValueError, match="unknown channel"):
        channel_plugin("etsy")
    with pytest.raises(UnknownCarrier):  # no tracking there: it names no carrier
        channel_plugin("vintage_and_rare").carrier("canada_post", pin)


def test_every_channel_has_a_pusher_and_all_but_trade_me_a_lookup_before_pushing_again():
    assert set(channel_names("tracking")) == {
        "trademe",
        "ebay",
        "shopify",
        "reverb",
        "bestbuy",
        "amazon",
        "kaufland",
    }
    # Trade Me answers a repeated courier parcel with "duplicate parcel": its push is its lookup.
    assert {c.name for c in all_channels() if c.find_tracking} == {
        "ebay",
        "shopify",
        "reverb",
        "bestbuy",
        "amazon",
        "kaufland",
    }


# --- against the simulators


def test_each_channel_gets_its_tracking_once_and_the_order_ships(engine, sim, market, listed, channels):
    ids = {channel: labelled_order(engine, sim, market, channels, channel, pins(n)) for n, channel in
           enumerate(CHANNELS)}  # fmt: skip
    result = run_tracking(engine, channels)
    assert result.counts == {"orders_found": 4, "pushed": 4, "adopted": 0, "shipped": 4, "tracking_failed": 0,
                             "retry_later": 0, "no_client": 0}  # fmt: skip
    for n, (channel, order_id) in enumerate(ids.items()):
        assert remote_tracking(sim, channel, external_id(engine, order_id)) == [pins(n)], channel
        assert history(engine, order_id) == ["accepted", "label_created", "packed", "shipped"]
        ship = rows(engine, "SELECT * FROM retail.shipments WHERE order_id = :o", o=order_id)[0]
        assert ship["status"] == "shipped" and ship["tracking_sent_at"] and ship["shipped_at"]
    details = {r["order_id"]: r["details"] for r in shipped_rows(engine)}
    assert details[ids["ebay"]]["remote"]["fulfillment_id"] == pins(1)
    assert details[ids["trademe"]]["carrier"] == "canada_post" and details[ids["trademe"]][
        "tracking_pin"
    ] == pins(0)
    assert details[ids["trademe"]]["remote"]["courier_parcel_id"]
    outcomes = rows(engine, "SELECT outcome, count(*) AS n FROM retail.activity_log WHERE action = 'tracking.push'"
                            " GROUP BY outcome")  # fmt: skip
    assert {r["outcome"]: r["n"] for r in outcomes} == {"intent": 4, "succeeded": 4}

    journal = len(sim.journal.entries())
    again = run_tracking(engine, channels)  # nothing left: no channel called at all
    assert again.counts == {k: 0 for k in again.counts}
    assert sim.journal.entries()[journal:] == []
    assert len(shipped_rows(engine)) == 4


@pytest.mark.parametrize("channel", CHANNELS)
def test_a_crash_after_the_push_is_adopted_not_pushed_again(engine, sim, market, listed, channels, channel):
    order_id = labelled_order(engine, sim, market, channels, channel, pins(50))

    def crash(order: int) -> None:
        raise RuntimeError(f"killed after pushing {order}")

    with pytest.raises(RuntimeError, match="killed"):
        run_tracking(engine, channels, after_push=crash)
    external = external_id(engine, order_id)
    assert remote_tracking(sim, channel, external) == [pins(50)]  # the channel has it, we do not
    assert history(engine, order_id) == ["accepted", "label_created", "packed"]

    journal = len(sim.journal.entries())
    again = run_tracking(engine, channels)
    assert again.counts["adopted"] == 1 and again.counts["pushed"] == 0 and again.counts["shipped"] == 1
    assert remote_tracking(sim, channel, external) == [pins(50)]  # still exactly one parcel/fulfilment
    assert history(engine, order_id) == ["accepted", "label_created", "packed", "shipped"]
    if (
        channel != "trademe"
    ):  # eBay, Shopify, Reverb: a lookup only; Trade Me's repeat is refused as a duplicate
        assert writes(sim, journal) == []


def test_a_refusal_is_tracking_failed_once_with_one_ops_task_then_ships(
    engine, sim, market, listed, channels
):
    order_id = labelled_order(engine, sim, market, channels, "trademe", pins(70))
    real = external_id(engine, order_id)
    with engine.begin() as conn:  # Trade Me does not know this purchase: it refuses the parcel
        conn.execute(
            text("UPDATE retail.orders SET external_order_id = '999' WHERE id = :o"), {"o": order_id}
        )

    first = run_tracking(engine, channels)
    assert first.counts["tracking_failed"] == 1 and first.counts["shipped"] == 0
    second = run_tracking(engine, channels)  # the order is picked again, refused again
    assert second.counts["tracking_failed"] == 1
    assert history(engine, order_id) == ["accepted", "label_created", "packed", "tracking_failed"]
    tasks = rows(engine, "SELECT kind, dedupe_key, occurrences, status FROM retail.ops_tasks")
    assert tasks == [{"kind": "tracking_failed", "dedupe_key": f"tracking_failed:order:{order_id}",
                      "occurrences": 2, "status": "open"}]  # fmt: skip
    assert rows(engine, "SELECT status FROM retail.shipments WHERE order_id = :o", o=order_id)[0][
        "status"
    ] == ("label_created")

    with engine.begin() as conn:  # someone corrects the purchase id
        conn.execute(
            text("UPDATE retail.orders SET external_order_id = :e WHERE id = :o"), {"e": real, "o": order_id}
        )
    fixed = run_tracking(engine, channels)
    assert fixed.counts["shipped"] == 1
    assert remote_tracking(sim, "trademe", real) == [pins(70)]
    assert history(engine, order_id) == ["accepted", "label_created", "packed", "tracking_failed", "shipped"]
    assert rows(engine, "SELECT status, resolved_by FROM retail.ops_tasks") == [
        {"status": "resolved", "resolved_by": "tracking_updates"}
    ]


def test_retryable_waits_auth_fails_the_run_missing_client_is_skipped(
    engine, sim, market, listed, channels, monkeypatch
):
    order_id = labelled_order(engine, sim, market, channels, "reverb", pins(80))

    async def outage(*args):
        raise ChannelError("reverb", "HTTP 503 after 6 attempts", status=503, retryable=True)

    async def unauthorised(*args):
        raise ChannelError("reverb", "HTTP 401 bad token", status=401)

    def reverb_pushing(push):
        return lambda name: (
            replace(channel_plugin(name), push_tracking=push) if name == "reverb" else channel_plugin(name)
        )

    monkeypatch.setattr(tracking, "channel_plugin", reverb_pushing(outage))
    assert run_tracking(engine, channels).counts["retry_later"] == 1
    assert history(engine, order_id) == ["accepted", "label_created", "packed"]
    monkeypatch.setattr(tracking, "channel_plugin", reverb_pushing(unauthorised))
    with pytest.raises(ChannelError, match="401"):
        run_tracking(engine, channels)
    assert history(engine, order_id) == ["accepted", "label_created", "packed"]
    assert rows(engine, "SELECT count(*) AS n FROM retail.ops_tasks")[0]["n"] == 0

    # A Best Buy order while Best Buy takes no tracking: left alone, the others still ship.
    monkeypatch.setattr(tracking, "channel_plugin", channel_plugin)
    with engine.begin() as conn:
        conn.execute(text("UPDATE retail.orders SET channel = 'bestbuy' WHERE id = :o"), {"o": order_id})
    monkeypatch.setattr(
        tracking,
        "channel_names",
        lambda capability=None: tuple(c for c in channel_names(capability) if c != "bestbuy"),
    )
    shopify = labelled_order(engine, sim, market, channels, "shopify", pins(81))
    result = run_tracking(engine, channels)
    assert result.counts["no_client"] == 1 and result.counts["shipped"] == 1
    assert history(engine, shopify)[-1] == "shipped"
    assert history(engine, order_id) == ["accepted", "label_created", "packed"]


def test_materialize_ships_through_dagster(engine, sim, market, listed, channels, simulator_url, db_url):
    """Dagster rebuilds resources from config: the run reaches the simulators on loopback."""
    order_id = labelled_order(engine, sim, market, channels, "ebay", pins(90))
    resources = {"db": DatabaseResource(url=db_url), "channels": ChannelsResource()}
    result = dg.materialize([tracking_updates], resources=resources)
    assert result.success
    meta = {
        k: v.value for k, v in result.asset_materializations_for_node("tracking_updates")[0].metadata.items()
    }
    assert meta["orders_found"] == 1 and meta["pushed"] == 1 and meta["shipped"] == 1
    assert meta["tracking_failed"] == 0 and meta["retry_later"] == 0
    assert meta["shipped_preview"][0]["order_id"] == order_id
    assert remote_tracking(sim, "ebay", external_id(engine, order_id)) == [pins(90)]
    again = dg.materialize([tracking_updates], resources=resources)
    meta = {
        k: v.value for k, v in again.asset_materializations_for_node("tracking_updates")[0].metadata.items()
    }
    assert meta["orders_found"] == 0 and meta["shipped"] == 0
    assert len(shipped_rows(engine)) == 1


# --- the warehouse step (PACKING_REQUIRED)


def test_with_packing_required_a_labelled_order_waits_until_it_is_packed(
    engine, sim, market, listed, channels, monkeypatch
):
    from retail_pipeline.settings import get_settings

    monkeypatch.setenv("PACKING_REQUIRED", "true")
    get_settings.cache_clear()
    waiting = labelled_order(engine, sim, market, channels, "shopify", pins(60), packed=False)
    packed = labelled_order(engine, sim, market, channels, "reverb", pins(61))
    journal = len(sim.journal.entries())
    result = run_tracking(engine, channels)  # the setting, read from the environment
    assert result.counts["orders_found"] == 1 and result.counts["shipped"] == 1
    assert history(engine, packed)[-2:] == ["packed", "shipped"]
    assert history(engine, waiting) == ["accepted", "label_created"]  # not told it shipped: still on a shelf
    assert sim.backend("shopify").order(int(external_id(engine, waiting))).fulfillment_status != "fulfilled"
    assert not [e for e in writes(sim, journal) if "shopify" in e.path]


def test_without_packing_required_a_labelled_order_ships_as_before(
    engine, sim, market, listed, channels, monkeypatch
):
    from retail_pipeline.settings import get_settings

    monkeypatch.setenv("PACKING_REQUIRED", "false")
    get_settings.cache_clear()
    labelled = labelled_order(engine, sim, market, channels, "shopify", pins(62), packed=False)
    packed = labelled_order(engine, sim, market, channels, "ebay", pins(63))  # packed anyway: ships too
    result = run_tracking(engine, channels)
    assert result.counts["orders_found"] == 2 and result.counts["shipped"] == 2
    assert history(engine, labelled) == ["accepted", "label_created", "shipped"]
    assert history(engine, packed) == ["accepted", "label_created", "packed", "shipped"]
    assert remote_tracking(sim, "shopify", external_id(engine, labelled)) == [pins(62)]
    assert run_tracking(engine, channels, packing_required=True).counts["orders_found"] == 0

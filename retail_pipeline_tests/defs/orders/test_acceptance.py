"""order_acceptance against the Best Buy (Mirakl) simulator: stock-checked decisions, OR21 once, the
poll, refusal, acceptance_failed in the inbox, crash safety, and the way on to labels and tracking."""

from __future__ import annotations

from typing import Any

import dagster as dg
import httpx
import pytest
from sqlalchemy import text

from retail_pipeline.defs.fulfilment.labels import run_labels
from retail_pipeline.defs.fulfilment.tracking import run_tracking
from retail_pipeline.defs.orders.acceptance import AcceptanceSettings, Acceptor, decide_line, order_acceptance
from retail_pipeline.defs.orders.assets import sync_orders
from retail_pipeline.defs.resources import CarriersResource, ChannelsResource, DatabaseResource
from retail_pipeline.domain.order_sources import Window
from retail_pipeline.integrations.carriers.canadapost import CanadaPostSettings
from retail_pipeline_tests.seeds.packing import pack_order

from .conftest import count

QUICK_POLL = AcceptanceSettings(_env_file=None, poll_attempts=3, poll_initial_seconds=0, poll_max_seconds=0)


class Crash(Exception):
    pass


@pytest.fixture
def mirakl(sim):
    return sim.backend("mirakl")


def accept(engine, channels, **kwargs: Any):
    import asyncio

    acceptor = Acceptor(engine, channels, settings=kwargs.pop("settings", QUICK_POLL), **kwargs)
    return asyncio.run(acceptor.run(("bestbuy",)))


def sync(engine, sim, channels) -> None:
    _, result = sync_orders(engine, channels, "bestbuy", Window.day(sim.clock.now().date(), sim.clock.now()))
    assert not result.failed, result.failed


def order_row(engine, external: str) -> dict[str, Any]:
    with engine.connect() as conn:
        return dict(
            conn.execute(
                text("SELECT * FROM retail.orders WHERE channel = 'bestbuy' AND external_order_id = :e"),
                {"e": external},
            )
            .one()
            ._mapping
        )


def history(engine, external: str) -> list[str]:
    with engine.connect() as conn:
        return list(
            conn.scalars(
                text(
                    """SELECT h.status FROM retail.order_status_history h JOIN retail.orders o ON o.id = h.order_id
                        WHERE o.external_order_id = :e ORDER BY h.id"""
                ),
                {"e": external},
            )
        )


def stock(engine, sku: str) -> int:
    return count(engine, "SELECT stock_quantity FROM retail.products WHERE sku = :s", s=sku)


def accept_calls(sim, since: int = 0) -> list:
    return [e for e in sim.journal.entries()[since:] if e.system == "mirakl" and e.path.endswith("/accept")]


def test_decide_line_refuses_what_we_cannot_ship():
    assert decide_line(3, 2, False) is None
    assert decide_line(1, 2, False) == "out of stock (1 left, 2 ordered)"
    assert decide_line(0, 1, False).startswith("out of stock")
    assert decide_line(None, 1, False) == "not one of our products"
    assert decide_line(5, 1, True) == "no longer sold by the supplier"


def test_a_waiting_order_in_stock_is_accepted_once_and_its_units_taken_then(
    engine, sim, mirakl, listed, channels
):
    bought = mirakl.buy("RP-2003", 1)  # offered through our Shopify listing
    before = stock(engine, "RP-2003")
    sync(engine, sim, channels)
    assert history(engine, bought.order_id) == ["pending_acceptance"]
    assert stock(engine, "RP-2003") == before  # not a sale until accepted

    result = accept(engine, channels)
    assert (
        result.counts | {} == result.counts and result.counts["accepted"] == 1 and result.counts["sent"] == 1
    )
    assert history(engine, bought.order_id) == ["pending_acceptance", "accepted"]
    assert stock(engine, "RP-2003") == before - 1
    assert mirakl.orders[bought.order_id].state == "SHIPPING"
    assert count(engine, "SELECT count(*) FROM retail.order_lines WHERE status = 'accepted'") == 1

    journal = len(sim.journal.entries())
    again = accept(engine, channels)
    assert again.counts["orders_found"] == 0 and len(sim.journal.entries()) == journal  # no call at all
    assert stock(engine, "RP-2003") == before - 1
    # Mirakl's SHIPPING, seen by the next order sync, adds nothing to our history.
    sync(engine, sim, channels)
    assert history(engine, bought.order_id) == ["pending_acceptance", "accepted"]


def test_a_line_out_of_stock_is_refused_with_its_reason_and_the_order_refused(
    engine, sim, mirakl, listed, channels
):
    with engine.begin() as conn:
        conn.execute(text("UPDATE retail.products SET stock_quantity = 0 WHERE sku = 'RP-2001'"))
    mirakl.add_offer("RP-2001", 2, "399.00")  # Best Buy still offers it (the offer lagged behind)
    bought = mirakl.buy("RP-2001", 1)
    sync(engine, sim, channels)
    result = accept(engine, channels)
    assert result.counts["lines_refused"] == 1 and result.counts["refused"] == 1
    assert history(engine, bought.order_id) == ["pending_acceptance", "refused"]
    reason = count(engine, "SELECT refusal_reason FROM retail.order_lines WHERE sku = 'RP-2001'")
    assert reason == "out of stock (0 left, 1 ordered)"
    assert mirakl.orders[bought.order_id].state == "REFUSED"
    assert stock(engine, "RP-2001") == 0


def test_two_orders_for_the_last_unit_the_first_is_accepted_the_second_refused(
    engine, sim, mirakl, listed, channels
):
    with engine.begin() as conn:
        conn.execute(text("UPDATE retail.products SET stock_quantity = 1 WHERE sku = 'RP-2003'"))
    first, second = mirakl.buy("RP-2003", 1), mirakl.buy("RP-2003", 1)
    sync(engine, sim, channels)
    result = accept(engine, channels)
    assert (result.counts["accepted"], result.counts["refused"]) == (1, 1)
    assert (
        history(engine, first.order_id)[-1] == "accepted"
        and history(engine, second.order_id)[-1] == "refused"
    )
    assert stock(engine, "RP-2003") == 0
    # Sold out: every other channel's listing of it is to be withdrawn.
    assert count(engine, "SELECT count(*) FROM retail.channel_listings cl JOIN retail.products p ON p.id = cl.product_id"
                         " WHERE p.sku = 'RP-2003' AND cl.desired_state = 'withdrawn'") == 4  # fmt: skip


def test_mirakl_too_slow_is_acceptance_failed_in_the_inbox_then_accepted_on_the_next_run(
    engine, sim, mirakl, listed, channels
):
    # Each run reads the order once, then polls 3 times: 8 reads of lag outlast two runs.
    mirakl.config = mirakl.config.model_copy(update={"acceptance_lag_reads": 8})
    bought = mirakl.buy("RP-2003", 1)
    sync(engine, sim, channels)
    first = accept(engine, channels)
    assert first.counts["acceptance_failed"] == 1 and first.counts["sent"] == 1
    tasks = "SELECT count(*) FROM retail.ops_tasks WHERE kind = 'acceptance_failed' AND status = 'open'"
    assert count(engine, tasks) == 1
    second = accept(engine, channels)  # still waiting: the task is bumped, not duplicated
    assert second.counts["sent"] == 0 and second.counts["decided"] == 0
    assert count(engine, tasks) == 1
    assert count(engine, "SELECT occurrences FROM retail.ops_tasks WHERE kind = 'acceptance_failed'") == 2
    third = accept(engine, channels)
    assert third.counts["accepted"] == 1
    assert history(engine, bought.order_id) == ["pending_acceptance", "acceptance_failed", "accepted"]
    assert count(engine, tasks) == 0
    assert len(accept_calls(sim)) == 1  # OR21 sent once over the three runs


def test_a_crash_after_or21_neither_decides_nor_sells_twice(engine, sim, mirakl, listed, channels):
    bought = mirakl.buy("RP-2003", 1)
    sync(engine, sim, channels)
    before = stock(engine, "RP-2003")

    def crash(order_id: int) -> None:
        raise Crash("killed after OR21")

    with pytest.raises(Crash):
        accept(engine, channels, after_send=crash)
    assert history(engine, bought.order_id) == ["pending_acceptance"]
    assert stock(engine, "RP-2003") == before - 1  # taken with the decision, committed before OR21
    again = accept(engine, channels)
    assert again.counts["decided"] == 0 and again.counts["accepted"] == 1
    assert history(engine, bought.order_id) == ["pending_acceptance", "accepted"]
    assert stock(engine, "RP-2003") == before - 1
    assert count(engine, "SELECT count(*) FROM retail.activity_log WHERE action = 'stock.sale'") == 1
    assert (
        count(
            engine,
            "SELECT count(*) FROM retail.activity_log WHERE action = 'order.accept' AND outcome = 'intent'",
        )
        == 1
    )


def test_materialized_through_dagster_and_on_to_label_and_tracking(
    engine,
    sim,
    mirakl,
    listed,
    channels,
    simulator_app,
    simulator_url,
    db_url,
    settings_env,
    monkeypatch,
):
    monkeypatch.setenv("ACCEPTANCE_POLL_INITIAL_SECONDS", "0")
    for key in ("CANADAPOST_BACKOFF_INITIAL_SECONDS", "CANADAPOST_BACKOFF_MAX_SECONDS"):
        monkeypatch.setenv(key, "0")
    bought = mirakl.buy("RP-2003", 1)
    sync(engine, sim, channels)
    resources = {"db": DatabaseResource(url=db_url), "channels": ChannelsResource()}
    result = dg.materialize([order_acceptance], resources=resources)
    assert result.success
    meta = result.asset_materializations_for_node("order_acceptance")[0].metadata
    assert meta["accepted"].value == 1 and meta["lines_accepted"].value == 1

    carriers = CarriersResource().with_kwargs(
        canada_post={"settings": CanadaPostSettings(_env_file=None),
                     "transport": httpx.ASGITransport(app=simulator_app), "clock": sim.clock.now}
    )  # fmt: skip
    labels = run_labels(engine, carriers)
    assert labels.counts["labels_created"] == 1, labels.failed
    assert run_tracking(engine, channels).counts["orders_found"] == 0  # not packed yet
    assert pack_order(engine, count(engine, "SELECT id FROM retail.orders"))["changed"]
    shipped = run_tracking(engine, channels)
    assert shipped.counts["shipped"] == 1, shipped
    remote = mirakl.orders[bought.order_id]
    pin = count(engine, "SELECT tracking_pin FROM retail.shipments")
    assert (remote.state, remote.tracking_number, remote.carrier_code) == ("SHIPPED", pin, "CPCL")
    assert history(engine, bought.order_id) == [
        "pending_acceptance", "accepted", "label_created", "packed", "shipped"
    ]  # fmt: skip


def test_an_order_sync_with_new_orders_starts_fulfilment_and_one_without_does_not(
    engine, sim, mirakl, listed, simulator_url, db_url
):
    from retail_pipeline.definitions import defs as build_defs
    from retail_pipeline.defs.fulfilment.schedules import fulfil_after_order_sync
    from retail_pipeline.partitions import order_partition_key

    mirakl.buy("RP-2003", 1)
    job = build_defs().resolve_job_def("order_sync")
    key = str(order_partition_key("bestbuy", sim.clock.now().date()))

    def sync_and_sense(instance):
        result = job.execute_in_process(instance=instance, partition_key=key,
                                        resources={"db": DatabaseResource(url=db_url)})  # fmt: skip
        assert result.success
        context = dg.build_run_status_sensor_context(
            sensor_name=fulfil_after_order_sync.name, dagster_instance=instance,
            dagster_run=result.dagster_run, dagster_event=result.get_run_success_event(),
        )  # fmt: skip
        return fulfil_after_order_sync(context)

    with dg.instance_for_test() as instance:
        first = sync_and_sense(instance)
        assert isinstance(first, dg.RunRequest) and first.run_key.startswith("fulfil-after:")
        again = sync_and_sense(instance)  # nothing new on Best Buy
        assert isinstance(again, dg.SkipReason) and "no new orders" in again.skip_message
    assert count(engine, "SELECT count(*) FROM retail.orders WHERE channel = 'bestbuy'") == 1


def test_a_crash_after_the_tracking_push_is_adopted_from_mirakl_not_pushed_again(
    engine, sim, mirakl, listed, channels, simulator_app, settings_env, monkeypatch
):
    for key in ("CANADAPOST_BACKOFF_INITIAL_SECONDS", "CANADAPOST_BACKOFF_MAX_SECONDS"):
        monkeypatch.setenv(key, "0")
    bought = mirakl.buy("RP-2003", 1)
    sync(engine, sim, channels)
    accept(engine, channels)
    carriers = CarriersResource().with_kwargs(
        canada_post={"settings": CanadaPostSettings(_env_file=None),
                     "transport": httpx.ASGITransport(app=simulator_app), "clock": sim.clock.now}
    )  # fmt: skip
    assert run_labels(engine, carriers).counts["labels_created"] == 1

    def crash(order_id: int) -> None:
        raise Crash("killed after OR24")

    with pytest.raises(Crash):  # a shop without a warehouse step: shipped once labelled
        run_tracking(engine, channels, after_push=crash, packing_required=False)
    assert mirakl.orders[bought.order_id].state == "SHIPPED"
    again = run_tracking(engine, channels, packing_required=False)
    assert (again.counts["adopted"], again.counts["pushed"], again.counts["shipped"]) == (1, 0, 1)
    ships = [
        e for e in sim.journal.entries(system="mirakl") if e.method == "PUT" and e.path.endswith("/ship")
    ]
    assert len(ships) == 1
    assert history(engine, bought.order_id) == ["pending_acceptance", "accepted", "label_created", "shipped"]

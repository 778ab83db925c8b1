"""The Vintage & Rare client in real headless Chromium against the simulated dealer site on loopback:
the form flows confirmed by the CSV, both layouts, an expired session, a challenge, an unknown brand,
a crash between submitting the form and our commit, the browser pool, and a sale seen only in the CSV."""

from __future__ import annotations

import asyncio
from decimal import Decimal

import dagster as dg
import pytest
from sqlalchemy import text

from retail_pipeline.channels.vintage_and_rare import VintageAndRareClient, listing_from_row, parse_inventory
from retail_pipeline.defs.listings.assets import channel_listings
from retail_pipeline.defs.listings.publish import publish
from retail_pipeline.defs.listings.state import detect, reconcile
from retail_pipeline.defs.resources import ChannelsResource, DatabaseResource
from retail_pipeline.integrations.marketplaces.base import ChannelError

from .conftest import client, draft, seed_vr_draft

SEEDED = {
    "brand": "Fender", "model": "Player Stratocaster", "category": "Guitars", "subcategory": "Electric Guitars",
    "price": "1500.00", "currency": "GBP", "quantity": "1", "condition": "Mint", "description": "Listed by us",
}  # fmt: skip
FENDER = (
    "RP-1002",
    "Fender Player Stratocaster Electric Guitar",
    "Guitars",
    "1150.00",
    1,
    "Fender",
    "0144502500",
    1,
)


def items_with(backend, reference: str) -> list:
    return [i for i in backend.items.values() if i.reference == reference and not i.deleted]


@pytest.mark.anyio
async def test_create_with_every_field_and_photos_then_reprice_requantify_withdraw(
    site, vr_settings, vr_backend, settings_env
):
    media = settings_env.media_dir
    async with client(vr_settings) as vr:
        assert await vr.validate(draft("VR-A1", media, photo_count=2)) == []
        created = await vr.create(draft("VR-A1", media, photo_count=2))
        item = vr_backend.items[int(created.external_id)]  # the site's own record of what the form sent
        assert (item.brand, item.model, item.year, item.price, item.currency, item.quantity) == (
            "Fender", "Stratocaster", 1965, Decimal("12500.00"), "GBP", 1,
        )  # fmt: skip
        assert (item.condition, item.description, item.reference) == (
            "Very good",
            "Original finish, plays well.",
            "VR-A1",
        )
        assert (item.category.name, item.subcategory_name, len(item.images)) == (
            "Guitars",
            "Electric Guitars",
            2,
        )
        assert (created.state, created.price, created.quantity, created.sku) == (
            "live",
            Decimal("12500.00"),
            1,
            "VR-A1",
        )
        assert created.title == "1965 Fender Stratocaster" and len(created.photos) == 2
        assert (created.brand, created.condition, created.currency) == ("Fender", "used", "GBP")
        assert created.url and created.url.startswith(vr_settings.base_url)

        assert await vr.create(draft("VR-A1")) == await vr.find_by_sku("VR-A1")  # never a second item
        assert len(items_with(vr_backend, "VR-A1")) == 1

        repriced = await vr.update_price(created, Decimal("11999.5"))
        assert repriced.price == Decimal("11999.50") == item.price
        requantified = await vr.update_quantity(repriced, 3)
        assert requantified.quantity == 3 == item.quantity

        gone = await vr.withdraw(requantified, "an operator stopped selling it")  # delete + confirm
        assert gone.state == "withdrawn" and item.deleted and await vr.find_by_sku("VR-A1") is None

        (other,) = vr_backend.seed_items([{**SEEDED, "external_id": "VR-A2"}])  # the form is tested above
        listed = await vr.find_by_sku("VR-A2")
        sold = await vr.withdraw(listed, "sold out: ebay order 17-1")  # sold elsewhere: "Mark as sold"
        assert sold.state == "sold" and other.status == "sold" and not other.deleted


@pytest.mark.anyio
async def test_layout_b_and_an_expired_session_work_with_the_same_code(site, vr_settings, vr_backend):
    site.put("/_control/site", json={"layout": "b", "expire_sessions": True})  # any session saved: refused
    assert site.get("/_control/site").json()["layout"] == "b"
    before = set(vr_backend.sessions)
    async with client(vr_settings) as vr:  # signs in once, then the same code fills layout b
        created = await vr.create(draft("VR-B1", quantity=2))
    (fresh,) = set(vr_backend.sessions) - before  # one sign-in, its session saved for the next client
    assert fresh in vr_settings.storage_state.read_text()
    (item,) = items_with(vr_backend, "VR-B1")
    assert (item.brand, item.subcategory_name, item.quantity, item.condition, item.year) == (
        "Fender", "Electric Guitars", 2, "Very good", 1965,
    )  # fmt: skip
    assert created.quantity == 2 and created.external_id == str(item.id)


@pytest.mark.anyio
async def test_unknown_brand_is_refused_by_name_and_nothing_is_created(site, vr_settings, vr_backend):
    before = len(vr_backend.items)
    async with client(vr_settings) as vr:
        problems = await vr.validate(draft("VR-U1", brand="Xyzzyphone"))
        assert any("Xyzzyphone" in p for p in problems)
        with pytest.raises(ChannelError, match="Xyzzyphone") as refused:
            await vr.create(draft("VR-U1", brand="Xyzzyphone"))
    assert refused.value.retryable is False
    assert len(vr_backend.items) == before


def test_selling_reads_every_field_of_the_export(site, vr_settings, vr_backend):
    vr_backend.seed_items([
        {"external_id": "", "brand": "Gibson", "model": "Les Paul Standard", "year": "1959", "category": "Guitars",
         "subcategory": "Electric Guitars", "price": "250000.00", "currency": "USD", "quantity": "1",
         "condition": "Excellent", "description": "By hand", "image_urls": "a.jpg|b.jpg|c.jpg", "status": "sold"},
    ])  # fmt: skip

    async def read():
        async with client(vr_settings) as vr:
            return [listing async for listing in vr.selling()]

    listings = asyncio.run(read())
    by_hand = next(x for x in listings if x.brand == "Gibson")
    assert (by_hand.sku, by_hand.state, by_hand.quantity, by_hand.price) == (
        None,
        "sold",
        0,
        Decimal("250000.00"),
    )
    assert (by_hand.currency, by_hand.condition, by_hand.description, by_hand.mpn) == (
        "USD",
        "refurbished",
        "By hand",
        "Les Paul Standard",
    )
    assert by_hand.title == "1959 Gibson Les Paul Standard" and len(by_hand.photos) == 3
    assert by_hand.remote_ids["category"] == "Guitars > Electric Guitars"
    assert len(listings) == sum(1 for i in vr_backend.items.values() if not i.deleted)


def test_export_with_other_columns_is_refused():
    with pytest.raises(ChannelError, match="unexpected columns"):
        parse_inventory("item_id,price\n1,2\n")
    row = dict.fromkeys(parse_inventory.__globals__["CSV_COLUMNS"], "") | {
        "item_id": "9",
        "status": "for_sale",
    }
    assert listing_from_row(row).state == "live" and listing_from_row(row).sku is None


# --- through the pipeline: publish, the asset, the state sync


@pytest.fixture
def product(engine, settings_env) -> int:
    from retail_pipeline_tests.seeds.listed_products import seed_products

    return seed_products(engine, settings_env.media_dir, products=[FENDER], categories=False)["RP-1002"]


def listing(engine, sku: str = "RP-1002") -> dict:
    with engine.connect() as conn:
        row = conn.execute(
            text("SELECT * FROM retail.channel_listings WHERE channel = 'vintage_and_rare' AND sku = :s"),
            {"s": sku},
        ).one()
        return dict(row._mapping)


def test_a_crash_after_the_form_was_submitted_never_makes_a_second_item(
    engine, product, settings_env, site, vr_settings, vr_backend, monkeypatch
):
    seed_vr_draft(engine, product, "RP-1002", settings_env.media_dir)

    async def crash(self, sku, item_id):
        raise RuntimeError("killed between the saved form and our commit")

    monkeypatch.setattr(VintageAndRareClient, "after_submit", crash)
    with pytest.raises(RuntimeError, match="killed"):
        asyncio.run(publish(engine, client(vr_settings), media_url=str))
    assert listing(engine)["actual_state"] == "pending" and len(items_with(vr_backend, "RP-1002")) == 1
    monkeypatch.undo()

    rerun = asyncio.run(publish(engine, client(vr_settings), media_url=str))
    assert rerun.counts["adopted"] == 1 and rerun.counts["created"] == 0
    (item,) = items_with(vr_backend, "RP-1002")
    row = listing(engine)
    assert (row["actual_state"], row["external_listing_id"]) == ("live", str(item.id))


def test_a_challenge_stops_the_pass_opens_one_task_with_the_trace_and_the_browser_pool_is_held(
    engine, product, settings_env, site, vr_settings, db_url, monkeypatch
):
    from retail_pipeline.api.console.templating import media_link

    seed_vr_draft(engine, product, "RP-1002", settings_env.media_dir)
    site.put("/_control/site", json={"challenge": True})
    claimed: list = []
    inventory = VintageAndRareClient._inventory

    async def watched(self, page):  # what the instance says while the client works
        claimed.extend(instance.event_log_storage.get_concurrency_info("browser").claimed_slots)
        return await inventory(self, page)

    monkeypatch.setattr(VintageAndRareClient, "_inventory", watched)
    for name in ("base_url", "email", "cdp_url", "storage_state"):  # the client the asset makes reads these
        monkeypatch.setenv(f"VR_{name.upper()}", str(getattr(vr_settings, name)))
    monkeypatch.setenv("VR_PASSWORD", vr_settings.password.get_secret_value())
    resources = {"db": DatabaseResource(url=db_url), "channels": ChannelsResource()}
    with dg.instance_for_test() as instance:
        result = dg.materialize(
            [channel_listings], partition_key="vintage_and_rare", resources=resources, instance=instance
        )
        assert result.success  # the run does not fail
        meta = result.asset_materializations_for_node("channel_listings")[0].metadata
        assert (meta["blocked"].value, meta["failed"].value, meta["deferred"].value) == (1, 0, 1)
        info = instance.event_log_storage.get_concurrency_info("browser")
        assert info.slot_count == 1 and info.claimed_slots == []  # one browser; released after the step
    assert [(s.run_id, s.step_key) for s in claimed] == [
        (result.run_id, "channel_listings[vintage_and_rare]")
    ]
    monkeypatch.setattr(VintageAndRareClient, "_inventory", inventory)
    again = asyncio.run(publish(engine, client(vr_settings), media_url=str))  # the next pass: the same task
    assert (again.counts["blocked"], again.counts["failed"]) == (1, 0)
    row = listing(engine)
    assert row["actual_state"] == "pending" and row["last_error"] is None  # nothing marked failed
    with engine.connect() as conn:
        tasks = conn.execute(
            text("SELECT kind, dedupe_key, occurrences, details FROM retail.ops_tasks")
        ).all()
    assert [(t.kind, t.dedupe_key, t.occurrences) for t in tasks] == [
        ("channel_sign_in", "channel_sign_in:vintage_and_rare", 2)
    ]
    trace = tasks[0].details["trace"]
    assert "vr login" in tasks[0].details["action"]
    assert (settings_env.media_dir / trace).is_file() and trace.startswith("traces/vintage_and_rare/")
    assert media_link(trace).startswith(f"/media/{trace}?expires=")


def test_sold_on_vintage_and_rare_takes_the_stock_once_and_withdraws_elsewhere(
    engine, settings_env, site, vr_settings, vr_backend
):
    from retail_pipeline_tests.seeds.listed_products import seed_products

    sku = "RP-1102"  # the module's site keeps RP-1002 from the tests above
    product = seed_products(engine, settings_env.media_dir, products=[(sku, *FENDER[1:])], categories=False)[
        sku
    ]
    (item,) = vr_backend.seed_items([{**SEEDED, "external_id": sku}])
    with engine.begin() as conn:
        for channel, ext in (("vintage_and_rare", str(item.id)), ("reverb", "rv-1")):
            conn.execute(
                text("""INSERT INTO retail.channel_listings (channel, sku, product_id, external_listing_id, currency,
                            desired_price, actual_price, desired_quantity, actual_quantity, desired_state, actual_state)
                        VALUES (:c, :sku, :p, :e, 'GBP', 1500, 1500, 1, 1, 'live', 'live')"""),
                {"c": channel, "p": product, "e": ext, "sku": sku},
            )  # fmt: skip
    vr_backend.buy(sku, 1)  # a shopper on V&R: seen only in the CSV

    async def sync_twice() -> list[dict]:
        async with client(vr_settings) as vr:
            passes = []
            for _ in range(2):
                remote = [x async for x in vr.selling()]
                passes.append(
                    detect(engine, "vintage_and_rare", remote) | reconcile(engine, "vintage_and_rare")
                )
            return passes

    first, second = asyncio.run(sync_twice())
    assert first["status"] == 1 and second.get("status") is None  # a second sync sees nothing new
    with engine.connect() as conn:
        stock = conn.scalar(text("SELECT stock_quantity FROM retail.products WHERE id = :p"), {"p": product})
        sales = conn.scalar(text("SELECT count(*) FROM retail.activity_log WHERE action = 'stock.sale'"))
        reverb = conn.execute(
            text(
                "SELECT desired_state, withdraw_reason FROM retail.channel_listings WHERE channel = 'reverb'"
            )
        ).one()
    assert (stock, sales) == (0, 1)
    assert reverb.desired_state == "withdrawn" and "Vintage & Rare" in reverb.withdraw_reason
    assert listing(engine, sku)["actual_state"] == "sold"


def test_vr_login_refuses_a_challenge_headless_then_signs_in_and_resolves_the_task(
    engine, settings_env, site, vr_settings, monkeypatch, capsys
):
    from retail_pipeline.cli import main
    from retail_pipeline.db.ops_tasks import open_task

    for name in ("base_url", "email", "cdp_url", "storage_state"):
        monkeypatch.setenv(f"VR_{name.upper()}", str(getattr(vr_settings, name)))
    monkeypatch.setenv("VR_PASSWORD", vr_settings.password.get_secret_value())
    for name in ("DAGSTER_HOME", "DAGSTER_POSTGRES_URL"):  # what prepare() sets, restored after the test
        monkeypatch.setenv(name, "")
    with engine.begin() as conn:
        open_task(conn, kind="channel_sign_in", key="channel_sign_in:vintage_and_rare", title="Sign in again",
                  channel="vintage_and_rare")  # fmt: skip
    site.put("/_control/site", json={"challenge": True})
    assert main(["vr", "login"]) == 1
    assert "bot-protection challenge" in capsys.readouterr().err
    site.put("/_control/site", json={"challenge": False})  # a person got past it
    assert main(["vr", "login"]) == 0
    assert str(vr_settings.storage_state) in capsys.readouterr().out
    with engine.connect() as conn:
        status = conn.scalar(text("SELECT status FROM retail.ops_tasks WHERE kind = 'channel_sign_in'"))
    assert status == "resolved"

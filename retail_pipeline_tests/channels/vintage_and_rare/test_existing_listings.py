"""A dealer already selling on Vintage & Rare, on the package's loopback site and one Chromium (the in-process
transport of channels/test_existing_listings.py and defs/listings/test_adoption.py cannot drive a
browser): `shop_inventory` items seeded on the site come back through `selling()` field by field, 2,000
items are read in one CSV export, and the state sync adopts, proposes or leaves unmatched what it finds,
after which a publish pass makes no second item."""

from __future__ import annotations

import asyncio
import random
from dataclasses import replace
from decimal import Decimal

import pytest
from sqlalchemy import text

from retail_pipeline.channels.vintage_and_rare import SIMULATOR_EMAIL, VintageAndRareClient
from retail_pipeline.defs.listings.publish import publish
from retail_pipeline.defs.listings.state import detect, reconcile
from retail_pipeline.integrations.marketplaces.base import RemoteListing
from retail_pipeline.simulators import get_simulator
from retail_pipeline.simulators.existing_listings import ExistingListing, catalogue_items, shop_inventory
from retail_pipeline.simulators.vintage_and_rare.taxonomy import canonical_brand

from .conftest import client, seed_vr_draft

CURRENCY = "GBP"  # the client's listing currency
FIELDS = ("sku", "price", "quantity", "currency", "gtin", "brand", "description", "condition")


def dealer_inventory(vr_app, n: int, *, start: int, catalogue: bool) -> list[ExistingListing]:
    """`n` items of a dealer's shop: V&R's form takes only brands it knows (any other is refused, below),
    so the shop's items are those of `shop_inventory` whose brand V&R knows."""
    sim = get_simulator(vr_app)
    known = [
        item
        for system, code in (("onecheq", "onecheq"), ("cashconverters", "cash_converters"))
        for item in catalogue_items(sim.backend(system).snapshot(), code)
        if canonical_brand(item.product.brand)
    ] if catalogue else []  # fmt: skip
    drawn = shop_inventory(random.Random(start), 4 * n, from_catalogue=known, currency=CURRENCY, start=start)
    return [i for i in drawn if i.brand and canonical_brand(i.brand) == i.brand][:n]


def model_of(item: ExistingListing) -> str:
    """V&R has no title: the dealer types brand and model (the MPN, else the title less the brand)."""
    title, brand = item.title, item.brand or ""
    return item.mpn or (
        title[len(brand) :].strip() if title.casefold().startswith(f"{brand.casefold()} ") else title
    )


async def read(vr: VintageAndRareClient) -> list[RemoteListing]:
    return [listing async for listing in vr.selling()]


def test_existing_items_come_back_field_by_field_and_a_bad_batch_is_refused_whole(
    vr_app, vr_base, site, vr_settings, vr_backend
):
    items = dealer_inventory(vr_app, 24, start=0, catalogue=True)
    assert sum(i.sku is None for i in items) >= 3 and sum(i.origin == "ours" for i in items) >= 1
    ids = vr_backend.seed_existing(items)

    async def read_once() -> list[RemoteListing]:
        async with client(vr_settings) as vr:
            return await read(vr)

    listings = {x.external_id: x for x in asyncio.run(read_once())}
    lacking = VintageAndRareClient.selling_lacks
    assert lacking == {"gtin"} and set(ids) <= set(listings)
    for external_id, want in zip(ids, items, strict=True):
        got = listings[external_id]
        assert got.state == "live"
        for field in FIELDS:
            value = getattr(got, field)
            if field in lacking:
                assert value is None, f"{field}: the client says the export cannot carry it"
            else:
                assert value == getattr(want, field), field
        assert got.mpn == model_of(want) and got.title == f"{want.brand} {model_of(want)}"
        # the site keeps its own copies of the photos, and serves them
        assert len(got.photos) == len(want.photos) and all(
            u.startswith(f"{vr_base}/images/") for u in got.photos
        )
    photo = site.get(listings[ids[0]].photos[0].removeprefix(vr_base))
    assert photo.status_code == 200 and photo.content[:2] == b"\xff\xd8"

    # a brand V&R does not know (or none) is refused by the form's own check: nothing of the batch is made
    before = len(vr_backend.items)
    odd = ExistingListing(None, "Spare phone charger bundle", "As pictured.", Decimal("20.00"), CURRENCY, 1,
                          "Anker", None, None, "used", (), None)  # fmt: skip
    refused = site.post(
        "/_control/existing_listings", json=[items[0].to_json() | {"sku": "NEW-1"}, odd.to_json()]
    )
    assert refused.status_code == 422 and "item 2: Unknown brand" in refused.text and "Anker" in refused.text
    with pytest.raises(ValueError, match="item 1: Brand is required"):
        vr_backend.seed_existing([replace(odd, brand=None)])
    assert len(vr_backend.items) == before


def test_a_dealer_of_2000_items_is_read_whole_in_one_export(site, vr_app, vr_settings, vr_backend):
    before = {str(i.id) for i in vr_backend.dealer_items(SIMULATOR_EMAIL)}
    # a second batch of the same shop, numbered past the first (no reference twice)
    ids = set(vr_backend.seed_existing(dealer_inventory(vr_app, 2000, start=1000, catalogue=False)))

    async def read_all() -> tuple[list[RemoteListing], int]:
        async with client(vr_settings) as vr:  # the module's saved session: no sign-in
            return await read(vr), vr.pages

    listings, calls = asyncio.run(read_all())
    seen = [x.external_id for x in listings]
    assert len(seen) == len(set(seen)) == len(before) + 2000  # every one, once
    assert set(seen) - before == ids
    assert calls == 1  # the call bound: one CSV export for the whole shop, whatever its size


# --- adoption: the state sync on what the dealer already sells (SKUs no other test of the package uses)

PRODUCTS = [
    ("RP-2002", "Fender Player Stratocaster Electric Guitar", "Guitars", "1150.00", 1, "Fender", "0144502500", 1),
    ("RP-2204", "Boss DS-1 Distortion Guitar Effects Pedal", "Effects", "89.00", 3, "Boss", "DS-1", 1),
]  # fmt: skip
COMMON = {"currency": CURRENCY, "photos": (), "category": None, "gtin": None}
EXACT = ExistingListing(sku="RP-2002", title="Fender Player Stratocaster", description="Sunburst, as new.",
                        price=Decimal("1090.00"), quantity=1, brand="Fender", mpn="0144502500", condition="new",
                        **COMMON)  # fmt: skip
LIKELY = ExistingListing(sku=None, title="boss ds-1 distortion pedal - great condition", description="Works.",
                         price=Decimal("59.00"), quantity=1, brand="Boss", mpn="DS-1", condition="used",
                         **COMMON)  # fmt: skip
STRANGER = ExistingListing(sku="SHOP-41533", title="Dunlop Cry Baby GCB95 wah", description="Used, works.",
                           price=Decimal("120.00"), quantity=1, brand="Dunlop", mpn=None, condition="used",
                           **COMMON)  # fmt: skip


def test_a_dealer_already_selling_is_adopted_and_a_publish_pass_makes_no_second_item(
    engine, settings_env, site, vr_settings, vr_backend
):
    from retail_pipeline_tests.seeds.listed_products import seed_products

    products = seed_products(engine, settings_env.media_dir, products=PRODUCTS, categories=False)
    seeded = {str(i.id): i for i in vr_backend.seed_items([EXACT, LIKELY, STRANGER])}

    async def sync() -> tuple[dict, dict]:
        async with client(vr_settings) as vr:
            remote = [x for x in await read(vr) if x.external_id in seeded]  # this test's items
            return detect(engine, "vintage_and_rare", remote), reconcile(engine, "vintage_and_rare")

    detected, applied = asyncio.run(sync())
    assert detected["unknown_listing"] == 3
    assert (applied.get("adopted"), applied.get("proposed"), applied.get("unmatched")) == (1, 1, 1), applied
    with engine.connect() as conn:
        adopted = conn.execute(
            text("SELECT * FROM retail.channel_listings WHERE channel = 'vintage_and_rare'")
        ).one()._mapping  # fmt: skip
        tasks = conn.execute(
            text("SELECT entity_id, details FROM retail.ops_tasks WHERE kind = 'listing_adoption' ORDER BY id")
        ).all()  # fmt: skip
    (exact_id,) = [k for k, i in seeded.items() if i.reference == "RP-2002"]
    assert (adopted["sku"], adopted["product_id"], adopted["external_listing_id"]) == (
        "RP-2002", products["RP-2002"], exact_id,
    )  # fmt: skip
    assert adopted["actual_price"] == adopted["desired_price"] == Decimal("1090.00")
    assert adopted["actual_state"] == "live" and adopted["currency"].strip() == CURRENCY
    proposals = {seeded[entity].reference or entity: details["candidates"] for entity, details in tasks}
    assert len(proposals) == 2 and proposals["SHOP-41533"] == []
    (likely,) = [c for ref, c in proposals.items() if ref != "SHOP-41533"]
    assert [c["sku"] for c in likely][:1] == ["RP-2204"]

    # a publish pass with a draft for the adopted product takes the adopted item, never makes a second
    count = len(vr_backend.items)
    draft = seed_vr_draft(engine, products["RP-2002"], "RP-2002", settings_env.media_dir)
    with engine.begin() as conn:  # the adopted item's price: nothing to change on the site
        conn.execute(text("UPDATE retail.listing_drafts SET price = 1090 WHERE id = :d"), {"d": draft})
    result = asyncio.run(publish(engine, client(vr_settings), media_url=str))
    assert result.counts.get("created", 0) == 0 and result.counts.get("adopted", 0) == 0, result.counts
    assert len(vr_backend.items) == count
    assert [i.id for i in vr_backend.items.values() if i.reference == "RP-2002" and not i.deleted] == [
        int(exact_id)
    ]

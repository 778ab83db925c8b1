"""A shop that already sells: listings seeded on each listing channel's simulator as the seller made
them on the website (`simulators/existing_listings.py`) come back through the real client's
`selling()` (and `describe()` where the channel's list leaves fields out), field by field, and a shop
of 2,000 listings is paged through within the calls each channel's page size allows."""

from __future__ import annotations

import asyncio
import math
import random
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import httpx
import pytest

from retail_pipeline.channels.registry import channel, channel_names
from retail_pipeline.integrations.marketplaces.base import RemoteListing
from retail_pipeline.simulators import Simulator, SimulatorConfig, build_simulator_app, get_simulator
from retail_pipeline.simulators.existing_listings import ExistingListing, catalogue_items, shop_inventory
from retail_pipeline_tests.simulated_channels import client_kwargs

# The currency each simulated seller account sells in (the clients' defaults).
CURRENCY = {
    "trademe": "NZD",
    "ebay": "USD",
    "shopify": "NZD",
    "reverb": "NZD",
    "amazon": "CAD",
    "kaufland": "EUR",
}
# Channels where every listing has a SKU: one listed without gets the seller's own (SELLER-…).
SKU_REQUIRED = {"ebay", "amazon"}
# Calls selling() may make for n listings: its pages at the largest size the API allows (+ a token).
CALL_BOUND = {
    "trademe": lambda n: math.ceil(n / 500),
    "ebay": lambda n: 1 + math.ceil(n / 200) + math.ceil(n / 100),  # token, inventory items, offers
    "shopify": lambda n: math.ceil(n / 250),
    "reverb": lambda n: math.ceil(n / 50),
    "amazon": lambda n: 1 + math.ceil(n / 20),  # LWA token, searchListingsItems
    "kaufland": lambda n: math.ceil(n / 100),
}
FIELDS = (
    "sku",
    "title",
    "price",
    "quantity",
    "currency",
    "gtin",
    "brand",
    "mpn",
    "description",
    "condition",
    "photos",
)


# The listing channels served over the in-process transport: a browser-driven one (its `Channel.pool`
# the browser pool) has no HTTP client to bind to it; its equivalents of these tests run on loopback with
# one Chromium, in its own package (channels/<name>/test_existing_listings.py).
IN_PROCESS = tuple(name for name in channel_names("listings") if channel(name).pool != "browser")


def test_the_tables_cover_the_registrys_listing_channels():
    assert set(IN_PROCESS) == set(CURRENCY) == set(CALL_BOUND)
    for name in set(channel_names("listings")) - set(IN_PROCESS):
        assert (Path(__file__).parent / name / "test_existing_listings.py").is_file(), name


@pytest.fixture(scope="module")
def simulators() -> Iterator[tuple[Any, Simulator]]:
    """One simulator for the module (each test touches one channel's backend); Amazon's usage plans
    sped up so a 2,000-listing read is not 20 s of waiting at 5 calls a second."""
    app = build_simulator_app(SimulatorConfig(seed=7, products_per_supplier=24))
    sim = get_simulator(app)
    amazon = sim.backend("amazon")
    amazon.config = amazon.config.model_copy(update={"rate_scale": 100.0})
    yield app, sim


def _client(simulators: tuple[Any, Simulator], name: str) -> Any:
    app, sim = simulators
    kwargs = client_kwargs(sim)[name]
    if name == "amazon":
        kwargs = {**kwargs, "settings": kwargs["settings"].model_copy(update={"rate_scale": 100.0})}
    return channel(name).new_client(transport=httpx.ASGITransport(app=app), **kwargs)


def _inventory(
    sim: Simulator, name: str, n: int, *, suppliers: dict[str, str], start: int
) -> list[ExistingListing]:
    """`n` existing listings from these suppliers' catalogues (simulator → our supplier code) and beyond,
    numbered from `start` (every one with a GTIN for Kaufland, which lists by EAN only)."""
    catalogue = [
        item
        for system, code in suppliers.items()
        for item in catalogue_items(sim.backend(system).snapshot(), code)
    ]
    return shop_inventory(
        random.Random(start),
        n,
        from_catalogue=catalogue,
        currency=CURRENCY[name],
        start=start,
        gtin_required=name == "kaufland",
    )


async def _read(client: Any, *, describe: bool) -> list[RemoteListing]:
    async with client:
        listings = [listing async for listing in client.selling()]
        return [await client.describe(x) for x in listings] if describe else listings


def _calls(sim: Simulator, name: str) -> int:
    return sum(1 for e in sim.journal.entries(system=name) if not e.path.startswith("/_control"))


def _expected(name: str, item: ExistingListing) -> ExistingListing:
    """What the channel can show of the item: its own SKU where one is required, its photos where it
    rehosts them (checked apart), an EAN-13 for a UPC on Kaufland, only brand new or not on Trade Me."""
    if name == "kaufland" and item.gtin:
        item = replace(item, gtin=item.gtin.zfill(13))
    if name == "trademe":
        item = replace(item, condition="new" if item.condition == "new" else "used")
    return item


@pytest.mark.parametrize("name", IN_PROCESS)
def test_every_field_of_existing_listings_comes_back_through_the_client(simulators, name):
    _, sim = simulators
    items = _inventory(
        sim, name, 30, suppliers={"onecheq": "onecheq", "noelleeming": "noel_leeming"}, start=0
    )
    assert sum(i.sku is None for i in items) >= 3 and sum(i.origin == "unrelated" for i in items) >= 3
    ids = sim.backend(name).seed_existing(items)
    client = _client(simulators, name)
    lacking = client.selling_lacks - client.described
    sim.journal.clear()
    listings = {x.external_id: x for x in asyncio.run(_read(client, describe=bool(client.described)))}

    assert set(ids) <= set(listings) and len(ids) == 30
    assert _calls(sim, name) <= CALL_BOUND[name](len(listings)) + (len(listings) if client.described else 0)
    for external_id, item in zip(ids, items, strict=True):
        got, want = listings[external_id], _expected(name, item)
        assert got.state == "live"
        for field in FIELDS:
            value = getattr(got, field)
            if field in lacking:
                assert value in (None, ()), f"{name} {field}: the client says it cannot carry it"
            elif field == "sku" and want.sku is None and name in SKU_REQUIRED:
                assert value.startswith("SELLER-")
            elif field == "photos" and name == "trademe":  # Trade Me hosts its own copies
                assert len(value) == len(want.photos) and all("/photoserver/fullsize/" in u for u in value)
            else:
                assert value == getattr(want, field), f"{name} {field}"

    if name == "trademe":  # a rehosted photo is served
        app, _ = simulators
        url = listings[ids[0]].photos[-1].replace("http://127.0.0.1:8765", "http://sim")

        async def fetch() -> httpx.Response:
            async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app)) as http:
                return await http.get(url)

        photo = asyncio.run(fetch())
        assert photo.status_code == 200 and photo.content[:2] == b"\xff\xd8"  # a JPEG


@pytest.mark.parametrize("name", IN_PROCESS)
def test_a_shop_of_2000_listings_is_read_whole_within_the_page_bound(simulators, name):
    _, sim = simulators
    client = _client(simulators, name)
    before = {x.external_id for x in asyncio.run(_read(client, describe=False))}
    # a second batch of the same shop: other products, numbered past the first (no SKU twice)
    more = _inventory(sim, name, 2000, suppliers={"cashconverters": "cash_converters"}, start=1000)
    ids = sim.backend(name).seed_existing(more)
    sim.journal.clear()
    listings = asyncio.run(_read(_client(simulators, name), describe=False))

    seen = [x.external_id for x in listings]
    assert len(seen) == len(set(seen)) == len(before) + 2000  # every one, once
    assert set(seen) - before == set(ids)
    assert _calls(sim, name) <= CALL_BOUND[name](len(seen))


def test_a_shop_inventory_mixes_our_skus_hand_made_listings_and_other_items(simulators):
    app, sim = simulators
    catalogue = catalogue_items(sim.backend("onecheq").snapshot(), "onecheq")
    items = shop_inventory(random.Random(5), 60, from_catalogue=catalogue)
    assert items == shop_inventory(random.Random(5), 60, from_catalogue=catalogue)  # seeded
    by_sku = {c.our_sku: c for c in catalogue}
    origins = {
        origin: [i for i in items if i.origin == origin] for origin in ("ours", "by_hand", "unrelated")
    }
    assert all(origins.values())
    for item in origins["ours"]:  # our SKU exactly, the supplier's product as it is
        source = by_sku[item.sku]
        assert item.catalogue_sku == item.sku and item.gtin == source.variant.gtin
        assert item.title.startswith(source.product.title) and item.brand == source.product.brand
    for item in origins["by_hand"]:  # no SKU or the shop's own, the title retyped
        assert item.sku is None or item.sku.startswith("SHOP-")
        assert item.catalogue_sku in by_sku and item.title != by_sku[item.catalogue_sku].product.title
    assert all(i.catalogue_sku is None and i.sku not in by_sku for i in origins["unrelated"])
    listed = [i.catalogue_sku for i in items if i.catalogue_sku]
    assert len(listed) == len(set(listed))  # a product is listed once

    async def fetch() -> httpx.Response:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app)) as http:
            return await http.get(items[0].photos[0].replace("http://127.0.0.1:8765", "http://sim"))

    photo = asyncio.run(fetch())
    assert photo.status_code == 200 and photo.headers["content-type"] == "image/jpeg"


def test_existing_listings_are_seeded_over_http_and_refused_whole_when_the_channel_cannot_carry_one(
    simulators,
):
    app, sim = simulators
    body = [
        {"title": "Boss DS-1 Distortion", "price": "89.00", "currency": "EUR", "gtin": "4957054010306"},
        {"title": "Box of cables", "price": "12.00", "currency": "EUR"},  # no EAN: Kaufland cannot list it
    ]

    async def post(system: str, items: list[dict[str, Any]]) -> httpx.Response:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://sim") as http:
            return await http.post(f"/{system}/_control/existing_listings", json=items)

    units = len(sim.backend("kaufland").units)
    refused = asyncio.run(post("kaufland", body))
    assert refused.status_code == 422 and "lists by EAN" in refused.text
    assert len(sim.backend("kaufland").units) == units  # nothing of the batch made

    made = asyncio.run(post("kaufland", body[:1]))
    assert made.status_code == 201 and made.json()["count"] == 1
    unit = sim.backend("kaufland").units[int(made.json()["ids"][0])]
    assert (unit.ean, unit.listing_price, unit.status) == ("4957054010306", 8900, "AVAILABLE")

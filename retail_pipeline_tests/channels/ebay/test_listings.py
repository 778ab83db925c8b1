"""Listing on eBay: inventory item -> offer -> publish, read back, repriced, restocked, withdrawn;
publish refusals in eBay's shape; and a create that survives a crash anywhere."""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal

import pytest

from retail_pipeline.channels.ebay import EbayClient, inventory_item
from retail_pipeline.integrations.marketplaces.base import ChannelError, RemoteListing

from .conftest import CrashBefore, LoseAnswer, make_draft, photo

pytestmark = pytest.mark.anyio


async def test_create_lists_the_draft_and_it_reads_back(client, backend, recorder):
    draft = make_draft()
    listing = await client.create(draft)

    assert listing.state == "live" and listing.sku == draft.sku and listing.price == Decimal("349.00")
    assert listing.url == f"https://www.ebay.com/itm/{listing.external_id}"
    assert [(e.request.method, e.status) for e in recorder.exchanges] == [
        ("POST", 200),  # token
        ("PUT", 204),  # inventory item
        ("POST", 201),  # offer
        ("POST", 200),  # publish
    ]
    item = backend.items[draft.sku]
    assert item.locale == "en_US" and item.data["condition"] == "NEW"
    assert item.product["aspects"] == {
        "Colour": ["Black"],
        "Type": ["Over-Ear"],
        "Brand": ["Sony"],
        "MPN": ["WH1000XM5/B"],
    }
    assert item.product["ean"] == ["4548736132580"]
    assert item.product["imageUrls"] == [
        "https://media.example.com/front.jpg",
        "https://media.example.com/back.jpg",
    ]
    (offer,) = backend.offers.values()
    assert offer.status == "PUBLISHED" and offer.listing.listing_id == listing.external_id
    assert offer.details["pricingSummary"] == {"price": {"value": "349.00", "currency": "USD"}}

    found = await client.find_by_sku(draft.sku)
    assert found is not None and found.external_id == listing.external_id and found.quantity == 3
    assert found.remote_ids["offer_id"] == listing.remote_ids["offer_id"]
    assert [r.external_id async for r in client.selling()] == [listing.external_id]


async def test_photo_refs_already_known_are_used_as_the_picture_urls(client, backend):
    front, back = photo("front"), replace(photo("back"), public_url=None)
    listing = await client.create(
        make_draft(photos=(front, back)), photo_refs={back.sha256: "https://cdn.example.com/b.jpg"}
    )
    refs = {front.sha256: front.public_url, back.sha256: "https://cdn.example.com/b.jpg"}
    assert backend.items["OC-100007"].product["imageUrls"] == list(refs.values())
    assert listing.remote_ids["photo_refs"] == refs  # for the caller's upload cache


async def test_upload_photo_is_the_public_url_eBay_fetches(client, recorder):
    assert await client.upload_photo(photo("front")) == "https://media.example.com/front.jpg"
    with pytest.raises(ChannelError, match="no public URL"):
        await client.upload_photo(replace(photo("front"), public_url=None))
    assert recorder.exchanges == []


async def test_validate_checks_ebays_publish_rules_without_a_call(client, recorder):
    assert await client.validate(make_draft()) == []
    problems = await client.validate(
        make_draft(
            title="x" * 81,
            currency="NZD",
            price=Decimal("10.005"),
            quantity=0,
            condition="damaged",
            photos=(),
            brand=None,
            gtin="4548736132581",
            fields={"aspects": {"Colour": "y" * 51}},
        )
    )
    assert problems == [
        "title is 81 characters; eBay allows 80",
        "EBAY_US lists in USD, not NZD",
        "price 10.005 must be above 0 with at most two decimals",
        "quantity must be at least 1",
        "condition 'damaged' is not an eBay condition",
        "fields['categoryId'] (an eBay leaf category id) is required",
        "at least one photo is required",
        "item specific Brand is required",
        "item specific 'Colour': names up to 40, values up to 50 characters",
        "GTIN 4548736132581 has a bad check digit or length",
    ]
    assert await client.validate(make_draft(gtin="14548736132587")) == [
        "GTIN 14548736132587 is a GTIN-14; eBay takes a UPC or an EAN"
    ]
    with pytest.raises(ChannelError, match="title is 81 characters") as caught:
        await client.create(make_draft(title="x" * 81))
    assert not caught.value.retryable
    assert recorder.exchanges == []


async def test_publishing_an_incomplete_offer_reports_every_missing_piece(wire):
    await wire("PUT", "/sell/inventory/v1/inventory_item/BARE-1", json={"product": {"title": "A thing"}})
    created = await wire(
        "POST",
        "/sell/inventory/v1/offer",
        json={"sku": "BARE-1", "marketplaceId": "EBAY_US", "format": "FIXED_PRICE"},
    )
    assert created.status_code == 201
    response = await wire("POST", f"/sell/inventory/v1/offer/{created.json()['offerId']}/publish")

    assert response.status_code == 400
    errors = response.json()["errors"]
    assert [e["errorId"] for e in errors] == [
        25016,
        25021,
        25014,
        25002,
        25004,
        25003,
        25005,
        25007,
        25008,
        25009,
        25012,
    ]
    brand = errors[3]
    assert brand == {
        "errorId": 25002,
        "domain": "API_INVENTORY",
        "subdomain": "Selling",
        "category": "REQUEST",
        "message": brand["message"],
        "longMessage": brand["message"],
        "parameters": [{"name": "aspect", "value": "Brand"}],
    }
    assert "The item specific Brand is missing" in brand["message"]
    assert errors[-1]["message"] == "Invalid inventory location. merchantLocationKey None does not exist."


async def test_a_publish_refusal_reaches_the_caller_unretried(client, backend, recorder):
    backend.config = backend.config.model_copy(update={"required_aspects": ("Brand", "Connectivity")})
    with pytest.raises(ChannelError) as caught:
        await client.create(make_draft())
    error = caught.value
    assert not error.retryable and error.status == 400 and [e["errorId"] for e in error.details] == [25002]
    assert "Connectivity is missing" in error.message
    assert len(recorder.calls("POST", "/publish")) == 1


async def test_create_after_a_crash_between_offer_and_publish_reuses_the_offer(
    make_client, recorder, backend
):
    draft = make_draft()
    async with make_client(transport=CrashBefore(recorder, "/publish")) as first:
        with pytest.raises(Exception, match="publish"):
            await first.create(draft)
    (offer,) = backend.offers.values()
    assert offer.status == "UNPUBLISHED"
    recorder.exchanges.clear()

    async with make_client() as second:
        assert await second.find_by_sku(draft.sku) is None  # an offer, but no listing yet
        listing = await second.create(replace(draft, price=Decimal("339.00")))

    assert [
        (e.request.method, e.request.url.path.rsplit("/", 1)[-1], e.status) for e in recorder.exchanges
    ] == [
        ("POST", "token", 200),
        ("GET", "offer", 200),
        ("PUT", "OC-100007", 204),
        ("POST", "offer", 400),  # eBay: that offer exists (and names it)
        ("PUT", offer.offer_id, 204),  # brought up to date with the draft
        ("POST", "publish", 200),
    ]
    assert list(backend.offers) == [offer.offer_id] and listing.remote_ids["offer_id"] == offer.offer_id
    assert offer.status == "PUBLISHED" and offer.details["pricingSummary"]["price"]["value"] == "339.00"


async def test_create_again_after_publishing_finds_the_same_listing(client, backend):
    first = await client.create(make_draft())
    again = await client.create(make_draft())  # a crash after publish, before our own commit
    assert again.external_id == first.external_id and len(backend.offers) == 1


@pytest.mark.parametrize("lost", ["/offer", "/publish"])
async def test_create_survives_an_answer_lost_after_ebay_acted(make_client, recorder, backend, lost):
    async with make_client(transport=LoseAnswer(recorder, lost)) as client:
        listing = await client.create(make_draft())
    (offer,) = backend.offers.values()
    assert offer.listing is not None and offer.listing.listing_id == listing.external_id


async def test_price_and_quantity_updates_revise_the_live_listing(client, backend):
    listing = await client.create(make_draft())
    offer = backend.offers[listing.remote_ids["offer_id"]]

    repriced = await client.update_price(listing, Decimal("299.99"))
    assert repriced.price == Decimal("299.99")
    assert offer.details["pricingSummary"]["price"] == {"value": "299.99", "currency": "USD"}

    restocked = await client.update_quantity(repriced, 7)
    assert restocked.quantity == 7 and restocked.state == "live"
    assert backend.items["OC-100007"].quantity == 7 and offer.details["availableQuantity"] == 7

    emptied = await client.update_quantity(restocked, 0)
    assert emptied.state == "ended" and offer.listing.status == "OUT_OF_STOCK"
    (remote,) = [r async for r in client.selling()]
    assert remote.state == "ended" and remote.quantity == 0 and remote.price == Decimal("299.99")

    await client.update_quantity(emptied, 2)
    assert offer.listing.status == "ACTIVE"


async def test_updates_find_the_offer_when_only_the_listing_is_known(client, backend, recorder):
    listing = await client.create(make_draft())
    bare = RemoteListing(
        external_id=listing.external_id, sku=listing.sku, price=None, quantity=None, state="live"
    )
    updated = await client.update_price(bare, Decimal("10.00"))
    assert updated.remote_ids["offer_id"] == listing.remote_ids["offer_id"]
    assert [e.request.method for e in recorder.exchanges[-2:]] == ["GET", "POST"]


async def test_an_update_ebay_refuses_is_a_channel_error(client):
    listing = await client.create(make_draft())
    with pytest.raises(ChannelError, match="25003") as caught:
        await client.update_price(listing, Decimal("-1"))
    assert not caught.value.retryable and caught.value.details[0]["statusCode"] == 400


async def test_withdraw_ends_the_listing_and_repeating_it_is_harmless(client, backend):
    listing = await client.create(make_draft())
    withdrawn = await client.withdraw(listing, "supplier removed the product")
    assert withdrawn.state == "withdrawn"
    offer = backend.offers[listing.remote_ids["offer_id"]]
    assert offer.status == "UNPUBLISHED" and offer.listing is None
    assert (await client.withdraw(listing, "again")).state == "withdrawn"
    assert await client.find_by_sku(listing.sku) is None
    assert [r async for r in client.selling()] == []

    relisted = await client.create(make_draft())  # publishing again makes a new listing
    assert relisted.external_id != listing.external_id and len(backend.offers) == 1


async def test_selling_pages_through_every_offer_including_ones_we_did_not_make(
    make_client, backend, recorder
):
    async with make_client(page_size=2) as client:
        made = [await client.create(make_draft(sku=f"OC-{n}")) for n in range(3)]
        foreign = backend.create_foreign_listing("Listed by hand on eBay", sku="HAND-1", price="15.00")
        recorder.exchanges.clear()
        remote = [r async for r in client.selling()]
    assert sorted(r.external_id for r in remote) == sorted([*(m.external_id for m in made), foreign])
    assert {r.sku for r in remote} == {"OC-0", "OC-1", "OC-2", "HAND-1"}
    pages = recorder.calls("GET", "/offer")
    assert [e.request.url.params.get("offset") for e in pages] == [None, "1"]


def test_the_inventory_item_body_maps_the_draft():
    body = inventory_item(
        make_draft(
            condition="used",
            gtin="0012345678905",
            fields={"categoryId": "1", "conditionDescription": "Scuffed"},
        ),
        ["https://m.example.com/1.jpg"],
    )
    assert body["condition"] == "USED_EXCELLENT" and body["conditionDescription"] == "Scuffed"
    assert body["product"]["upc"] == ["012345678905"]  # a UPC-A padded to 13 digits goes as the UPC
    assert body["availability"] == {"shipToLocationAvailability": {"quantity": 3}}


def test_settings_default_to_the_simulators_seeded_seller(monkeypatch):
    from retail_pipeline.settings import get_settings

    monkeypatch.setenv("SIMULATOR_URL", "http://127.0.0.1:9999")
    get_settings.cache_clear()
    try:
        client = EbayClient()
    finally:
        get_settings.cache_clear()
    assert client.base_url == "http://127.0.0.1:9999/ebay" and client.content_language == "en-US"
    assert client.account["merchant_location_key"] == "default"


def test_settings_for_the_real_ebay_need_credentials(monkeypatch):
    from retail_pipeline.channels.ebay import EbaySettings
    from retail_pipeline.settings import get_settings

    monkeypatch.setenv("USE_SIMULATORS", "false")
    get_settings.cache_clear()
    try:
        with pytest.raises(ValueError, match="EBAY_CLIENT_ID"):
            EbaySettings(_env_file=None).endpoint()
        base, _, account = EbaySettings(
            _env_file=None, environment="sandbox", client_id="a", client_secret="b", refresh_token="c"
        ).endpoint()
    finally:
        get_settings.cache_clear()
    assert base == "https://api.sandbox.ebay.com" and account["merchant_location_key"] is None

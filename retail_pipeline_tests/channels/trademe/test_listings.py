"""Listings through the client, checked against the simulator's own state: create and read back,
edit by read-then-write (and what a naive edit does), withdraw, relist, photos, the selling list,
listings ending on the simulated clock, and finding our listing again after a crash."""

from __future__ import annotations

import base64
from decimal import Decimal

import pytest

from retail_pipeline.channels.trademe import listing_request
from retail_pipeline.integrations.marketplaces.base import ChannelError, Photo, RemoteListing

from .conftest import Wire, image_bytes, listing_body, make_draft

pytestmark = pytest.mark.anyio


async def test_create_reads_back_and_appears_in_selling_items(client, backend, wire: Wire, photo_file):
    photos = (photo_file("navy"), photo_file("teal"))
    created = await client.create(make_draft(photos=photos))
    listing_id = int(created.external_id)
    assert created.state == "live" and created.sku == "OC-100007" and created.price == Decimal("349.00")
    assert created.remote_ids["ListingId"] == listing_id and len(created.remote_ids["photo_refs"]) == 2

    form = (await wire("GET", f"/v1/Selling/Listings/{listing_id}.json")).json()
    photo_ids = [int(created.remote_ids["photo_refs"][p.sha256]) for p in photos]
    assert form | {"StartDate": None} == {
        "ListingId": listing_id,
        "Category": "0002-0356-",
        "Title": "Sony WH-1000XM5 Wireless Noise Cancelling Headphones",
        "Subtitle": "Brand new, NZ stock",
        "Description": ["Industry-leading noise cancellation.", "", "30 hours of battery."],
        "StartPrice": 349.0,
        "ReservePrice": None,
        "BuyNowPrice": 349.0,
        "Duration": 7,
        "EndDateTime": None,
        "Pickup": 1,
        "IsBrandNew": True,
        "Quantity": 3,
        "IsFlatShippingCharge": False,
        "PhotoIds": photo_ids,
        "ShippingOptions": [{"Type": 4, "Price": 9.5, "Method": "Nationwide courier"}],
        "PaymentMethods": [1, 2],
        "OtherPaymentMethod": None,
        "Attributes": [{"Name": "Colour", "Value": "Black", "Unit": None}],
        "SKU": "OC-100007",
        "ExternalReferenceId": "OC-100007",
        "ProductSpecification": {"GTIN": None, "Brand": "Sony", "ManufacturerCode": "WH1000XM5/B"},
        "StartDate": None,
        "HasBeenExtended": False,
    }
    assert form["StartDate"] == "/Date(1748854800000)/"  # the simulated clock's start, in ms

    listed = [r async for r in client.selling()]
    assert listed == [
        RemoteListing(
            external_id=str(listing_id),
            sku="OC-100007",
            price=Decimal("349.0"),
            quantity=3,
            state="live",
            title="Sony WH-1000XM5 Wireless Noise Cancelling Headphones",
            url=None,
            remote_ids={"ListingId": listing_id, "PhotoId": photo_ids[0]},
            currency="NZD",
            photos=(f"http://sim/trademe/photoserver/fullsize/{photo_ids[0]}.jpg",),  # the primary, full size
        )
    ]
    item = (await wire("GET", "/v1/MyTradeMe/SellingItems/All.json")).json()["List"][0]
    assert item["EndDate"] == "/Date(1749459600000)/"  # seven days on
    assert item["PictureHref"].endswith(f"/trademe/photoserver/thumbnail/{photo_ids[0]}.jpg")
    assert item["PriceDisplay"] == "$349.00" and item["IsBuyNowOnly"] and item["HasExtraPhotos"]


async def test_create_reuses_uploaded_photos(client, sim, photo_file):
    photo = photo_file()
    photo_id = await client.upload_photo(photo)
    sim.journal.clear()
    created = await client.create(make_draft(photos=(photo,)), photo_refs={photo.sha256: photo_id})
    assert [e.path for e in sim.journal.entries("trademe")] == ["/v1/Selling.json"]
    assert created.remote_ids["photo_refs"] == {photo.sha256: photo_id}


async def test_update_price_reads_the_form_then_edits_it_whole(client, backend, sim, photo_file):
    created = await client.create(make_draft(photos=(photo_file(),)))
    before = dict(backend.listings[int(created.external_id)].form)
    sim.journal.clear()

    updated = await client.update_price(created, Decimal("329.99"))

    assert updated.price == Decimal("329.99") and updated.quantity == 3
    assert [(e.method, e.path) for e in sim.journal.entries("trademe")] == [
        ("GET", f"/v1/Selling/Listings/{created.external_id}.json"),
        ("POST", "/v1/Selling/Edit.json"),
    ]
    after = backend.listings[int(created.external_id)].form
    assert after == before | {"StartPrice": Decimal("329.99"), "BuyNowPrice": Decimal("329.99")}


async def test_update_quantity_keeps_everything_else(client, backend):
    created = await client.create(make_draft())
    before = dict(backend.listings[int(created.external_id)].form)
    updated = await client.update_quantity(created, 12)
    assert updated.quantity == 12 and updated.price == Decimal("349.0")
    assert backend.listings[int(created.external_id)].form == before | {"Quantity": 12}


async def test_a_naive_edit_resets_every_omitted_field(client, backend, wire: Wire, photo_file):
    created = await client.create(make_draft(photos=(photo_file(),)))
    listing_id = int(created.external_id)
    required_only = {
        "ListingId": listing_id,
        **{k: v for k, v in listing_body().items() if k in ("Category", "Title", "Description", "Duration")},
        "StartPrice": 299.0,
        "PaymentMethods": [1],
        "ShippingOptions": [{"Type": 3}],
    }
    response = await wire("POST", "/v1/Selling/Edit.json", required_only)
    assert response.json() == {"Success": True, "Description": None, "ListingId": listing_id}

    form = backend.listings[listing_id].form
    assert form["StartPrice"] == Decimal("299.0")
    reset = ("Subtitle", "BuyNowPrice", "Quantity", "PhotoIds", "Attributes", "SKU", "ExternalReferenceId")
    assert {k: form[k] for k in reset} == {
        "Subtitle": None,
        "BuyNowPrice": None,
        "Quantity": None,
        "PhotoIds": [],
        "Attributes": [],
        "SKU": None,
        "ExternalReferenceId": None,
    }
    assert form["IsBrandNew"] is False and form["ProductSpecification"] is None
    assert await client.find_by_sku("OC-100007") is None  # why the client never edits blind


async def test_edits_are_checked_like_new_listings(client, backend, wire: Wire):
    created = await client.create(make_draft(quantity=3))
    backend.buy(int(created.external_id), 2)
    with pytest.raises(ChannelError) as error:
        await client.update_quantity(created, 999)
    assert error.value.details["Description"] == "Quantity must be between 1 and 998."  # 1000 less 2 sold
    assert backend.listings[int(created.external_id)].form["Quantity"] == 1

    missing_id = await wire("POST", "/v1/Selling/Edit.json", listing_body())
    assert (missing_id.status_code, missing_id.json()) == (
        400,
        {"ErrorDescription": "ListingId is required."},
    )
    unknown = await wire("POST", "/v1/Selling/Edit.json", listing_body(ListingId=1))
    assert unknown.json() == {"Success": False, "Description": "Listing 1 was not found.", "ListingId": 0}


async def test_withdraw_ends_the_listing(client, backend, sim):
    created = await client.create(make_draft())
    withdrawn = await client.withdraw(created, "Supplier discontinued the product")
    assert withdrawn.state == "withdrawn"
    listing = backend.listings[int(created.external_id)]
    assert (
        backend.state(listing) == "withdrawn"
        and listing.withdraw_reason == "Supplier discontinued the product"
    )
    assert [r async for r in client.selling()] == []
    assert (await client.account_summary()).unsold_count == 1

    with pytest.raises(ChannelError) as error:
        await client.withdraw(created, "again")
    assert error.value.details["Description"] == f"Listing {created.external_id} has already closed."
    with pytest.raises(ChannelError, match="has closed and cannot be edited"):
        await client.update_price(created, Decimal("1.00"))


async def test_quantity_zero_withdraws(client, backend):
    created = await client.create(make_draft())
    assert (await client.update_quantity(created, 0)).state == "withdrawn"
    assert backend.listings[int(created.external_id)].withdraw_reason == "Out of stock"


async def test_withdraw_rules(wire: Wire, client):
    created = await client.create(make_draft())
    listing_id = int(created.external_id)
    cases = [
        (
            {"ListingId": listing_id, "Type": 2, "Reason": "x" * 256},
            "Reason must be 255 characters or fewer.",
        ),
        ({"ListingId": listing_id, "Type": 1}, "SalePrice is required when the listing was sold."),
        ({"ListingId": listing_id, "Type": 3}, "Type must be ListingWasSold (1) or ListingWasNotSold (2)."),
    ]
    for body, description in cases:
        assert (await wire("POST", "/v1/Selling/Withdraw.json", body)).json()["Description"] == description
    no_type = await wire("POST", "/v1/Selling/Withdraw.json", {"ListingId": listing_id})
    assert no_type.status_code == 400
    sold = await wire(
        "POST",
        "/v1/Selling/Withdraw.json",
        {"ListingId": listing_id, "Type": "ListingWasSold", "SalePrice": 300},
    )
    assert sold.json()["Success"] is True


async def test_listings_end_on_the_simulated_clock_and_relist(client, wire: Wire, sim, backend):
    created = await client.create(make_draft(fields={**make_draft().fields, "Duration": 2}))
    sim.clock.advance(47.9)
    assert [r.external_id async for r in client.selling()] == [created.external_id]
    closing = (await wire("GET", "/v1/MyTradeMe/SellingItems/ClosingToday.json")).json()
    assert closing["TotalCount"] == 1
    sim.clock.advance(0.2)
    assert [r async for r in client.selling()] == []

    still_live = await client.create(make_draft(sku="OC-2"))
    refused = await wire("POST", "/v1/Selling/Relist.json", {"ListingId": int(still_live.external_id)})
    assert (
        refused.json()["Description"]
        == f"Listing {still_live.external_id} is still live and cannot be relisted."
    )
    relisted = (await wire("POST", "/v1/Selling/Relist.json", {"ListingId": int(created.external_id)})).json()
    assert relisted["Success"] and relisted["ListingId"] != int(created.external_id)
    assert backend.listings[relisted["ListingId"]].form["SKU"] == "OC-100007"
    again = await wire("POST", "/v1/Selling/Relist.json", {"ListingId": int(created.external_id)})
    assert again.json()["Description"].endswith(f"has already been relisted as {relisted['ListingId']}.")


async def test_find_by_sku_finds_a_listing_made_in_an_earlier_session(make_client, backend):
    async with make_client() as before_the_crash:
        created = await before_the_crash.create(make_draft(sku="OC-555"))
    backend.create_foreign_listing("Hand-listed lamp", "25.00", sku=None)
    async with make_client(page_size=1) as after_the_crash:  # one per page: the lookup pages
        found = await after_the_crash.find_by_sku("OC-555")
        assert found is not None and found.external_id == created.external_id
        assert await after_the_crash.find_by_sku("OC-404") is None


async def test_selling_pages_through_everything_including_foreign_listings(make_client, backend):
    foreign = backend.create_foreign_listing("Hand-listed lamp", "25.00", external_reference_id="MANUAL-1")
    async with make_client(page_size=2) as client:
        for n in range(4):
            await client.create(make_draft(sku=f"OC-{n}"))
        remote = [r async for r in client.selling()]
    assert len(remote) == 5 and len({r.external_id for r in remote}) == 5
    lamp = next(r for r in remote if r.external_id == str(foreign.listing_id))
    assert (lamp.sku, lamp.price, lamp.title) == ("MANUAL-1", Decimal("25.0"), "Hand-listed lamp")


async def test_selling_items_paging_and_sorting_on_the_wire(wire: Wire, client, sim):
    first = await client.create(make_draft(sku="A", fields={**make_draft().fields, "Duration": 10}))
    second = await client.create(make_draft(sku="B", fields={**make_draft().fields, "Duration": 2}))
    page = (await wire("GET", "/v1/MyTradeMe/SellingItems/All.json?page=1&rows=1")).json()
    assert (page["TotalCount"], page["Page"], page["PageSize"]) == (2, 1, 1)
    assert page["List"][0]["ListingId"] == int(second.external_id)  # ExpiryAsc by default
    desc = (await wire("GET", "/v1/MyTradeMe/SellingItems/All.json?sort_order=ExpiryDesc")).json()
    assert [i["ListingId"] for i in desc["List"]] == [int(first.external_id), int(second.external_id)]
    assert (await wire("GET", "/v1/MyTradeMe/SellingItems/All.json?page=0")).status_code == 400
    assert (await wire("GET", "/v1/MyTradeMe/SellingItems/Everything.json")).status_code == 400


async def test_paths_are_case_insensitive(wire: Wire, client):
    await client.create(make_draft())
    response = await wire("GET", "/v1/mytrademe/sellingitems/all.json")
    assert response.status_code == 200 and response.json()["TotalCount"] == 1
    unknown = await wire("GET", "/v1/Nothing.json")
    assert (unknown.status_code, unknown.json()) == (404, {"ErrorDescription": "Not Found"})


async def test_photos_upload_attach_and_serve(client, wire: Wire, backend, photo_file):
    photo = photo_file()
    photo_id = int(await client.upload_photo(photo))
    stored = backend.photos[photo_id]
    assert (stored.file_name, stored.file_type) == ("navy.jpg", "JPG")
    served = await wire.http.get(f"http://sim/trademe/photoserver/fullsize/{photo_id}.jpg")
    assert served.content == stored.data and served.headers["content-type"] == "image/jpeg"

    created = await client.create(make_draft())
    listing_id = int(created.external_id)
    attached = await wire("POST", f"/v1/Photos/{photo_id}/Add/{listing_id}.json")
    assert attached.json() == {"Status": 1, "PhotoId": photo_id, "Description": None}
    assert backend.listings[listing_id].form["PhotoIds"] == [photo_id]
    theirs = backend.add_photo(image_bytes(), "x.jpg", "JPG", member_id=42)
    assert (await wire("POST", f"/v1/Photos/{theirs.photo_id}/Add/{listing_id}.json")).json()["Status"] == 2
    assert (await wire("POST", f"/v1/Photos/{photo_id}/Add/1.json")).json()["Status"] == 4


@pytest.mark.parametrize(
    ("body", "description"),
    [
        (
            {"PhotoData": "not base64!", "FileName": "a.jpg", "FileType": "JPG"},
            "PhotoData is not valid base64.",
        ),
        (
            {"PhotoData": base64.b64encode(b"plain text").decode(), "FileName": "a.jpg", "FileType": "JPG"},
            "PhotoData is not an image.",
        ),
        (
            {
                "PhotoData": base64.b64encode(image_bytes(kind="PNG")).decode(),
                "FileName": "a.jpg",
                "FileType": "JPG",
            },
            "PhotoData is a PNG image, not JPG.",
        ),
        (
            {"PhotoData": base64.b64encode(image_bytes()).decode(), "FileName": "a.webp", "FileType": "WEBP"},
            "FileType 'WEBP' is not supported: use BMP, GIF, JPG, JPEG or PNG.",
        ),
        ({"FileName": "a.jpg", "FileType": "JPG"}, "PhotoData, FileName and FileType are required."),
    ],
)
async def test_bad_photo_uploads_are_400s(wire: Wire, backend, body, description):
    response = await wire("POST", "/v1/Photos/Add.json", body)
    assert (response.status_code, response.json()) == (400, {"ErrorDescription": description})
    assert backend.photos == {}


async def test_photo_upload_answer_and_file_name(wire: Wire, backend):
    body = {
        "PhotoData": base64.b64encode(image_bytes()).decode(),
        "FileName": "C:\\photos\\lamp.jpeg",
        "FileType": "jpeg",
    }
    answer = (await wire("POST", "/v1/Photos/Add.json", body)).json()
    assert answer["Status"] == 1 and answer["PhotoUrls"]["PhotoId"] == answer["PhotoId"]
    assert set(answer["PhotoUrls"]) >= {
        "Thumbnail",
        "List",
        "Medium",
        "Gallery",
        "Large",
        "FullSize",
        "PlusSize",
    }
    assert backend.photos[answer["PhotoId"]].file_name == "lamp.jpeg"


async def test_unsupported_photo_types_fail_before_any_call(client, sim, tmp_path):
    with pytest.raises(ChannelError, match="not image/webp"):
        await client.upload_photo(Photo(str(tmp_path / "x.webp"), "abc", "image/webp"))
    assert sim.journal.entries("trademe") == []


def test_listing_request_is_the_dry_run_payload():
    request = listing_request(make_draft(), [11, 12])
    assert request["ShippingOptions"] == [{"Type": 4, "Price": 9.5, "Method": "Nationwide courier"}]
    assert (request["SKU"], request["ExternalReferenceId"], request["PhotoIds"]) == (
        "OC-100007",
        "OC-100007",
        [11, 12],
    )
    assert (request["StartPrice"], request["BuyNowPrice"], request["Quantity"], request["IsBrandNew"]) == (
        349.0,
        349.0,
        3,
        True,
    )
    assert listing_request(make_draft(condition="used", brand=None, mpn=None))["IsBrandNew"] is False
    assert "ProductSpecification" not in listing_request(make_draft(brand=None, mpn=None))

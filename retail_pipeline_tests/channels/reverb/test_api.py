"""The Reverb simulator's wire: required headers, 412 validation bodies, listing states, HAL paging."""

from __future__ import annotations

import pytest

from .conftest import CATEGORY

pytestmark = pytest.mark.anyio
BRAND_NEW, GOOD = "7c3f45de-2ae0-4c81-8400-fdb6b1d74890", "f7a3f48c-972a-44c6-b01a-0cd27488d3f6"


def listing_body(**changes) -> dict:
    return {
        "title": "Boss DS-1 Distortion",
        "make": "Boss",
        "model": "DS-1",
        "description": "Orange classic.",
        "condition": {"uuid": BRAND_NEW},
        "categories": [{"uuid": CATEGORY}],
        "price": {"amount": "89.00", "currency": "NZD"},
        "photos": ["https://media.example/m/ds1.jpg"],
        "sku": "BOSS-DS1",
        "has_inventory": True,
        "inventory": 4,
        "shipping": {"rates": [{"region_code": "XX", "rate": {"amount": "0.00", "currency": "NZD"}}]},
        "publish": True,
    } | changes


async def test_reverb_refuses_requests_without_its_headers(api):
    without = {
        "Authorization": (401, "Unauthorized"),
        "Accept-Version": (400, "Accept-Version must be 3.0"),
        "Accept": (406, "application/hal+json"),
    }
    for header, (status, says) in without.items():
        response = await api.get("/my/listings", headers={header: ""})
        assert response.status_code == status and says in response.json()["message"], header
    assert (await api.get("/my/listings", headers={"Accept-Version": "2.0"})).status_code == 400
    form = await api.post(
        "/listings", content=b"title=x", headers={"Content-Type": "application/x-www-form-urlencoded"}
    )
    assert form.status_code == 415
    ok = await api.get("/my/listings")
    assert ok.status_code == 200 and ok.headers["content-type"].startswith("application/hal+json")


async def test_validation_failures_are_412_with_a_field_breakdown(api):
    response = await api.post(
        "/listings",
        json=listing_body(
            condition={"uuid": "00000000-0000-0000-0000-000000000000"},
            price={"amount": "89.00", "currency": "USD"},
            photos=[],
        ),
    )
    assert response.status_code == 412
    body = response.json()
    assert body["errors"] == {
        "condition": ["is not a valid condition"],
        "price": ["currency must be your shop's currency (NZD)"],
        "photos": ["can't be blank"],
    }
    assert body["message"].startswith("Condition is not a valid condition.")

    one_of_a_kind = await api.post("/listings", json=listing_body(condition={"uuid": GOOD}))
    assert one_of_a_kind.status_code == 412 and list(one_of_a_kind.json()["errors"]) == ["inventory"]

    draft = await api.post("/listings", json=listing_body(photos=[], shipping=None, publish=False))
    assert draft.status_code == 412 and "shipping" in draft.json()["errors"]  # wrong type, even for a draft
    saved = await api.post("/listings", json={"title": "Boss DS-1", "publish": False})
    assert saved.status_code == 201 and saved.json()["listing"]["state"]["slug"] == "draft"


async def test_listings_by_id_or_slug_and_their_links(api):
    created = (await api.post("/listings", json=listing_body())).json()
    listing = created["listing"]
    assert created["message"] and listing["state"] == {"slug": "live", "description": "Live"}
    assert listing["slug"] == f"{listing['id']}-boss-ds-1-distortion"
    assert listing["price"] == {
        "amount": "89.00",
        "amount_cents": 8900,
        "currency": "NZD",
        "symbol": "$",
        "display": "$89.00",
    }
    by_id = (await api.get(f"/listings/{listing['id']}")).json()
    by_slug = (
        await api.get(listing["_links"]["update"]["href"].removeprefix("http://sim/reverb/api"))
    ).json()
    assert by_id == by_slug and by_id["condition"]["display_name"] == "Brand New"
    assert listing["_links"]["end"]["href"].endswith(f"/my/listings/{listing['slug']}/state/end")
    assert (await api.get("/listings/99")).status_code == 404


async def test_inventory_drives_the_listing_state(api):
    listing = (await api.post("/listings", json=listing_body())).json()["listing"]
    url = f"/listings/{listing['id']}"
    assert (await api.put(url, json={"inventory": 0})).json()["listing"]["state"]["slug"] == "ended"
    assert (await api.put(url, json={"inventory": 2})).json()["listing"]["state"]["slug"] == "live"
    price = (await api.put(url, json={"price": {"amount": "79", "currency": "NZD"}})).json()["listing"][
        "price"
    ]
    assert price["amount"] == "79.00"
    assert (await api.put(url, json={"price": {"amount": "0", "currency": "NZD"}})).status_code == 412

    end = f"/my/listings/{listing['slug']}/state/end"
    assert (await api.put(end, json={"reason": "sold_it"})).status_code == 412
    ended = await api.put(end, json={"reason": "not_sold"})
    assert ended.status_code == 200 and ended.json()["listing"]["state"]["slug"] == "ended"
    again = await api.put(end, json={"reason": "not_sold"})
    assert again.status_code == 406 and "live" in again.json()["message"]


async def test_my_listings_filters_and_pages_with_hal_links(api):
    for n in range(12):
        await api.post("/listings", json=listing_body(sku=f"PEDAL-{n}", publish=n % 3 != 0))
    live = (await api.get("/my/listings", params={"per_page": 5})).json()
    assert (live["total"], live["total_pages"], len(live["listings"])) == (8, 2, 5)
    assert "prev" not in live["_links"]
    second = (await api.get(live["_links"]["next"]["href"].removeprefix("http://sim/reverb/api"))).json()
    assert second["current_page"] == 2 and "next" not in second["_links"] and "prev" in second["_links"]
    assert len({item["sku"] for item in live["listings"] + second["listings"]}) == 8

    everything = (await api.get("/my/listings", params={"state": "all"})).json()
    assert everything["total"] == 12
    one = (await api.get("/my/listings", params={"state": "all", "sku": "PEDAL-3"})).json()
    assert [item["sku"] for item in one["listings"]] == ["PEDAL-3"]
    assert (await api.get("/my/listings", params={"state": "gone"})).status_code == 412


async def test_orders_wait_for_shipment_then_ship_once(api, backend):
    await api.post("/listings", json=listing_body())
    order = backend.buy("BOSS-DS1", 2)
    waiting = (await api.get("/my/orders/selling/awaiting_shipment")).json()
    assert [o["order_number"] for o in waiting["orders"]] == [str(order.order_number)]
    assert waiting["orders"][0]["_links"]["ship"]["method"] == "POST"

    ship = f"/my/orders/selling/{order.order_number}/ship"
    missing = await api.post(ship, json={"provider": "Pony Express", "tracking_number": " "})
    assert missing.status_code == 412 and set(missing.json()["errors"]) == {
        "provider",
        "tracking_number",
        "send_notification",
    }
    body = {"provider": "Canada Post", "tracking_number": "7023210039414604", "send_notification": True}
    shipped = await api.post(ship, json=body)
    assert shipped.status_code == 200 and shipped.json()["status"] == "shipped"
    assert shipped.json()["shipping_code"] == "7023210039414604" and "ship" not in shipped.json()["_links"]
    assert (await api.post(ship, json=body)).status_code == 406
    assert (await api.get("/my/orders/selling/awaiting_shipment")).json()["orders"] == []
    assert (await api.get("/my/orders/selling/all")).json()["total"] == 1


async def test_headers_are_checked_on_every_api_path(api):
    for path in ("/my/orders/selling/all", "/listings/1", "/no/such/path"):
        assert (await api.get(path, headers={"Accept-Version": ""})).status_code == 400

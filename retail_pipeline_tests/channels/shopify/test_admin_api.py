"""The Shopify simulator's wire: auth, versions, validation errors, cursor paging, the leaky bucket."""

from __future__ import annotations

import asyncio
import base64
import io
import re

import httpx
import pytest
from PIL import Image

from retail_pipeline.simulators.shopify.exceptions import INVALID_TOKEN

from .conftest import BASE, TOKEN

pytestmark = pytest.mark.anyio
PRODUCTS = "/products.json"


def product_body(title: str = "Boss DS-1 Distortion", **fields) -> dict:
    variant = {"sku": "BOSS-DS1", "price": "89.00", "inventory_management": "shopify"}
    return {"product": {"title": title, "variants": [variant], **fields}}


async def test_every_admin_call_needs_an_accepted_access_token(transport, backend):
    async with httpx.AsyncClient(transport=transport, base_url=f"{BASE}/admin/api/2025-07") as anonymous:
        missing = await anonymous.get(PRODUCTS)
        backend.config = backend.config.model_copy(update={"access_token": TOKEN})
        wrong = await anonymous.get(PRODUCTS, headers={"X-Shopify-Access-Token": "shpat_someone_else"})
        right = await anonymous.get(PRODUCTS, headers={"X-Shopify-Access-Token": TOKEN})
    for refused in (missing, wrong):
        assert refused.status_code == 401 and refused.json() == {"errors": INVALID_TOKEN}
        assert "x-shopify-shop-api-call-limit" not in refused.headers  # no app to charge
    assert right.status_code == 200 and right.json() == {"products": []}


async def test_old_versions_fall_forward_and_unknown_ones_are_not_found(admin, transport):
    async with httpx.AsyncClient(
        transport=transport, base_url=BASE, headers={"X-Shopify-Access-Token": TOKEN}
    ) as shop:
        old = await shop.get("/admin/api/2019-07/products.json")
        bogus = await shop.get("/admin/api/2025-02/products.json")
    assert old.status_code == 200 and old.headers["x-shopify-api-version"] == "2024-10"
    assert bogus.status_code == 404 and bogus.json() == {"errors": "Not Found"}
    # The REST API has no variant search: /variants.json does not exist.
    assert (await admin.get("/variants.json", params={"sku": "X"})).status_code == 404


async def test_validation_errors_have_shopifys_shapes(admin):
    blank = await admin.post(PRODUCTS, json=product_body(title=""))
    assert blank.status_code == 422 and blank.json() == {"errors": {"title": ["can't be blank"]}}

    status = await admin.post(PRODUCTS, json=product_body(status="published"))
    assert status.status_code == 422 and status.json() == {
        "errors": {"status": ["is not included in the list"]}
    }

    price = product_body()
    price["product"]["variants"][0]["price"] = "eighty"
    assert (await admin.post(PRODUCTS, json=price)).json() == {
        "errors": {"variants": ["Price must be a number"]}
    }

    twins = product_body()
    twins["product"]["variants"] *= 2  # two variants and no option to tell them apart
    assert (await admin.post(PRODUCTS, json=twins)).json() == {
        "errors": {"base": ["The variant 'Default Title' already exists."]}
    }

    image = await admin.post(PRODUCTS, json=product_body(images=[{"src": "not a url"}]))
    assert image.status_code == 422 and "images" in image.json()["errors"]

    unwrapped = await admin.post(PRODUCTS, json={"title": "no product key"})
    assert unwrapped.status_code == 400
    assert unwrapped.json() == {"errors": {"product": "Required parameter missing or invalid"}}

    untracked = (await admin.post(PRODUCTS, json={"product": {"title": "Untracked"}})).json()["product"]
    level = await admin.post(
        "/inventory_levels/set.json",
        json={
            "inventory_item_id": untracked["variants"][0]["inventory_item_id"],
            "location_id": (await admin.get("/locations.json")).json()["locations"][0]["id"],
            "available": 3,
        },
    )
    assert level.status_code == 422
    assert level.json() == {"errors": ["Inventory item does not have inventory tracking enabled"]}


def links(response: httpx.Response) -> dict[str, str]:
    return {rel: url for url, rel in re.findall(r'<([^>]+)>; rel="(\w+)"', response.headers.get("link", ""))}


async def test_products_page_with_cursors_in_the_link_header(admin, backend):
    for n in range(17):
        backend.create_product({"title": f"Pedal {n}", "status": "archived" if n % 4 == 0 else "active"})
    seen, pages, url = [], 0, f"{PRODUCTS}?limit=5&status=active"
    while url:
        response = await admin.get(url)
        pages += 1
        seen += [p["title"] for p in response.json()["products"]]
        assert ("previous" in links(response)) == (pages > 1)
        url = links(response).get("next")
    assert pages == 3 and len(seen) == 12 == len(set(seen))  # the filter rides inside page_info
    assert all(int(t.split()[1]) % 4 for t in seen)

    first = await admin.get(f"{PRODUCTS}?limit=5")
    second = await admin.get(links(first)["next"])
    back = await admin.get(links(second)["previous"])
    assert back.json() == first.json()

    mixed = await admin.get(links(first)["next"] + "&status=active")
    assert mixed.status_code == 400 and "page_info" in mixed.json()["errors"]
    assert (await admin.get(f"{PRODUCTS}?page_info=garbage")).status_code == 400


async def test_a_burst_past_the_bucket_is_refused_with_retry_after(admin, backend):
    backend.set_rate_limit(bucket_size=40, leak_rate=0.2)  # slow enough that a loaded machine still overflows
    responses = await asyncio.gather(*(admin.get("/locations.json") for _ in range(45)))
    limits = [r.headers["x-shopify-shop-api-call-limit"] for r in responses]
    refused = [r for r in responses if r.status_code == 429]
    assert 4 <= len(refused) <= 5 and all(r.status_code in (200, 429) for r in responses)
    assert all(re.fullmatch(r"\d+/40", limit) for limit in limits)
    assert {r.headers["x-shopify-shop-api-call-limit"] for r in refused} == {"40/40"}
    assert all(float(r.headers["retry-after"]) > 0 for r in refused)
    assert refused[0].json()["errors"].startswith("Exceeded 2 calls per second")


async def test_attachments_are_checked_stored_and_served_from_the_cdn(admin, transport):
    picture = io.BytesIO()
    Image.new("RGB", (64, 48), "orange").save(picture, format="PNG")
    attachment = base64.b64encode(picture.getvalue()).decode()
    created = await admin.post(
        PRODUCTS, json=product_body(images=[{"attachment": attachment, "filename": "ds1.png"}])
    )
    image = created.json()["product"]["images"][0]
    assert (image["width"], image["height"]) == (64, 48) and "/shopify/cdn/shop/files/ds1-" in image["src"]
    async with httpx.AsyncClient(transport=transport) as cdn:
        served = await cdn.get(image["src"])
    assert served.status_code == 200 and served.content == picture.getvalue()

    junk = await admin.post(
        PRODUCTS, json=product_body(images=[{"attachment": base64.b64encode(b"no").decode()}])
    )
    assert junk.status_code == 422 and junk.json() == {
        "errors": {"images": ["Image attachment is not a valid image"]}
    }


async def test_inventory_adjusts_only_where_the_item_is_stocked(admin):
    variant = (await admin.post(PRODUCTS, json=product_body())).json()["product"]["variants"][0]
    location = (await admin.get("/locations.json")).json()["locations"][0]["id"]
    item = variant["inventory_item_id"]
    adjust = {"inventory_item_id": item, "location_id": location, "available_adjustment": 5}
    level = (await admin.post("/inventory_levels/adjust.json", json=adjust)).json()["inventory_level"]
    assert level["available"] == 5
    moved = await admin.post("/inventory_levels/adjust.json", json=adjust | {"available_adjustment": -2})
    assert moved.json()["inventory_level"]["available"] == 3
    elsewhere = await admin.post("/inventory_levels/adjust.json", json=adjust | {"location_id": 1})
    assert elsewhere.status_code == 404
    missing = await admin.post(
        "/inventory_levels/set.json", json={"inventory_item_id": item, "location_id": location}
    )
    assert missing.status_code == 400 and missing.json() == {
        "errors": {"available": "Required parameter missing or invalid"}
    }
    product = (await admin.get(f"/products/{variant['product_id']}.json")).json()["product"]
    assert product["variants"][0]["inventory_quantity"] == 3

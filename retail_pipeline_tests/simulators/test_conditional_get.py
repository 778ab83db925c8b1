"""ETag / Last-Modified on every page, 304 for a current copy, fresh content after the clock moves."""

from __future__ import annotations

from datetime import timedelta
from email.utils import format_datetime, parsedate_to_datetime

import pytest

pytestmark = pytest.mark.anyio

PAGES = (
    "/onecheq/products.json",
    "/onecheq/sitemap.xml",
    "/onecheq/robots.txt",
    "/noelleeming/categories",
    "/noelleeming/c/laptops",
    "/cashconverters/shop/search",
)


@pytest.mark.parametrize("path", PAGES)
async def test_if_none_match_gives_304(client, path):
    first = await client.get(path)
    assert first.status_code == 200 and first.headers["etag"] and first.headers["last-modified"]
    again = await client.get(path, headers={"If-None-Match": first.headers["etag"]})
    assert again.status_code == 304 and again.content == b""
    assert again.headers["etag"] == first.headers["etag"]
    assert (await client.get(path, headers={"If-None-Match": '"stale"'})).status_code == 200


async def test_if_modified_since_gives_304_until_something_changes(client, sim):
    first = await client.get("/onecheq/products.json")
    last_modified = first.headers["last-modified"]
    assert (
        await client.get("/onecheq/products.json", headers={"If-Modified-Since": last_modified})
    ).status_code == 304
    earlier = format_datetime(parsedate_to_datetime(last_modified) - timedelta(seconds=1), usegmt=True)
    assert (
        await client.get("/onecheq/products.json", headers={"If-Modified-Since": earlier})
    ).status_code == 200
    assert (
        await client.get("/onecheq/products.json", headers={"If-Modified-Since": "garbage"})
    ).status_code == 200

    sim.clock.advance(72)
    changed = await client.get(
        "/onecheq/products.json",
        headers={"If-None-Match": first.headers["etag"], "If-Modified-Since": last_modified},
    )
    assert changed.status_code == 200 and changed.headers["etag"] != first.headers["etag"]
    assert parsedate_to_datetime(changed.headers["last-modified"]) > parsedate_to_datetime(last_modified)


async def test_product_page_validators_follow_the_product(client, sim):
    state = sim.backend("noelleeming").snapshot().products[0]
    path = f"/noelleeming/p/{state.product.handle}/{state.product.ref}.html"
    page = await client.get(path)
    assert parsedate_to_datetime(page.headers["last-modified"]) == state.updated_at.replace(microsecond=0)
    photo = await client.get(f"/noelleeming/images/hi-res/{state.product.ref}_1.jpg")
    assert (await client.get(photo.url, headers={"If-None-Match": photo.headers["etag"]})).status_code == 304

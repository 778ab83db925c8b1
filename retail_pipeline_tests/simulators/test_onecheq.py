"""OneCheq as a Shopify storefront: products.json paging and shape, product pages, sitemaps, photos."""

from __future__ import annotations

import io
import json
import xml.etree.ElementTree as ET
from urllib.parse import urlsplit

import pytest
from PIL import Image

from retail_pipeline.simulators import is_valid_gtin

pytestmark = pytest.mark.anyio

SITEMAP = {
    "sm": "http://www.sitemaps.org/schemas/sitemap/0.9",
    "image": "http://www.google.com/schemas/sitemap-image/1.1",
}
PRODUCT_KEYS = {
    "id",
    "title",
    "handle",
    "body_html",
    "published_at",
    "created_at",
    "updated_at",
    "vendor",
    "product_type",
    "tags",
    "variants",
    "images",
    "options",
}
VARIANT_KEYS = {
    "id",
    "title",
    "option1",
    "option2",
    "option3",
    "sku",
    "requires_shipping",
    "taxable",
    "featured_image",
    "available",
    "price",
    "grams",
    "compare_at_price",
    "position",
    "product_id",
    "created_at",
    "updated_at",
}


def path_of(url: str) -> str:
    parts = urlsplit(url)
    return parts.path + (f"?{parts.query}" if parts.query else "")


async def all_products(client, limit: int) -> list[dict]:
    products, page = [], 1
    while True:
        response = await client.get("/onecheq/products.json", params={"limit": limit, "page": page})
        assert response.status_code == 200
        batch = response.json()["products"]
        if not batch:
            return products
        products += batch
        page += 1


async def test_paging_ends_and_covers_the_catalogue(client, sim):
    products = await all_products(client, limit=7)
    expected = [s.product.handle for s in sim.backend("onecheq").snapshot()]
    assert [p["handle"] for p in products] == expected
    assert len({p["id"] for p in products}) == len(expected)
    assert await all_products(client, limit=250) == products


async def test_limit_defaults_to_30_and_is_clamped_to_250(client, sim):
    sim.clock.advance(24 * 60)  # two months of arrivals: well past 30 products
    total = len(sim.backend("onecheq").snapshot())
    assert total > 30
    assert len((await client.get("/onecheq/products.json")).json()["products"]) == 30
    assert len((await client.get("/onecheq/products.json?limit=1000")).json()["products"]) == min(total, 250)
    assert len((await client.get("/onecheq/products.json?limit=junk&page=0")).json()["products"]) == 30
    assert (await client.get("/onecheq/products.json?page=99")).json() == {"products": []}


async def test_product_has_the_storefront_shape(client):
    response = await client.get("/onecheq/products.json?limit=250")
    assert response.headers["content-type"].startswith("application/json")
    for product in response.json()["products"]:
        assert set(product) == PRODUCT_KEYS
        assert isinstance(product["tags"], list)
        assert product["options"][0]["values"] == [v["option1"] for v in product["variants"]]
        for variant in product["variants"]:
            assert set(variant) == VARIANT_KEYS
            assert isinstance(variant["price"], str) and f"{float(variant['price']):.2f}" == variant["price"]
            assert variant["compare_at_price"] is None or float(variant["compare_at_price"]) > float(
                variant["price"]
            )
            assert variant["sku"].startswith("OC-")
        for position, image in enumerate(product["images"], start=1):
            assert image["position"] == position
            assert image["src"].startswith("http://sim/onecheq/cdn/shop/files/")
            assert (image["width"], image["height"]) == (320, 240)


async def test_single_product_json_and_html_page(client):
    listed = (await client.get("/onecheq/products.json?limit=5")).json()["products"]
    for summary in listed:
        single = (await client.get(f"/onecheq/products/{summary['handle']}.json")).json()["product"]
        assert single["id"] == summary["id"]
        assert isinstance(single["tags"], str) and single["tags"] == ", ".join(summary["tags"])
        assert [v["price"] for v in single["variants"]] == [v["price"] for v in summary["variants"]]
        assert all(v["barcode"] == "" or is_valid_gtin(v["barcode"]) for v in single["variants"])

        page = await client.get(f"/onecheq/products/{summary['handle']}")
        assert page.headers["content-type"].startswith("text/html")
        assert (
            'type="application/ld+json"' in page.text and summary["title"].replace('"', "&quot;") in page.text
        )


async def test_unknown_product_is_404_in_the_site_format(client):
    response = await client.get("/onecheq/products/no-such-thing.json")
    assert response.status_code == 404 and response.json() == {"errors": "Not Found"}
    page = await client.get("/onecheq/products/no-such-thing")
    assert page.status_code == 404 and "Page not found" in page.text


async def test_sitemap_index_leads_to_every_product(client, sim):
    index = ET.fromstring((await client.get("/onecheq/sitemap.xml")).content)
    assert index.tag == f"{{{SITEMAP['sm']}}}sitemapindex"
    product_urls, image_urls = [], []
    for loc in index.findall("sm:sitemap/sm:loc", SITEMAP):
        assert "/sitemap_products_" in loc.text
        urlset = ET.fromstring((await client.get(path_of(loc.text))).content)
        for url in urlset.findall("sm:url", SITEMAP):
            location = url.findtext("sm:loc", namespaces=SITEMAP)
            if "/products/" in location:  # the first file opens with the home page, as Shopify's does
                assert url.findtext("sm:lastmod", namespaces=SITEMAP)
                product_urls.append(location)
                image_urls.append(url.findtext("image:image/image:loc", namespaces=SITEMAP))
    assert len(product_urls) == len(sim.backend("onecheq").snapshot())
    for url in product_urls + image_urls:
        assert (await client.get(path_of(url))).status_code == 200, url


async def test_photos_are_real_jpegs(client):
    product = (await client.get("/onecheq/products.json?limit=3")).json()["products"][0]
    for image in product["images"]:
        response = await client.get(path_of(image["src"]))
        assert response.headers["content-type"] == "image/jpeg"
        picture = Image.open(io.BytesIO(response.content))
        assert picture.format == "JPEG" and picture.size == (image["width"], image["height"])
    missing = product["images"][-1]["src"].replace(f"_{len(product['images'])}.jpg", "_9.jpg")
    assert (await client.get(path_of(missing))).status_code == 404


async def test_robots_txt_points_at_the_sitemap(client):
    text = (await client.get("/onecheq/robots.txt")).text
    assert "Disallow: /onecheq/checkout" in text
    assert "Sitemap: http://sim/onecheq/sitemap.xml" in text


async def test_body_is_compact_json_like_shopify(client):
    body = (await client.get("/onecheq/products.json?limit=1")).text
    assert body == json.dumps(json.loads(body), ensure_ascii=False, separators=(",", ":"))

"""Noel Leeming: category pages with pagination, product pages with JSON-LD in both shapes, robots.txt."""

from __future__ import annotations

import json
import urllib.robotparser

import httpx
import pytest
from bs4 import BeautifulSoup

from retail_pipeline.simulators import SimulatorConfig, build_simulator_app, get_simulator, is_valid_gtin
from retail_pipeline.simulators.noelleeming.models import PAGE_SIZE

pytestmark = pytest.mark.anyio


async def crawl_product_links(client) -> list[str]:
    """Categories page -> every category -> follow rel=next to the end -> product links."""
    home = BeautifulSoup((await client.get("/noelleeming/categories")).text, "html.parser")
    links = []
    for category in home.select("ul.category-list a"):
        href = category["href"]
        while href:
            page = BeautifulSoup((await client.get(href)).text, "html.parser")
            tiles = page.select("div.product-tile")
            assert len(tiles) <= PAGE_SIZE
            links += [tile.select_one("a.pdp-link")["href"] for tile in tiles]
            next_link = page.select_one('nav.pagination a[rel="next"]')
            href = next_link["href"] if next_link else None
    return links


def product_node(data: dict) -> dict:
    if "@graph" in data:
        (node,) = [n for n in data["@graph"] if n["@type"] == "Product"]
        return node
    return data


async def test_pagination_reaches_every_product():
    app = build_simulator_app(SimulatorConfig(seed=2, products_per_supplier=200))  # phones span two pages
    snapshot = get_simulator(app).backend("noelleeming").snapshot()
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://sim") as client:
        links = await crawl_product_links(client)
        first = BeautifulSoup((await client.get("/noelleeming/c/mobile-phones")).text, "html.parser")
    assert sorted(links) == sorted(
        f"/noelleeming/p/{s.product.handle}/{s.product.ref}.html" for s in snapshot
    )
    assert len(first.select("div.product-tile")) == PAGE_SIZE
    assert first.select_one(".page-status").text == "Page 1 of 2"
    assert first.select_one('link[rel="next"]')["href"] == "/noelleeming/c/mobile-phones?page=2"


async def test_json_ld_parses_with_required_fields_in_both_shapes(client, sim):
    shapes = set()
    for state in sim.backend("noelleeming").snapshot():
        product = state.product
        page = await client.get(f"/noelleeming/p/{product.handle}/{product.ref}.html")
        soup = BeautifulSoup(page.text, "html.parser")
        (script,) = soup.select('script[type="application/ld+json"]')
        data = json.loads(script.string)
        shapes.add("graph" if "@graph" in data else "plain")
        if "@graph" in data:
            assert data["@graph"][0]["@type"] == "BreadcrumbList"
        node = product_node(data)
        assert node["@type"] == "Product" and node["name"] == product.title
        assert node["sku"] == product.ref and node["mpn"]
        assert node["brand"] == {"@type": "Brand", "name": product.brand}
        assert is_valid_gtin(node["gtin13"])
        assert node["image"] and node["description"]
        offer = node["offers"]
        assert float(offer["price"]) == state.price_cents / 100
        assert offer["priceCurrency"] == "NZD"
        assert offer["availability"] == (
            "https://schema.org/InStock" if state.available else "https://schema.org/OutOfStock"
        )
        assert soup.select_one("h1.product-name").text == product.title
    assert shapes == {"graph", "plain"}


async def test_robots_txt_is_parseable_with_crawl_delay(client):
    parser = urllib.robotparser.RobotFileParser()
    parser.parse((await client.get("/noelleeming/robots.txt")).text.splitlines())
    assert parser.crawl_delay("retail-pipeline") == 1
    assert not parser.can_fetch("retail-pipeline", "http://sim/noelleeming/checkout")
    assert parser.can_fetch("retail-pipeline", "http://sim/noelleeming/c/laptops")


async def test_unknown_pages_are_404_and_past_the_end_is_empty(client):
    assert (await client.get("/noelleeming/c/garden-furniture")).status_code == 404
    missing = await client.get("/noelleeming/p/anything/N999999.html")
    assert missing.status_code == 404 and "can't find that page" in missing.text
    beyond = BeautifulSoup((await client.get("/noelleeming/c/laptops?page=50")).text, "html.parser")
    assert not beyond.select("div.product-tile") and beyond.select_one(".no-results")

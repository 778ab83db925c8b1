"""Cash Converters: listing cards read with CSS selectors, item pages, second-hand details."""

from __future__ import annotations

import re

import pytest
from bs4 import BeautifulSoup

from retail_pipeline.simulators.catalogue_data import CASH_CONVERTERS_STORES

pytestmark = pytest.mark.anyio

PRICE = re.compile(r"^\$\d{1,3}(,\d{3})*\.\d{2}$")


async def read_cards(client, category: str = "") -> list[dict[str, str]]:
    cards, href = [], f"/cashconverters/shop/search?category={category}"
    while href:
        soup = BeautifulSoup((await client.get(href)).text, "html.parser")
        for card in soup.select("article.product-card"):
            cards.append(
                {
                    "title": card.select_one(".product-card__title").get_text(strip=True),
                    "price": card.select_one(".product-card__price").get_text(strip=True),
                    "store": card.select_one(".product-card__store").get_text(strip=True),
                    "condition": card.select_one(".product-card__condition").get_text(strip=True),
                    "link": card.select_one("a.product-card__link")["href"],
                }
            )
        next_link = soup.select_one("a.pagination__next")
        href = next_link["href"] if next_link else None
    return cards


async def test_cards_parse_with_css_selectors_across_pages(client, sim):
    sim.clock.advance(24 * 10)
    cards = await read_cards(client)
    snapshot = sim.backend("cashconverters").snapshot()
    assert len(cards) == len(snapshot) > 24  # more than one page
    assert [c["link"] for c in cards] == [
        f"/cashconverters/shop/item/{s.product.ref}" for s in reversed(snapshot.products)
    ]
    for card in cards:
        assert PRICE.match(card["price"]), card["price"]
        assert card["store"] in CASH_CONVERTERS_STORES
        assert card["condition"].startswith(("Used - ", "Refurbished"))


async def test_category_filter(client, sim):
    cards = await read_cards(client, "power-tools")
    expected = [
        s for s in sim.backend("cashconverters").snapshot() if s.product.category.slug == "power-tools"
    ]
    assert len(cards) == len(expected)
    assert await read_cards(client, "no-such-category") == []


async def test_item_page_details_table(client, sim):
    for state in sim.backend("cashconverters").snapshot().products[:5]:
        product = state.product
        soup = BeautifulSoup(
            (await client.get(f"/cashconverters/shop/item/{product.ref}")).text, "html.parser"
        )
        details = {
            row.th.get_text(strip=True): row.td.get_text(strip=True)
            for row in soup.select("table.item-details tr")
        }
        assert details["Store"] == product.store and details["Condition"] == product.condition
        assert details["Item number"] == product.ref
        assert soup.select_one("h1.item-title").get_text(strip=True) == product.title
        assert PRICE.match(soup.select_one(".item-price").get_text(strip=True))
        images = soup.select("img.item-gallery__image")
        assert len(images) == product.image_count
        photo = await client.get(images[0]["src"].removeprefix("http://sim"))
        assert photo.headers["content-type"] == "image/jpeg" and photo.content[:2] == b"\xff\xd8"


async def test_sold_item_is_gone(client, sim):
    before = sim.backend("cashconverters").snapshot()
    sim.clock.advance(24 * 30)
    after = sim.backend("cashconverters").snapshot()
    sold = next(s.product for s in before if after.by_ref(s.product.ref) is None)
    response = await client.get(f"/cashconverters/shop/item/{sold.ref}")
    assert response.status_code == 404 and "no longer available" in response.text

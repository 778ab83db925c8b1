"""The inbox shows a remote listing we did not make with its candidates and scores; an operator adopts
one or makes a product of another in the browser."""

from __future__ import annotations

import base64
from decimal import Decimal

from playwright.sync_api import expect
from sqlalchemy import text

from retail_pipeline.defs.listings.state import detect, reconcile
from retail_pipeline.integrations.marketplaces.base import RemoteListing
from retail_pipeline_tests.seeds.listed_products import jpeg, seed_products

PHOTO = "data:image/jpeg;base64," + base64.b64encode(jpeg((180, 90, 40))).decode()
STRAT = RemoteListing(
    "8841203", None, Decimal("1099.00"), 1, "live", title="Fender Player Strat 3-tone sunburst - NZ stock",
    brand="Fender", mpn="0144502500", currency="NZD", condition="used", photos=(PHOTO,),
    url="https://reverb.example/item/8841203",
)  # fmt: skip
AMP = RemoteListing("8841277", "SHOP-41533", Decimal("149.00"), 1, "live", title="Marshall MG15 practice amp",
                    brand="Marshall", currency="NZD", condition="used", description="Works well.")  # fmt: skip


def test_inbox_offers_candidates_and_adopts_in_the_browser(signed_in, engine, settings_env, screenshot):
    products = seed_products(engine, settings_env.media_dir, categories=False)
    detect(engine, "reverb", [STRAT, AMP])
    reconcile(engine, "reverb")
    page = signed_in("operator")
    page.goto("/console/inbox")
    group = page.locator('.task-group[data-kind="listing_adoption"]')
    strat = group.locator("tr.task", has=page.locator('[data-adoption-of="8841203"]'))
    candidate = strat.locator(f'tr[data-candidate="{products["RP-1002"]}"]')
    expect(candidate).to_contain_text("RP-1002")
    expect(candidate.locator(".score")).to_have_text("78%")  # 0.2 brand + 0.3 model + 0.5 × title 57% alike
    expect(candidate).to_contain_text("same brand, same model")
    expect(strat).to_contain_text("1099.00 NZD")
    amp = group.locator("tr.task", has=page.locator('[data-adoption-of="8841277"]'))
    expect(amp).to_contain_text("matches no product")
    expect(amp.get_by_role("button", name="Adopt")).to_have_count(0)
    screenshot(page, "inbox-adoption")

    candidate.get_by_role("button", name="Adopt").click()
    expect(strat).to_have_count(0)
    amp.get_by_role("button", name="Create product").click()
    expect(amp).to_have_count(0)
    with engine.connect() as conn:
        rows = conn.execute(
            text("SELECT external_listing_id, p.sku FROM retail.channel_listings cl"
                 " JOIN retail.products p ON p.id = cl.product_id ORDER BY cl.id")
        ).all()  # fmt: skip
    assert [tuple(r) for r in rows] == [("8841203", "RP-1002"), ("8841277", "SHOP-41533")]

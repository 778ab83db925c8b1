"""Products and suppliers in a real browser: a product re-optimised for one marketplace and published
there (the command carried out as its sensor's run would), supplier markup rendered inert, a viewer
without actions, the suppliers' funnel with a re-scrape; the README's screenshots."""

from __future__ import annotations

import re
from concurrent.futures import ThreadPoolExecutor

import pytest
from playwright.sync_api import expect
from sqlalchemy import text

from retail_pipeline.defs.listings.commands import execute
from retail_pipeline.defs.listings.drafts import build_drafts
from retail_pipeline_tests.seeds.catalog_console import XSS_TITLE, add_price_history, seed_catalogue
from retail_pipeline_tests.seeds.listed_products import ORDERABLE_PRODUCTS, seed_products, signed
from retail_pipeline_tests.simulated_channels import CHANNELS


def off_the_browser_thread(fn, *args, **kwargs):
    """Playwright's sync API keeps an event loop running in the test's thread, so code that runs its own
    (asyncio.run: the publisher, an operator command) runs in another thread, as it would in a Dagster run."""
    with ThreadPoolExecutor(1) as pool:
        return pool.submit(fn, *args, **kwargs).result()


def _live_everywhere(engine, media_dir) -> dict[str, int]:
    """Products live on every channel, written as the publisher leaves them (the publishing itself is
    tested with the channels in defs/listings; here only the Fender's publication goes through it)."""
    ids = seed_products(engine, media_dir, ORDERABLE_PRODUCTS)
    with engine.begin() as conn:
        for channel in CHANNELS:
            build_drafts(conn, channel)
        conn.execute(
            text(
                """INSERT INTO retail.channel_listings (channel, sku, product_id, draft_id, external_listing_id,
                          listing_url, currency, desired_price, actual_price, desired_quantity, actual_quantity,
                          actual_state, published_at)
                   SELECT d.channel, d.sku, d.product_id, d.id, d.channel || '-' || d.id,
                          'https://' || d.channel || '.example/listing/' || d.id, d.currency, d.price, d.price,
                          d.quantity, d.quantity, 'live', now() - interval '6 days'
                     FROM retail.listing_drafts d WHERE d.product_id = ANY(:ids)"""
            ),
            {"ids": list(ids.values())},
        )
        conn.execute(
            text(
                """INSERT INTO retail.price_history (channel_listing_id, new_price, currency, source, reason, created_at)
                   SELECT id, actual_price, currency, 'publish', 'publish', published_at
                     FROM retail.channel_listings WHERE product_id = ANY(:ids)"""
            ),
            {"ids": list(ids.values())},
        )
    return ids


@pytest.fixture
def catalogue(engine, env) -> dict[str, int]:
    """Three products live everywhere (with reprices), three drafted, the markup product, and a supplier
    whose products LaunchLock blocks."""
    listed = _live_everywhere(engine, env.media_dir)
    ids = {**listed, **seed_catalogue(engine, env.media_dir)}
    add_price_history(engine, listed["RP-2001"], ["389.00", "379.00", "399.00", "369.00", "375.00"])
    add_price_history(engine, listed["RP-2003"], ["2199.00", "2149.00", "2179.00"])
    return ids


def test_reoptimise_and_publish_a_product_with_inert_supplier_markup(
    signed_in, catalogue, engine, channels, screenshot
):
    page = signed_in("operator", label="Olivia (ops)")
    dialogs: list[str] = []

    def on_dialog(dialog) -> None:  # our own confirm() is accepted; anything else is the markup running
        if dialog.type == "confirm":
            dialog.accept()
        else:
            dialogs.append(dialog.message)
            dialog.dismiss()

    page.on("dialog", on_dialog)

    page.goto("/console/products")
    rows = page.locator("#products tbody tr")
    expect(rows).to_have_count(
        3 + 3 + 1 + 5 + 3
    )  # live, drafted, markup, blocked by LaunchLock, blocked supplier
    # The supplier's markup is text: shown literally, no element made of it, no script run.
    xss_row = page.locator("tr", has=page.locator("td.mono", has_text="RP-6666"))
    expect(xss_row.locator("a.product-title")).to_have_text(XSS_TITLE)
    expect(page.locator("img[src=x]")).to_have_count(0)
    screenshot(page, "products")

    page.locator('a[data-stage="live-ebay"]').click()
    expect(rows).to_have_count(3)
    expect(page.locator('a[data-stage="live-ebay"]')).to_have_class(re.compile(r"\bon\b"))

    xss = page.context.new_page()
    xss.on("dialog", on_dialog)
    xss.goto(f"/console/products/{catalogue['RP-6666']}")
    expect(xss.locator("#product-title")).to_have_text(XSS_TITLE)
    expect(xss.locator("td.original-title")).to_have_text(XSS_TITLE)
    expect(xss.locator("#supplier-data")).to_contain_text("javascript:alert(3)")  # text, not a link
    expect(xss.locator('#supplier-data a[href^="javascript"]')).to_have_count(0)
    expect(xss.locator("img[src=x]")).to_have_count(0)

    # Re-optimise the Fender's title and description for eBay, then publish it there.
    fender = catalogue["RP-1002"]
    page.goto(f"/console/products/{fender}")
    expect(page.locator("#listings tr[data-channel=ebay] .listing-state")).to_contain_text("not listed")
    page.get_by_label("Fields to re-optimise").select_option("both")
    page.get_by_label("Marketplace to re-optimise for").select_option("ebay")
    page.get_by_role("button", name="Re-optimise").click()
    expect(page.locator("#action-result")).to_contain_text("Re-optimised for ebay (new model answer)")
    ebay_title = page.locator("td.channel-title[data-channel=ebay]")
    expect(ebay_title).not_to_be_empty()
    with engine.connect() as conn:
        optimised, draft_title = conn.execute(
            text(
                """SELECT o.optimised, d.title FROM retail.product_optimisations o
                     JOIN retail.listing_drafts d ON d.product_id = o.product_id AND d.channel = 'ebay'
                    WHERE o.product_id = :p AND o.field = 'title'"""
            ),
            {"p": fender},
        ).one()
    expect(ebay_title).to_have_text(optimised)
    assert draft_title == optimised

    page.get_by_label("Marketplace to publish on").select_option("ebay")
    page.get_by_role("button", name="Publish").click()
    expect(page.locator("#action-result")).to_contain_text(
        re.compile(r"Publish on ebay queued as command \d+")
    )
    command_id = int(re.search(r"command (\d+)", page.locator("#action-result").inner_text()).group(1))
    done = off_the_browser_thread(execute, engine, channels, command_id, media_url=signed)
    assert done["status"] == "succeeded", done
    add_price_history(engine, fender, ["889.00", "869.00", "879.00", "859.00"])  # the repricer's later passes
    page.reload()
    expect(page.locator("#listings tr[data-channel=ebay] .listing-state")).to_contain_text("live")
    expect(page.locator("#stage")).to_have_text("live")
    screenshot(page, "product")

    # Stop selling everywhere (confirmed) disables publishing.
    page.get_by_role("button", name="Stop selling everywhere").click()
    expect(page.locator("#stopped-badge")).to_be_visible()
    expect(page.get_by_role("button", name="Publish")).to_be_disabled()
    with engine.connect() as conn:
        states = conn.scalars(
            text("SELECT DISTINCT desired_state FROM retail.channel_listings WHERE product_id = :p"),
            {"p": fender},
        ).all()
    assert states == ["withdrawn"]
    assert dialogs == [], f"supplier markup ran as script: {dialogs}"


def test_a_viewer_sees_no_actions(signed_in, catalogue):
    page = signed_in("viewer")
    page.goto(f"/console/products/{catalogue['RP-2001']}")
    expect(page.locator("#product-title")).to_contain_text("Sony WH-1000XM5")
    expect(page.locator("#actions")).to_have_count(0)
    expect(page.locator("svg.spark").first).to_be_visible()  # the price history's sparkline
    page.goto("/console/suppliers")
    expect(page.locator("button.rescrape")).to_have_count(0)


def test_suppliers_funnel_blockers_and_rescrape(signed_in, catalogue, engine, screenshot):
    page = signed_in("operator", label="Olivia (ops)")
    page.goto("/console/suppliers")
    noel = page.locator('.supplier[data-supplier="noelleeming"]')
    expect(noel.locator(".blockers tr").first).to_contain_text("images_missing")
    expect(noel.locator(".blockers")).to_contain_text("price_missing")
    test_supplier = page.locator('.supplier[data-supplier="testsup"]')
    expect(test_supplier.locator(".funnel")).to_contain_text("Live")
    test_supplier.get_by_role("button", name="Re-scrape").click()
    expect(test_supplier.locator(".rescrape-status")).to_contain_text("Re-scrape queued (run key rescrape:")
    with engine.connect() as conn:
        assert conn.scalar(text("SELECT count(*) FROM retail.rescrape_requests")) == 1
    screenshot(page, "suppliers")

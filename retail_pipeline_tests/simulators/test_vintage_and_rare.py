"""The simulated Vintage & Rare dealer site over HTTP (httpx against the ASGI app): sign-in, item forms in
both layouts, images, sold, delete, the inventory CSV, the site's faults and the market hook."""

from __future__ import annotations

import csv
import io
import re
import time

import pytest
from bs4 import BeautifulSoup

from retail_pipeline.simulators import SimulatorConfig, build_simulator_app, get_simulator
from retail_pipeline.simulators.images import card_photo
from retail_pipeline.simulators.market import Market
from retail_pipeline.simulators.persistence import load_state, save_state
from retail_pipeline.simulators.vintage_and_rare import (
    CSV_COLUMNS,
    DEALER_EMAIL,
    DEALER_PASSWORD,
    VintageAndRareBackend,
    VintageAndRareSimulatorConfig,
)
from retail_pipeline.simulators.vintage_and_rare.models import SiteSettingsUpdate

pytestmark = pytest.mark.anyio

VR = "/vintage_and_rare"
LABELS = (
    "Brand", "Model", "Category", "Subcategory", "Year", "Price", "Currency", "Quantity", "Condition",
    "Description", "Your reference",
)  # fmt: skip
FIELD_NAMES = {  # the posted names of each layout, by label
    "a": dict(zip(LABELS, ("brand", "model", "category_id", "subcategory_id", "year", "price", "currency",
                           "quantity", "condition", "description", "reference"), strict=True)),
    "b": dict(zip(LABELS, ("item[make]", "item[model_name]", "item[cat]", "item[subcat]", "item[year_made]",
                           "item[asking_price]", "item[currency_code]", "item[qty]", "item[grade]",
                           "item[details]", "item[dealer_ref]"), strict=True)),
}  # fmt: skip
JPEG = card_photo("1964 Fender Stratocaster", "photo", "test")


@pytest.fixture(scope="module")
def shared_simulator_app():
    """One simulator app for the module: these tests touch only Vintage & Rare (and the clock)."""
    return build_simulator_app(SimulatorConfig(seed=11, products_per_supplier=4))


@pytest.fixture
def simulator_app(shared_simulator_app):
    """The shared app with a fresh Vintage & Rare site (routes keep their backend: its state is replaced)
    and no faults."""
    sim = get_simulator(shared_simulator_app)
    live = sim.backend("vintage_and_rare")
    live.__dict__.update(VintageAndRareBackend(sim, VintageAndRareSimulatorConfig()).__dict__)
    sim.faults.reset()
    return shared_simulator_app


def _csrf(page: str) -> str:
    return re.search(r'name="csrf_token" value="([^"]+)"', page)[1]


async def _sign_in(client) -> str:
    """Signs the dealer in; the CSRF token of the session's forms."""
    login = await client.get(f"{VR}/login")
    answer = await client.post(
        f"{VR}/login",
        data={"csrf_token": _csrf(login.text), "email": DEALER_EMAIL, "password": DEALER_PASSWORD},
    )
    assert answer.status_code == 303, answer.text
    return _csrf((await client.get(f"{VR}/dealer/items/new")).text)


def _form(token: str, layout: str = "a", **values: str) -> dict[str, str]:
    fields = {
        "Brand": "fender",
        "Model": "Stratocaster",
        "Category": "10",  # Guitars
        "Subcategory": "1001",  # Electric Guitars
        "Year": "1964",
        "Price": "12500",
        "Currency": "GBP",
        "Quantity": "1",
        "Condition": "Excellent",
        "Description": "Fiesta Red, original case.",
        "Your reference": "SKU-1",
    } | {label.replace("_", " "): value for label, value in values.items()}
    return {"csrf_token": token} | {FIELD_NAMES[layout][label]: value for label, value in fields.items()}


async def _create(client, token: str, **values: str) -> int:
    answer = await client.post(f"{VR}/dealer/items/new", data=_form(token, **values))
    assert answer.status_code == 303, answer.text
    return int(re.search(r"/dealer/items/(\d+)/edit\?saved=1$", answer.headers["location"])[1])


async def _csv(client) -> list[dict[str, str]]:
    answer = await client.get(f"{VR}/dealer/export/inventory.csv")
    assert answer.status_code == 200 and answer.headers["content-type"].startswith("text/csv")
    assert answer.text.splitlines()[0] == ",".join(CSV_COLUMNS)
    return list(csv.DictReader(io.StringIO(answer.text)))


def _alert(page: str) -> str:
    alert = BeautifulSoup(page, "html.parser").find(attrs={"role": "alert"})
    return alert.get_text(" ", strip=True) if alert else ""


async def test_sign_in_needs_the_pre_session_csrf_token_and_the_right_password(client):
    first = await client.get(f"{VR}/login?next={VR}/dealer/items/new")
    soup = BeautifulSoup(first.text, "html.parser")
    assert soup.title.string == "Dealer sign in" and soup.h1.string == "Dealer sign in"
    assert soup.find("button", string="Sign in") and soup.find("label", string="Email")
    token = _csrf(first.text)
    credentials = {"email": DEALER_EMAIL, "password": DEALER_PASSWORD, "next": f"{VR}/dealer/items/new"}

    missing = await client.post(f"{VR}/login", data=credentials)
    forged = await client.post(f"{VR}/login", data=credentials | {"csrf_token": "0" * 64})
    assert missing.status_code == forged.status_code == 400 and "Invalid CSRF token" in forged.text
    wrong = await client.post(f"{VR}/login", data=credentials | {"csrf_token": token, "password": "guess"})
    assert wrong.status_code == 200 and _alert(wrong.text) == "Email or password is incorrect"
    assert "vr_session" not in client.cookies

    # The token is bound to the pre-session cookie: another browser's token is refused.
    client.cookies.set("vr_presession", "someone-else", path=VR)
    assert (await client.post(f"{VR}/login", data=credentials | {"csrf_token": token})).status_code == 400
    token = _csrf((await client.get(f"{VR}/login")).text)
    signed_in = await client.post(f"{VR}/login", data=credentials | {"csrf_token": token})
    assert signed_in.status_code == 303 and signed_in.headers["location"] == f"{VR}/dealer/items/new"
    assert (await client.get(f"{VR}/dealer/items")).status_code == 200
    # An outside `next` is not followed.
    evil = await client.post(
        f"{VR}/login", data=credentials | {"csrf_token": token, "next": "https://x.test/"}
    )
    assert evil.headers["location"] == f"{VR}/dealer/items"


async def test_a_missing_or_expired_session_redirects_to_sign_in(client, sim):
    never = await client.get(f"{VR}/dealer/items/5/edit?saved=1")
    assert never.status_code == 303
    assert (
        never.headers["location"]
        == f"{VR}/login?next=%2Fvintage_and_rare%2Fdealer%2Fitems%2F5%2Fedit%3Fsaved%3D1"
    )
    assert "Your session has expired" not in (await client.get(never.headers["location"])).text

    token = await _sign_in(client)
    item_id = await _create(client, token)
    await client.put(f"{VR}/_control/site", json={"expire_sessions": True})
    posted = await client.post(f"{VR}/dealer/items/{item_id}/sold", data={"csrf_token": token})
    assert posted.status_code == 303
    assert (
        posted.headers["location"]
        == f"{VR}/login?next=%2Fvintage_and_rare%2Fdealer%2Fitems%2F{item_id}%2Fedit"
    )
    login = await client.get(posted.headers["location"])
    assert "Your session has expired. Please sign in again." in login.text
    assert (await client.get(f"{VR}/dealer/export/inventory.csv")).status_code == 303
    assert sim.backend("vintage_and_rare").items[item_id].status == "for_sale"  # the post did nothing

    await _sign_in(client)  # a new session works while the switch stays on
    assert (await client.get(f"{VR}/dealer/items")).status_code == 200
    # Sessions also run out on their own (real time): one past its end is refused.
    for session in sim.backend("vintage_and_rare").sessions.values():
        session.expires_at = time.time() - 1
    assert (await client.get(f"{VR}/dealer/items")).status_code == 303


async def test_an_item_with_every_field_is_saved_and_an_unknown_brand_saves_nothing(client, sim):
    token = await _sign_in(client)
    unknown = await client.post(
        f"{VR}/dealer/items/new", data=_form(token, Brand="Xyz", Year="1899", Price="1e400")
    )
    assert unknown.status_code == 422
    assert "Unknown brand 'Xyz'. Choose a brand from the list." in _alert(unknown.text)
    assert "Year must be between 1900 and 2025." in _alert(unknown.text)
    assert "Price can be at most 10000000." in _alert(unknown.text)
    soup = BeautifulSoup(unknown.text, "html.parser")
    assert soup.find(id="a-brand")["value"] == "Xyz" and soup.find(id="a-reference")["value"] == "SKU-1"
    assert sim.backend("vintage_and_rare").items == {}

    item_id = await _create(client, token, Year="", Quantity="3", Currency="USD", Condition="Very good")
    saved = await client.get(f"{VR}/dealer/items/{item_id}/edit?saved=1")
    soup = BeautifulSoup(saved.text, "html.parser")
    assert soup.find(attrs={"role": "status"}).get_text() == "Item saved"
    assert soup.find(id="a-brand")["value"] == "Fender"  # the site's spelling
    assert soup.find(id="a-subcategory").find("option", selected=True).get_text() == "Electric Guitars"
    (row,) = await _csv(client)
    assert {k: v for k, v in row.items() if k not in ("updated_at",)} == {
        "item_id": str(item_id),
        "external_id": "SKU-1",
        "brand": "Fender",
        "model": "Stratocaster",
        "title": "Fender Stratocaster",
        "year": "",
        "category": "Guitars",
        "subcategory": "Electric Guitars",
        "price": "12500.00",
        "currency": "USD",
        "quantity": "3",
        "condition": "Very good",
        "status": "for_sale",
        "url": f"http://sim{VR}/items/{item_id}-fender-stratocaster",
        "image_urls": "",
        "description": "Fiesta Red, original case.",
    }
    assert row["updated_at"] == sim.clock.now().isoformat()

    edited = await client.post(
        f"{VR}/dealer/items/{item_id}/edit",
        data=_form(token, Year="1964", Price="11999.5", Subcategory="2001"),
    )
    assert edited.status_code == 422 and "Choose a subcategory of Guitars." in _alert(edited.text)
    edited = await client.post(f"{VR}/dealer/items/{item_id}/edit", data=_form(token, Price="11999.5"))
    assert edited.headers["location"] == f"{VR}/dealer/items/{item_id}/edit?saved=1"
    (row,) = await _csv(client)
    assert (row["title"], row["price"], row["quantity"]) == ("1964 Fender Stratocaster", "11999.50", "1")
    public = await client.get(row["url"].removeprefix("http://sim"))
    assert public.status_code == 200 and "1964 Fender Stratocaster" in public.text


async def test_a_reference_is_used_by_one_item_only(client):
    token = await _sign_in(client)
    first = await _create(client, token)
    again = await client.post(f"{VR}/dealer/items/new", data=_form(token, Model="Telecaster"))
    assert again.status_code == 422 and _alert(again.text).endswith(f"Reference already used by item {first}")
    long = await client.post(f"{VR}/dealer/items/new", data=_form(token, **{"Your reference": "x" * 51}))
    assert "Your reference can be at most 50 characters." in _alert(long.text)
    second = await _create(client, token, **{"Your reference": ""})
    assert await _create(client, token, **{"Your reference": ""}) == second + 1  # none is no one's
    assert [row["external_id"] for row in await _csv(client)] == ["SKU-1", "", ""]


async def test_images_are_uploaded_one_by_one_up_to_twenty_jpeg_png_or_webp(client, sim):
    token = await _sign_in(client)
    item_id = await _create(client, token)
    url = f"{VR}/dealer/items/{item_id}/images"

    def upload(data: bytes, name: str = "photo.jpg") -> dict:
        return {"data": {"csrf_token": token}, "files": {"image": (name, data, "image/jpeg")}}

    gif = await client.post(url, **upload(b"GIF89a" + JPEG[6:], "photo.jpg"))
    assert gif.status_code == 422 and "Only JPEG, PNG or WebP images can be uploaded." in _alert(gif.text)
    huge = await client.post(url, **upload(JPEG + b"\0" * (10 * 1024 * 1024)))
    assert huge.status_code == 422 and "An image can be at most 10 MB." in _alert(huge.text)
    png, webp = b"\x89PNG\r\n\x1a\n" + b"\0" * 64, b"RIFF\x24\0\0\0WEBPVP8 " + b"\0" * 32
    for data in (JPEG, png, webp):
        uploaded = await client.post(url, **upload(data))
        assert uploaded.headers["location"] == f"{VR}/dealer/items/{item_id}/edit?uploaded=1"
    page = BeautifulSoup((await client.get(f"{VR}/dealer/items/{item_id}/edit")).text, "html.parser")
    assert [img["alt"] for img in page.select("ol.images img")] == ["Image 1", "Image 2", "Image 3"]
    assert page.find(string="3 of 20 images")
    served = await client.get(page.select("ol.images img")[1]["src"])
    assert served.headers["content-type"] == "image/png" and served.content == png

    sim.backend("vintage_and_rare").items[item_id].images *= 7  # 21 -> keep 20 by trimming one
    sim.backend("vintage_and_rare").items[item_id].images.pop()
    refused = await client.post(url, **upload(JPEG))
    assert refused.status_code == 422 and "An item can have at most 20 images" in _alert(refused.text)
    (row,) = await _csv(client)
    urls = row["image_urls"].split("|")
    assert (
        len(urls) == 20 and urls[0] == f"http://sim{VR}/images/{item_id}/1.jpg" and urls[1].endswith("/2.png")
    )


async def test_mark_sold_and_delete_after_confirmation(client):
    token = await _sign_in(client)
    sold_id = await _create(client, token, Quantity="2")
    gone_id = await _create(client, token, **{"Your reference": "SKU-2"})
    sold = await client.post(f"{VR}/dealer/items/{sold_id}/sold", data={"csrf_token": token})
    assert sold.headers["location"] == f"{VR}/dealer/items/{sold_id}/edit?sold=1"
    assert (await client.post(f"{VR}/dealer/items/{gone_id}/sold")).status_code == 400  # no CSRF token

    ask = await client.post(f"{VR}/dealer/items/{gone_id}/delete", data={"csrf_token": token})
    button = BeautifulSoup(ask.text, "html.parser").find("button", string="Yes, delete this item")
    assert ask.status_code == 200 and button.find_parent("form")["action"].endswith("/delete?confirm=1")
    assert len(await _csv(client)) == 2  # asking deletes nothing
    deleted = await client.post(f"{VR}/dealer/items/{gone_id}/delete?confirm=1", data={"csrf_token": token})
    assert deleted.headers["location"] == f"{VR}/dealer/items"

    rows = await _csv(client)
    assert [(r["item_id"], r["status"], r["quantity"]) for r in rows] == [(str(sold_id), "sold", "0")]
    listing = (await client.get(f"{VR}/dealer/items")).text
    assert "SKU-2" not in listing and "Sold" in listing
    assert (await client.get(f"{VR}/dealer/items/{gone_id}/edit")).status_code == 404
    # Saving a sold item puts it back on sale; the deleted item's reference is free again.
    await client.post(f"{VR}/dealer/items/{sold_id}/edit", data=_form(token, Quantity="1"))
    await _create(client, token, **{"Your reference": "SKU-2"})
    assert [(r["status"], r["external_id"]) for r in await _csv(client)] == [
        ("for_sale", "SKU-1"),
        ("for_sale", "SKU-2"),
    ]


async def test_export_lists_every_item_of_the_dealer_seeded_or_made_here(client, sim):
    backend = sim.backend("vintage_and_rare")
    seeded = await client.post(
        f"{VR}/_control/items",
        json=[
            {"brand": "Gibson", "model": "Les Paul Standard", "year": 1959, "category": "Guitars",
             "subcategory": "Electric Guitars", "price": "250000", "currency": "USD", "condition": "Good",
             "description": "Burst.", "image_urls": "https://x.test/1.jpg|https://x.test/2.jpg"},
            {"brand": "Vox", "model": "AC30", "category": "Amps", "subcategory": "Guitar Amplifiers",
             "price": "1800", "description": "Top boost.", "status": "sold", "external_id": "AMP-1"},
        ],
    )  # fmt: skip
    assert seeded.status_code == 201, seeded.text
    bad = await client.post(f"{VR}/_control/items", json=[{"brand": "Nobody", "model": "X", "price": "1"}])
    assert bad.status_code == 422 and "Unknown brand 'Nobody'" in bad.json()["message"]
    other = backend.seed_items(
        [{"brand": "Korg", "model": "MS-20", "price": "900", "description": "Synth."}],
        dealer="other@example.test",
    )
    token = await _sign_in(client)
    await _create(client, token)

    rows = await _csv(client)
    assert [(r["title"], r["external_id"], r["status"], r["quantity"]) for r in rows] == [
        ("1959 Gibson Les Paul Standard", "", "for_sale", "1"),
        ("Vox AC30", "AMP-1", "sold", "0"),
        ("1964 Fender Stratocaster", "SKU-1", "for_sale", "1"),
    ]
    assert rows[0]["category"] == "Guitars" and rows[1]["currency"] == "GBP"
    photo = await client.get(rows[0]["image_urls"].split("|")[1].removeprefix("http://sim"))
    assert photo.status_code == 200 and photo.content.startswith(b"\xff\xd8\xff")
    assert str(other[0].id) not in {r["item_id"] for r in rows}  # another dealer's


async def test_both_layouts_label_every_field_and_accept_only_their_own_names(client, sim):
    token = await _sign_in(client)
    item_id = await _create(client, token)
    pages = {}
    for layout in ("a", "b"):
        await client.put(f"{VR}/_control/site", json={"layout": layout})
        for path in ("/dealer/items/new", f"/dealer/items/{item_id}/edit"):
            soup = BeautifulSoup((await client.get(VR + path)).text, "html.parser")
            labelled = {}
            for label in soup.find_all("label"):
                if label.get("for"):  # layout a: label for= the control's id
                    text, control = label.get_text(strip=True), soup.find(id=label["for"])
                else:  # layout b: the label wraps its text and its control
                    text, control = (
                        label.span.get_text(strip=True),
                        label.find(["input", "select", "textarea"]),
                    )
                assert control is not None and control.name in ("input", "select", "textarea"), text
                labelled[text] = control.get("name")
            expected = {label: FIELD_NAMES[layout][label] for label in LABELS}
            assert {k: v for k, v in labelled.items() if k in LABELS} == expected
            if "edit" in path:
                assert labelled["Add image"] and soup.find("button", string="Upload image")
                assert soup.find("button", string="Mark as sold") and soup.find(
                    "button", string="Delete item"
                )
            assert soup.find("button", string="Save item")
            pages[layout, path] = soup
    order = {layout: [label.get("for") or label.span.get_text() for label in pages[layout, "/dealer/items/new"]
                      .find_all("label")] for layout in "ab"}  # fmt: skip
    assert order["a"][:2] == ["a-brand", "a-model"] and order["b"][:2] == ["Your reference", "Category"]
    assert (
        pages["b", "/dealer/items/new"].select_one("footer.sticky-actions button").get_text() == "Save item"
    )

    # Layout b is live: its names save, layout a's are not its fields.
    made = await client.post(f"{VR}/dealer/items/new", data=_form(token, "b", **{"Your reference": "SKU-B"}))
    assert made.status_code == 303
    stale = await client.post(f"{VR}/dealer/items/new", data=_form(token, "a", **{"Your reference": "SKU-C"}))
    assert stale.status_code == 422 and "Brand is required." in _alert(stale.text)
    assert [r["external_id"] for r in await _csv(client)] == ["SKU-1", "SKU-B"]
    assert (await client.get(f"{VR}/_control/site")).json()["layout"] == "b"


async def test_the_bot_challenge_answers_every_sign_in_and_dealer_page_and_slow_pages_wait(client, sim):
    token = await _sign_in(client)
    item_id = await _create(client, token)
    assert (await client.put(f"{VR}/_control/site", json={"challenge": True})).json()["challenge"] is True
    for method, path in (
        ("GET", "/login"), ("POST", "/login"), ("GET", "/dealer/items"), ("GET", "/dealer/items/new"),
        ("GET", f"/dealer/items/{item_id}/edit"), ("POST", f"/dealer/items/{item_id}/sold"),
        ("GET", "/dealer/export/inventory.csv"), ("GET", "/dealer/brands?q=fen"),
    ):  # fmt: skip
        answer = await client.request(
            method, VR + path, data={"csrf_token": token} if method == "POST" else None
        )
        soup = BeautifulSoup(answer.text, "html.parser")
        assert answer.status_code == 403 and soup.title.string == "Just a moment...", path
        assert "Checking your browser before accessing" in answer.text and soup.find(id="challenge-stage")
    assert sim.backend("vintage_and_rare").items[item_id].status == "for_sale"
    assert (
        await client.get(f"{VR}/items/{item_id}-fender-stratocaster")
    ).status_code == 301  # public pages open

    await client.put(f"{VR}/_control/site", json={"challenge": False, "slow_ms": 150})
    started = time.perf_counter()
    assert (await client.get(f"{VR}/dealer/items")).status_code == 200
    assert time.perf_counter() - started >= 0.15
    # The simulators' generic latency fault applies too (to every path of the system).
    await client.put(f"{VR}/_control/site", json={"slow_ms": 0})
    await client.put("/_control/faults/vintage_and_rare", json={"latency_ms": 120})
    started = time.perf_counter()
    assert (await client.get(f"{VR}/dealer/export/inventory.csv")).status_code == 200
    assert time.perf_counter() - started >= 0.12
    assert (await client.put(f"{VR}/_control/site", json={"layout": "c"})).status_code == 422


async def test_a_market_sale_marks_the_item_sold_and_the_state_survives_a_restart(client, sim, tmp_path):
    token = await _sign_in(client)
    await _create(client, token, Quantity="2")
    backend = sim.backend("vintage_and_rare")
    assert backend.live_skus() == {"SKU-1": 2}
    market = Market(sim)
    assert market.buy_now("vintage_and_rare", "SKU-1").channel == "vintage_and_rare"
    assert [(r["status"], r["quantity"]) for r in await _csv(client)] == [("for_sale", "1")]
    assert (await client.post(f"{VR}/_control/buy", json={"sku": "SKU-1"})).status_code == 201
    assert [(r["status"], r["quantity"]) for r in await _csv(client)] == [("sold", "0")]
    assert market.buy_now("vintage_and_rare", "SKU-1") is None and backend.live_skus() == {}

    path = tmp_path / "state.pickle"
    assert "vintage_and_rare" in save_state(sim, path)
    backend.items.clear()
    assert "vintage_and_rare" in load_state(sim, path)
    assert [i.status for i in backend.items.values()] == ["sold"]


async def test_in_chromium_the_brand_suggestions_and_the_subcategories_come_from_the_script(
    shared_simulator_app, simulator_app, sim
):
    """Headless Chromium on layout b (labels wrap their controls): typing suggests brands, choosing a
    category fills the subcategories, the item saves; locators by label and role only."""
    from playwright.async_api import async_playwright

    from retail_pipeline.simulators.serving import serve_in_thread

    sim.backend("vintage_and_rare").configure(SiteSettingsUpdate(layout="b"))
    with serve_in_thread(simulator_app) as base_url:
        async with async_playwright() as playwright:
            browser = await playwright.chromium.launch(
                executable_path="/usr/bin/chromium",
                headless=True,
                args=["--no-sandbox", "--disable-background-networking", "--disable-component-update"],
            )
            try:
                # Signed in as the sign-in form would (its own test is above): the session's cookie.
                session = sim.backend("vintage_and_rare").sign_in(DEALER_EMAIL, DEALER_PASSWORD)
                context = await browser.new_context()
                await context.add_cookies([{"name": "vr_session", "value": session.id, "url": base_url + VR}])
                page = await context.new_page()
                page.set_default_timeout(5000)
                await page.goto(f"{base_url}{VR}/dealer/items/new")
                subcategory = page.get_by_label("Subcategory", exact=True)
                assert await subcategory.locator("option").count() == 0  # empty until a category is chosen
                await page.get_by_label("Brand", exact=True).press_sequentially("rick")
                await page.get_by_role("option", name="Rickenbacker", exact=True).click()
                await page.get_by_label("Model", exact=True).fill("360/12")
                await page.get_by_label("Category", exact=True).select_option(label="Guitars")
                await subcategory.select_option(label="Electric Guitars")
                await page.get_by_label("Price").fill("8500")
                await page.get_by_label("Condition").select_option("Very good")
                await page.get_by_label("Description").fill("Fireglo, 1966.")
                await page.get_by_label("Your reference").fill("SKU-RIC")
                await page.get_by_role("button", name="Save item").click()
                assert await page.get_by_role("status").inner_text() == "Item saved"
            finally:
                await browser.close()
    (item,) = sim.backend("vintage_and_rare").items.values()
    assert (item.brand, item.model, item.subcategory_name, item.reference) == (
        "Rickenbacker", "360/12", "Electric Guitars", "SKU-RIC",
    )  # fmt: skip

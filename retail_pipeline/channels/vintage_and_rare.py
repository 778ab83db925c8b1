"""Vintage & Rare: listings and stock, driven through the dealer website with a real browser.

V&R has no public API. Its dealer site is driven with Playwright (async) on Debian's Chromium:
- reads (`find_by_sku`, `selling`) are the dealer's inventory CSV export
  (`/dealer/export/inventory.csv`, fetched with the browser context's cookies), where "Your
  reference" (`external_id`) is our SKU;
- writes go through the item forms, located by label text and role only (the site moves its fields
  around), and every write is confirmed by reading the CSV again.

One browser context per client, opened on first use and closed by `aclose`; its cookies persist in
the storage-state file, so a saved session is reused. A page that lands on /login (the session
expired) is signed into once with the configured credentials. A bot-protection challenge ("Just a
moment...", HTTP 403) is never evaded: it raises `ChannelBlocked`, which stops the channel's pass and
asks a person to sign in (`retail-pipeline vr login`, headed). A failed browser step keeps a
Playwright trace (a zip in the media storage), named by its key in the error's details as `trace`.

Crash safety: `create` first asks the CSV for our reference and returns an item already there (a
form submitted before a crash is never submitted again); the site itself refuses a second item with
the same reference.

No orders, tracking or buyer messages: V&R has none we can reach. A sale shows only as `sold` in the
CSV, which the state sync turns into a stock decrement (`defs/listings/sold_remotely.py`).

Configuration (`VintageAndRareSettings`, VR_* variables): VR_BASE_URL (default: the simulator at
{SIMULATOR_URL}/vintage_and_rare when USE_SIMULATORS, else https://www.vintageandrare.com), VR_EMAIL,
VR_PASSWORD (against the simulator, its dealer), VR_STORAGE_STATE, VR_CHROMIUM_PATH, VR_HEADLESS,
VR_CDP_URL (connect to a running Chromium instead of launching one), VR_TIMEOUT_SECONDS,
VR_TRACE_DIR.
"""

from __future__ import annotations

import asyncio
import contextlib
import csv
import io
import re
import tempfile
import time
from collections.abc import AsyncIterator, Mapping
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any, ClassVar
from urllib.parse import quote, urlsplit

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

from retail_pipeline.channels.plugin import CategoryQuery, CategorySuggestion, Channel, SignIn, Taxonomy
from retail_pipeline.domain.channel_categories import rank_locally
from retail_pipeline.domain.listings import ListingPolicy, ProductForListing, listing_condition
from retail_pipeline.domain.pricing import PricingPolicy
from retail_pipeline.integrations.marketplaces.base import (
    CallBudget,
    ChannelBlocked,
    ChannelClient,
    ChannelError,
    ListingDraft,
    Photo,
    RemoteListing,
)
from retail_pipeline.media.storage import get_storage
from retail_pipeline.settings import get_settings

CHANNEL_NAME = "vintage_and_rare"
VR_SITE = "https://www.vintageandrare.com"
# The simulated dealer (simulators/vintage_and_rare), used when no credentials are configured there.
SIMULATOR_EMAIL = "dealer@example.test"
SIMULATOR_PASSWORD = "vr-dealer-secret"
CURRENCIES = ("GBP", "EUR", "USD", "CAD", "NZD", "AUD")
CONDITIONS = ("Mint", "Excellent", "Very good", "Good", "Fair", "Poor", "Non functioning")
OUR_CONDITIONS = {"new": "Mint", "refurbished": "Excellent", "used": "Good"}
THEIR_CONDITIONS = {"Mint": "new", "Excellent": "refurbished"}  # the rest: used
STATES = {"for_sale": "live", "sold": "sold"}
MAX_IMAGES = 20
MAX_REFERENCE = 50
CSV_COLUMNS = [
    "item_id",
    "external_id",
    "brand",
    "model",
    "title",
    "year",
    "category",
    "subcategory",
    "price",
    "currency",
    "quantity",
    "condition",
    "status",
    "url",
    "image_urls",
    "description",
    "updated_at",
]
SIGN_IN_TASK = "channel_sign_in"
LOGIN_COMMAND = "retail-pipeline vr login --headed"
CHALLENGE_TITLE = "Just a moment..."
# A withdrawal for these reasons marks the item sold (it sold elsewhere / is out of stock); any other
# reason (the operator stopped selling it, the supplier removed it) deletes it.
# A browser error that is the network's, not the page's (worth trying again later).
UNREACHABLE = re.compile(r"net::ERR_|ECONNREFUSED|ECONNRESET|ETIMEDOUT|EAI_AGAIN")
SOLD_REASONS = re.compile(r"\bsold\b|out of stock", re.I)


class VintageAndRareSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="VR_", env_file=".env", extra="ignore")

    base_url: str | None = Field(default=None, description="Unset: the simulator when simulating, else live.")
    email: str | None = None
    password: SecretStr | None = None
    storage_state: Path | None = Field(
        default=None, description="Default: <data dir>/vintage_and_rare/session.json"
    )
    chromium_path: str = "/usr/bin/chromium"
    headless: bool = True
    cdp_url: str | None = Field(
        default=None, description="A running Chromium's CDP endpoint instead of a launch."
    )
    timeout_seconds: float = Field(default=20.0, gt=0)

    def base(self) -> str:
        return get_settings().service_base(self.base_url, CHANNEL_NAME, VR_SITE)

    def credentials(self) -> tuple[str, str]:
        if self.email and self.password:
            return self.email, self.password.get_secret_value()
        if get_settings().at_simulator(self.base(), CHANNEL_NAME):
            return SIMULATOR_EMAIL, SIMULATOR_PASSWORD
        raise ChannelError(CHANNEL_NAME, "set VR_EMAIL and VR_PASSWORD (the dealer's sign-in)")

    def state_file(self) -> Path:
        return self.storage_state or get_settings().data_dir / CHANNEL_NAME / "session.json"


# --- pure parts: the CSV and the form values


def _decimal(value: str | None) -> Decimal | None:
    try:
        return Decimal(value) if value not in (None, "") else None
    except InvalidOperation:
        return None


def parse_inventory(text: str) -> list[dict[str, str]]:
    """The export's rows; a header that is not the documented one is refused (the site changed)."""
    reader = csv.DictReader(io.StringIO(text))
    if reader.fieldnames is None or not set(CSV_COLUMNS) <= set(reader.fieldnames):
        raise ChannelError(CHANNEL_NAME, f"inventory export has unexpected columns: {reader.fieldnames}")
    return list(reader)


def listing_from_row(row: Mapping[str, str]) -> RemoteListing:
    """One CSV row as a remote listing, with everything the export shows of the item."""
    quantity = row.get("quantity")
    return RemoteListing(
        external_id=row["item_id"],
        sku=row.get("external_id") or None,
        price=_decimal(row.get("price")),
        quantity=int(quantity) if quantity not in (None, "") else None,
        state=STATES.get(row.get("status") or "", "ended"),  # type: ignore[arg-type]
        title=row.get("title") or None,
        url=row.get("url") or None,
        remote_ids={
            "category": " > ".join(p for p in (row.get("category"), row.get("subcategory")) if p),
            "model": row.get("model") or None,
            "year": row.get("year") or None,
            "condition": row.get("condition") or None,
        },
        brand=row.get("brand") or None,
        mpn=row.get("model") or None,
        description=row.get("description") or None,
        currency=row.get("currency") or None,
        condition=THEIR_CONDITIONS.get(row.get("condition") or "", "used") if row.get("condition") else None,
        photos=tuple(u for u in (row.get("image_urls") or "").split("|") if u),
    )


def form_values(draft: ListingDraft) -> dict[str, str]:
    """The add form's fields by their label text (`fields` wins where set)."""
    fields = draft.fields
    category = fields.get("category") or ""
    top, _, sub = category.partition(" > ")
    year = fields.get("year")
    return {
        "Brand": fields.get("brand") or draft.brand or "",
        "Model": fields.get("model") or draft.mpn or "",
        "Category": top,
        "Subcategory": sub,
        "Year": str(year) if year else "",
        "Price": f"{Decimal(draft.price):.2f}",
        "Currency": draft.currency,
        "Quantity": str(draft.quantity),
        "Condition": fields.get("condition") or OUR_CONDITIONS.get(draft.condition, "Good"),
        "Description": draft.description,
        "Your reference": draft.sku,
    }


def local_problems(draft: ListingDraft) -> list[str]:
    """The add form's own rules, checked before any page is opened."""
    values = form_values(draft)
    problems = []
    for label in ("Brand", "Model", "Category", "Subcategory", "Description"):
        if not values[label].strip():
            problems.append(f"{label} is required")
    if draft.price <= 0:
        problems.append("Price must be above 0")
    if values["Currency"] not in CURRENCIES:
        problems.append(f"Currency {values['Currency']} is not one of {', '.join(CURRENCIES)}")
    if draft.quantity < 1:
        problems.append("Quantity must be at least 1")
    if values["Condition"] not in CONDITIONS:
        problems.append(f"Condition {values['Condition']!r} is not one of {', '.join(CONDITIONS)}")
    if len(draft.sku) > MAX_REFERENCE:
        problems.append(f"Your reference is {len(draft.sku)} characters; V&R allows {MAX_REFERENCE}")
    if len(draft.photos) > MAX_IMAGES:
        problems.append(f"{len(draft.photos)} photos; V&R allows {MAX_IMAGES}")
    return problems


def field(page: Any, label: str) -> Any:
    """The form control labelled `label`: its label's text starts with `label`, and no other word
    goes on from it. A label wrapping a select has its options' text too ("CategoryChoose a
    categoryGuitars…"), so an exact match misses it; a substring match takes "Category" for
    "Subcategory"; the Brand suggestions list (labelled "Brand suggestions") is no form control."""
    named = page.get_by_label(re.compile(rf"^\s*{re.escape(label)}(?![a-z])"))
    return named.and_(page.locator("input, select, textarea"))


def is_sign_in_page(url: str) -> bool:
    return urlsplit(url).path.rstrip("/").endswith("/login")


class VintageAndRareClient(ChannelClient):
    """The dealer site in one browser context; one page, one operation at a time (a lock: the
    publisher works several items at once, a page can do one thing)."""

    channel: ClassVar[str] = CHANNEL_NAME
    # The export has no barcode column (the item form has no field for one).
    selling_lacks: ClassVar[frozenset[str]] = frozenset({"gtin"})

    def __init__(self, settings: VintageAndRareSettings | None = None, *, transport: Any = None) -> None:
        # `transport` (the in-process simulators of the HTTP clients) cannot carry a browser: ignored.
        self.settings = settings or VintageAndRareSettings()
        self._base = self.settings.base()
        self._timeout_ms = self.settings.timeout_seconds * 1000
        self._lock = asyncio.Lock()
        self._playwright: Any = None
        self._browser: Any = None
        self._context: Any = None
        self._page: Any = None
        self._signed_in = False  # signed in once by this client: a second /login is a refusal
        self._categories: list[tuple[str, list[str]]] | None = None
        self.pages = 0  # pages loaded and forms submitted, the call count of `budget()`

    # --- the browser

    async def _open(self) -> Any:
        if self._page is not None:
            return self._page
        from playwright.async_api import async_playwright

        self._playwright = await async_playwright().start()
        chromium = self._playwright.chromium
        if self.settings.cdp_url:
            self._browser = await chromium.connect_over_cdp(self.settings.cdp_url)
        else:
            self._browser = await chromium.launch(
                executable_path=self.settings.chromium_path,
                headless=self.settings.headless,
                args=["--no-sandbox", "--disable-background-networking", "--disable-component-update"],
            )
        state = self.settings.state_file()
        self._context = await self._browser.new_context(storage_state=str(state) if state.exists() else None)
        self._context.set_default_timeout(self._timeout_ms)
        await self._context.tracing.start(snapshots=True, screenshots=False, sources=False)
        self._page = await self._context.new_page()
        return self._page

    async def aclose(self) -> None:
        with contextlib.suppress(Exception):
            if self._context is not None:
                await self._context.close()
        with contextlib.suppress(Exception):
            if self._browser is not None:
                await self._browser.close()
        with contextlib.suppress(Exception):
            if self._playwright is not None:
                await self._playwright.stop()
        self._playwright = self._browser = self._context = self._page = None

    def budget(self) -> CallBudget:
        return CallBudget(limit=None, used=self.pages)

    @contextlib.asynccontextmanager
    async def _step(self, name: str) -> AsyncIterator[Any]:
        """One browser step, alone on the page and traced: a failure keeps the step's trace (a zip
        in the media storage; its key in the error's details) and
        becomes a `ChannelError` (a timeout or lost connection: retryable)."""
        from playwright.async_api import Error as PlaywrightError
        from playwright.async_api import TimeoutError as PlaywrightTimeout

        async with self._lock:
            page = await self._open()
            await self._context.tracing.start_chunk(title=name)
            try:
                yield page
            except (ChannelError, PlaywrightError) as failure:
                trace = await self._keep_trace(name)
                if isinstance(failure, ChannelError):
                    failure.details = {**(failure.details or {}), "trace": trace}
                    raise
                retryable = isinstance(failure, PlaywrightTimeout) or bool(UNREACHABLE.search(str(failure)))
                raise ChannelError(
                    self.channel, f"{name}: {str(failure).splitlines()[0]}", retryable=retryable,
                    details={"trace": trace, "url": page.url},
                ) from failure  # fmt: skip
            except BaseException:  # not the site's doing (a crash, a cancel): no trace kept
                with contextlib.suppress(Exception):
                    await self._context.tracing.stop_chunk()
                raise
            else:
                await self._context.tracing.stop_chunk()

    async def _keep_trace(self, name: str) -> str | None:
        """Playwright writes the trace to a temporary file; it is kept in the media storage (where any
        worker's traces can be opened from the console) under traces/vintage_and_rare/."""
        slug = re.sub(r"[^A-Za-z0-9_.-]+", "-", name)[:60]
        key = (
            f"traces/{CHANNEL_NAME}/{time.strftime('%Y%m%dT%H%M%S')}-{time.monotonic_ns() % 10**6}-{slug}.zip"
        )
        try:  # a trace is a help, never a second failure
            with tempfile.TemporaryDirectory(prefix="vr-trace-") as folder:
                path = Path(folder) / "trace.zip"
                await self._context.tracing.stop_chunk(path=str(path))
                await asyncio.to_thread(get_storage().put, key, path.read_bytes(), "application/zip")
        except Exception:
            return None
        return key

    async def _check_blocked(self, page: Any, status: int | None) -> None:
        """A bot-protection challenge stops the work: a person signs in again (never evaded)."""
        if (
            status == 403
            or await page.title() == CHALLENGE_TITLE
            or await page.locator("#challenge-stage").count()
        ):
            raise ChannelBlocked(
                self.channel,
                f"the site shows a bot-protection challenge at {urlsplit(page.url).path}: a person must sign "
                f"in with `{LOGIN_COMMAND}`",
                task_kind=SIGN_IN_TASK,
                action=f"Sign in to Vintage & Rare again: run `{LOGIN_COMMAND}` and solve the challenge",
                details={"url": page.url, "status": status},
            )

    async def _goto(self, page: Any, path: str) -> Any:
        """Open a dealer page, signing in once when the session has expired."""
        response = await page.goto(f"{self._base}{path}")
        self.pages += 1
        await self._check_blocked(page, response.status if response else None)
        if is_sign_in_page(page.url):
            await self._sign_in(page)
            if is_sign_in_page(page.url) or urlsplit(page.url).path != urlsplit(f"{self._base}{path}").path:
                response = await page.goto(f"{self._base}{path}")
                self.pages += 1
                await self._check_blocked(page, response.status if response else None)
        return response

    async def _sign_in(self, page: Any) -> None:
        """Fill the sign-in form shown (its CSRF token comes with it) and save the session."""
        if self._signed_in:
            raise ChannelError(self.channel, "signed in, yet sent back to the sign-in page")
        email, password = self.settings.credentials()
        await page.get_by_label("Email").fill(email)
        await page.get_by_label("Password").fill(password)
        async with page.expect_navigation():
            await page.get_by_role("button", name="Sign in").click()
        self.pages += 1
        await self._check_blocked(page, None)
        if is_sign_in_page(page.url):
            message = await self._alert_text(page) or "sign-in refused"
            raise ChannelError(self.channel, f"sign-in as {email} failed: {message}")
        self._signed_in = True
        await self.save_session()

    async def save_session(self) -> Path:
        state = self.settings.state_file()
        state.parent.mkdir(parents=True, exist_ok=True)
        await self._context.storage_state(path=str(state))
        return state

    async def sign_in(self) -> Path:
        """`retail-pipeline vr login`: open the sign-in page, sign in, save the session; with a
        headed browser, wait for a person to solve a challenge first."""
        async with self._step("sign in") as page:
            response = await page.goto(f"{self._base}/login")
            self.pages += 1
            if not self.settings.headless:  # a person may be solving a challenge: wait for the form
                await page.get_by_label("Email").wait_for(timeout=300_000)
            else:
                await self._check_blocked(page, response.status if response else None)
            await self._sign_in(page)
            return self.settings.state_file()

    @staticmethod
    async def _alert_text(page: Any) -> str:
        alerts = page.get_by_role("alert")
        texts = [t.strip() for t in await alerts.all_inner_texts() if t.strip()]
        return "; ".join(texts)

    # --- reads: the CSV export

    async def _inventory(self, page: Any) -> list[dict[str, str]]:
        """The export, fetched with the context's cookies; a sign-in page instead of it signs in once."""
        for _ in range(2):
            response = await self._context.request.get(f"{self._base}/dealer/export/inventory.csv")
            self.pages += 1
            if response.status == 403:
                await page.set_content(await response.text())
                await self._check_blocked(page, 403)
            kind = response.headers.get("content-type", "")
            if response.ok and kind.startswith("text/csv"):
                return parse_inventory(await response.text())
            if response.ok and is_sign_in_page(response.url):
                await self._goto(page, "/dealer/items")  # signs in, on the page
                continue
            raise ChannelError(
                self.channel, f"inventory export answered {response.status} ({kind})",
                status=response.status, retryable=response.status >= 500,
            )  # fmt: skip
        raise ChannelError(self.channel, "inventory export still asks to sign in after signing in")

    async def selling(self) -> AsyncIterator[RemoteListing]:  # type: ignore[override]
        async with self._step("inventory export") as page:
            rows = await self._inventory(page)
        for row in rows:
            yield listing_from_row(row)

    @staticmethod
    def _by_reference(rows: list[dict[str, str]], sku: str) -> dict[str, str] | None:
        found = [r for r in rows if r.get("external_id") == sku]
        found.sort(key=lambda r: r.get("status") != "for_sale")  # the one for sale first
        return found[0] if found else None

    async def find_by_sku(self, sku: str) -> RemoteListing | None:
        async with self._step(f"find {sku}") as page:
            row = self._by_reference(await self._inventory(page), sku)
        return listing_from_row(row) if row else None

    async def _confirmed(self, page: Any, item_id: str, **expected: Any) -> RemoteListing:
        """The item as the CSV shows it after a write, checked against what was written."""
        row = next((r for r in await self._inventory(page) if r["item_id"] == item_id), None)
        if row is None:
            raise ChannelError(self.channel, f"item {item_id} is not in the inventory export after saving it")
        listing = listing_from_row(row)
        seen = {
            "price": listing.price,
            "quantity": listing.quantity,
            "photos": len(listing.photos),
            "state": listing.state,
        }
        wrong = {k: (v, seen[k]) for k, v in expected.items() if seen[k] != v}
        if wrong:
            described = ", ".join(f"{k} {got} (wanted {want})" for k, (want, got) in wrong.items())
            raise ChannelError(self.channel, f"item {item_id} shows {described} after saving", retryable=True)
        return listing

    # --- brands and categories

    async def _known_brand(self, brand: str) -> bool:
        response = await self._context.request.get(f"{self._base}/dealer/brands?q={quote(brand)}")
        self.pages += 1
        if not response.ok or not response.headers.get("content-type", "").startswith("application/json"):
            await self._goto(self._page, "/dealer/items")  # signs in, or shows the challenge
            response = await self._context.request.get(f"{self._base}/dealer/brands?q={quote(brand)}")
            self.pages += 1
        names = await response.json()
        names = [n if isinstance(n, str) else n.get("name", "") for n in names]
        return brand.casefold() in {n.casefold() for n in names}

    async def categories(self) -> list[tuple[str, list[str]]]:
        """(id "Top > Sub", [top, sub]) of every subcategory the add form offers, read once per client
        from its Category select and the subcategory lists its script fetches."""
        if self._categories is None:
            async with self._step("categories") as page:
                await self._goto(page, "/dealer/items/new")
                options = field(page, "Category").locator("option")
                tops = [
                    (await o.get_attribute("value"), (await o.inner_text()).strip())
                    for o in await options.all()
                ]
                found = []
                for value, top in tops:
                    if not value:
                        continue
                    response = await self._context.request.get(
                        f"{self._base}/dealer/categories/{value}/subcategories"
                    )
                    self.pages += 1
                    for sub in await response.json():
                        name = sub if isinstance(sub, str) else sub.get("name", "")
                        found.append((f"{top} > {name}", [top, name]))
                self._categories = found
        return self._categories

    # --- writes: the forms

    async def validate(self, draft: ListingDraft) -> list[str]:
        problems = local_problems(draft)
        brand = form_values(draft)["Brand"]
        if brand:
            async with self._step(f"brand {brand}"):
                if not await self._known_brand(brand):
                    problems.append(f"Unknown brand {brand!r}: Vintage & Rare does not list it")
        return problems

    def create_requests(self, draft: ListingDraft, photo_refs: dict[str, str]) -> dict[str, Any]:
        return {
            "POST /dealer/items/new (the Add an item form)": form_values(draft),
            "POST /dealer/items/<id>/images (one per photo)": [p.path for p in draft.photos],
        }

    async def upload_photo(self, photo: Photo) -> str:
        # Images go onto an item after it is saved (`create`): nothing to send before it, the
        # reference is the stored file.
        return photo.path

    async def _fill(self, page: Any, values: Mapping[str, str], *, brand_typed: bool) -> None:
        from playwright.async_api import TimeoutError as PlaywrightTimeout

        for label, value in values.items():
            control = field(page, label)
            if label == "Brand" and brand_typed:  # typed as a person would, then the site's suggestion
                await control.fill("")
                await control.press_sequentially(value)
                suggestion = page.get_by_role("option", name=value, exact=True)
                # No list shown: the typed brand stands, and the server checks it.
                with contextlib.suppress(PlaywrightTimeout):
                    await suggestion.first.click(timeout=3000)
            elif label in ("Category", "Subcategory", "Currency", "Condition"):
                if value:
                    await control.select_option(label=value)  # waits for the options the script loads
            else:
                await control.fill(value)

    async def _save(self, page: Any, what: str) -> str:
        """Click "Save item"; the item id from the page it lands on, or the form's own messages."""
        async with page.expect_navigation():
            await page.get_by_role("button", name="Save item").click()
        self.pages += 1
        await self._check_blocked(page, None)
        match = re.search(r"/dealer/items/(\d+)/edit", page.url)
        alert = await self._alert_text(page)
        if match is None or alert:
            raise ChannelError(
                self.channel, f"{what} refused: {alert or page.url}", details={"url": page.url}
            )
        return match.group(1)

    async def _upload(self, page: Any, item_id: str, photo: Photo, number: int) -> None:
        data = await asyncio.to_thread(get_storage().read, photo.path)
        upload = {"name": photo.path.rsplit("/", 1)[-1], "mimeType": photo.content_type, "buffer": data}
        await field(page, "Add image").set_input_files(upload)
        async with page.expect_navigation():
            await page.get_by_role("button", name="Upload image").click()
        self.pages += 1
        await self._check_blocked(page, None)
        alert = await self._alert_text(page)
        if alert:
            raise ChannelError(self.channel, f"image {number} of item {item_id} refused: {alert}")
        await page.get_by_text(f"{number} of {MAX_IMAGES} images").wait_for()

    async def create(self, draft: ListingDraft, *, photo_refs: dict[str, str] | None = None) -> RemoteListing:
        problems = local_problems(draft)
        if problems:
            raise ChannelError(self.channel, "; ".join(problems))
        values = form_values(draft)
        async with self._step(f"create {draft.sku}") as page:
            existing = self._by_reference(await self._inventory(page), draft.sku)
            if existing is not None:  # submitted before (a crash before our commit): never twice
                return listing_from_row(existing)
            if not await self._known_brand(values["Brand"]):
                raise ChannelError(self.channel, f"Unknown brand {values['Brand']!r}: V&R does not list it")
            await self._goto(page, "/dealer/items/new")
            await self._fill(page, values, brand_typed=True)
            item_id = await self._save(page, f"item {draft.sku}")
            await self.after_submit(draft.sku, item_id)
            for number, photo in enumerate(draft.photos, start=1):
                await self._upload(page, item_id, photo, number)
            return await self._confirmed(
                page,
                item_id,
                price=Decimal(values["Price"]),
                quantity=draft.quantity,
                photos=len(draft.photos),
            )

    async def after_submit(self, sku: str, item_id: str) -> None:
        """A test seam between the saved form and the rest of `create` (raise to simulate a crash)."""

    async def _edit(
        self, listing: RemoteListing, values: Mapping[str, str], **expected: Any
    ) -> RemoteListing:
        async with self._step(f"edit {listing.external_id}") as page:
            await self._goto(page, f"/dealer/items/{listing.external_id}/edit")
            await self._fill(page, values, brand_typed=False)
            await self._save(page, f"item {listing.external_id}")
            return await self._confirmed(page, listing.external_id, **expected)

    async def update_price(self, listing: RemoteListing, price: Decimal) -> RemoteListing:
        price = Decimal(price).quantize(Decimal("0.01"))
        return await self._edit(listing, {"Price": f"{price:.2f}"}, price=price)

    async def update_quantity(self, listing: RemoteListing, quantity: int) -> RemoteListing:
        return await self._edit(listing, {"Quantity": str(quantity)}, quantity=quantity)

    async def withdraw(self, listing: RemoteListing, reason: str) -> RemoteListing:
        """Sold elsewhere or out of stock: "Mark as sold"; otherwise "Delete item" and confirm. An item
        already sold or gone counts as withdrawn."""
        item_id = listing.external_id
        async with self._step(f"withdraw {item_id}") as page:
            row = next((r for r in await self._inventory(page) if r["item_id"] == item_id), None)
            if row is None:
                return RemoteListing(item_id, listing.sku, listing.price, 0, "withdrawn", url=listing.url)
            if row["status"] == "sold":
                return listing_from_row(row)
            await self._goto(page, f"/dealer/items/{item_id}/edit")
            if SOLD_REASONS.search(reason or ""):
                async with page.expect_navigation():
                    await page.get_by_role("button", name="Mark as sold").click()
                self.pages += 1
                return await self._confirmed(page, item_id, state="sold")
            async with page.expect_navigation():
                await page.get_by_role("button", name="Delete item").click()
            async with page.expect_navigation():
                await page.get_by_role("button", name="Yes, delete this item").click()
            self.pages += 2
            if any(r["item_id"] == item_id for r in await self._inventory(page)):
                raise ChannelError(self.channel, f"item {item_id} is still in the export after deleting it")
            return RemoteListing(item_id, listing.sku, listing.price, 0, "withdrawn", url=listing.url)


async def sign_in_and_save(headed: bool = False, settings: VintageAndRareSettings | None = None) -> Path:
    """`retail-pipeline vr login`: a fresh sign-in, its session saved to the storage-state file."""
    settings = settings or VintageAndRareSettings()
    if headed:
        settings = settings.model_copy(update={"headless": False})
    async with VintageAndRareClient(settings) as client:
        return await client.sign_in()


# --- the plug-in


async def suggest_categories(client: Any, query: CategoryQuery) -> list[CategorySuggestion]:
    """V&R has no suggestion endpoint: its subcategories (music gear only) ranked here by how much of
    each one's name the product names; a product naming none: no V&R category, no draft."""
    return rank_locally(await client.categories(), query)


def listing_fields(product: ProductForListing) -> dict[str, Any]:
    """Category "Top > Sub" from the chosen category; brand and model from the product."""
    attributes = product.attributes or {}
    return {
        "category": product.channel_category,
        "brand": product.brand,
        "model": product.mpn or attributes.get("model"),
        "year": attributes.get("year"),
        "condition": OUR_CONDITIONS[listing_condition(product)],
    }


def listing_checks(values: Mapping[str, Any]) -> list[str]:
    fields = values["fields"]
    errors = []
    if not fields.get("brand"):
        errors.append("brand is required")
    if not fields.get("model"):
        errors.append("model is required (the MPN or a model attribute)")
    if not fields.get("category"):
        errors.append("a Vintage & Rare category is required")
    return errors


LISTING = ListingPolicy(
    CHANNEL_NAME,
    "GBP",
    PricingPolicy(
        fee_rate=Decimal("0.05"), fixed_fee=Decimal("0"), shipping_cost=Decimal("0"), rounding="charm_99"
    ),
    listing_fields,
    max_title=200,
    max_photos=MAX_IMAGES,
    checks=listing_checks,
)

CHANNEL = Channel(
    name=CHANNEL_NAME,
    title="Vintage & Rare",
    client=f"{__name__}:VintageAndRareClient",
    listing=LISTING,
    taxonomy=Taxonomy(suggest=suggest_categories),
    pool="browser",  # one browser at a time (the dealer site, not an API: no call budget to keep)
    sign_in=SignIn(command="vr", run=sign_in_and_save, task_kind=SIGN_IN_TASK),
)

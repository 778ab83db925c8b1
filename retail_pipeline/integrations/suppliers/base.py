"""The one shape every supplier adapter has, and the fetch-and-parse plumbing they share.

An adapter discovers a supplier's products, fetches their pages through the `PoliteClient` (which
owns politeness, retries and conditional GETs) and turns each page into `ProductRecord`s with pure
parsing functions. A page that will not fetch or parse becomes a `PageFailure` with its reason; it
never fails the scrape. `complete` says discovery saw the whole catalogue, the only case in which
products missing from the result may be marked removed.
"""

from __future__ import annotations

import asyncio
import re
from abc import ABC, abstractmethod
from collections import deque
from collections.abc import AsyncIterable, AsyncIterator, Callable, Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from itertools import islice
from typing import Any, ClassVar, Generic, TypeVar

import httpx
import lxml.html
from lxml import etree
from pydantic import ValidationError
from w3lib.url import add_or_replace_parameter

from retail_pipeline.catalog_writes.upsert import ProductRecord
from retail_pipeline.integrations.http import RETRYABLE_STATUS, Fetched, FetchError, PoliteClient

T = TypeVar("T")

# A 200 whose body does not parse (cut short by a proxy, a half-deployed template) is asked for once more.
PARSE_ATTEMPTS = 2
# Pages in flight per request slot of the client: one being fetched, one being parsed.
WINDOW_PER_SLOT = 2
LOOKUP_CHUNK = 500  # product URLs whose stored validators are looked up at once


class ParseError(ValueError):
    """The page came back but does not hold what it should; the message is the recorded reason."""


class SiteUnavailable(RuntimeError):
    """Discovery could not even start (entry page down after retries): a systemic failure, so the run
    fails and Dagster's retry policy takes over, instead of reporting an empty catalogue."""


@dataclass(frozen=True)
class PageFailure:
    url: str  # for a product that failed, its product URL (the row's `url`), so reconcile keeps it
    reason: str


@dataclass(frozen=True)
class KnownPage:
    """The validators stored with a product page's rows, for a conditional GET."""

    etag: str | None
    last_modified: str | None


@dataclass(frozen=True)
class NotModified:
    """A product page that answered 304: unchanged since the stored rows, and still listed."""

    url: str


@dataclass(frozen=True)
class Discovered:
    """A scrape's last item: how many products discovery found (pages, or storefront products before
    variants) and whether it saw the whole catalogue."""

    count: int
    complete: bool


# What a scrape yields, one at a time, so nothing holds the whole catalogue: a record read, a page
# confirmed unchanged, a page that failed, and finally what discovery found.
ScrapeItem = ProductRecord | NotModified | PageFailure | Discovered
# The validators stored for some product URLs (only those asked about are looked up), or a plain mapping.
KnownLookup = Callable[[Sequence[str]], Mapping[str, KnownPage]]
Known = Mapping[str, KnownPage] | KnownLookup | None


@dataclass(frozen=True)
class ScrapeResult:
    """A whole scrape gathered in memory (`collect`): for tests and small catalogues. The pipeline
    consumes the items as they come instead."""

    records: list[ProductRecord]
    failures: list[PageFailure]
    complete: bool
    # Product URLs that answered 304: unchanged since the stored rows, and still listed.
    not_modified: list[str] = field(default_factory=list)
    discovered: int = 0  # products discovery found (pages, or storefront products before variants)

    @property
    def unread_urls(self) -> set[str]:
        """Product URLs still listed whose rows were not re-read this time (304 or a failure)."""
        return set(self.not_modified) | {f.url for f in self.failures}


async def collect(items: AsyncIterable[ScrapeItem]) -> ScrapeResult:
    """Every item of a scrape in one result; keeps the first record per SKU (the upsert takes each SKU
    once) and reports the others as failures."""
    unique: dict[str, ProductRecord] = {}
    failures: list[PageFailure] = []
    not_modified: set[str] = set()
    discovered = Discovered(0, complete=False)
    async for item in items:
        if isinstance(item, ProductRecord):
            first = unique.setdefault(item.sku, item)
            if first is not item:
                failures.append(PageFailure(item.url or "", f"sku {item.sku} also at {first.url}"))
        elif isinstance(item, NotModified):
            not_modified.add(item.url)
        elif isinstance(item, PageFailure):
            failures.append(item)
        else:
            discovered = item
    return ScrapeResult(
        list(unique.values()), failures, discovered.complete, sorted(not_modified), discovered.count
    )


class SupplierAdapter(ABC):
    """Reads one kind of supplier site. Options come from `suppliers.config` (see `from_config`)."""

    kind: ClassVar[str]  # the `suppliers.adapter` value it serves

    def __init__(self, *, currency: str = "NZD"):
        # Our suppliers are NZ shops whose pages print bare "$": the currency is configuration.
        self.currency = currency

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> SupplierAdapter:
        return cls(currency=config.get("currency", "NZD"))

    @abstractmethod
    def scrape(self, client: PoliteClient, base_url: str, known: Known = None) -> AsyncIterator[ScrapeItem]:
        """Discover, fetch and parse the whole catalogue under `base_url`, yielding items as pages come
        in and `Discovered` last. `known` gives the validators stored last time for product URLs, for
        conditional GETs."""


# --- fetching pages


@dataclass(frozen=True)
class PageResult(Generic[T]):
    url: str
    value: T | None = None
    not_modified: bool = False
    failure: str | None = None
    transient: bool = False  # a timeout, 429, 5xx or cut-short body: worth another go later


def page_item(page: PageResult[ProductRecord]) -> ScrapeItem:
    """A product page's result as a scrape item."""
    if page.value is not None:
        return page.value
    if page.not_modified:
        return NotModified(page.url)
    return PageFailure(page.url, page.failure or "")


async def scrape_product_pages(
    client: PoliteClient,
    urls: Collection[str],
    listing_failures: list[PageFailure],
    parse: Callable[[Fetched], ProductRecord],
    known: Known,
) -> AsyncIterator[ScrapeItem]:
    """The end every page-by-page scrape shares, once discovery found `urls`: the listing pages that
    failed, one item per product page (its record, or what became of the page), then `Discovered`
    (complete only when no listing page failed). A listing that gave nothing but failures is an outage."""
    if not urls and listing_failures:
        raise SiteUnavailable(f"{listing_failures[0].url}: {listing_failures[0].reason}")
    for failure in listing_failures:
        yield failure
    async for page in stream_pages(client, urls, parse, known):
        yield page_item(page)
    yield Discovered(len(urls), complete=not listing_failures)


async def _fetch_parsed(
    client: PoliteClient, url: str, parse: Callable[[Fetched], T], known: KnownPage | None
) -> PageResult[T]:
    """GET and parse one page; never raises for a page-level problem (that is a `failure`)."""
    etag, last_modified = (known.etag, known.last_modified) if known else (None, None)
    reason = ""
    for _ in range(PARSE_ATTEMPTS):
        try:
            fetched = await client.get(url, etag=etag, last_modified=last_modified)
            if fetched.not_modified:
                return PageResult(url, not_modified=True)
            return PageResult(url, parse(fetched))
        except FetchError as error:
            transient = error.status in RETRYABLE_STATUS or isinstance(error.__cause__, httpx.TransportError)
            return PageResult(url, failure=error.reason, transient=transient)
        except ValidationError as error:
            return PageResult(url, failure=f"invalid product: {_first_error(error)}")
        except ParseError as error:
            reason = f"unparsable page: {error}"
        except Exception as error:  # one odd page must not sink the scrape: record it, carry on
            return PageResult(url, failure=f"{type(error).__name__}: {error}")
    return PageResult(url, failure=reason, transient=True)


def _lookup(known: Known) -> KnownLookup:
    if known is None:
        return lambda urls: {}
    if isinstance(known, Mapping):
        return lambda urls: known
    return known


async def _window(
    client: PoliteClient, urls: Iterable[str], parse: Callable[[Fetched], T], lookup: KnownLookup, width: int
) -> AsyncIterator[PageResult[T]]:
    """Pages in the order they finish, with at most `width` held at once (fetching, parsing, or done and
    waiting for the caller). Validators are looked up a chunk of URLs at a time, as those are reached."""
    pending = iter(urls)
    queued: deque[tuple[str, KnownPage | None]] = deque()
    in_flight: set[asyncio.Task[PageResult[T]]] = set()

    async def refill() -> None:
        while len(in_flight) < width:
            if not queued:
                chunk = list(islice(pending, LOOKUP_CHUNK))
                if not chunk:
                    return
                # A database query in the pipeline: off the event loop, so the pages in flight keep moving.
                found = await asyncio.to_thread(lookup, chunk)
                queued.extend((url, found.get(url)) for url in chunk)
            url, page = queued.popleft()
            in_flight.add(asyncio.create_task(_fetch_parsed(client, url, parse, page)))

    try:
        await refill()
        while in_flight:
            done, _ = await asyncio.wait(in_flight, return_when=asyncio.FIRST_COMPLETED)
            for task in done:
                in_flight.discard(task)
                await refill()  # the next page starts before the caller gets this one
                yield task.result()
    finally:
        for task in in_flight:  # the caller stopped early
            task.cancel()


async def stream_pages(
    client: PoliteClient,
    urls: Iterable[str],
    parse: Callable[[Fetched], T],
    known: Known = None,
    *,
    width: int | None = None,
) -> AsyncIterator[PageResult[T]]:
    """Every URL's page, as each finishes, never more than `width` in flight (default: twice what the
    client sends at once, so a free slot never waits on parsing). Nothing is kept: memory stays the
    same for 100 pages or 100,000.

    Pages that failed transiently get one more go after all the others, by which time a burst of
    429s or a short outage that outlasted the client's own retries has often passed."""
    lookup = _lookup(known)
    width = width or WINDOW_PER_SLOT * client.policy.max_concurrency
    again: list[str] = []
    async for result in _window(client, urls, parse, lookup, width):
        if result.transient:
            again.append(result.url)
        else:
            yield result
    async for result in _window(client, again, parse, lookup, width):
        yield result


async def fetch_pages(
    client: PoliteClient, urls: Iterable[str], parse: Callable[[Fetched], T], known: Known = None
) -> list[PageResult[T]]:
    """`stream_pages` gathered, in the order of `urls`: for the few pages of a listing or sitemap."""
    urls = list(urls)
    results = {result.url: result async for result in stream_pages(client, urls, parse, known)}
    return [results[url] for url in urls]


async def fetch_page(client: PoliteClient, url: str, parse: Callable[[Fetched], T]) -> PageResult[T]:
    return (await fetch_pages(client, [url], parse))[0]


def _first_error(error: ValidationError) -> str:
    detail = error.errors()[0]
    return f"{'.'.join(map(str, detail['loc']))}: {detail['msg']}"


# --- paginated listings


@dataclass(frozen=True)
class Listing(Generic[T]):
    """One listing page: its entries and how many pages the listing has in all."""

    entries: list[T]
    pages: int


def page_url(url: str, number: int) -> str:
    return url if number == 1 else add_or_replace_parameter(url, "page", str(number))


async def read_listing(
    client: PoliteClient, first_url: str, parse: Callable[[Fetched], Listing[T]]
) -> tuple[list[T], list[PageFailure]]:
    """All entries of a paginated listing: page 1 says how many pages there are, the rest come at once.
    Any failure here means the listing is incomplete."""
    first = await fetch_page(client, first_url, parse)
    if first.value is None:
        return [], [PageFailure(first_url, first.failure or "no listing")]
    entries = list(first.value.entries)
    failures = []
    for page in await fetch_pages(
        client, [page_url(first_url, n) for n in range(2, first.value.pages + 1)], parse
    ):
        if page.value is None:
            failures.append(PageFailure(page.url, page.failure or "no listing"))
        else:
            entries.extend(page.value.entries)
    return entries, failures


# --- pure helpers for parsers


def html_document(fetched: Fetched) -> etree._Element:
    try:
        return lxml.html.document_fromstring(fetched.content, base_url=fetched.url)
    except (etree.ParserError, ValueError) as error:
        raise ParseError(f"not HTML: {error}") from error


def has_class(name: str) -> str:
    """XPath predicate for CSS `.name` (what cssselect generates), e.g. `//div[{has_class('price')}]`."""
    return f"contains(concat(' ', normalize-space(@class), ' '), ' {name} ')"


def text_of(element: etree._Element | None) -> str | None:
    """Visible text, whitespace collapsed; None for a missing or empty element."""
    if element is None:
        return None
    text = re.sub(r"\s+", " ", element.text_content()).strip()
    return text or None


def html_to_text(fragment: str | None) -> str | None:
    """Plain text of an HTML fragment (a description), one line per block element."""
    if not fragment or not fragment.strip():
        return None
    return fragment_text(lxml.html.fragment_fromstring(fragment, create_parent="div"))


def fragment_text(root: etree._Element) -> str | None:
    """`html_to_text` of a fragment already parsed (under one parent). It adds line breaks to the
    tree's tails: read anything else from the tree first."""
    for block in root.iter("p", "li", "tr", "br", "h1", "h2", "h3", "h4", "div"):
        block.tail = "\n" + (block.tail or "")
    for cell in root.iter("td", "th"):
        cell.tail = " " + (cell.tail or "")
    lines = (re.sub(r"[ \t\u00a0]+", " ", line).strip() for line in root.text_content().splitlines())
    return "\n".join(line for line in lines if line) or None

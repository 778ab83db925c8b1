"""supplier_products [supplier]: scrape one supplier's site into retail.supplier_products.

One partition per supplier row. The run loads the row, resolves where its site is (override, simulator
or the real site), runs the adapter its `adapter` column names under the fetch policy in
`config["fetch"]`, writes through the shared upsert (the webhook import's path too) and, when the
scrape saw the whole catalogue, marks what disappeared as removed. Page-level problems are counted in
the metadata; only a site that cannot be reached at all fails the run (and the retry policy repeats it).
"""

# No `from __future__ import annotations`: Dagster checks the `context` annotation at definition time.
import asyncio
import time
from collections.abc import AsyncIterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import dagster as dg
from sqlalchemy import Connection, Engine, text

from retail_pipeline.catalog_writes.reconcile import SeenLedger
from retail_pipeline.catalog_writes.upsert import CHUNK_ROWS, ProductRecord, upsert_supplier_products
from retail_pipeline.defs.catalog.suppliers import suppliers
from retail_pipeline.defs.resources import DatabaseResource
from retail_pipeline.domain.suppliers import effective_base_url
from retail_pipeline.integrations.http import FetchPolicy, PoliteClient
from retail_pipeline.integrations.suppliers import (
    PUSH_ONLY,
    KnownPage,
    NotModified,
    PageFailure,
    ScrapeItem,
    UnsupportedAdapter,
    adapter_for,
)
from retail_pipeline.memory import long_lived_objects_frozen
from retail_pipeline.partitions import supplier_partitions
from retail_pipeline.settings import get_settings

FAILURES_SHOWN = 5


@dataclass(frozen=True)
class SupplierRow:
    id: int
    code: str
    adapter: str
    base_url: str | None
    config: Mapping[str, Any]


@dataclass
class Written:
    """What a scrape came to once stored: counts, and a few failures as examples (never all of them)."""

    discovered: int = 0
    complete: bool = False
    parsed: int = 0  # records read from pages that came back with content
    not_modified: int = 0  # product pages that answered 304: confirmed unchanged without a re-read
    failed_pages: int = 0
    failure_examples: list[dict[str, str]] = field(default_factory=list)
    inserted: int = 0
    updated: int = 0
    unchanged: int = 0
    removed: int = 0

    def failed(self, failure: PageFailure) -> None:
        self.failed_pages += 1
        if len(self.failure_examples) < FAILURES_SHOWN:
            self.failure_examples.append({"url": failure.url, "reason": failure.reason})


@dataclass
class ScrapeSummary(Written):
    http_requests: int = 0
    duration_seconds: float = 0.0

    @property
    def scraped(self) -> int:
        """Products confirmed on the site this run, read afresh or unchanged."""
        return self.parsed + self.not_modified

    @property
    def rows_written(self) -> int:
        return self.inserted + self.updated + self.removed


def load_supplier(conn: Connection, code: str) -> SupplierRow | None:
    row = conn.execute(
        text("SELECT id, code, adapter, base_url, config FROM retail.suppliers WHERE code = :code"),
        {"code": code},
    ).first()
    return None if row is None else SupplierRow(row.id, row.code, row.adapter, row.base_url, row.config)


_KNOWN = text(
    """
    SELECT DISTINCT ON (url) url, http_etag, http_last_modified FROM retail.supplier_products
    WHERE supplier_id = :supplier_id AND removed_at IS NULL AND url IS NOT NULL AND url = ANY(:urls)
      AND (http_etag IS NOT NULL OR http_last_modified IS NOT NULL)
    ORDER BY url, updated_at DESC
    """
)


def known_pages(conn: Connection, supplier_id: int, urls: Sequence[str]) -> dict[str, KnownPage]:
    """Validators stored for these product pages, for conditional GETs (removed products are read
    afresh). Asked a chunk of URLs at a time as the scrape reaches them."""
    rows = conn.execute(_KNOWN, {"supplier_id": supplier_id, "urls": list(urls)})
    return {row.url: KnownPage(row.http_etag, row.http_last_modified) for row in rows}


async def write_scrape(engine: Engine, supplier_id: int, items: AsyncIterable[ScrapeItem]) -> Written:
    """Store a scrape as it streams in, then mark what it did not see as removed.

    Records are upserted CHUNK_ROWS at a time, one transaction each (a failure loses at most a
    chunk's work), in a worker thread so the pages in flight carry on meanwhile. What was seen is
    kept in the database (`SeenLedger`), so memory holds one chunk whatever the catalogue's size."""
    written = Written()
    batch: dict[str, ProductRecord] = {}
    unread: list[str] = []
    with engine.connect() as conn, SeenLedger(conn) as ledger:

        def flush(records: list[ProductRecord], urls: list[str]) -> None:
            with conn.begin():
                fresh = ledger.claim(r.sku for r in records)
                written.parsed += len(fresh)
                for record in records:
                    if record.sku not in fresh:  # read from an earlier chunk's page already
                        written.failed(PageFailure(record.url or "", f"sku {record.sku} read twice"))
                        urls.append(record.url or "")
                counts = upsert_supplier_products(conn, supplier_id, [r for r in records if r.sku in fresh])
                ledger.still_listed(urls)
            written.inserted += counts.inserted
            written.updated += counts.updated
            written.unchanged += counts.unchanged

        async def flush_pending() -> None:
            records, urls = list(batch.values()), unread.copy()
            batch.clear()
            unread.clear()
            await asyncio.to_thread(flush, records, urls)

        async for item in items:
            if isinstance(item, ProductRecord):
                first = batch.setdefault(item.sku, item)
                if first is not item:
                    written.failed(PageFailure(item.url or "", f"sku {item.sku} also at {first.url}"))
                    unread.append(item.url or "")
            elif isinstance(item, NotModified):
                written.not_modified += 1
                unread.append(item.url)
            elif isinstance(item, PageFailure):
                written.failed(item)
                unread.append(item.url)
            else:
                written.discovered, written.complete = item.count, item.complete
            if len(batch) >= CHUNK_ROWS or len(unread) >= CHUNK_ROWS:
                await flush_pending()
        await flush_pending()

        def removals() -> int:
            with conn.begin():
                return ledger.mark_removed(supplier_id, complete=written.complete)

        written.removed = await asyncio.to_thread(removals)
    return written


def scrape_supplier(engine: Engine, supplier: SupplierRow, base_url: str) -> ScrapeSummary:
    """Scrape one supplier and store the result: the whole of the asset's work, callable on its own
    (the benchmark runs exactly this)."""
    adapter = adapter_for(supplier.adapter, supplier.config)
    policy = FetchPolicy.model_validate(supplier.config.get("fetch", {}))
    started = time.perf_counter()

    async def scrape() -> tuple[Written, int]:
        with engine.connect() as lookups:

            def known(urls: Sequence[str]) -> dict[str, KnownPage]:
                return known_pages(lookups, supplier.id, urls)

            async with PoliteClient(policy, site_root=base_url) as client:
                items = adapter.scrape(client, base_url, known)
                return await write_scrape(engine, supplier.id, items), client.requests_made

    with long_lived_objects_frozen():
        written, requests = asyncio.run(scrape())
    return ScrapeSummary(
        **vars(written), http_requests=requests, duration_seconds=round(time.perf_counter() - started, 3)
    )


@dg.asset(
    partitions_def=supplier_partitions,
    deps=[suppliers],
    pool="supplier_web",
    # Page-level trouble never raises; what does (site down past the client's own retries) gets
    # another go later, when an outage may have passed.
    retry_policy=dg.RetryPolicy(
        max_retries=2, delay=60, backoff=dg.Backoff.EXPONENTIAL, jitter=dg.Jitter.PLUS_MINUS
    ),
    # One supplier per run: a backfill of one partition touches one site, and a slow site delays no other.
    backfill_policy=dg.BackfillPolicy.multi_run(max_partitions_per_run=1),
    group_name="catalog",
    kinds={"python", "postgres"},
    tags={"retail/external": "supplier_sites"},
)
def supplier_products(context: dg.AssetExecutionContext, db: DatabaseResource) -> dg.MaterializeResult:
    """Each supplier's products as its site shows them: one row per SKU, unchanged rows untouched,
    products gone from a complete scrape marked removed."""
    code = context.partition_key
    with db.engine.connect() as conn:
        supplier = load_supplier(conn, code)
    if supplier is None:
        raise dg.Failure(f"no supplier {code!r} in retail.suppliers", allow_retries=False)
    if supplier.adapter in PUSH_ONLY:
        return dg.MaterializeResult(
            metadata={
                "skipped": True,
                "reason": f"adapter {supplier.adapter!r}: products arrive through the webhook import",
                "scraped": 0,
            }
        )
    settings = get_settings()
    base_url = effective_base_url(
        code,
        supplier.base_url,
        use_simulators=settings.use_simulators,
        simulator_url=settings.simulator_url,
        overrides=settings.supplier_base_urls,
    )
    if base_url is None:
        raise dg.Failure(f"supplier {code!r} has no base_url to scrape", allow_retries=False)
    try:
        summary = scrape_supplier(db.engine, supplier, base_url)
    except UnsupportedAdapter as error:
        raise dg.Failure(str(error), allow_retries=False) from error
    if summary.failed_pages:
        context.log.warning(
            f"{summary.failed_pages} page(s) failed for {code}, e.g. {summary.failure_examples}"
        )
    with db.engine.connect() as conn:
        active = conn.scalar(
            text(
                "SELECT count(*) FROM retail.supplier_products WHERE supplier_id = :id AND removed_at IS NULL"
            ),
            {"id": supplier.id},
        )
    return dg.MaterializeResult(
        metadata={
            "complete": summary.complete,
            "discovered": summary.discovered,
            "scraped": summary.scraped,
            "parsed": summary.parsed,
            "not_modified": summary.not_modified,
            "failed_pages": summary.failed_pages,
            "failure_examples": dg.MetadataValue.json(summary.failure_examples),
            "inserted": summary.inserted,
            "updated": summary.updated,
            "unchanged": summary.unchanged,
            "removed": summary.removed,
            "active_products": active,
            "http_requests": summary.http_requests,
            "duration_seconds": summary.duration_seconds,
        }
    )

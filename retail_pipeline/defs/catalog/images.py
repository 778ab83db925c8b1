"""``product_images``: every image URL of a supplier's products, downloaded once and kept by content.

"Image backfill" is materialising these partitions. Work is selected by state, so a re-run fetches
only what is not held yet:

- a URL already linked to the product with a stored file is left alone (position fixed if it moved);
- a URL stored for any other product is linked to that file without a request (same URL, same bytes);
- everything else (new URLs and earlier failures) is fetched through the polite client, checked to
  be a real image and stored once by sha256; bytes already held under another URL are deduplicated.

Each image's fate is committed in batches as downloads finish (a crash loses at most one batch, whose
files are then found on disk by the re-run), and per-image failures are recorded on the link row
(``error``) without failing the partition. Only a systemic failure (every fetch failing on transport
errors, 5xx or 429 after retries: an outage) fails the run, after the failures are recorded.
Links whose URL the product no longer lists are removed; media files are never deleted here.
"""

# No `from __future__ import annotations`: Dagster inspects the context annotations at runtime.

import asyncio
import json
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from urllib.parse import urlsplit

import dagster as dg
import httpx
from sqlalchemy import Engine, text

from retail_pipeline.defs.resources import DatabaseResource
from retail_pipeline.domain.suppliers import effective_base_url
from retail_pipeline.integrations.http import RETRYABLE_STATUS, FetchError, FetchPolicy, PoliteClient
from retail_pipeline.media.storage import get_storage
from retail_pipeline.media.store import BadImage, MediaStore, StoredMedia
from retail_pipeline.partitions import supplier_partitions
from retail_pipeline.settings import get_settings

BATCH_IMAGES = 200  # downloads committed together
MIN_FETCHES_FOR_OUTAGE = 3  # fewer all-failed fetches than this are bad luck, not an outage
SAMPLE_SIZE = 5
ACCEPT_IMAGES = "image/webp,image/png,image/jpeg,image/gif;q=0.9,image/*;q=0.5"

SUPPLIER = text("SELECT id, base_url, config FROM retail.suppliers WHERE code = :code")

PRODUCT_COUNT = text(
    "SELECT count(*) FROM retail.supplier_products WHERE supplier_id = :supplier_id AND removed_at IS NULL"
)

# Every (product, URL) the supplier lists now, with what we already hold for it.
WANTED_IMAGES = text(
    """
    WITH wanted AS (
        SELECT DISTINCT ON (sp.id, u.url)
               sp.id AS supplier_product_id, u.url AS source_url, (u.ord - 1)::int AS position
          FROM retail.supplier_products sp
         CROSS JOIN LATERAL unnest(sp.images) WITH ORDINALITY AS u(url, ord)
         WHERE sp.supplier_id = :supplier_id AND sp.removed_at IS NULL AND u.url <> ''
         ORDER BY sp.id, u.url, u.ord
    ),
    held AS (  -- a stored copy of the URL, whichever product or supplier it was fetched for
        SELECT DISTINCT ON (source_url) source_url, media_asset_id
          FROM (SELECT source_url, media_asset_id FROM retail.supplier_product_images
                 WHERE media_asset_id IS NOT NULL
                UNION ALL
                SELECT source_url, id FROM retail.media_assets WHERE source_url IS NOT NULL) copies
         WHERE source_url IN (SELECT source_url FROM wanted)
         ORDER BY source_url, media_asset_id
    )
    SELECT w.supplier_product_id, w.source_url, w.position,
           l.id AS link_id, l.position AS link_position, l.media_asset_id AS linked_asset_id,
           h.media_asset_id AS held_asset_id
      FROM wanted w
      LEFT JOIN retail.supplier_product_images l
             ON l.supplier_product_id = w.supplier_product_id AND l.source_url = w.source_url
      LEFT JOIN held h ON h.source_url = w.source_url
    """
)

INSERT_ASSETS = text(
    """
    INSERT INTO retail.media_assets (sha256, rel_path, content_type, bytes, width, height, source_url)
    SELECT r.sha256, r.rel_path, r.content_type, r.bytes, r.width, r.height, r.source_url
      FROM jsonb_to_recordset(CAST(:rows AS jsonb))
           AS r(sha256 text, rel_path text, content_type text, bytes bigint, width int, height int,
                source_url text)
    ON CONFLICT DO NOTHING
    RETURNING sha256
    """
)

ASSET_IDS = text("SELECT sha256, id FROM retail.media_assets WHERE sha256 = ANY(CAST(:shas AS text[]))")

# A stored image is never un-linked by a later failure (e.g. a concurrent run's failed retry).
UPSERT_LINKS = text(
    """
    INSERT INTO retail.supplier_product_images AS l
           (supplier_product_id, source_url, position, media_asset_id, error, fetched_at)
    SELECT r.supplier_product_id, r.source_url, r.position, r.media_asset_id, r.error, now()
      FROM jsonb_to_recordset(CAST(:rows AS jsonb))
           AS r(supplier_product_id bigint, source_url text, position int, media_asset_id bigint, error text)
    ON CONFLICT (supplier_product_id, source_url) DO UPDATE SET
        position = EXCLUDED.position,
        media_asset_id = COALESCE(EXCLUDED.media_asset_id, l.media_asset_id),
        error = CASE WHEN COALESCE(EXCLUDED.media_asset_id, l.media_asset_id) IS NULL THEN EXCLUDED.error END,
        fetched_at = EXCLUDED.fetched_at
    """
)

MOVE_LINKS = text(
    """
    UPDATE retail.supplier_product_images l SET position = r.position
      FROM jsonb_to_recordset(CAST(:rows AS jsonb)) AS r(id bigint, position int)
     WHERE l.id = r.id
    """
)

UNLINK_DROPPED = text(
    """
    DELETE FROM retail.supplier_product_images l
     USING retail.supplier_products sp
     WHERE l.supplier_product_id = sp.id AND sp.supplier_id = :supplier_id AND sp.removed_at IS NULL
       AND l.source_url <> ALL (sp.images)
    """
)


@dataclass(frozen=True)
class Outcome:
    url: str
    stored: StoredMedia | None = None
    error: str | None = None
    outage: bool = False  # transport error, 5xx or 429 after retries


@dataclass
class Tally:
    downloaded: int = 0
    deduplicated: int = 0  # downloaded, but the bytes were already held under another URL
    stored: int = 0  # new files
    bytes: int = 0
    failed: int = 0
    outage_failures: int = 0
    reasons: Counter[str] = field(default_factory=Counter)
    failed_sample: list[tuple[str, str]] = field(default_factory=list)


def _is_fetchable(url: str) -> bool:
    parts = urlsplit(url)
    return parts.scheme in ("http", "https") and bool(parts.netloc)


async def _fetch_one(client: PoliteClient, store: MediaStore, url: str) -> Outcome:
    if not _is_fetchable(url):
        return Outcome(url, error="not an http(s) URL")
    try:
        fetched = await client.get(url, accept=ACCEPT_IMAGES)
        # Decoding is CPU work: off the event loop, so downloads keep flowing.
        return Outcome(url, stored=await asyncio.to_thread(store.put_image, fetched.content))
    except FetchError as error:
        outage = error.status in RETRYABLE_STATUS or isinstance(error.__cause__, httpx.TransportError)
        return Outcome(url, error=error.reason, outage=outage)
    except BadImage as error:
        return Outcome(url, error=f"not a usable image: {error.reason}")
    except httpx.InvalidURL as error:
        return Outcome(url, error=f"invalid URL: {error}")


def _record(engine: Engine, outcomes: list[Outcome], targets: dict[str, list[tuple[int, int]]]) -> set[str]:
    """Commit one batch: new media assets, then every link of every outcome. Returns new sha256s."""
    stored = {o.stored.sha256: o for o in outcomes if o.stored}
    with engine.begin() as conn:
        assets = [
            {
                "sha256": sha,
                "rel_path": o.stored.rel_path,
                "content_type": o.stored.content_type,
                "bytes": o.stored.bytes,
                "width": o.stored.width,
                "height": o.stored.height,
                "source_url": o.url,
            }
            for sha, o in stored.items()
        ]
        new = set(conn.scalars(INSERT_ASSETS, {"rows": json.dumps(assets)})) if assets else set()
        ids = dict(conn.execute(ASSET_IDS, {"shas": list(stored)}).all()) if stored else {}
        links = [
            {
                "supplier_product_id": product_id,
                "source_url": o.url,
                "position": position,
                "media_asset_id": ids[o.stored.sha256] if o.stored else None,
                "error": o.error,
            }
            for o in outcomes
            for product_id, position in targets[o.url]
        ]
        conn.execute(UPSERT_LINKS, {"rows": json.dumps(links)})
    return new


async def _download(
    engine: Engine,
    client: PoliteClient,
    store: MediaStore,
    targets: dict[str, list[tuple[int, int]]],
    tally: Tally,
) -> None:
    urls = list(targets)
    for start in range(0, len(urls), BATCH_IMAGES):
        chunk = urls[start : start + BATCH_IMAGES]
        outcomes = await asyncio.gather(*(_fetch_one(client, store, url) for url in chunk))
        new = await asyncio.to_thread(_record, engine, outcomes, targets)
        for outcome in outcomes:
            if outcome.stored:
                tally.downloaded += 1
                tally.bytes += outcome.stored.bytes
                if outcome.stored.sha256 in new:
                    tally.stored += 1
                    new.discard(outcome.stored.sha256)  # a second URL in the batch is a duplicate
                else:
                    tally.deduplicated += 1
            else:
                tally.failed += 1
                tally.outage_failures += outcome.outage
                tally.reasons[outcome.error] += 1
                if len(tally.failed_sample) < SAMPLE_SIZE:
                    tally.failed_sample.append((outcome.url, outcome.error))


@dg.asset(
    partitions_def=supplier_partitions,
    backfill_policy=dg.BackfillPolicy.multi_run(max_partitions_per_run=1),  # one supplier per run
    deps=[dg.AssetKey("supplier_products")],
    group_name="catalog",
    kinds={"postgres"},
    pool="supplier_web",
)
def product_images(context: dg.AssetExecutionContext, db: DatabaseResource) -> dg.MaterializeResult:
    """Downloads the supplier's product images not held yet and stores each once by sha256 under
    the media root (``retail.media_assets``), linking them to their products in page order
    (``retail.supplier_product_images``). A re-run downloads nothing already held."""
    settings = get_settings()
    engine = db.engine
    with engine.connect() as conn:
        supplier = conn.execute(SUPPLIER, {"code": context.partition_key}).first()
        if supplier is None:
            raise dg.Failure(
                f"partition {context.partition_key!r} has no row in retail.suppliers; sync the supplier partitions"
            )
        products = conn.scalar(PRODUCT_COUNT, {"supplier_id": supplier.id})
        wanted = conn.execute(WANTED_IMAGES, {"supplier_id": supplier.id}).all()

    already_held = 0
    moved, reused = [], []
    targets: dict[str, list[tuple[int, int]]] = defaultdict(list)  # URL to fetch -> (product, position)
    for row in wanted:
        if row.linked_asset_id is not None:
            already_held += 1
            if row.link_position != row.position:
                moved.append({"id": row.link_id, "position": row.position})
        elif row.held_asset_id is not None:
            already_held += 1
            reused.append(
                {
                    "supplier_product_id": row.supplier_product_id,
                    "source_url": row.source_url,
                    "position": row.position,
                    "media_asset_id": row.held_asset_id,
                    "error": None,
                }
            )
        else:
            targets[row.source_url].append((row.supplier_product_id, row.position))

    with engine.begin() as conn:
        unlinked = conn.execute(UNLINK_DROPPED, {"supplier_id": supplier.id}).rowcount
        if moved:
            conn.execute(MOVE_LINKS, {"rows": json.dumps(moved)})
        if reused:
            conn.execute(UPSERT_LINKS, {"rows": json.dumps(reused)})

    tally = Tally()
    requests = 0
    if targets:
        base_url = effective_base_url(
            context.partition_key,
            supplier.base_url,
            use_simulators=settings.use_simulators,
            simulator_url=settings.simulator_url,
            overrides=settings.supplier_base_urls,
        )
        policy = FetchPolicy.model_validate((supplier.config or {}).get("fetch", {}))
        store = MediaStore(get_storage(settings))

        async def download_all() -> int:
            async with PoliteClient(policy, site_root=base_url) as client:
                await _download(engine, client, store, targets, tally)
                return client.requests_made

        requests = asyncio.run(download_all())

    metadata = {
        "products": products,
        "images_seen": len(wanted),
        "already_held": already_held,
        "fetched_urls": len(targets),
        "downloaded": tally.downloaded,
        "stored": tally.stored,
        "deduplicated": tally.deduplicated,
        "failed": tally.failed,
        "failure_reasons": dict(tally.reasons.most_common(SAMPLE_SIZE)),
        "failed_sample": dg.MetadataValue.md(
            "\n".join(f"- {url}: {reason}" for url, reason in tally.failed_sample) or "none"
        ),
        "bytes": tally.bytes,
        "http_requests": requests,
        "unlinked": unlinked,
    }
    context.log.info(
        f"{context.partition_key}: {len(wanted)} images, {already_held} held, {tally.downloaded} downloaded"
        f" ({tally.stored} new, {tally.deduplicated} duplicates), {tally.failed} failed"
    )
    if len(targets) >= MIN_FETCHES_FOR_OUTAGE and tally.outage_failures == len(targets):
        raise dg.Failure(
            f"every one of {len(targets)} image fetches failed on transport errors, 5xx or 429 after"
            " retries: the image host looks down; failures are recorded and will be retried",
            metadata=metadata,
        )
    return dg.MaterializeResult(metadata=metadata)

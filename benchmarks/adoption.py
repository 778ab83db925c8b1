"""Adopting a shop that already sells (issue 12): N existing listings per channel (default 10,000) on
every listing channel, a catalogue of tens of thousands of products, then the state sync per channel
(the real client's selling list within the channel's rate limits, detection, reconciliation with
adoption) as the `listing_state` asset runs it.

- The shop: `shop_inventory` (simulators/existing_listings.py) draws each channel's listings from the
  catalogue a simulated supplier serves (about 30 % under our SKU, 40 % retyped by hand with or without
  a shop SKU, the rest items we never carried), seeded with each simulator's `seed_existing` until N
  are (`seed_refused`: drawn but refused). A channel that lists by EAN only refuses items without one;
  Vintage & Rare refuses brands it does not know, so its catalogue share is drawn from the brands it
  knows and its unrelated share is the unrelated items with such a brand.
- The clients are the real ones on the simulators served on loopback; Vintage & Rare's drives a
  headless Chromium it launches (VR_CDP_URL: one already running) through the dealer site: its
  selling list is one CSV export after signing in. `calls` counts every request the simulator saw;
  `client_calls` the client's own count (V&R: pages loaded, exports and forms).
- The catalogue: that supplier's products (every variant, our SKU as the pipeline gives it), written to
  a fresh database on an embedded PostgreSQL as the enrichment leaves them.
- Calls: counted from the simulator's journal for the channel during its sync (token calls included).
- Correctness: each adopted listing's product against the catalogue item the listing was drawn from;
  for proposals, whether that product is the first candidate.
- Baseline, in the same process: matching each unknown listing against every product (all pairs, the
  same scoring), timed on a sample, against the index's time per listing over all of them.

Prints one JSON line per channel, then one JSON object with the totals and the baseline ratio.
Usage: python benchmarks/adoption.py [--listings N] [--products N] [--channels NAME ...]
"""

from __future__ import annotations

import argparse
import asyncio
import atexit
import importlib
import json
import os
import random
import shutil
import tempfile
import time
from pathlib import Path

from sqlalchemy import text

from retail_pipeline.channels.registry import channel, channel_names
from retail_pipeline.db import embedded, migrations
from retail_pipeline.db.admin import create_database
from retail_pipeline.db.engine import get_engine
from retail_pipeline.db.urls import with_database
from retail_pipeline.settings import PROJECT_ROOT

CHANNELS = channel_names("listings")
SUPPLIER = "onecheq"  # the simulated supplier whose catalogue the shop's listings are drawn from
BASELINE_SAMPLE = 30  # listings matched all-pairs for the baseline (each costs a pass over the catalogue)

CATALOGUE = text(
    """
    WITH r AS (SELECT * FROM jsonb_to_recordset(CAST(:rows AS jsonb))
                 AS r(sku text, our_sku text, title text, brand text, gtin text, mpn text, price numeric)),
         sp AS (INSERT INTO retail.supplier_products (supplier_id, sku, title, brand, gtin, mpn, price, currency,
                                                      availability, condition, content_hash)
                SELECT :supplier, sku, title, brand, gtin, mpn, price, 'NZD', 'in_stock', 'new', 'bench' FROM r
                RETURNING id, sku)
    INSERT INTO retail.products (supplier_product_id, sku, enricher, prompt_version, input_hash, title, condition)
    SELECT sp.id, r.our_sku, 'offline', 'bench', 'bench', left(r.title, 80), 'new' FROM sp JOIN r USING (sku)
    """
)


def _catalogue(engine, items) -> int:
    rows = [
        {"sku": i.variant.sku, "our_sku": i.our_sku, "brand": i.product.brand, "gtin": i.variant.gtin,
         "mpn": i.variant.mpn, "price": i.variant.list_cents / 100,
         "title": i.product.title if i.variant.option is None else f"{i.product.title} {i.variant.option}"}
        for i in items
    ]  # fmt: skip
    with engine.begin() as conn:
        supplier = conn.scalar(
            text(
                "INSERT INTO retail.suppliers (code, name, adapter) VALUES (:c, 'Bench', 'generic') RETURNING id"
            ),
            {"c": SUPPLIER},
        )
        for start in range(0, len(rows), 5000):
            conn.execute(CATALOGUE, {"rows": json.dumps(rows[start : start + 5000]), "supplier": supplier})
        return conn.scalar(text("SELECT count(*) FROM retail.products"))


def _listable(name: str, items):
    """The catalogue items a channel's simulator would take: a site that lists only brands it knows
    (V&R's form; its simulator's `taxonomy.canonical_brand`) gets the items of those brands, as
    channels/vintage_and_rare/test_existing_listings.py draws them, so the shop's catalogue share is
    not lost to refusals."""
    try:
        taxonomy = importlib.import_module(f"retail_pipeline.simulators.{name}.taxonomy")
    except ModuleNotFoundError:
        return items
    known = getattr(taxonomy, "canonical_brand", None)
    return [i for i in items if known(i.product.brand)] if known else items


def _seed_shop(sim, name: str, shop, wanted: int) -> tuple[list, dict[str, str | None], int]:
    """Seeds the first `wanted` items of `shop` the channel takes (a channel that lists by EAN only
    refuses an item without one, V&R one without a brand it knows); a chunk is seeded whole, and a
    refused chunk (which saves none) one item at a time. Returns the items seeded, by the channel's id
    the catalogue SKU each one is, and how many were refused."""
    seeded, truth, refused = [], {}, 0
    backend = sim.backend(name)
    position = 0
    while len(seeded) < wanted and position < len(shop):
        chunk = shop[position : position + min(500, wanted - len(seeded))]
        position += len(chunk)
        try:
            made = list(zip(chunk, backend.seed_existing(chunk), strict=True))
        except ValueError:
            made = []
            for item in chunk:
                try:
                    made += [(item, *backend.seed_existing([item]))]
                except ValueError:
                    refused += 1
        for item, created in made:
            seeded.append(item)
            truth[created] = item.catalogue_sku
    return seeded, truth, refused


def _correctness(engine, name: str, truth: dict[str, str | None]) -> dict:
    """Adopted to the product the listing really is; the right product first among a proposal's candidates;
    catalogue items left without a candidate."""
    with engine.connect() as conn:
        adopted = conn.execute(
            text("""SELECT cl.external_listing_id, p.sku FROM retail.channel_listings cl
                      JOIN retail.products p ON p.id = cl.product_id WHERE cl.channel = :c"""),
            {"c": name},
        ).all()  # fmt: skip
        tasks = conn.execute(
            text("SELECT entity_id, details -> 'candidates' FROM retail.ops_tasks WHERE kind = 'listing_adoption' AND channel = :c"),
            {"c": name},
        ).all()  # fmt: skip
    proposed = [(ext, cands) for ext, cands in tasks if cands]
    return {
        "adopted_wrong_product": sum(1 for ext, sku in adopted if truth.get(ext) != sku),
        "likely_right_product_first": sum(1 for ext, c in proposed if truth.get(ext) == c[0]["sku"]),
        "likely_right_product_listed": sum(
            1 for ext, c in proposed if truth.get(ext) in {x["sku"] for x in c}
        ),
        "catalogue_items_unmatched": sum(1 for ext, c in tasks if not c and truth.get(ext)),
    }


async def _selling(client):
    async with client:
        return [listing async for listing in client.selling()]


def _sync(engine, sim, name: str, seeded: list) -> dict:
    from retail_pipeline.defs.listings.state import detect, reconcile
    from retail_pipeline.defs.resources import ChannelsResource

    calls_before = len(sim.journal.entries(name))
    started = time.perf_counter()
    client = ChannelsResource().client(name)
    remote = asyncio.run(_selling(client))
    read = time.perf_counter()
    detected = detect(engine, name, remote)
    detected_at = time.perf_counter()
    applied = reconcile(engine, name)
    done = time.perf_counter()
    calls = len(sim.journal.entries(name)) - calls_before
    adopted = applied.get("adopted", 0)
    ours = sum(1 for i in seeded if i.origin == "ours")
    return {
        "channel": name,
        "listings": len(seeded),
        "remote_listings": len(remote),
        "exact": adopted,
        "likely": applied.get("proposed", 0),
        "none": applied.get("unmatched", 0),
        "seeded_under_our_sku": ours,
        "seeded_by_hand": sum(1 for i in seeded if i.origin == "by_hand"),
        "seconds": round(done - started, 2),
        "seconds_selling": round(read - started, 2),
        "seconds_detect": round(detected_at - read, 2),
        "seconds_reconcile": round(done - detected_at, 2),
        "adopted_per_minute": round(adopted / (done - started) * 60),
        "calls": calls,
        "calls_per_adopted": round(calls / adopted, 4) if adopted else None,
        "client_calls": client.budget().used,  # as the client counts them (V&R: pages and exports)
        "unknown_events": detected.get("unknown_listing", 0),
    }


def _baseline(engine, remote_facts: list) -> dict:
    """All pairs (every product scored for a listing) against the index, the same scoring."""
    from retail_pipeline.defs.listings.adoption import load_catalogue
    from retail_pipeline.domain.adoption import compact, tokens

    with engine.connect() as conn:
        started = time.perf_counter()
        index = load_catalogue(conn)
        build = time.perf_counter() - started
    started = time.perf_counter()
    for listing in remote_facts:
        index.match(listing)
    indexed = (time.perf_counter() - started) / len(remote_facts)
    sample = remote_facts[:BASELINE_SAMPLE]
    started = time.perf_counter()
    for listing in sample:
        words = tokens(listing.title) | tokens(listing.brand) | tokens(listing.mpn)
        brand, model = compact(listing.brand), compact(listing.mpn)
        scored = [index._score(pid, words, brand, model) for pid in index.products]
        sorted((c for c in scored if c), key=lambda c: -c.score)[:3]
    all_pairs = (time.perf_counter() - started) / len(sample)
    return {
        "catalogue_products": len(index.products),
        "index_build_seconds": round(build, 2),
        "indexed_ms_per_listing": round(indexed * 1000, 3),
        "all_pairs_ms_per_listing": round(all_pairs * 1000, 1),
        "all_pairs_over_indexed": round(all_pairs / indexed, 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--listings", type=int, default=10_000, help="existing listings per channel")
    parser.add_argument("--products", type=int, default=20_000, help="supplier products (variants: more)")
    parser.add_argument("--channels", nargs="*", default=list(CHANNELS), choices=CHANNELS)
    args = parser.parse_args()

    from retail_pipeline.defs.listings.adoption import facts
    from retail_pipeline.simulators import SimulatorConfig, build_simulator_app
    from retail_pipeline.simulators.existing_listings import catalogue_items, shop_inventory
    from retail_pipeline.simulators.serving import serve_in_thread

    workdir = Path(tempfile.mkdtemp(prefix="rp-bench-adoption-"))
    workdir.chmod(0o755)  # run as root, the embedded server drops to its own user
    # Runs after the embedded server's own exit hook (registered later, run first) has stopped it.
    atexit.register(shutil.rmtree, workdir, ignore_errors=True)
    os.environ.update(RETAIL_DATA_DIR=str(workdir / "var"), USE_SIMULATORS="true")
    app = build_simulator_app(SimulatorConfig(seed=11, products_per_supplier=args.products))
    sim = app.state.simulator
    items = catalogue_items(sim.backend(SUPPLIER).snapshot(), SUPPLIER)
    with serve_in_thread(app) as url:
        os.environ["SIMULATOR_URL"] = url
        from retail_pipeline.settings import get_settings

        get_settings.cache_clear()
        server = embedded.start(workdir / "pg", keep_running=False)
        create_database(server, "bench_adoption")
        database = with_database(server, "bench_adoption")
        migrations.migrate(database, PROJECT_ROOT / "sql")
        os.environ["DATABASE_URL"] = database
        engine = get_engine(database)
        products = _catalogue(engine, items)
        results, facts_seen = [], []
        started = time.perf_counter()
        for number, name in enumerate(args.channels):
            rng = random.Random(100 + number)
            # drawn past N so that N are seeded where some are refused (the first N are the same draws)
            shop = shop_inventory(
                rng, 4 * args.listings, from_catalogue=_listable(name, items),
                currency=channel(name).listing.currency,
            )  # fmt: skip
            seeded, truth, refused = _seed_shop(sim, name, shop, args.listings)
            result = (
                _sync(engine, sim, name, seeded)
                | {"seed_refused": refused}
                | _correctness(engine, name, truth)
            )
            results.append(result)
            print(json.dumps(result), flush=True)
            with engine.connect() as conn:
                facts_seen += [
                    facts(r.remote_value)
                    for r in conn.execute(
                        text("SELECT remote_value FROM retail.sync_events WHERE channel = :c AND event_type = 'unknown_listing' LIMIT 500"),
                        {"c": name},
                    )
                ]  # fmt: skip
        wall = time.perf_counter() - started
        baseline = _baseline(engine, facts_seen)
        engine.dispose()
    adopted = sum(r["exact"] for r in results)
    print(json.dumps({
        "listings_per_channel": args.listings, "catalogue_products": products, "wall_seconds": round(wall, 1),
        "adopted": adopted, "likely": sum(r["likely"] for r in results), "none": sum(r["none"] for r in results),
        "adopted_per_minute": round(adopted / wall * 60),
        "calls_per_adopted": round(sum(r["calls"] for r in results) / max(1, adopted), 4),
        "adopted_wrong_product": sum(r["adopted_wrong_product"] for r in results),
        "by_channel": {r["channel"]: {k: r[k] for k in ("adopted_per_minute", "calls_per_adopted", "exact", "likely",
                                                         "none", "seconds", "adopted_wrong_product",
                                                         "likely_right_product_first")} for r in results},
        "baseline": baseline,
    }), flush=True)  # fmt: skip


if __name__ == "__main__":
    main()

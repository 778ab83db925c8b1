"""Supplier scrape throughput at scale (issue 3 item 9; issue 13): 100,000 SKUs across the three
simulated suppliers, and 5,000 first in the same invocation to show that memory stays flat.

`python benchmarks/catalog.py [--products 100000] [--small 5000]`: each size runs against its own
simulated catalogue (one simulator server, one embedded PostgreSQL), in fresh run processes so each
size's peak RSS is its own. `--small 0` skips the small run; `--products 5000 --small 0` is a quick run.

Measured per size:
- pipeline: `scrape_supplier`, the supplier_products asset's own work (adapter + shared upsert), one
  process per supplier running at once, as a backfill of the three partitions runs them (one partition
  per run, runs in parallel up to the `supplier_web` pool limit); peak RSS of each of those processes
  (VmHWM), next to its peak once warm (imports done) before the scrape;
- unchanged re-run: the pipeline again with nothing changed (conditional GETs, content hashes);
- raw capacity: bare concurrent GETs of the URLs the pipeline fetched (plain httpx, no parsing, no
  database), at a few concurrency levels, twice each; the best is the ceiling. Past RAW_SAMPLE URLs a
  seeded random sample of that many is fetched and the rate scaled to the whole (same mix of pages);
- serial baseline (once, on 100 products per supplier): the same adapters one request at a time and one
  row per commit (how the seed scripts worked), extrapolated per product.

The simulators run in a child process (still `serve_in_thread`): a supplier's web server does not share
our process in production, and in ours it would also share our GIL. It does share the machine's CPUs,
so every millisecond we spend parsing also slows the "remote" site a little. Every request gets
40 ± 10 ms of injected latency. The last line printed is one JSON object with the headline figures.

Results, 2 CPUs shared with five other busy worktrees (load average 2-13 while they ran); each row pair
is one invocation, 5,000 then 100,000 SKUs ("SKUs" counts OneCheq's variants). Run 4 is the code as it
stands; run 2 predates the 4-page cap on OneCheq's listing window (its 210 MB).

| run | size | SKUs | s | SKUs/s | raw SKUs/s | ratio | peak RSS MB (OC / NL / CC) | re-run s, rows |
|---|---|---|---|---|---|---|---|---|
| 2 | 5k | 6,082 | 34.1 | 178 | 394 | 0.45 | 162 / 155 / 155 | 16.4, 0 |
| 2 | 100k | 121,582 | 362.5 | 335 | 1,188 | 0.28 | 210 / 170 / 161 | 216.8, 0 |
| 4 | 5k | 6,082 | 33.2 | 183 | 333 | 0.55 | 159 / 156 / 154 | 31.6, 0 |
| 4 | 100k | 121,582 | 386.8 | 314 | 1,193 | 0.26 | 172 / 170 / 161 | 211.8, 0 |
| 5 quiet | 5k | 5,996 | 7.6 | 786 | 979 | 0.80 | 162 / - / - (max) | 5.5, 0 |
| 5 quiet | 100k | 119,780 | 150.5 | 796 | 1,225 | 0.65 | 175 / 173 / 162 | 104.9, 0 |

Run 5 is the merged main alone on the 2-CPU machine (load < 1 before it started): issue 13's 0.6 is met
at 100k (0.65; 0.80 at 5k), and peak RSS per run process is 162 MB at 5k against 175 MB at 100k
(185 MB after the unchanged re-run). Under load it is not: the three run processes need ~170 CPU-s for
100k SKUs and the simulator about as much, so on shared cores CPU, not the scrape's shape, bounds the
pipeline, while the bare GETs of the raw rounds need little. CPU per page stays flat with size (Noel Leeming: 3.3-3.9 ms per page first run, 1.6 ms on the
re-run, at 5k and at 100k). Memory is flat: a run process is ~134 MB once Dagster is imported and
peaks at 154-172 MB at either size; what grows is the discovered URL list (~100 bytes a product).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing
import os
import random
import resource
import shutil
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import httpx
import psutil
from sqlalchemy import Engine, text

from retail_pipeline.catalog_writes.upsert import upsert_supplier_products
from retail_pipeline.db import embedded, migrations
from retail_pipeline.db.admin import create_database
from retail_pipeline.db.engine import get_engine
from retail_pipeline.db.urls import with_database
from retail_pipeline.defs.catalog.supplier_products import (
    ScrapeSummary,
    SupplierRow,
    load_supplier,
    scrape_supplier,
)
from retail_pipeline.defs.catalog.suppliers import suppliers
from retail_pipeline.defs.resources import DatabaseResource
from retail_pipeline.integrations.http import FetchPolicy, PoliteClient
from retail_pipeline.integrations.suppliers import adapter_for, collect
from retail_pipeline.settings import PROJECT_ROOT

PRODUCTS, SMALL = 100_000, 5_000  # issue 13: 20x the 5,000 of issue 3
SAMPLE_PER_SUPPLIER = 100  # the serial baseline's catalogue
RAW_SAMPLE = 20_000  # URLs the raw-capacity rounds fetch at most
LATENCY_MS, LATENCY_JITTER_MS = 40, 10
# Requests in flight per site. The storefront routes are async, so the simulator itself keeps up with
# 32 in flight; what slows past ~24 is one httpx client holding that many connections (httpcore's pool
# bookkeeping grows with the square of its connections: raw_capacity at 32 shows it). Each site here
# has its own client, as each partition runs in its own process, so 16 per site (32 in all for the
# two page-by-page sites) keeps each pool small and still covers the 40 ms latency.
CONCURRENCY = 16
RAW_CONCURRENCY_LEVELS = (16, 24, 32)
RAW_ROUNDS = 2  # the simulator's throughput is noisy: the ceiling is the best round
SUPPLIERS = {"onecheq": "onecheq", "noel_leeming": "noelleeming", "cash_converters": "cashconverters"}
# The sites allow this in the benchmark; real suppliers keep the polite defaults in FetchPolicy.
FETCH_POLICY = {"max_concurrency": CONCURRENCY, "requests_per_second": 1000}


def _serve(sizes: tuple[int, ...], urls: multiprocessing.Queue, stop: multiprocessing.Event) -> None:
    """One simulator app per catalogue size, each with its own journal (big enough for two crawls)."""
    from contextlib import ExitStack

    from retail_pipeline.simulators import FaultConfig, SimulatorConfig, build_simulator_app
    from retail_pipeline.simulators.serving import serve_in_thread

    latency = FaultConfig(latency_ms=LATENCY_MS, latency_jitter_ms=LATENCY_JITTER_MS)
    with ExitStack() as stack:
        for size in sizes:
            config = SimulatorConfig(
                seed=5,
                products_per_supplier=size,
                crawl_delay_seconds=0,
                faults={"*": latency},
                journal_entries=4 * size + 10_000,
            )
            urls.put(stack.enter_context(serve_in_thread(build_simulator_app(config))))
        stop.wait()


def _database(server: str, name: str) -> str:
    create_database(server, name)
    url = with_database(server, name)
    migrations.migrate(url, PROJECT_ROOT / "sql")
    suppliers(db=DatabaseResource(url=url))
    with get_engine(url).begin() as conn:
        conn.execute(
            text("UPDATE retail.suppliers SET config = jsonb_set(config, '{fetch}', CAST(:policy AS jsonb))"),
            {"policy": json.dumps(FETCH_POLICY)},
        )
    return url


def _rows(engine: Engine) -> list[SupplierRow]:
    with engine.connect() as conn:
        return [load_supplier(conn, code) for code in SUPPLIERS]


def _peak_rss_mb() -> float:
    """This process's peak RSS (VmHWM). Not `ru_maxrss`: Linux carries that over from the parent
    through fork + exec, so a spawned worker would start at the benchmark process's own peak."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024  # kB
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # not Linux: KiB on most


def _warm_up(_: int) -> float:
    """A run process ready (imports done, as a Dagster run worker is): its RSS before any scrape."""
    time.sleep(0.5)
    return round(_peak_rss_mb(), 1)


def _scrape_one(database_url: str, code: str, base_url: str) -> tuple[ScrapeSummary, float, float]:
    """One partition's run, the CPU seconds it took (where the time goes on a small machine) and the
    process's peak RSS so far."""
    engine = get_engine(database_url)
    started = time.process_time()
    with engine.connect() as conn:
        row = load_supplier(conn, code)
    summary = scrape_supplier(engine, row, base_url)
    engine.dispose()
    return summary, time.process_time() - started, _peak_rss_mb()


def pipeline(runs: ProcessPoolExecutor, database_url: str, simulator: str) -> dict:
    started = time.perf_counter()
    futures = {
        code: runs.submit(_scrape_one, database_url, code, f"{simulator}/{prefix}")
        for code, prefix in SUPPLIERS.items()
    }
    done = {code: future.result() for code, future in futures.items()}
    seconds = time.perf_counter() - started
    summaries = [summary for summary, _, _ in done.values()]
    products = sum(s.scraped for s in summaries)
    return {
        "seconds": round(seconds, 2),
        "products": products,
        "products_per_s": round(products / seconds, 1),
        "http_requests": sum(s.http_requests for s in summaries),
        "failed_pages": sum(s.failed_pages for s in summaries),
        "rows_written": sum(s.rows_written for s in summaries),
        "not_modified": sum(s.not_modified for s in summaries),
        "peak_rss_mb": round(max(rss for _, _, rss in done.values()), 1),
        "by_supplier": {
            code: {
                "products": summary.scraped,
                "seconds": summary.duration_seconds,
                "cpu_seconds": round(cpu, 2),
                "requests": summary.http_requests,
                "peak_rss_mb": round(rss, 1),
            }
            for code, (summary, cpu, rss) in done.items()
        },
    }


def serial_baseline(database_url: str, simulator: str) -> dict:
    """Same adapters and parsers, one request in flight, then one row per transaction."""
    engine = get_engine(database_url)
    policy = FetchPolicy(max_concurrency=1, requests_per_second=1000)
    started = time.perf_counter()
    products = 0
    for row in _rows(engine):
        base_url = f"{simulator}/{SUPPLIERS[row.code]}"

        async def scrape(row=row, base_url=base_url):
            async with PoliteClient(policy, site_root=base_url) as client:
                async for item in adapter_for(row.adapter, row.config).scrape(client, base_url):
                    yield item

        result = asyncio.run(collect(scrape()))
        for record in result.records:
            with engine.begin() as conn:
                upsert_supplier_products(conn, row.id, [record])
        products += len(result.records)
    seconds = time.perf_counter() - started
    return {
        "seconds": round(seconds, 2),
        "products": products,
        "products_per_s": round(products / seconds, 1),
    }


def fetched_urls(simulator: str) -> list[str]:
    """Every URL the simulator answered so far, once each, from its request journal."""
    journal = httpx.get(f"{simulator}/_control/journal", timeout=60).json()["entries"]
    urls = {
        f"{simulator}/{e['system']}{e['path']}" + (f"?{e['query']}" if e["query"] else "")
        for e in journal
        if e["system"] in SUPPLIERS.values()
    }
    return sorted(urls)


async def raw_fetch(urls: list[str], concurrency: int) -> float:
    slots = asyncio.Semaphore(concurrency)
    async with httpx.AsyncClient(limits=httpx.Limits(max_connections=concurrency), timeout=60) as client:

        async def get(url: str) -> None:
            async with slots:
                for attempt in range(3):  # a connection the loaded server dropped, as the pipeline retries
                    try:
                        (await client.get(url)).raise_for_status()
                        return
                    except httpx.TransportError:
                        if attempt == 2:
                            raise

        started = time.perf_counter()
        await asyncio.gather(*(get(url) for url in urls))
        return time.perf_counter() - started


def raw_capacity(urls: list[str], products: int) -> dict:
    fetched = sorted(random.Random(5).sample(urls, RAW_SAMPLE)) if len(urls) > RAW_SAMPLE else urls
    share = len(fetched) / len(urls)  # the sample stands for this share of the products
    seconds = {
        c: min(asyncio.run(raw_fetch(fetched, c)) for _ in range(RAW_ROUNDS)) for c in RAW_CONCURRENCY_LEVELS
    }
    best = min(seconds, key=seconds.get)
    return {
        "urls": len(urls),
        "urls_fetched": len(fetched),
        "seconds_by_concurrency": {c: round(s, 2) for c, s in seconds.items()},
        "best_concurrency": best,
        "seconds_for_all_urls": round(seconds[best] / share, 2),
        "products_per_s": round(products * share / seconds[best], 1),
    }


def measure(size: int, database_url: str, simulator: str, context) -> dict:
    """One catalogue size: the pipeline, its unchanged re-run, and the raw capacity of its URLs."""
    with ProcessPoolExecutor(len(SUPPLIERS), mp_context=context) as runs:
        # Start the run processes before the clock does: Dagster's run workers are warm too.
        warm_rss = list(runs.map(_warm_up, range(len(SUPPLIERS))))
        run = pipeline(runs, database_url, simulator)
        print(json.dumps({"size": size, "pipeline": run}), flush=True)
        rerun = pipeline(runs, database_url, simulator)
        print(json.dumps({"size": size, "unchanged_rerun": rerun}), flush=True)
    raw = raw_capacity(fetched_urls(simulator), run["products"])
    print(json.dumps({"size": size, "raw_capacity": raw}), flush=True)
    return {
        "products": run["products"],
        "seconds": run["seconds"],
        "products_per_s": run["products_per_s"],
        "raw_capacity_products_per_s": raw["products_per_s"],
        "fraction_of_raw_capacity": round(run["products_per_s"] / raw["products_per_s"], 3),
        "warm_rss_mb": max(warm_rss),
        "peak_rss_mb": run["peak_rss_mb"],
        "peak_rss_mb_after_rerun": rerun["peak_rss_mb"],
        "rerun_seconds": rerun["seconds"],
        "rerun_rows_written": rerun["rows_written"],
        "rerun_not_modified": rerun["not_modified"],
        "failed_pages": run["failed_pages"] + rerun["failed_pages"],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--products", type=int, default=PRODUCTS, help="catalogue size, all suppliers")
    parser.add_argument("--small", type=int, default=SMALL, help="a smaller size run first (0: none)")
    args = parser.parse_args()
    sizes = [n for n in dict.fromkeys((args.small, args.products)) if n > 0]
    per_supplier = [-(-n // len(SUPPLIERS)) for n in sizes]

    workdir = Path(tempfile.mkdtemp(prefix="rp-bench-catalog-"))
    workdir.chmod(0o755)  # run as root, the embedded server drops to its own user
    context = multiprocessing.get_context("spawn")
    simulator_urls, stop = context.Queue(), context.Event()
    server = context.Process(
        target=_serve, args=((*per_supplier, SAMPLE_PER_SUPPLIER), simulator_urls, stop), daemon=True
    )
    server.start()
    results = {}
    try:
        sites = [simulator_urls.get(timeout=600) for _ in per_supplier]
        sample = simulator_urls.get(timeout=120)
        pg = embedded.start(workdir / "pg", keep_running=False)
        for size, site in zip(sizes, sites, strict=True):
            results[size] = measure(size, _database(pg, f"bench_pipeline_{size}"), site, context)
        simulator_rss = round(psutil.Process(server.pid).memory_info().rss / 2**20, 1)
        serial = serial_baseline(_database(pg, "bench_serial"), sample)
        print(json.dumps({"serial_baseline": serial}), flush=True)
    finally:
        stop.set()
        server.join(timeout=15)
        shutil.rmtree(workdir, ignore_errors=True)

    big = results[sizes[-1]]
    print(
        json.dumps(
            {
                "benchmark": "catalog_scrape",
                "products": big["products"],
                "elapsed_seconds": big["seconds"],
                "pipeline_products_per_s": big["products_per_s"],
                "raw_capacity_products_per_s": big["raw_capacity_products_per_s"],
                "fraction_of_raw_capacity": big["fraction_of_raw_capacity"],
                "meets_issue_13": big["fraction_of_raw_capacity"] >= 0.6,
                "peak_rss_mb_by_size": {size: r["peak_rss_mb"] for size, r in results.items()},
                "warm_rss_mb_by_size": {size: r["warm_rss_mb"] for size, r in results.items()},
                "rss_measured": "VmHWM of each supplier's run process (fresh processes per size, one invocation)",
                "rerun_seconds": big["rerun_seconds"],
                "rerun_rows_written": big["rerun_rows_written"],
                "by_size": results,
                "serial_products_per_s": serial["products_per_s"],
                "serial_measured_on": f"{serial['products']} products ({SAMPLE_PER_SUPPLIER}/supplier), extrapolated per product",
                "speedup_vs_serial": round(big["products_per_s"] / serial["products_per_s"], 2),
                "simulator_rss_mb": simulator_rss,
                "latency_ms": f"{LATENCY_MS}±{LATENCY_JITTER_MS}",
                "concurrency_per_site": CONCURRENCY,
                "suppliers_in_parallel": len(SUPPLIERS),
                "cpus": os.cpu_count(),
            }
        )
    )


if __name__ == "__main__":
    main()

"""The sidecar at scale (issues 5 and 10): the ops inbox and KPIs, every console page and the operator API's
JSON routes (products, orders, pick & pack, conversations, marketplaces) with 1M products and 200k orders,
under 8 concurrent clients, against the real sidecar over loopback HTTP. Goals: p95 ≤ 100 ms for a page,
≤ 50 ms for a JSON route, and /health the cheapest route of all.

One scratch database (embedded PostgreSQL, or a new database on DATABASE_URL's server) is bulk-loaded
with generate_series: 1M supplier products, 1M products with their LaunchLock verdicts, 300k drafts,
200k listings, 200k orders with ~600k status-history rows (the trigger keeps current_status), their
failed labels, 20k conversations, 20k operator commands, 10k ops tasks, and a Dagster instance in the
same database holding 3 real failed runs plus 50k synthetic run rows (5% failed).

The sidecar (uvicorn, one process, as `retail-pipeline api` runs it) serves from a child process so
the clients do not share its GIL. Each endpoint is measured alone: serially (service time), then by
8 concurrent keep-alive clients (asyncio, a minimal HTTP/1.1 client: the load generator shares the
sidecar's two cores, so it is kept cheap). Baselines in the same run: GET /health (one read of the
migration history on a pooled connection) and GET /whoami (just the API-key lookup every guarded route pays).
The inbox and summary answers are checked against count(*) over the tables: the numbers are exact.
What the figures rest on: each answer is one SQL statement; identical requests in flight at once share
one execution (api/coalesce.py, never a cached answer); a live API key's role is remembered for 5 s
per process (api/keys.py), so a request pays no database round trip for authentication.
The last line printed is one JSON object with p95_ms per endpoint.
"""

from __future__ import annotations

import asyncio
import json
import multiprocessing
import os
import shutil
import statistics
import tempfile
import time
from pathlib import Path

import httpx
import psycopg

from retail_pipeline.db import embedded, migrations
from retail_pipeline.db.admin import create_database, drop_database, relax_durability
from retail_pipeline.db.urls import libpq_url, with_database
from retail_pipeline.settings import PROJECT_ROOT

PRODUCTS = 1_000_000
ORDERS = 200_000
CLIENTS = 8
REQUESTS_PER_CLIENT = 60
SERIAL_REQUESTS = 60
# Enough that each of the sidecar's pooled connections (up to 10) runs every statement more than ten
# times: psycopg prepares a statement on its 5th run, PostgreSQL settles on its plan after 5 more.
WARMUP = 200
SYNTHETIC_RUNS = 50_000
ENDPOINTS = {
    "health": "/health",
    "whoami": "/whoami",
    "inbox": "/ops/inbox?limit=20",
    "summary": "/ops/summary",
    "pack_queue": "/api/pack/queue?limit=20",  # the pick list over ~40k labelled orders
    "pack_order": "/api/pack/orders/12",  # one labelled order on the packing bench
    "pack_page": "/console/pack",
    "conversations": "/api/conversations?status=open",
    "conversations_unread": "/api/conversations?status=resolved&unread=true",
    "conversations_search": "/api/conversations?q=question",
    "conversation": "/api/conversations/2",
    # The console (issue 10): JSON routes, then the pages (a GET page accepts the API key too).
    "home_kpis": "/api/kpis/home",
    "orders": "/api/orders",
    "orders_search": "/api/orders?q=ord-1999",
    "order": "/api/orders/4242",
    "products": "/api/products",
    "products_live_ebay": "/api/products?stage=live&channel=ebay",
    "products_search": "/api/products?q=title%204242",
    "product": "/api/products/4242",
    "products_stats": "/api/products/stats/summary",
    "marketplaces": "/api/export/marketplaces",
    "suppliers": "/api/suppliers",
    "page_home": "/console",
    "page_inbox": "/console/inbox",
    "page_orders": "/console/orders",
    "page_order": "/console/orders/4242",
    "page_conversations": "/console/conversations",
    "page_conversation": "/console/conversations/2",
    "page_products": "/console/products",
    "page_product": "/console/products/4242",
    "page_suppliers": "/console/suppliers",
}

# Each statement: (label, SQL). Deterministic spreads (g % n) so every run loads the same world.
LOAD = [
    (
        "suppliers",
        """INSERT INTO retail.suppliers (code, name, adapter)
           SELECT 'supplier_' || g, 'Supplier ' || g, 'generic' FROM generate_series(1, 10) g""",
    ),
    (
        "supplier_products",
        f"""INSERT INTO retail.supplier_products
                (supplier_id, sku, title, price, currency, content_hash, removed_at, first_seen_at, last_seen_at)
            SELECT 1 + g % 10, 'SKU-' || g, 'Product ' || g, 10 + g % 500, 'NZD', md5(g::text),
                   CASE WHEN g % 50 = 0 THEN now() END, now() - interval '200 days', now()
              FROM generate_series(1, {PRODUCTS}) g""",
    ),
    (
        "products",
        """INSERT INTO retail.products (supplier_product_id, sku, status, error, enricher, model, prompt_version,
                input_hash, title, prompt_tokens, completion_tokens, llm_attempts, enriched_at)
           SELECT id, 'RP-' || id,
                  CASE WHEN id % 40 = 0 THEN 'failed' WHEN id % 97 = 0 THEN 'blocked' ELSE 'enriched' END,
                  CASE WHEN id % 40 = 0 OR id % 97 = 0 THEN 'no content' END,
                  'llm', 'gpt-4o-mini', 'v1', md5(id::text), 'Title ' || id, 300, 120, 1,
                  now() - (id % 200) * interval '1 day' - (id % 86400) * interval '1 second'
             FROM retail.supplier_products""",
    ),
    (
        "validation_results",
        """INSERT INTO retail.validation_results (product_id, passed, failed_rules, rules_version, input_hash)
           SELECT id, id % 5 <> 0, CASE WHEN id % 5 = 0 THEN '{no_image}'::text[] ELSE '{}' END, 'r1', 'h'
             FROM retail.products""",
    ),
    (
        "listing_drafts",
        """INSERT INTO retail.listing_drafts (product_id, channel, sku, title, price, currency, status,
                validation_errors, validated_at, updated_at)
           SELECT id, (ARRAY['trademe', 'ebay', 'shopify', 'reverb'])[1 + id % 4], sku, 'Title ' || id, 99, 'NZD',
                  CASE WHEN id % 33 = 0 THEN 'invalid' ELSE 'valid' END,
                  CASE WHEN id % 33 = 0 THEN '[{"rule": "title_length"}]'::jsonb ELSE '[]' END,
                  now(), now() - (id % 1000) * interval '1 minute'
             FROM retail.products WHERE id % 10 < 3""",
    ),
    (
        "channel_listings",
        """INSERT INTO retail.channel_listings (channel, sku, product_id, draft_id, external_listing_id, currency,
                desired_price, actual_price, actual_state)
           SELECT d.channel, d.sku, d.product_id, d.id, d.channel || '-' || d.id, 'NZD', 99, 99,
                  (ARRAY['live', 'live', 'live', 'withdrawn', 'sold', 'ended'])[1 + d.id % 6]
             FROM retail.listing_drafts d WHERE d.status = 'valid' AND d.id % 3 <> 0""",
    ),
    (
        "orders",
        f"""INSERT INTO retail.orders (channel, external_order_id, currency, subtotal, total, placed_at)
            SELECT (ARRAY['bestbuy', 'trademe', 'ebay', 'shopify', 'reverb'])[1 + g % 5], 'ORD-' || g,
                   (ARRAY['CAD', 'NZD', 'USD', 'USD', 'USD'])[1 + g % 5], 40 + g % 300, 45 + g % 300,
                   now() - (g % 200) * interval '1 day' - (g % 7919) * interval '10 seconds'
              FROM generate_series(1, {ORDERS}) g""",
    ),
    (
        # A happy path cut short at 1..5 steps; 1% stop on a failed acceptance, 1% on a failed label.
        "order_status_history",
        """INSERT INTO retail.order_status_history (order_id, status, reason, source, created_at)
           SELECT o.id, s.status,
                  CASE WHEN s.status LIKE '%_failed' THEN 'simulated failure' END, 'benchmark',
                  o.placed_at + s.step * interval '1 hour'
             FROM retail.orders o
            CROSS JOIN LATERAL unnest(
                  CASE WHEN o.id % 100 = 7 THEN ARRAY['pending_acceptance', 'acceptance_failed']
                       WHEN o.id % 100 = 13 THEN ARRAY['pending_acceptance', 'accepted', 'label_failed']
                       ELSE (ARRAY['pending_acceptance', 'accepted', 'label_created', 'shipped',
                                   'delivered'])[1:1 + o.id % 5] END) WITH ORDINALITY AS s(status, step)""",
    ),
    (
        "shipments",
        """INSERT INTO retail.shipments (order_id, status, error)
           SELECT id, 'label_failed', '9111: postal code invalid' FROM retail.orders
            WHERE current_status = 'label_failed'""",
    ),
    (
        # Every labelled order has its label (a PIN) and two lines of catalogue products with a bin.
        "labelled_orders",
        """WITH labelled AS (SELECT id FROM retail.orders WHERE current_status = 'label_created'),
                shipped AS (INSERT INTO retail.shipments (order_id, status, tracking_pin, label_path)
                            SELECT id, 'label_created', '7023' || lpad(id::text, 12, '0'), 'labels/' || id || '.pdf'
                              FROM labelled)
           INSERT INTO retail.order_lines (order_id, external_line_id, sku, title, quantity, unit_price, status)
           SELECT id, id || '-' || n, 'RP-' || (1 + (id * 7 + n) % 900000), 'Title', 1 + n % 2, 25, 'accepted'
             FROM labelled CROSS JOIN generate_series(1, 2) n""",
    ),
    (
        "bins",
        "UPDATE retail.products SET bin_location = 'A-' || lpad((id % 40)::text, 2, '0') || '-' || id % 7"
        " WHERE id % 3 = 0",
    ),
    (
        "conversations",
        """INSERT INTO retail.conversations (channel, external_thread_id, subject, status, last_inbound_at,
                last_outbound_at, order_id)
           SELECT 'bestbuy', 'T-' || g, 'Order question', CASE WHEN g % 2 = 0 THEN 'open' ELSE 'resolved' END,
                  now() - (g % 43200) * interval '1 minute',
                  CASE WHEN g % 10 < 7 THEN now() - (g % 43200) * interval '1 minute' + interval '20 minutes' END,
                  g * 5
             FROM generate_series(1, 20000) g""",
    ),
    (
        "messages",
        """INSERT INTO retail.messages (conversation_id, external_message_id, direction, author_type, body,
                created_at)
           SELECT id, 'M-' || id, 'inbound', 'customer', 'Where is my order? ' || repeat('please ', 20),
                  last_inbound_at
             FROM retail.conversations""",
    ),
    (
        "operator_commands",
        """INSERT INTO retail.operator_commands (command_type, channel, status, error, created_at)
           SELECT 'UPDATE_PRICE', 'trademe',
                  (ARRAY['succeeded', 'succeeded', 'succeeded', 'failed', 'queued'])[1 + g % 5],
                  CASE WHEN g % 5 = 3 THEN 'HTTP 400' END, now() - g * interval '1 minute'
             FROM generate_series(1, 19800) g""",
    ),
    (
        "human_required_commands",
        """INSERT INTO retail.operator_commands (command_type, channel, status, error, created_at)
           SELECT 'PUBLISH_LISTING', 'ebay', 'human_required', 'category needs a person',
                  now() - g * interval '7 minutes'
             FROM generate_series(1, 200) g""",
    ),
    (
        "ops_tasks",
        """INSERT INTO retail.ops_tasks (kind, dedupe_key, status, title, created_at, resolved_at)
           SELECT (ARRAY['listing_adoption', 'scrape_error', 'enrichment_failed', 'publish_failed',
                         'webhook_error'])[1 + g % 5], 'key-' || g,
                  CASE WHEN g % 2 = 0 THEN 'resolved' WHEN g % 7 = 0 THEN 'acknowledged' ELSE 'open' END,
                  'task ' || g, now() - g * interval '1 minute',
                  CASE WHEN g % 2 = 0 THEN now() END
             FROM generate_series(1, 10000) g""",
    ),
]

# Synthetic Dagster history beside the real failed runs, one run a minute (ids rise with time, as Dagster's
# do): enough rows that listing recent failures must not scan them all.
SYNTHETIC_DAGSTER_RUNS = f"""
    INSERT INTO dagster.runs (run_id, pipeline_name, status, run_body, partition, create_timestamp,
                              update_timestamp, start_time, end_time)
    SELECT md5('run' || g)::uuid::text, 'job_' || g % 7, CASE WHEN g % 20 = 0 THEN 'FAILURE' ELSE 'SUCCESS' END,
           '{{}}', 'supplier_' || g % 10, started AT TIME ZONE 'UTC', ended AT TIME ZONE 'UTC',
           extract(epoch FROM started), extract(epoch FROM ended)
      FROM generate_series(1, {SYNTHETIC_RUNS}) g,
           LATERAL (SELECT now() - ({SYNTHETIC_RUNS} - g) * interval '1 minute' AS started) s,
           LATERAL (SELECT started + interval '30 seconds' AS ended) e
"""

TRUTH = """
    SELECT (SELECT count(*) FROM retail.supplier_products) AS supplier_products,
           (SELECT count(*) FROM retail.products) AS products,
           (SELECT count(*) FROM retail.validation_results WHERE passed) AS validation_passed,
           (SELECT count(*) FROM retail.channel_listings) AS listings,
           (SELECT count(*) FROM retail.orders) AS orders,
           (SELECT count(*) FROM retail.order_status_history) AS status_rows,
           (SELECT count(*) FROM retail.operator_commands) AS commands,
           (SELECT count(*) FROM retail.orders WHERE current_status IN ('acceptance_failed', 'label_failed'))
               AS failed_orders,
           (SELECT count(*) FROM retail.listing_drafts WHERE status = 'invalid') AS invalid_drafts,
           (SELECT count(*) FROM retail.ops_tasks WHERE status IN ('open', 'acknowledged')) AS open_tasks,
           (SELECT count(*) FROM retail.operator_commands WHERE status = 'human_required') AS human_required
"""


def _failing_job():
    import dagster as dg

    @dg.op
    def fetch_feed():
        raise RuntimeError("supplier feed answered HTTP 500")

    @dg.job
    def scrape_job():
        fetch_feed()

    return scrape_job


def load(database_url: str, workdir: Path) -> dict:
    timings: dict[str, float] = {}
    with psycopg.connect(libpq_url(database_url), autocommit=True) as conn:
        conn.execute("SET maintenance_work_mem = '256MB'")
        for label, sql in LOAD:
            started = time.perf_counter()
            conn.execute(sql)
            timings[label] = round(time.perf_counter() - started, 2)

    # Dagster's storage in the same database, as in production, with three real failed runs recorded
    # by the run-failure sensor's own function.
    started = time.perf_counter()
    from retail_pipeline.db.urls import app_url
    from retail_pipeline.defs.ops.run_failures import record_run_failure
    from retail_pipeline.runtime import install_dagster_home

    install_dagster_home(workdir / "dagster_home", database_url)
    import dagster as dg
    from sqlalchemy import create_engine

    engine = create_engine(app_url(database_url))
    instance = dg.DagsterInstance.get()
    job = _failing_job()
    for _ in range(3):
        result = job.execute_in_process(instance=instance, raise_on_error=False)
        record_run_failure(
            engine,
            {
                "run_id": result.run_id,
                "job_name": "scrape_job",
                "partition": None,
                "partition_tags": {},
                "error": "Execution of run for \"scrape_job\" failed. Steps failed: ['fetch_feed'].",
                "failed_steps": [
                    {"step_key": "fetch_feed", "error": "RuntimeError: supplier feed answered HTTP 500"}
                ],
                "will_retry": False,
            },
        )
    instance.dispose()
    engine.dispose()
    with psycopg.connect(libpq_url(database_url), autocommit=True) as conn:
        conn.execute(SYNTHETIC_DAGSTER_RUNS)
        timings["dagster_runs"] = round(time.perf_counter() - started, 2)
        started = time.perf_counter()
        conn.execute("VACUUM ANALYZE")
        timings["vacuum_analyze"] = round(time.perf_counter() - started, 2)
        cursor = conn.execute(TRUTH)
        truth = dict(zip([c.name for c in cursor.description], cursor.fetchone(), strict=True))
    return {"seconds": timings, "rows": truth}


def _serve(
    database_url: str, data_dir: str, urls: multiprocessing.Queue, stop: multiprocessing.Event
) -> None:
    from retail_pipeline.api.app import create_app
    from retail_pipeline.settings import Settings
    from retail_pipeline.simulators.serving import serve_in_thread

    settings = Settings(database_url=database_url, retail_data_dir=Path(data_dir), media_signing_key="bench")
    with serve_in_thread(create_app(settings)) as base_url:
        urls.put(base_url)
        stop.wait()


def _stats(latencies: list[float]) -> dict:
    ordered = sorted(latencies)
    pick = lambda q: ordered[min(len(ordered) - 1, int(q * len(ordered)))]  # noqa: E731
    return {
        "requests": len(ordered),
        "p50_ms": round(statistics.median(ordered), 2),
        "p95_ms": round(pick(0.95), 2),
        "p99_ms": round(pick(0.99), 2),
        "max_ms": round(ordered[-1], 2),
    }


class _KeepAlive:
    """One keep-alive HTTP/1.1 connection speaking just enough HTTP for GETs with Content-Length bodies.

    The load generator shares the sidecar's two cores, so it must cost little: httpx's AsyncClient
    spends ~1.5 ms of CPU a request here, which the sidecar would then be measured as waiting for.
    """

    def __init__(self, base_url: str, headers: dict[str, str]):
        url = httpx.URL(base_url)
        self.host, self.port = url.host, url.port
        self.header_lines = "".join(f"{k}: {v}\r\n" for k, v in headers.items())

    async def __aenter__(self) -> _KeepAlive:
        self.reader, self.writer = await asyncio.open_connection(self.host, self.port)
        return self

    async def __aexit__(self, *exc) -> None:
        self.writer.close()

    async def get(self, path: str) -> tuple[int, bytes]:
        request = f"GET {path} HTTP/1.1\r\nHost: {self.host}\r\n{self.header_lines}\r\n"
        self.writer.write(request.encode())
        head = await self.reader.readuntil(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        status = int(lines[0].split(" ", 2)[1])
        fields = {
            k.strip().lower(): v.strip() for k, _, v in (line.partition(":") for line in lines[1:] if line)
        }
        if "content-length" not in fields:
            raise RuntimeError(f"{path}: no Content-Length in the answer ({fields})")
        return status, await self.reader.readexactly(int(fields["content-length"]))


async def _hammer(
    base_url: str, path: str, headers: dict, clients: int, per_client: int
) -> tuple[dict, float]:
    """`clients` connections, each sending its requests back to back (a closed loop)."""
    latencies: list[float] = []

    async def one_client(requests: int) -> None:
        async with _KeepAlive(base_url, headers) as connection:
            for _ in range(requests):
                started = time.perf_counter()
                status, body = await connection.get(path)
                latencies.append((time.perf_counter() - started) * 1000)
                if status != 200:
                    raise RuntimeError(f"{path}: HTTP {status} {body[:300]!r}")

    # Warm: connections open, the sidecar's pool full, psycopg's statements prepared on each connection.
    await asyncio.gather(*(one_client(WARMUP // clients) for _ in range(clients)))
    latencies.clear()
    started = time.perf_counter()
    await asyncio.gather(*(one_client(per_client) for _ in range(clients)))
    elapsed = time.perf_counter() - started
    return _stats(latencies), round(len(latencies) / elapsed, 1)


def check_exact(base_url: str, headers: dict, truth: dict) -> dict:
    inbox = httpx.get(f"{base_url}/ops/inbox", headers=headers, timeout=30).json()
    summary = httpx.get(f"{base_url}/ops/summary", headers=headers, timeout=30).json()
    vault = summary["product_vault"]
    checks = {
        "supplier_products": vault["supplier_products"] == truth["supplier_products"],
        "products": vault["products"]["total"] == truth["products"],
        "validation_passed": vault["validation"]["passed"] == truth["validation_passed"],
        "listings": summary["listings"]["total"] == truth["listings"],
        "orders": summary["orders"]["total"] == truth["orders"],
        "commands": summary["commands"]["total"] == truth["commands"],
        "failed_orders": inbox["failed_orders"]["count"] == truth["failed_orders"],
        "invalid_drafts": inbox["invalid_drafts"]["count"] == truth["invalid_drafts"],
        "open_tasks": inbox["open_tasks"]["count"] == truth["open_tasks"],
        "human_required": inbox["commands_human_required"]["count"] == truth["human_required"],
        "failed_runs_seen": inbox["failed_runs"]["count"] > 3,
    }
    if not all(checks.values()):
        raise AssertionError(f"inbox/summary disagree with count(*): {checks}")
    return {
        "exact": True,
        "inbox_counts": {k: v["count"] for k, v in inbox.items() if isinstance(v, dict) and "count" in v},
        "inbox_bytes": len(json.dumps(inbox)),
        "sales_today": summary["sales_today"],
    }


def main() -> None:
    workdir = Path(tempfile.mkdtemp(prefix="rp-bench-ops-"))
    workdir.chmod(0o755)  # run as root, the embedded server drops to its own user
    external = os.environ.get("DATABASE_URL")
    if external:
        server = external
    else:
        server = embedded.start(workdir / "pg", keep_running=False)
        relax_durability(server)  # a throwaway server: no fsync
    name = f"bench_ops_{os.getpid()}"
    create_database(server, name)
    database_url = with_database(server, name)
    context = multiprocessing.get_context("spawn")
    urls, stop = context.Queue(), context.Event()
    sidecar = None
    started = time.perf_counter()
    try:
        migrations.migrate(database_url, PROJECT_ROOT / "sql")
        loaded = load(database_url, workdir)
        print(json.dumps({"load": loaded}), flush=True)

        sidecar = context.Process(
            target=_serve, args=(database_url, str(workdir / "var"), urls, stop), daemon=True
        )
        sidecar.start()
        base_url = urls.get(timeout=120)
        from retail_pipeline.api.keys import create_api_key
        from retail_pipeline.db.engine import get_engine

        headers = {"X-API-Key": create_api_key(get_engine(database_url), "operator", "benchmark")}
        print(json.dumps({"exactness": check_exact(base_url, headers, loaded["rows"])}), flush=True)

        results: dict[str, dict] = {}
        for label, path in ENDPOINTS.items():
            serial, _ = asyncio.run(_hammer(base_url, path, headers, 1, SERIAL_REQUESTS))
            concurrent, rps = asyncio.run(_hammer(base_url, path, headers, CLIENTS, REQUESTS_PER_CLIENT))
            results[label] = {
                "serial": serial,
                f"concurrent_{CLIENTS}": concurrent,
                "requests_per_second": rps,
            }
            print(json.dumps({label: results[label]}), flush=True)
    finally:
        stop.set()
        if sidecar is not None:
            sidecar.join(timeout=15)
        drop_database(server, name)
        shutil.rmtree(workdir, ignore_errors=True)

    print(
        json.dumps(
            {
                "benchmark": "ops_api",
                "products": PRODUCTS,
                "orders": ORDERS,
                "clients": CLIENTS,
                "p95_ms": {label: r[f"concurrent_{CLIENTS}"]["p95_ms"] for label, r in results.items()},
                "p50_ms": {label: r[f"concurrent_{CLIENTS}"]["p50_ms"] for label, r in results.items()},
                "serial_p50_ms": {label: r["serial"]["p50_ms"] for label, r in results.items()},
                "baseline": "health",
                "p95_ratio_vs_health": {
                    label: round(
                        r[f"concurrent_{CLIENTS}"]["p95_ms"]
                        / results["health"][f"concurrent_{CLIENTS}"]["p95_ms"],
                        2,
                    )
                    for label, r in results.items()
                },
                "total_seconds": round(time.perf_counter() - started, 1),
            }
        )
    )


if __name__ == "__main__":
    main()

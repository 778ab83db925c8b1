"""A realistic fortnight for the console's Home, Inbox and Orders pages (and their screenshots): orders
on five channels with customers, lines, status histories and shipments, live listings, enriched products
with LLM tokens, open tasks of several kinds, a command that needs a person and waiting messages."""

from __future__ import annotations

import hashlib
import json
import random
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

from sqlalchemy import Engine, text

from retail_pipeline.db.ops_tasks import open_task
from retail_pipeline_tests.seeds.ops import add_conversation

CHANNELS = {"bestbuy": "CAD", "reverb": "USD", "trademe": "NZD", "ebay": "USD", "shopify": "NZD"}
PRODUCTS = [
    ("Sony WH-1000XM5 Wireless Headphones", "199.00"),
    ("Boss DS-1 Distortion Pedal", "69.00"),
    ("Fender Player Stratocaster, Sunburst", "1149.00"),
    ("Audio-Technica AT-LP60X Turntable", "229.00"),
    ("Shure SM58 Vocal Microphone", "139.00"),
    ("Ernie Ball Regular Slinky Strings 3-pack", "24.50"),
    ("Yamaha HS5 Studio Monitor", "249.00"),
    ("Focusrite Scarlett 2i2 (4th Gen)", "259.00"),
    ("Dunlop Cry Baby Wah GCB95", "119.00"),
    ("Korg TM-60 Tuner Metronome", "39.90"),
]
NAMES = [
    "Aroha Ngata", "Liam Chen", "Sophie Tremblay", "Mateo García", "Priya Patel", "Oliver Smith",
    "Emma Wilson", "Noah Martin", "Chloé Roy", "Hemi Walker", "Isla Brown", "Lucas Gagnon",
]  # fmt: skip
CITIES = [
    ("Toronto", "ON", "M5H 2N2", "CA"),
    ("Auckland", "AKL", "1010", "NZ"),
    ("Austin", "TX", "78701", "US"),
]
LABEL_PDF = b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\n% Canada Post label\n%%EOF\n"


def seed_console_ops(
    engine: Engine, data_dir: Path, *, now: datetime | None = None, orders: int = 180
) -> dict:
    """Writes the fortnight; returns a few ids the tests look at."""
    now = now or datetime.now(UTC)
    rng = random.Random(10)
    ids: dict = {"orders": []}
    with engine.begin() as conn:
        supplier = conn.scalar(
            text(
                "INSERT INTO retail.suppliers (code, name, adapter) VALUES ('onecheq', 'OneCheq', 'generic') RETURNING id"
            )
        )
        product_ids = []
        for n, (title, price) in enumerate(PRODUCTS * 4):
            sku = f"RP-{1000 + n}"
            sp = conn.scalar(
                text(
                    "INSERT INTO retail.supplier_products (supplier_id, sku, title, price, currency, content_hash)"
                    " VALUES (:s, :sku, :title, :price, 'NZD', 'h') RETURNING id"
                ),
                {"s": supplier, "sku": sku, "title": title, "price": price},
            )
            enriched_at = now - timedelta(days=rng.uniform(0, 13.5))
            product_ids.append(
                conn.scalar(
                    text(
                        "INSERT INTO retail.products (supplier_product_id, sku, enricher, model, prompt_version,"
                        " input_hash, title, prompt_tokens, completion_tokens, llm_attempts, enriched_at)"
                        " VALUES (:sp, :sku, 'llm', 'gpt-4o-mini', 'v3', :h, :title, :pt, :ct, :a, :at) RETURNING id"
                    ),
                    {
                        "sp": sp,
                        "sku": sku,
                        "h": sku,
                        "title": title[:80],
                        "pt": rng.randint(900, 2400),
                        "ct": rng.randint(250, 700),
                        "a": rng.choice([1, 1, 1, 2]),
                        "at": enriched_at,
                    },
                )  # fmt: skip
            )
        for channel, currency in CHANNELS.items():
            for product_id in rng.sample(product_ids, rng.randint(12, 34)):
                conn.execute(
                    text(
                        "INSERT INTO retail.channel_listings (channel, sku, product_id, external_listing_id,"
                        " currency, desired_price, actual_state) VALUES (:c, :sku, :p, :ext, :cur, 99, 'live')"
                    ),
                    {
                        "c": channel,
                        "p": product_id,
                        "sku": f"RP-L{product_id}",
                        "ext": f"{channel}-{product_id}",
                        "cur": currency,
                    },
                )

        label_dir = data_dir / "labels" / str(now.year)
        label_dir.mkdir(parents=True, exist_ok=True)
        for n in range(orders):
            channel = rng.choices(list(CHANNELS), weights=[5, 3, 4, 3, 2])[0]
            age_days = rng.triangular(0, 13.9, 0)  # busier lately
            placed_at = now - timedelta(days=age_days, minutes=rng.randint(0, 50))
            name = rng.choice(NAMES)
            city, state, zip_code, country = rng.choice(CITIES)
            customer = conn.scalar(
                text(
                    "INSERT INTO retail.customers (channel, external_customer_id, name, email)"
                    " VALUES (:c, :x, :name, :email) RETURNING id"
                ),
                {"c": channel, "x": f"C{n}", "name": name,
                 "email": name.lower().replace(" ", ".").replace("é", "e").replace("í", "i") + "@example.com"},
            )  # fmt: skip
            prefix = {"bestbuy": "BB", "reverb": "RV", "trademe": "TM", "ebay": "EB", "shopify": "SH"}[
                channel
            ]
            external = f"{prefix}-{24000 + n * 7}"
            picks = rng.sample(PRODUCTS, rng.choice([1, 1, 1, 2, 3]))
            lines = [
                (f"RP-{1000 + PRODUCTS.index(p)}", p[0], rng.choice([1, 1, 2]), Decimal(p[1])) for p in picks
            ]
            total = sum((price * qty for _, _, qty, price in lines), Decimal(0))
            order_id = conn.scalar(
                text(
                    "INSERT INTO retail.orders (channel, external_order_id, customer_id, currency, subtotal, total,"
                    " shipping_address, placed_at, shipping_deadline)"
                    " VALUES (:c, :x, :cust, :cur, :t, :t, CAST(:addr AS jsonb), :at, :at + interval '3 days')"
                    " RETURNING id"
                ),
                {"c": channel, "x": external, "cust": customer, "cur": CHANNELS[channel], "t": total,
                 "addr": json.dumps({"name": name, "street_1": f"{rng.randint(1, 400)} Queen Street",
                                     "city": city, "state": state, "zip_code": zip_code,
                                     "country_iso_code": country}),
                 "at": placed_at},
            )  # fmt: skip
            ids["orders"].append(order_id)
            for i, (sku, title, qty, price) in enumerate(lines):
                conn.execute(
                    text(
                        "INSERT INTO retail.order_lines (order_id, external_line_id, sku, title, quantity,"
                        " unit_price, status) VALUES (:o, :l, :sku, :title, :q, :p, 'accepted')"
                    ),
                    {"o": order_id, "l": f"{external}-{i}", "sku": sku, "title": title, "q": qty, "p": price},
                )
            # How far it got: old orders shipped, recent ones still in the pipeline, a few failed.
            hours_to_ship = rng.lognormvariate(3.2, 0.5)  # median ~ a day
            roll = rng.random()
            if age_days * 24 > hours_to_ship + 2 and roll < 0.93:
                path = ["pending_acceptance", "accepted", "label_created", "shipped"]
            elif roll < 0.96:
                path = ["pending_acceptance", "accepted", "label_created"]
            elif roll < 0.98:
                path = ["pending_acceptance", ("acceptance_failed", "Mirakl OR21: offer out of stock")]
            else:
                path = ["pending_acceptance"]
            steps = [placed_at + timedelta(minutes=3), placed_at + timedelta(minutes=12),
                     placed_at + timedelta(hours=min(hours_to_ship * 0.4, age_days * 24 * 0.5)),
                     placed_at + timedelta(hours=hours_to_ship)]  # fmt: skip
            for step, at in zip(path, steps, strict=False):
                status, reason = (step, None) if isinstance(step, str) else step
                conn.execute(
                    text(
                        "INSERT INTO retail.order_status_history (order_id, status, reason, source, created_at)"
                        " VALUES (:o, :s, :r, :src, :at)"
                    ),
                    {"o": order_id, "s": status, "r": reason, "at": at,
                     "src": {"pending_acceptance": "marketplace_orders", "accepted": "order_acceptance",
                             "acceptance_failed": "order_acceptance", "label_created": "shipping_labels",
                             "shipped": "tracking_updates"}[status]},
                )  # fmt: skip
            if "label_created" in path:
                digest = hashlib.sha256(external.encode()).hexdigest()
                label_path = f"labels/{now.year}/{digest}.pdf"
                (data_dir / label_path).write_bytes(LABEL_PDF)
                shipped = "shipped" in path
                conn.execute(
                    text(
                        "INSERT INTO retail.shipments (order_id, carrier, service_code, status, remote_shipment_id,"
                        " tracking_pin, label_path, label_sha256, weight_grams, label_created_at, shipped_at)"
                        " VALUES (:o, 'canada_post', 'DOM.EP', :st, :rid, :pin, :path, :sha, :w, :lc, :sh)"
                    ),
                    {"o": order_id, "st": "shipped" if shipped else "label_created", "rid": f"CP{order_id:08d}",
                     "pin": f"70232100{order_id:08d}", "path": label_path, "sha": digest,
                     "w": rng.randint(300, 4200), "lc": steps[2], "sh": steps[3] if shipped else None},
                )  # fmt: skip
                ids.setdefault("shipped_order" if shipped else "labelled_order", order_id)
            if path[-1] != "shipped" and not isinstance(path[-1], str):
                ids.setdefault("failed_order", order_id)

        # The inbox: tasks of several kinds and severities, a command that needs a person.
        tasks = [
            ("run_failure", "3f9c2a1e-5b7d-4c2e-9a61-0d4e8b7f1a23", "critical",
             "Run shipping_labels failed: CarrierError 503 from Canada Post after 5 attempts", None,
             {"run_id": "3f9c2a1e-5b7d-4c2e-9a61-0d4e8b7f1a23"}),
            ("label_failed", "order:label:1", "error", "Label refused for BB-24007: postal code M5H 2N does not match the city",
             "bestbuy", {}),
            ("acceptance_failed", "order:accept:2", "error", "Best Buy refused acceptance of BB-24014: offer out of stock",
             "bestbuy", {}),
            ("listing_adoption", "trademe:4471920331", "warning",
             "Trade Me lists 4471920331 (RP-1042) that we never published", "trademe", {}),
            ("scrape_error", "cashconverters:timeout", "warning",
             "Cash Converters: 14 product pages timed out after 3 tries", None, {}),
            ("enrichment_failed", "product:RP-1031", "info", "RP-1031: the LLM answer failed the schema twice",
             None, {}),
            ("message_waiting", "bestbuy:thread:88", "warning", "Buyer waiting 3 h on Best Buy thread 88: \u201cWhere is my order?\u201d",
             "bestbuy", {}),
        ]  # fmt: skip
        ids["tasks"] = {}
        for kind, key, severity, title, channel, extra in tasks:
            ids["tasks"][kind] = open_task(
                conn, kind=kind, key=key, title=title, severity=severity, channel=channel,
                details={"error": title, **extra}, run_id=extra.get("run_id"),
            )  # fmt: skip
        conn.execute(
            text("UPDATE retail.ops_tasks SET created_at = now() - (id % 7) * interval '95 minutes'")
        )
        draft = conn.scalar(
            text(
                "INSERT INTO retail.listing_drafts (product_id, channel, sku, title, price, currency, status,"
                " validated_at) VALUES (:p, 'trademe', 'RP-1003', 'Fender Player Stratocaster', 1149, 'NZD',"
                " 'valid', now()) RETURNING id"
            ),
            {"p": product_ids[3]},
        )
        command = conn.scalar(
            text(
                "INSERT INTO retail.operator_commands (command_type, channel, payload, status, error, attempts,"
                " requested_by, started_at, finished_at)"
                " VALUES ('PUBLISH_LISTING', 'trademe', CAST(:payload AS jsonb), 'human_required',"
                " 'trademe refused RP-1003: category 0001-0350 needs the attribute Body shape', 1, 'api_key:rp_ops',"
                " now() - interval '2 hours', now() - interval '2 hours') RETURNING id"
            ),
            {"payload": json.dumps({"draft_id": draft})},
        )
        ids["command"] = command
        for thread, hours, body in [
            ("BB-T-88", 3.2, "Hi, where is my order BB-24007? It was supposed to ship yesterday."),
            ("BB-T-91", 1.4, "Can you confirm the Stratocaster comes with a gig bag?"),
        ]:
            add_conversation(conn, thread, inbound_at=now - timedelta(hours=hours), body=body)
        ids["tasks"]["command_human_required"] = open_task(
            conn, kind="command_human_required", key=f"command:{command}", severity="error",
            title=f"PUBLISH_LISTING (command {command}) needs a person: trademe refused RP-1003",
            channel="trademe", entity_type="operator_command", entity_id=command,
            details={"error": "category needs the attribute Body shape"},
        )  # fmt: skip
    return ids

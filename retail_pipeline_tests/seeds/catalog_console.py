"""A catalogue for the products and suppliers pages: products at every stage, one whose supplier text
carries markup, LaunchLock failures with their rules, a failed enrichment, and price history."""

from __future__ import annotations

import json
from decimal import Decimal

from sqlalchemy import Engine, text

from retail_pipeline.defs.listings.drafts import build_drafts
from retail_pipeline_tests.seeds.listed_products import PRODUCTS, seed_products
from retail_pipeline_tests.simulated_channels import CHANNELS

XSS_TITLE = "<script>alert(1)</script><img src=x onerror=alert(2)>"
XSS_PRODUCT = ("RP-6666", XSS_TITLE, "Headphones", "59.00", 4, "Acme", "AC-1", 1)

# sku, title, failed rules (rule -> message); None = enrichment failed
BLOCKED = [
    ("NL-201", "Samsung 65in QLED TV", {"price_missing": "the supplier page shows no price"}),
    ("NL-202", "Dyson V15 Detect", {"images_missing": "no image downloaded", "price_missing": "no price"}),
    ("NL-203", "Breville Barista Express", {"images_missing": "no image downloaded"}),
    ("NL-204", "Apple AirPods Pro (2nd gen)", {"title_too_short": "title under 20 characters"}),
    ("NL-205", "", None),
]


def _supplier(conn, code: str, name: str) -> int:
    return conn.scalar(
        text(
            """INSERT INTO retail.suppliers (code, name, adapter, base_url) VALUES (:c, :n, 'jsonld', :u)
               ON CONFLICT (code) DO UPDATE SET name = EXCLUDED.name RETURNING id"""
        ),
        {"c": code, "n": name, "u": f"https://{code}.example"},
    )


def seed_catalogue(engine: Engine, media_dir) -> dict[str, int]:
    """Drafted products (testsup), the markup product, and a second supplier with blockers; sku -> id."""
    ids = seed_products(engine, media_dir, [*PRODUCTS, XSS_PRODUCT])
    with engine.begin() as conn:
        conn.execute(
            text("UPDATE retail.supplier_products SET url = 'javascript:alert(3)' WHERE sku = 'RP-6666'")
        )
        # Quality scores as the enrichment asset leaves them.
        conn.execute(
            text(
                """UPDATE retail.products p SET quality_score = 62 + (p.id * 7) % 31
                     FROM retail.supplier_products sp JOIN retail.suppliers s ON s.id = sp.supplier_id
                    WHERE sp.id = p.supplier_product_id AND s.code = 'testsup'"""
            )
        )
        blocked_id = _supplier(conn, "cashconverters", "Cash Converters")
        conn.execute(
            text(
                """UPDATE retail.suppliers SET enrichment_blocked = true,
                          enrichment_blocked_reason = 'terms forbid reuse of listing text (seed 002)' WHERE id = :id"""
            ),
            {"id": blocked_id},
        )
        for n, title in enumerate(["Makita 18V drill kit", "PS5 console, 2 controllers", "Gold ring 9ct"]):
            sp = conn.scalar(
                text(
                    """INSERT INTO retail.supplier_products (supplier_id, sku, title, price, currency, condition,
                              content_hash) VALUES (:s, :sku, :t, :price, 'NZD', 'used', 'h') RETURNING id"""
                ),
                {"s": blocked_id, "sku": f"CC-{n}", "t": title, "price": 80 + 45 * n},
            )
            pid = conn.scalar(
                text(
                    """INSERT INTO retail.products (supplier_product_id, sku, status, error, enricher, prompt_version,
                              input_hash, title, description, quality_score)
                       VALUES (:sp, :sku, 'blocked', 'terms forbid reuse of listing text (seed 002)', 'offline',
                               'store-1', 'h', :t, :t, 38) RETURNING id"""
                ),
                {"sp": sp, "sku": f"cashconverters-CC-{n}", "t": title},
            )
            rules = {"description_too_short": "under 200 visible characters", "images_missing": "no image"}
            conn.execute(
                text(
                    """INSERT INTO retail.validation_results (product_id, passed, failed_rules, details,
                              rules_version, input_hash)
                       VALUES (:p, false, :rules, CAST(:details AS jsonb), 'launchlock-3', 'h')"""
                ),
                {"p": pid, "rules": list(rules)[: 1 + n % 2], "details": json.dumps(rules)},
            )
            ids[f"CC-{n}"] = pid
        supplier_id = _supplier(conn, "noelleeming", "Noel Leeming")
        for sku, title, rules in BLOCKED:
            sp = conn.scalar(
                text(
                    """INSERT INTO retail.supplier_products (supplier_id, sku, title, price, currency, content_hash)
                       VALUES (:s, :sku, nullif(:t, ''), 100, 'NZD', 'h') RETURNING id"""
                ),
                {"s": supplier_id, "sku": sku, "t": title},
            )
            if rules is None:
                conn.execute(
                    text(
                        """INSERT INTO retail.products (supplier_product_id, sku, status, error, enricher,
                                  prompt_version, input_hash)
                           VALUES (:sp, :sku, 'failed', 'nothing to enrich: the supplier gives no title or description',
                                   'offline', 'v1', 'h')"""
                    ),
                    {"sp": sp, "sku": f"noelleeming-{sku}"},
                )
                continue
            pid = conn.scalar(
                text(
                    """INSERT INTO retail.products (supplier_product_id, sku, enricher, prompt_version, input_hash,
                              title, description, quality_score)
                       VALUES (:sp, :sku, 'offline', 'v1', 'h', :t, :t, 41.5) RETURNING id"""
                ),
                {"sp": sp, "sku": f"noelleeming-{sku}", "t": title},
            )
            conn.execute(
                text(
                    """INSERT INTO retail.validation_results (product_id, passed, failed_rules, details,
                              rules_version, input_hash)
                       VALUES (:p, false, :rules, CAST(:details AS jsonb), 'launchlock-3', 'h')"""
                ),
                {"p": pid, "rules": list(rules), "details": json.dumps(rules)},
            )
            ids[sku] = pid
        for channel in CHANNELS:
            build_drafts(conn, channel)
    return ids


def add_price_history(engine: Engine, product_id: int, prices: list[str]) -> None:
    """Reprices on each of the product's listings (oldest first), as the repricer would record them."""
    with engine.begin() as conn:
        listings = conn.execute(
            text("SELECT id, currency, actual_price FROM retail.channel_listings WHERE product_id = :p"),
            {"p": product_id},
        ).all()
        for n, listing in enumerate(listings):
            old = listing.actual_price
            for k, price in enumerate(prices):
                new = Decimal(price) + n * 7
                conn.execute(
                    text(
                        """INSERT INTO retail.price_history (channel_listing_id, old_price, new_price, currency,
                                  source, reason, created_at)
                           VALUES (:l, :old, :new, :c, 'reprice', 'competitor price', now() - make_interval(days => :d))"""
                    ),
                    {"l": listing.id, "old": old, "new": new, "c": listing.currency, "d": len(prices) - k},
                )
                old = new

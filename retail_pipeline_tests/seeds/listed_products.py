"""Products ready to list: a supplier, its products, enriched products with passed LaunchLock verdicts,
and their photos stored under the media dir (plain SQL, as the pipeline leaves them)."""

from __future__ import annotations

import hashlib
import io
import json

from PIL import Image
from sqlalchemy import Engine, text

from retail_pipeline_tests.seeds.fx import seed_fx_rates


def signed(rel_path: str) -> str:
    return f"http://127.0.0.1:8000/media/{rel_path}?expires=9999999999&token=t"


def jpeg(colour: tuple[int, int, int]) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (600, 600), colour).save(buffer, "JPEG")
    return buffer.getvalue()


PRODUCTS = [
    # sku, title, category, cost, stock, brand, mpn, photos
    (
        "RP-1001",
        "Sony WH-1000XM5 Wireless Noise Cancelling Headphones",
        "Headphones",
        "399.00",
        3,
        "Sony",
        "WH1000XM5",
        2,
    ),
    (
        "RP-1002",
        "Fender Player Stratocaster Electric Guitar, 3-Colour Sunburst",
        "Guitars",
        "1150.00",
        1,
        "Fender",
        "0144502500",
        1,
    ),
    ("RP-1003", "Lenovo ThinkPad X1 Carbon Gen 11 14in Laptop", "Laptops", "2100.00", 2, "Lenovo", "21HM", 2),
]


def seed_products(engine: Engine, media_dir, products=PRODUCTS) -> dict[str, int]:
    """Supplier, supplier products, enriched products, passed LaunchLock verdicts, stored photos."""
    ids: dict[str, int] = {}
    with engine.begin() as conn:
        supplier_id = conn.scalar(
            text(
                """INSERT INTO retail.suppliers (code, name, adapter) VALUES ('testsup', 'Test supplier', 'generic')
                   ON CONFLICT (code) DO UPDATE SET name = EXCLUDED.name RETURNING id"""
            )
        )
        for n, (sku, title, category, cost, stock, brand, mpn, photo_count) in enumerate(products):
            sp_id = conn.scalar(
                text(
                    """INSERT INTO retail.supplier_products
                           (supplier_id, sku, title, description, brand, mpn, price, currency, stock_quantity,
                            availability, condition, content_hash)
                       VALUES (:s, :sku, :title, :title, :brand, :mpn, :cost, 'NZD', :stock, 'in_stock', 'new', 'h')
                       RETURNING id"""
                ),
                {
                    "s": supplier_id,
                    "sku": sku,
                    "title": title,
                    "brand": brand,
                    "mpn": mpn,
                    "cost": cost,
                    "stock": stock,
                },
            )
            product_id = conn.scalar(
                text(
                    """INSERT INTO retail.products
                           (supplier_product_id, sku, enricher, prompt_version, input_hash, title, description,
                            category, condition, attributes, keywords, stock_quantity)
                       VALUES (:sp, :sku, 'offline', 'v1', 'h', :title, :desc, :category, 'new',
                               CAST(:attrs AS jsonb), ARRAY['audio','gear'], :stock)
                       RETURNING id"""
                ),
                {"sp": sp_id, "sku": sku, "title": title, "desc": f"{title}.\n\nBrand new, NZ stock.",
                 "category": category, "attrs": json.dumps({"colour": "Black"}), "stock": stock},
            )  # fmt: skip
            conn.execute(
                text(
                    """INSERT INTO retail.validation_results (product_id, passed, rules_version, input_hash)
                       VALUES (:p, true, 'test', 'h')"""
                ),
                {"p": product_id},
            )
            for k in range(photo_count):
                data = jpeg((40 * n % 255, 30 * k % 255, 120))
                digest = hashlib.sha256(data).hexdigest()
                rel = f"test/{digest}.jpg"
                (media_dir / "test").mkdir(parents=True, exist_ok=True)
                (media_dir / rel).write_bytes(data)
                asset_id = conn.scalar(
                    text(
                        """INSERT INTO retail.media_assets (sha256, rel_path, content_type, bytes, width, height)
                           VALUES (:d, :r, 'image/jpeg', :b, 600, 600)
                           ON CONFLICT (sha256) DO UPDATE SET bytes = EXCLUDED.bytes RETURNING id"""
                    ),
                    {"d": digest, "r": rel, "b": len(data)},
                )
                conn.execute(
                    text(
                        """INSERT INTO retail.supplier_product_images
                               (supplier_product_id, source_url, position, media_asset_id)
                           VALUES (:sp, :u, :pos, :a)"""
                    ),
                    {"sp": sp_id, "u": f"https://supplier.example/{sku}/{k}.jpg", "pos": k, "a": asset_id},
                )
            ids[sku] = product_id
        seed_fx_rates(conn)  # the `fx_rates` asset's rows: eBay prices in USD from NZD costs
    return ids


# sku, title, category, cost, stock, brand, mpn, photos (the order tests' products: one photo each)
ORDERABLE_PRODUCTS = [
    ("RP-2001", "Sony WH-1000XM5 Wireless Noise Cancelling Headphones", "Headphones", "399.00", 2, "Sony",
     "WH1000XM5", 1),
    ("RP-2002", "Fender Player Stratocaster Electric Guitar, 3-Colour Sunburst", "Guitars", "1150.00", 1,
     "Fender", "0144502500", 1),
    ("RP-2003", "Lenovo ThinkPad X1 Carbon Gen 11 14in Laptop", "Laptops", "2100.00", 3, "Lenovo", "21HM", 1),
]  # fmt: skip

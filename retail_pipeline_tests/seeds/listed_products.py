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


def seed_products(engine: Engine, media_dir, products=PRODUCTS, *, categories: bool = True) -> dict[str, int]:
    """Supplier, supplier products, enriched products, passed LaunchLock verdicts, stored photos, and
    (`categories`) each product's category on the channels with a taxonomy, as if chosen."""
    ids: dict[str, int] = {}
    with engine.begin() as conn:
        supplier_id = conn.scalar(
            text(
                """INSERT INTO retail.suppliers (code, name, adapter) VALUES ('testsup', 'Test supplier', 'generic')
                   ON CONFLICT (code) DO UPDATE SET name = EXCLUDED.name RETURNING id"""
            )
        )
        for n, row in enumerate(products):
            sku, title, category, cost, stock, brand, mpn, photo_count = row[:8]
            attributes = row[8] if len(row) > 8 else {"colour": "Black"}  # an optional ninth: attributes
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
                 "category": category, "attrs": json.dumps(attributes), "stock": stock},
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
    if categories:
        seed_channel_categories(engine, ids, products)
    return ids


# sku, title, category, cost, stock, brand, mpn, photos (the order tests' products: one photo each)
ORDERABLE_PRODUCTS = [
    ("RP-2001", "Sony WH-1000XM5 Wireless Noise Cancelling Headphones", "Headphones", "399.00", 2, "Sony",
     "WH1000XM5", 1),
    ("RP-2002", "Fender Player Stratocaster Electric Guitar, 3-Colour Sunburst", "Guitars", "1150.00", 1,
     "Fender", "0144502500", 1),
    ("RP-2003", "Lenovo ThinkPad X1 Carbon Gen 11 14in Laptop", "Laptops", "2100.00", 3, "Lenovo", "21HM", 1),
]  # fmt: skip


def seed_channel_categories(
    engine: Engine, product_ids: dict[str, int], products=PRODUCTS, channels: tuple[str, ...] | None = None
) -> None:
    """Each product's category on `channels` (default: the channels the seeds list on, whose drafts need
    no category choice first), as `channel_categories` leaves a choice."""
    from retail_pipeline_tests.simulated_channels import CHANNELS

    items = [(product_ids[row[0]], row[1], row[2], row[5], row[6]) for row in products]
    with engine.begin() as conn:
        seed_categories(conn, items, CHANNELS if channels is None else channels)


def ean13(n: int, prefix: str = "94210") -> str:
    """A valid EAN-13 (check digit included) for the number `n`: Kaufland lists by EAN, and each
    product's data is per EAN, so every seeded product needs its own."""
    body = f"{prefix}{n:07d}"[:12]
    total = sum(int(d) * (3 if i % 2 else 1) for i, d in enumerate(body))
    return body + str((10 - total % 10) % 10)


def _category_id(channel: str, leaf) -> str | None:
    """The leaf's id in `channel`'s own scheme, as its simulator serves it (None: no taxonomy known)."""
    if channel == "ebay":
        from retail_pipeline.simulators.ebay import taxonomy as ebay_taxonomy

        return ebay_taxonomy.ids()[leaf.key]
    if channel == "trademe":
        from retail_pipeline.simulators.trademe import taxonomy as trademe_taxonomy

        return str(trademe_taxonomy.segments()[leaf.key])
    if channel == "reverb":
        from retail_pipeline.simulators.reverb import taxonomy as reverb_taxonomy

        return reverb_taxonomy.category_uuid(leaf.key)
    if channel == "amazon":  # a product type: UPPER_SNAKE of the leaf's name
        from retail_pipeline.simulators.amazon import product_types

        return product_types.name_of(leaf)
    if channel == "kaufland":  # Kaufland's numeric category id
        return str(leaf.number())
    return None


def _attribute_name(channel: str, aspect) -> str:
    """The name `channel`'s listing takes the aspect under (its attribute schema's property)."""
    if channel == "trademe":
        from retail_pipeline.simulators.trademe import taxonomy as trademe_taxonomy

        return trademe_taxonomy.attribute_name(aspect.name)
    if channel == "amazon":
        from retail_pipeline.simulators.amazon import product_types

        return product_types.attribute_name(aspect)
    if channel == "kaufland":
        from retail_pipeline.simulators.kaufland.models import attribute_name

        return attribute_name(aspect.name)
    return aspect.name


def seed_categories(conn, items, channels: tuple[str, ...] | None = None) -> None:
    """For (product id, title, our category, brand, mpn) items: a chosen category on each of `channels`
    (default: every listing channel) with a taxonomy (chosen automatically, required attributes filled),
    in the simulators' own ids: the leaf the shared tree ranks first for the title; on a channel whose
    tree lacks it (Reverb: musical gear only) the nearest it has, so fixtures that list everything
    everywhere still can (benchmarks too). Amazon gets the leaf's product type and Kaufland its category
    number, each with the required attributes under its own names (drafts still need what else the
    channel takes: Kaufland a GTIN on the supplier product, prices in the channel's currency)."""
    from retail_pipeline.channels.registry import all_channels
    from retail_pipeline.simulators import taxonomy_data
    from retail_pipeline.simulators.reverb import taxonomy as reverb_taxonomy

    reverb_leaves = tuple(n for n, _, root in reverb_taxonomy.categories() if n.leaf)
    plugins = [
        p
        for p in all_channels()
        if p.taxonomy is not None and p.listing is not None and (channels is None or p.name in channels)
    ]
    rows = []
    for product_id, title, category, brand, mpn in items:
        node, _ = taxonomy_data.rank(f"{title} {category}", limit=1)[0]
        for plugin in plugins:
            leaf = node
            if plugin.name == "reverb" and leaf not in reverb_leaves:
                leaf = taxonomy_data.rank(f"{title} {category}", limit=1, candidates=reverb_leaves)
                leaf = leaf[0][0] if leaf else reverb_leaves[0]
            category_id = _category_id(plugin.name, leaf)
            if category_id is None:
                continue
            attributes = {}
            if plugin.taxonomy.attributes is not None:
                for aspect in leaf.aspects:
                    if not aspect.required:
                        continue
                    value = {"Brand": brand, "Model": mpn}.get(aspect.name) or (
                        aspect.values[0] if aspect.values else "Standard"
                    )
                    attributes[_attribute_name(plugin.name, aspect)] = [value] if aspect.multi else value
            rows.append(
                {"p": product_id, "c": plugin.name, "id": category_id, "path": " > ".join(leaf.path),
                 "a": json.dumps(attributes)}
            )  # fmt: skip
    if rows:
        conn.execute(
            text(
                """INSERT INTO retail.channel_categories
                       (product_id, channel, status, category_id, category_path, confidence, chosen_by,
                        query_hash, attributes)
                   VALUES (:p, :c, 'chosen', :id, :path, 0.9, 'auto', 'seeded', CAST(:a AS jsonb))
                   ON CONFLICT (product_id, channel) DO NOTHING"""
            ),
            rows,
        )

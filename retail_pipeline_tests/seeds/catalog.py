"""Rows for LaunchLock tests, written with plain SQL: suppliers, their products, images, listings."""

from __future__ import annotations

import hashlib
import json
from decimal import Decimal
from typing import Any

from sqlalchemy import Connection, text

GOOD_TITLE = "Sony WH-1000XM5 Wireless Noise Cancelling Headphones"
GOOD_DESCRIPTION = (
    "Industry-leading noise cancellation, 30 hours of battery life and a light, comfortable fit "
    "for all-day listening."
)


def add_supplier(
    conn: Connection, code: str, *, enabled: bool = True, enrichment_blocked: bool = False
) -> int:
    return conn.scalar(
        text(
            "INSERT INTO retail.suppliers (code, name, adapter, enabled, enrichment_blocked,"
            " enrichment_blocked_reason) VALUES (:code, :code, 'generic', :enabled, :blocked, :reason)"
            " RETURNING id"
        ),
        {
            "code": code,
            "enabled": enabled,
            "blocked": enrichment_blocked,
            "reason": "second-hand stock" if enrichment_blocked else None,
        },
    )


def add_product(
    conn: Connection,
    supplier_id: int,
    sku: str,
    *,
    status: str = "enriched",
    title: str | None = GOOD_TITLE,
    description: str | None = GOOD_DESCRIPTION,
    category: str | None = "Headphones",
    supplier_title: str | None = None,
    supplier_description: str | None = None,
    supplier_categories: tuple[str, ...] = (),
    price: Decimal | None = Decimal("199.00"),
    gtin: str | None = "4006381333931",
    images: int = 1,
    failed_images: int = 0,
    removed: bool = False,
    availability: str = "in_stock",
    stock_quantity: int | None = 5,
) -> int:
    """A supplier product, its downloaded images and its enriched product; returns the product id."""
    supplier_product_id = conn.scalar(
        text(
            "INSERT INTO retail.supplier_products (supplier_id, sku, title, description, categories, gtin,"
            " price, currency, stock_quantity, availability, content_hash, removed_at)"
            " VALUES (:supplier_id, :sku, :title, :description, :categories, :gtin, :price,"
            " :currency, :stock, :availability, 'hash',"
            " CASE WHEN :removed THEN now() END) RETURNING id"
        ),
        {
            "supplier_id": supplier_id,
            "sku": sku,
            "title": supplier_title,
            "description": supplier_description,
            "categories": list(supplier_categories),
            "gtin": gtin,
            "price": price,
            "currency": None if price is None else "NZD",
            "stock": stock_quantity,
            "availability": availability,
            "removed": removed,
        },
    )
    for position in range(images + failed_images):
        url = f"https://img.example/{sku}/{position}.jpg"
        media_asset_id = None
        if position < images:
            sha = hashlib.sha256(url.encode()).hexdigest()
            media_asset_id = conn.scalar(
                text(
                    "INSERT INTO retail.media_assets (sha256, rel_path, content_type, bytes, source_url)"
                    " VALUES (:sha, :path, 'image/jpeg', 1024, :url) RETURNING id"
                ),
                {"sha": sha, "path": f"images/{sha[:2]}/{sha}.jpg", "url": url},
            )
        conn.execute(
            text(
                "INSERT INTO retail.supplier_product_images (supplier_product_id, source_url, position,"
                " media_asset_id, error) VALUES (:sp, :url, :position, :asset, :error)"
            ),
            {
                "sp": supplier_product_id,
                "url": url,
                "position": position,
                "asset": media_asset_id,
                "error": None if media_asset_id else "HTTP 404",
            },
        )
    return conn.scalar(
        text(
            "INSERT INTO retail.products (supplier_product_id, sku, status, error, enricher, prompt_version,"
            " input_hash, title, description, category)"
            " VALUES (:sp, :sku, :status, :error, 'offline', 'v1', 'in', :title, :description, :category)"
            " RETURNING id"
        ),
        {
            "sp": supplier_product_id,
            "sku": f"RP-{sku}",
            "status": status,
            "error": None if status == "enriched" else f"enrichment {status}",
            "title": title,
            "description": description,
            "category": category,
        },
    )


def add_draft(
    conn: Connection, product_id: int, channel: str, status: str = "pending", errors: list[Any] | None = None
) -> int:
    """A listing draft for the product (validated now unless it is still pending)."""
    return conn.scalar(
        text(
            "INSERT INTO retail.listing_drafts (product_id, channel, sku, title, price, currency, status,"
            " validation_errors, validated_at)"
            " VALUES (:product_id, :channel, 'RP-' || :product_id, 'A title', 259.00, 'NZD', :status,"
            " CAST(:errors AS jsonb), CASE WHEN :status <> 'pending' THEN now() END) RETURNING id"
        ),
        {"product_id": product_id, "channel": channel, "status": status, "errors": json.dumps(errors or [])},
    )


def add_listing(conn: Connection, product_id: int, channel: str, state: str) -> None:
    conn.execute(
        text(
            "INSERT INTO retail.channel_listings (channel, sku, product_id, external_listing_id, currency,"
            " desired_price, actual_state)"
            " VALUES (:channel, 'RP-' || :product_id, :product_id, :external_id, 'NZD', 259.00, :state)"
        ),
        {
            "channel": channel,
            "product_id": product_id,
            "external_id": f"{channel}-{product_id}",
            "state": state,
        },
    )

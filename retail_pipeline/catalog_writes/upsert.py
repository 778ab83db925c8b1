"""The one way products are written to retail.supplier_products: scrapes and webhook imports both call
``upsert_supplier_products``.

Rows are keyed by (supplier_id, sku). A product whose content hash is unchanged is not rewritten (an
unchanged re-run writes zero rows), except to clear ``removed_at`` when it reappears. ``changed_at``
moves only when the content does; ``first_seen_at`` never moves after the insert.
"""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from collections.abc import Iterable, Mapping
from decimal import ROUND_HALF_UP, Decimal
from typing import Any, NamedTuple

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator
from sqlalchemy import Connection, text

from retail_pipeline.domain.products import Availability, Condition

CENT = Decimal("0.01")
# Rows per INSERT: one round trip each, while keeping a single statement's JSON parameter modest.
CHUNK_ROWS = 1000


class ProductRecord(BaseModel):
    """One normalised supplier product; field names are the supplier_products columns.

    ``raw`` is part of the content hash, so keep volatile values (fetch times, session ids) out of it.
    ``http_etag`` / ``http_last_modified`` are stored but not hashed: they are not product content.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    sku: str = Field(min_length=1)
    url: str | None = None
    title: str | None = None
    description: str | None = None
    brand: str | None = None
    gtin: str | None = None
    mpn: str | None = None
    categories: tuple[str, ...] = ()
    images: tuple[str, ...] = ()
    price: Decimal | None = Field(default=None, ge=0, lt=Decimal("1e10"))  # numeric(12,2)
    currency: str | None = Field(default=None, pattern=r"^[A-Z]{3}$")
    stock_quantity: int | None = Field(default=None, ge=0)
    availability: Availability = "unknown"
    condition: Condition = "unknown"
    raw: dict[str, Any] = Field(default_factory=dict)
    # One unit as the supplier describes it (domain.parcels: absurd values are refused before here).
    weight_grams: int | None = Field(default=None, ge=1, le=70_000)
    length_mm: int | None = Field(default=None, ge=1, le=3_000)
    width_mm: int | None = Field(default=None, ge=1, le=3_000)
    height_mm: int | None = Field(default=None, ge=1, le=3_000)
    http_etag: str | None = None
    http_last_modified: str | None = None

    @field_validator("price")
    @classmethod
    def _to_cents(cls, value: Decimal | None) -> Decimal | None:
        # Round as numeric(12,2) does, so the hash describes what is stored.
        return None if value is None else value.quantize(CENT, rounding=ROUND_HALF_UP)

    @model_validator(mode="after")
    def _price_has_currency(self) -> ProductRecord:
        if self.price is not None and self.currency is None:
            raise ValueError("a price needs a currency")
        return self

    def content_hash(self) -> str:
        return _content_hash(self.model_dump(mode="json"))


_NOT_CONTENT = frozenset({"http_etag", "http_last_modified"})
# Hashed only when known, so rows scraped before suppliers gave weights keep their hashes.
_HASHED_WHEN_SET = frozenset({"weight_grams", "length_mm", "width_mm", "height_mm"})


def _content_hash(dumped: Mapping[str, Any]) -> str:
    """The content hash from a record's JSON-mode dump (the validators are left out)."""
    content = {
        k: v for k, v in dumped.items() if k not in _NOT_CONTENT and not (v is None and k in _HASHED_WHEN_SET)
    }
    canonical = json.dumps(content, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode()).hexdigest()


def _row(record: ProductRecord) -> dict[str, Any]:
    """A record as the upsert's JSON row: its columns and its content hash, from one dump."""
    row = record.model_dump(mode="json")
    row["content_hash"] = _content_hash(row)
    return row


class UpsertCounts(NamedTuple):
    inserted: int
    updated: int
    unchanged: int


_COLUMNS = (
    "sku text, url text, title text, description text, brand text, gtin text, mpn text,"
    " categories text[], images text[], price numeric, currency text, stock_quantity integer,"
    " availability text, condition text, raw jsonb, weight_grams integer, length_mm integer, width_mm integer,"
    " height_mm integer, content_hash text, http_etag text, http_last_modified text"
)
_NAMES = [spec.split()[0] for spec in _COLUMNS.split(",")]

UPSERT = text(
    f"""
    INSERT INTO retail.supplier_products AS sp (supplier_id, {", ".join(_NAMES)})
    SELECT :supplier_id, {", ".join(f"r.{name}" for name in _NAMES)}
    FROM jsonb_to_recordset(CAST(:rows AS jsonb)) AS r({_COLUMNS})
    ON CONFLICT (supplier_id, sku) DO UPDATE SET
        {", ".join(f"{name} = EXCLUDED.{name}" for name in _NAMES if name != "sku")},
        changed_at = CASE WHEN sp.content_hash IS DISTINCT FROM EXCLUDED.content_hash
                          THEN now() ELSE sp.changed_at END,
        last_seen_at = now(),
        removed_at = NULL
    WHERE sp.content_hash IS DISTINCT FROM EXCLUDED.content_hash OR sp.removed_at IS NOT NULL
    RETURNING (xmax = 0) AS inserted
    """
)


def _record(product: ProductRecord | BaseModel | Mapping[str, Any]) -> ProductRecord:
    if isinstance(product, ProductRecord):
        return product
    if isinstance(product, BaseModel):
        product = product.model_dump()
    return ProductRecord.model_validate(product)


def upsert_supplier_products(
    conn: Connection, supplier_id: int, products: Iterable[ProductRecord | BaseModel | Mapping[str, Any]]
) -> UpsertCounts:
    """Insert new products, rewrite changed ones, leave unchanged ones untouched; in the caller's transaction.

    Accepts ProductRecords, dicts or other pydantic models with the same field names (validated here:
    pydantic.ValidationError for a bad one). A sku twice in one call is a ValueError: which copy should
    win is the caller's decision, and PostgreSQL cannot update one row twice in one statement.
    """
    records = [_record(p) for p in products]
    duplicates = sorted(sku for sku, n in Counter(r.sku for r in records).items() if n > 1)
    if duplicates:
        raise ValueError(f"sku given more than once: {', '.join(duplicates[:10])}")
    # A fixed lock order: two concurrent writers with overlapping skus cannot deadlock.
    records.sort(key=lambda r: r.sku)

    inserted = updated = 0
    for start in range(0, len(records), CHUNK_ROWS):
        rows = [_row(r) for r in records[start : start + CHUNK_ROWS]]
        result = conn.execute(UPSERT, {"supplier_id": supplier_id, "rows": json.dumps(rows)})
        for row in result:
            inserted += int(row.inserted)
            updated += int(not row.inserted)
    return UpsertCounts(inserted, updated, len(records) - inserted - updated)

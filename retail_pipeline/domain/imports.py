"""Webhook product imports (seed 003): the envelope n8n posts, one Allegro product, and batch validation.

Liberal about the envelope (``{"source": "allegro", "products": [...]}`` or a bare list), strict about
each product: a bad item is reported with its field errors and never blocks the valid ones.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated, Any

from pydantic import AliasChoices, BaseModel, BeforeValidator, ConfigDict, Field, HttpUrl, ValidationError

from retail_pipeline.domain.products import Condition

SOURCE = "allegro"  # the only supplier that pushes products today; also its supplier code

# Allegro's own condition labels (Polish), as n8n copies them from the offer page.
CONDITION_ALIASES = {
    "nowy": "new",
    "używany": "used",
    "uzywany": "used",
    "odnowiony": "refurbished",
    "uszkodzony": "damaged",
}


class EnvelopeError(ValueError):
    """The body parsed as JSON but is not a product batch; the message says what was expected."""


def _blank_to_none(value: Any) -> Any:
    # n8n sends "" for a field its scrape did not find.
    return None if isinstance(value, str) and not value.strip() else value


def _id_to_str(value: Any) -> Any:
    # Allegro offer ids are numbers; n8n may send them as JSON numbers. Booleans are not ids.
    return str(value) if isinstance(value, int) and not isinstance(value, bool) else value


def _condition(value: Any) -> Any:
    if isinstance(value, str):
        value = value.strip().lower()
        return CONDITION_ALIASES.get(value, value)
    return value


def _categories(value: Any) -> Any:
    return [value] if isinstance(value, str) else value


def _upper(value: Any) -> Any:
    return value.strip().upper() if isinstance(value, str) else value


def _sku_of(item: dict[str, Any]) -> str | None:
    value = _id_to_str(item.get("source_id"))
    return value if isinstance(value, str) else None


Text = Annotated[str | None, BeforeValidator(_blank_to_none)]


class ImportedProduct(BaseModel):
    """One product as n8n posts it. Fields not listed here are kept (in ``raw``), not rejected."""

    model_config = ConfigDict(extra="allow", str_strip_whitespace=True)

    source_id: Annotated[str, BeforeValidator(_id_to_str), Field(min_length=1, max_length=200)]
    title: str = Field(min_length=1, max_length=1000)
    description: Text = Field(default=None, max_length=100_000)
    price: Decimal = Field(gt=0, max_digits=12, decimal_places=2)
    currency: Annotated[str, BeforeValidator(_upper)] = Field(default="PLN", pattern=r"^[A-Z]{3}$")
    images: list[HttpUrl] = Field(default_factory=list, max_length=100)
    category: Annotated[list[str] | None, BeforeValidator(_categories)] = None
    brand: Text = Field(default=None, max_length=200)
    attributes: dict[str, Any] = Field(default_factory=dict)
    url: Annotated[HttpUrl | None, BeforeValidator(_blank_to_none)] = None
    gtin: Annotated[str | None, BeforeValidator(_blank_to_none), BeforeValidator(_id_to_str)] = Field(
        default=None, pattern=r"^\d{8,14}$", validation_alias=AliasChoices("gtin", "ean")
    )
    condition: Annotated[Condition, BeforeValidator(_condition)] = "unknown"
    stock_quantity: int | None = Field(default=None, ge=0)

    def to_row(self, raw: dict[str, Any]) -> dict[str, Any]:
        """The supplier_products fields (see catalog.upsert.ProductRecord); ``raw`` is the item as received."""
        availability = "unknown"
        if self.stock_quantity is not None:
            availability = "in_stock" if self.stock_quantity > 0 else "out_of_stock"
        return {
            "sku": self.source_id,
            "url": str(self.url) if self.url else None,
            "title": self.title,
            "description": self.description,
            "brand": self.brand,
            "gtin": self.gtin,
            "categories": [c for c in self.category or [] if c],
            "images": [str(u) for u in self.images],
            "price": self.price,
            "currency": self.currency,
            "stock_quantity": self.stock_quantity,
            "availability": availability,
            "condition": self.condition,
            "raw": raw,
        }


def batch_items(payload: Any) -> list[Any]:
    """The product list inside a webhook payload. Raises EnvelopeError for anything else."""
    if isinstance(payload, list):
        return payload
    if not isinstance(payload, dict):
        raise EnvelopeError(
            f'expected {{"source": "{SOURCE}", "products": [...]}} or a JSON array of products, '
            f"got a JSON {type(payload).__name__}"
        )
    source = payload.get("source", SOURCE)
    if source != SOURCE:
        raise EnvelopeError(f"source {source!r} is not supported by this endpoint (only {SOURCE!r})")
    products = payload.get("products")
    if not isinstance(products, list):
        found = "missing" if products is None else f"a JSON {type(products).__name__}"
        raise EnvelopeError(f'"products" must be a JSON array of products; it is {found}')
    return products


def _field_errors(exc: ValidationError) -> list[dict[str, str]]:
    return [
        {"field": ".".join(str(part) for part in err["loc"]) or "(item)", "message": err["msg"]}
        for err in exc.errors(include_url=False)
    ]


def validate_batch(items: list[Any]) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """(rows for the valid items, one error per invalid item: ``{index, sku, errors: [{field, message}]}``).

    A source_id already seen earlier in the batch is an error on the later item: the first one wins.
    """
    rows: list[dict[str, Any]] = []
    errors: list[dict[str, Any]] = []
    first_index: dict[str, int] = {}
    for index, item in enumerate(items):
        if not isinstance(item, dict):
            message = f"each product must be a JSON object, got a JSON {type(item).__name__}"
            errors.append({"index": index, "sku": None, "errors": [{"field": "(item)", "message": message}]})
            continue
        try:
            product = ImportedProduct.model_validate(item)
        except ValidationError as exc:
            errors.append({"index": index, "sku": _sku_of(item), "errors": _field_errors(exc)})
            continue
        if product.source_id in first_index:
            message = f"duplicate of item {first_index[product.source_id]} in this batch, which is imported"
            errors.append(
                {
                    "index": index,
                    "sku": product.source_id,
                    "errors": [{"field": "source_id", "message": message}],
                }
            )
            continue
        first_index[product.source_id] = index
        rows.append(product.to_row(item))
    return rows, errors


def job_outcome(status: str, failed_items: int) -> str | None:
    """How a finished import went: succeeded, partial (some items invalid) or failed; None while open."""
    if status == "failed":
        return "failed"
    if status != "completed":
        return None
    return "partial" if failed_items else "succeeded"

"""The normalised product an extractor returns, whatever page it came from."""

from __future__ import annotations

from decimal import Decimal
from typing import Literal

from pydantic import BaseModel, Field

from retail_pipeline.domain.products import Availability, Condition

# Which layer of the page a field came from; the layers are listed in the order they are trusted.
Layer = Literal["jsonld", "microdata", "opengraph", "meta", "html", "url"]


class ExtractedProduct(BaseModel):
    url: str | None = None
    name: str | None = None
    price: Decimal | None = None
    currency: str | None = Field(default=None, description="ISO 4217")
    regular_price: Decimal | None = Field(default=None, description="list/strike price when on sale")
    sku: str | None = None
    gtin: str | None = Field(default=None, description="digits only, check digit verified")
    mpn: str | None = None
    brand: str | None = None
    description: str | None = None
    images: list[str] = Field(default_factory=list)
    availability: Availability = "unknown"
    condition: Condition = "unknown"
    category: list[str] = Field(default_factory=list)
    weight_grams: int | None = Field(default=None, description="one unit, as the page states it")
    length_mm: int | None = None
    width_mm: int | None = None
    height_mm: int | None = None
    parcel_refused: list[str] = Field(default_factory=list, description="weights/sides refused, and why")
    sources: dict[str, Layer] = Field(default_factory=dict)

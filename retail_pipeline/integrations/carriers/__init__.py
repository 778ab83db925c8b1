"""Carriers: one `Carrier` module per carrier, the registry the label asset uses, and shipping config.

Adding a carrier is a new module implementing `Carrier` plus one line in `CARRIER_CLIENTS` and its
routes in `domain.shipping.CARRIER_ROUTES`; which carrier ships which order is
`domain.shipping.choose_carrier` over `ShippingSettings.rules` and the order's origin. The `manual`
carrier has no client: its shipments wait for an operator to enter the tracking number.
"""

from __future__ import annotations

import importlib
from decimal import Decimal

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from retail_pipeline.domain.parcels import (
    DEFAULT_CATEGORY_PARCELS,
    MAX_SIDE_MM,
    MAX_WEIGHT_GRAMS,
    CategoryParcel,
)
from retail_pipeline.domain.shipping import DEFAULT_RULES

from .base import Carrier

# carrier (retail.shipments.carrier) → "module:Class", imported on first use
CARRIER_CLIENTS: dict[str, str] = {
    "canada_post": "retail_pipeline.integrations.carriers.canadapost:CanadaPostClient",
}


class ShippingSettings(BaseSettings):
    """SHIPPING_RULES (JSON, see domain/shipping.py), and the parcel we assume while products carry
    no weights of their own: SHIPPING_UNIT_WEIGHT_GRAMS per unit plus SHIPPING_PACKAGING_GRAMS, in a
    SHIPPING_BOX_CM box (length, width, height)."""

    model_config = SettingsConfigDict(env_prefix="SHIPPING_", env_file=".env", extra="ignore")

    rules: dict[str, str] = Field(default_factory=lambda: dict(DEFAULT_RULES))
    unit_weight_grams: int = Field(default=1000, gt=0)
    packaging_grams: int = Field(default=200, ge=0)
    box_cm: tuple[Decimal, Decimal, Decimal] = (Decimal("30"), Decimal("20"), Decimal("15"))
    default_location: str = Field(
        default="ca_ottawa",
        description="The retail.locations code of stock whose place is unknown (no product or supplier location).",
    )
    reference_prefix: str = Field(
        default="rp", pattern=r"^[A-Za-z0-9]{1,8}$", description="Tells our environments' shipments apart."
    )
    # Unit parcels for products with neither a supplier weight nor an estimate (domain/parcels.py), e.g.
    # SHIPPING_CATEGORY_DEFAULTS='{"guitar": {"weight_grams": 5000, "box_cm": [110, 45, 15]}}': added to
    # (or replacing) the built-ins; SHIPPING_UNIT_WEIGHT_GRAMS in SHIPPING_BOX_CM is "*", the last resort.
    category_defaults: dict[str, CategoryParcel] = Field(default_factory=dict)

    @field_validator("category_defaults")
    @classmethod
    def _plausible(cls, value: dict[str, CategoryParcel]) -> dict[str, CategoryParcel]:
        for key, parcel in value.items():
            if not 0 < parcel.weight_grams <= MAX_WEIGHT_GRAMS or not all(
                0 < side * 10 <= MAX_SIDE_MM for side in parcel.box_cm
            ):
                raise ValueError(f"category default {key!r}: weight 1-70000 g, sides 0-300 cm")
        return {key.casefold(): parcel for key, parcel in value.items()}

    def category_table(self) -> dict[str, CategoryParcel]:
        last_resort = CategoryParcel(self.unit_weight_grams, tuple(self.box_cm))  # type: ignore[arg-type]
        return {**DEFAULT_CATEGORY_PARCELS, "*": last_resort, **self.category_defaults}

    def reference(self, order_id: int) -> str:
        """Our idempotency key for an order's shipment (Canada Post customer-ref-1, at most 35 chars)."""
        return f"{self.reference_prefix}-order-{order_id}"


def carrier_class(carrier: str) -> type[Carrier]:
    try:
        module_name, class_name = CARRIER_CLIENTS[carrier].split(":")
    except KeyError:
        raise ValueError(f"no client for carrier {carrier!r}; known: {sorted(CARRIER_CLIENTS)}") from None
    return getattr(importlib.import_module(module_name), class_name)


__all__ = ["CARRIER_CLIENTS", "Carrier", "ShippingSettings", "carrier_class"]

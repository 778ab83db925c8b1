"""Carriers: one `Carrier` module per carrier, the registry the label asset uses, and shipping config.

Adding a carrier is a new module implementing `Carrier` plus one line in `CARRIER_CLIENTS`; which
carrier ships which order is `domain.shipping.choose_carrier` over `ShippingSettings.rules`.
"""

from __future__ import annotations

import importlib

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from retail_pipeline.domain.parcels import DEFAULT_CATEGORY_PARCELS, CategoryParcel
from retail_pipeline.domain.shipping import DEFAULT_RULES

from .base import Carrier

# carrier (retail.shipments.carrier) → "module:Class", imported on first use
CARRIER_CLIENTS: dict[str, str] = {
    "canada_post": "retail_pipeline.integrations.carriers.canadapost:CanadaPostClient",
}


class ShippingSettings(BaseSettings):
    """SHIPPING_RULES (JSON, see domain/shipping.py); SHIPPING_PACKAGING_GRAMS added to every parcel;
    SHIPPING_CATEGORY_DEFAULTS (JSON, e.g. `{"guitar": {"weight_grams": 5000, "box_cm": [110, 45, 15]}}`)
    adds to or overrides the built-in per-category unit parcels (domain/parcels.py), used for products
    with neither a supplier weight nor an estimate; `*` is the last resort."""

    model_config = SettingsConfigDict(env_prefix="SHIPPING_", env_file=".env", extra="ignore")

    rules: dict[str, str] = Field(default_factory=lambda: dict(DEFAULT_RULES))
    packaging_grams: int = Field(default=200, ge=0)
    category_defaults: dict[str, CategoryParcel] = Field(
        default_factory=lambda: dict(DEFAULT_CATEGORY_PARCELS)
    )
    reference_prefix: str = Field(
        default="rp", pattern=r"^[A-Za-z0-9]{1,8}$", description="Tells our environments' shipments apart."
    )

    @field_validator("category_defaults")
    @classmethod
    def _over_built_ins(cls, value: dict[str, CategoryParcel]) -> dict[str, CategoryParcel]:
        for key, parcel in value.items():
            if not 0 < parcel.weight_grams <= 70_000 or not all(0 < side <= 300 for side in parcel.box_cm):
                raise ValueError(f"category default {key!r}: weight 1-70000 g and sides 0-300 cm")
        return {**DEFAULT_CATEGORY_PARCELS, **{k.casefold(): v for k, v in value.items()}}

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

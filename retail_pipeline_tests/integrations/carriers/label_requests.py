"""Canada Post label requests for the carrier tests: a domestic parcel and one to the US with customs."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from retail_pipeline.domain.orders import Address
from retail_pipeline.integrations.carriers.base import CustomsItem, Dimensions, LabelRequest

QUICK = {
    "backoff_initial_seconds": 0,
    "backoff_max_seconds": 0,
    "throttle_wait_seconds": 0,
    "max_attempts": 6,
}
TORONTO = Address(
    name="Jane Doe", street_1="123 Main St", street_2="Unit 4", city="Toronto", state="ON",
    zip_code="m5v 2t6", country_iso_code="CA", phone="416-555-0199",
)  # fmt: skip
SEATTLE = Address(
    name="John Roe", street_1="400 Broad St", city="Seattle", state="WA", zip_code="98109",
    country_iso_code="US", phone="206-555-0100",
)  # fmt: skip


def domestic(reference: str = "rp-order-1", **overrides: Any) -> LabelRequest:
    values: dict[str, Any] = {
        "reference": reference, "destination": TORONTO, "weight_kg": Decimal("1.2"), "service_code": "DOM.EP",
        "dimensions": Dimensions(Decimal("30"), Decimal("20"), Decimal("10")), "reference_2": "bestbuy 123-A",
    }  # fmt: skip
    return LabelRequest(**(values | overrides))


def to_us(reference: str = "rp-order-2") -> LabelRequest:
    return LabelRequest(
        reference=reference, destination=SEATTLE, weight_kg=Decimal("2.5"), service_code="USA.EP",
        currency="CAD",
        customs=(CustomsItem("Wireless headphones", 1, Decimal("399.00"), Decimal("0.800"), sku="RP-1001"),),
    )  # fmt: skip

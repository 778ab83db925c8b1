"""Listing prices as pure functions: cost + markup + shipping, channel fees, rounding, margin floors.

One implementation for every caller: LaunchLock's margin rule and the listing drafts both price here.
All money is Decimal in the supplier's currency; rounding only ever goes up, so a rounded price never
falls below the margin floor that produced it.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_CEILING, ROUND_HALF_UP, Decimal
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

CENT = Decimal("0.01")
Rounding = Literal["cents", "whole", "charm_99"]


class PricingPolicy(BaseModel):
    """How one channel is priced. Fees are the channel's cut of a sale (success + payment fees)."""

    model_config = ConfigDict(frozen=True)

    markup_rate: Decimal = Field(default=Decimal("0.30"), ge=0, description="On top of cost.")
    fee_rate: Decimal = Field(default=Decimal("0.10"), ge=0, lt=1, description="Share of the sale price.")
    fixed_fee: Decimal = Field(default=Decimal("0.50"), ge=0, description="Per sale.")
    shipping_cost: Decimal = Field(
        default=Decimal("0"), ge=0, description="What we pay to ship, recovered in price."
    )
    min_margin: Decimal = Field(
        default=Decimal("5.00"), ge=0, description="Per sale, after cost, fees, shipping."
    )
    min_margin_rate: Decimal = Field(default=Decimal("0.10"), ge=0, lt=1, description="Share of the price.")
    rounding: Rounding = "cents"
    raise_to_minimum: bool = Field(
        default=False, description="Price at the floor when markup alone is below it."
    )

    @model_validator(mode="after")
    def _reachable(self) -> PricingPolicy:
        if self.fee_rate + self.min_margin_rate >= 1:
            raise ValueError("fee_rate + min_margin_rate must be below 1, or no price clears the margin")
        return self


@dataclass(frozen=True)
class PriceQuote:
    price: Decimal
    cost: Decimal
    fees: Decimal
    shipping: Decimal
    margin: Decimal
    minimum_price: Decimal

    @property
    def margin_rate(self) -> Decimal:
        return (self.margin / self.price).quantize(Decimal("0.0001")) if self.price else Decimal(0)

    @property
    def meets_minimum(self) -> bool:
        return self.price >= self.minimum_price

    def as_dict(self) -> dict[str, str | bool]:
        return {
            "price": str(self.price),
            "cost": str(self.cost),
            "fees": str(self.fees),
            "shipping": str(self.shipping),
            "margin": str(self.margin),
            "margin_rate": str(self.margin_rate),
            "minimum_price": str(self.minimum_price),
            "meets_minimum": self.meets_minimum,
        }


def fees(price: Decimal, policy: PricingPolicy) -> Decimal:
    return (price * policy.fee_rate + policy.fixed_fee).quantize(CENT, ROUND_HALF_UP)


def margin(price: Decimal, cost: Decimal, policy: PricingPolicy) -> Decimal:
    """What a sale at `price` leaves after cost, the channel's fees and shipping."""
    return price - cost - price * policy.fee_rate - policy.fixed_fee - policy.shipping_cost


def minimum_price(cost: Decimal, policy: PricingPolicy) -> Decimal:
    """The lowest price (whole cents) whose margin clears both the absolute and the relative floor."""
    keep = 1 - policy.fee_rate
    base = cost + policy.fixed_fee + policy.shipping_cost
    for_absolute = (base + policy.min_margin) / keep
    for_relative = base / (keep - policy.min_margin_rate)
    return max(for_absolute, for_relative).quantize(CENT, ROUND_CEILING)


def round_up(price: Decimal, rounding: Rounding) -> Decimal:
    """Up to cents, whole dollars, or the next x.99 (a charm price)."""
    cents = price.quantize(CENT, ROUND_CEILING)
    if rounding == "cents":
        return cents
    whole = cents.quantize(Decimal(1), ROUND_CEILING)
    if rounding == "whole":
        return whole
    charm = whole - CENT
    return charm if charm >= cents else whole + Decimal("0.99")


def quote(cost: Decimal, policy: PricingPolicy) -> PriceQuote:
    """The listing price for a product costing `cost`, with its breakdown."""
    floor = minimum_price(cost, policy)
    price = cost * (1 + policy.markup_rate) + policy.shipping_cost
    if policy.raise_to_minimum:
        price = max(price, floor)
    price = round_up(price, policy.rounding)
    return PriceQuote(
        price=price,
        cost=cost,
        fees=fees(price, policy),
        shipping=policy.shipping_cost,
        margin=margin(price, cost, policy).quantize(CENT, ROUND_HALF_UP),
        minimum_price=floor,
    )

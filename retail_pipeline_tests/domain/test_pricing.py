"""Pricing arithmetic: quotes, floors, rounding that never undercuts the floor."""

from decimal import Decimal as D

import pytest

from retail_pipeline.domain.pricing import PricingPolicy, margin, minimum_price, quote, round_up

POLICY = PricingPolicy()  # 30% markup, 10% + 0.50 fees, floors 5.00 and 10%


def test_quote_breaks_the_price_down():
    q = quote(D("100.00"), POLICY)
    assert (q.price, q.fees, q.margin) == (D("130.00"), D("13.50"), D("16.50"))
    assert q.margin_rate == D("0.1269") and q.meets_minimum


def test_cheap_items_fall_below_the_floor_unless_raised_to_it():
    low = quote(D("20.00"), POLICY)
    assert low.price == D("26.00") and low.minimum_price == D("28.34") and not low.meets_minimum
    raised = quote(D("20.00"), POLICY.model_copy(update={"raise_to_minimum": True}))
    assert raised.price == D("28.34") and raised.meets_minimum
    assert margin(raised.price, D("20.00"), POLICY) >= D("5.00")


@pytest.mark.parametrize("cost", [D("0.01"), D("3.33"), D("19.99"), D("123.45"), D("999.99")])
@pytest.mark.parametrize("rounding", ["cents", "whole", "charm_99"])
def test_the_floor_price_clears_both_floors_whatever_the_rounding(cost, rounding):
    policy = PricingPolicy(rounding=rounding, raise_to_minimum=True, shipping_cost=D("4.50"))
    q = quote(cost, policy)
    assert q.margin >= policy.min_margin
    assert q.margin >= q.price * policy.min_margin_rate - D("0.01")
    assert minimum_price(cost, policy) <= q.price


@pytest.mark.parametrize(
    ("price", "rounding", "expected"),
    [
        (D("12.301"), "cents", D("12.31")),
        (D("12.01"), "whole", D("13")),
        (D("12.30"), "charm_99", D("12.99")),
        (D("12.995"), "charm_99", D("13.99")),
        (D("12.00"), "charm_99", D("12.99")),
        (D("11.99"), "charm_99", D("11.99")),
    ],
)
def test_rounding_only_goes_up(price, rounding, expected):
    assert round_up(price, rounding) == expected


def test_impossible_floors_are_refused():
    with pytest.raises(ValueError, match="below 1"):
        PricingPolicy(fee_rate=D("0.5"), min_margin_rate=D("0.5"))

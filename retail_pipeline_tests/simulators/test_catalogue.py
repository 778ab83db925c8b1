"""The seeded catalogue: valid identifiers, determinism, and change over simulated time."""

from __future__ import annotations

from datetime import timedelta

import pytest

from retail_pipeline.simulators import (
    SimulatorConfig,
    build_simulator_app,
    get_simulator,
    gtin_check_digit,
    is_valid_gtin,
)
from retail_pipeline.simulators.catalogue_data import BRANDS, CONDITION_PRICE_FACTOR

SUPPLIERS = ("onecheq", "noelleeming", "cashconverters")


def fingerprint(snapshot) -> list[tuple]:
    return [
        (
            s.product.ref,
            s.product.title,
            s.product.condition,
            s.updated_at,
            tuple(
                (v.variant.sku, v.variant.gtin, v.variant.mpn, v.price_cents, v.quantity) for v in s.variants
            ),
        )
        for s in snapshot
    ]


def test_gtin_helpers_agree_with_published_codes():
    assert gtin_check_digit("400638133393") == 1  # GS1's own example, 4006381333931
    assert is_valid_gtin("4006381333931")
    assert is_valid_gtin("036000291452")  # UPC-A
    assert is_valid_gtin("96385074")  # GTIN-8
    assert not is_valid_gtin("4006381333932")
    assert not is_valid_gtin("40063813339")
    assert not is_valid_gtin("４００６３８１３３３９３１")  # full-width digits are not digits here
    assert not is_valid_gtin(4006381333931)
    with pytest.raises(ValueError):
        gtin_check_digit("12a")


def test_brand_prefixes_are_distinct():
    prefixes = [b.gs1_prefix for b in BRANDS.values()]
    assert len(set(prefixes)) == len(prefixes)
    assert all(len(p) == 7 and p.isdigit() for p in prefixes)


@pytest.mark.parametrize("supplier", SUPPLIERS)
def test_products_are_realistic(sim, supplier):
    snapshot = sim.backend(supplier).snapshot()
    assert len(snapshot) == 30
    for state in snapshot:
        product = state.product
        assert product.title.startswith(product.brand)
        assert product.condition in CONDITION_PRICE_FACTOR
        assert 1 <= product.image_count <= 4
        assert product.description
        for variant in state.variants:
            assert variant.price_cents > 0
            assert variant.variant.mpn
            assert variant.variant.gtin is None or is_valid_gtin(variant.variant.gtin)
    refs = [s.product.ref for s in snapshot]
    assert len(set(refs)) == len(refs)


def test_second_hand_and_new_suppliers_differ(sim):
    cash = sim.backend("cashconverters").snapshot()
    assert all(s.product.condition != "New" for s in cash)
    assert all(s.product.store for s in cash)
    assert sum(v.gtin is None for s in cash for v in s.product.variants) > len(cash) / 2  # mostly no GTIN
    new = sim.backend("noelleeming").snapshot()
    assert all(s.product.condition == "New" and s.product.variants[0].gtin for s in new)
    # The same model in the same variant carries the same GTIN wherever it is sold.
    by_title = {s.product.title: s.product.variants[0].gtin for s in new}
    for state in cash:
        gtin = state.product.variants[0].gtin
        if gtin and state.product.title in by_title:
            assert by_title[state.product.title] == gtin


def test_same_seed_same_catalogue_and_other_seed_differs():
    def catalogue(seed: int):
        sim = get_simulator(build_simulator_app(SimulatorConfig(seed=seed, products_per_supplier=20)))
        return {name: fingerprint(sim.backend(name).snapshot()) for name in SUPPLIERS}

    assert catalogue(5) == catalogue(5)
    other = catalogue(6)
    assert all(catalogue(5)[name] != other[name] for name in SUPPLIERS)


def test_time_changes_prices_stock_and_membership(sim):
    catalogue = sim.backend("noelleeming").catalogue
    before = {s.product.key: s for s in catalogue.snapshot(sim.clock.now())}
    after = {s.product.key: s for s in catalogue.snapshot(sim.clock.now() + timedelta(days=7))}
    kept = before.keys() & after.keys()
    assert before.keys() - after.keys(), "some products disappear"
    assert after.keys() - before.keys(), "new products appear"
    assert any(before[k].price_cents != after[k].price_cents for k in kept)
    assert any(before[k].available != after[k].available for k in kept)
    changed = [k for k in kept if before[k].variants != after[k].variants]
    assert all(after[k].updated_at > before[k].updated_at for k in changed)


def test_state_depends_on_the_instant_not_the_path_taken():
    one = get_simulator(build_simulator_app(SimulatorConfig(seed=3, products_per_supplier=15)))
    two = get_simulator(build_simulator_app(SimulatorConfig(seed=3, products_per_supplier=15)))
    one.clock.advance(30)
    for _ in range(6):
        two.clock.advance(5)
        two.backend("onecheq").snapshot()
    assert fingerprint(one.backend("onecheq").snapshot()) == fingerprint(two.backend("onecheq").snapshot())


def test_catalogue_size_is_configurable():
    sim = get_simulator(build_simulator_app(SimulatorConfig(products_per_supplier=7)))
    assert {name: len(sim.backend(name).snapshot()) for name in SUPPLIERS} == dict.fromkeys(SUPPLIERS, 7)

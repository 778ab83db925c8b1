"""Matching a remote listing to the catalogue: SKU, then GTIN, then brand + model + title; fast at scale."""

from __future__ import annotations

import random

from retail_pipeline.domain.adoption import (
    LIKELY_MIN,
    MAX_SCORED,
    CatalogueIndex,
    CatalogueProduct,
    ListingFacts,
    gtin14,
)

STRAT = CatalogueProduct(1, "RP-1", "Fender American Professional II Stratocaster Sunburst", "Fender",
                         "00885978710546", "0113900700")  # fmt: skip
LES_PAUL = CatalogueProduct(2, "RP-2", "Gibson Les Paul Standard 50s Heritage Cherry", "Gibson", "711106037516",
                            "LPS500HCNH1")  # fmt: skip
TWIN_A = CatalogueProduct(3, "RP-3", "Boss DS-1 Distortion pedal", "Boss", "4957054000127", "DS-1")
TWIN_B = CatalogueProduct(4, "RP-4", "Boss DS-1 Distortion (Keeley mod)", "Boss", "4957054000127", None)
INDEX = CatalogueIndex.build([STRAT, LES_PAUL, TWIN_A, TWIN_B])


def test_gtin_forms_compare_as_gtin14_and_bad_check_digits_never_match():
    assert gtin14("711106037516") == gtin14("0711106037516") == gtin14("00711106037516") == "00711106037516"
    assert gtin14("96385074") == "00000096385074"  # GTIN-8
    assert gtin14("0711-106-037516") == "00711106037516"
    assert gtin14("711106037515") is None  # wrong check digit
    assert gtin14("12345") is None and gtin14("abc") is None and gtin14(None) is None


def test_our_sku_is_an_exact_match_before_anything_else():
    match = INDEX.match(ListingFacts(sku="RP-2", gtin="00885978710546", title="whatever"))
    assert (match.kind, match.product_id) == ("exact", 2)
    assert "SKU" in match.reason


def test_a_gtin_one_product_has_is_exact_in_any_of_its_forms():
    match = INDEX.match(ListingFacts(sku="THEIR-77", gtin="0711106037516", title="LP"))
    assert (match.kind, match.product_id) == ("exact", 2)
    assert "GTIN" in match.reason


def test_a_gtin_several_products_share_is_only_proposed_with_them_as_candidates():
    match = INDEX.match(ListingFacts(gtin="4957054000127", title="Boss DS-1"))
    assert match.kind == "likely" and match.product_id is None
    assert sorted(c.product_id for c in match.candidates) == [3, 4]


def test_brand_and_model_with_a_reworded_title_is_likely_never_exact():
    match = INDEX.match(
        ListingFacts(
            sku="X9", brand="FENDER", mpn="0113900700", title="2021 Fender AmPro II Strat, 3-tone burst"
        )
    )
    assert match.kind == "likely" and match.product_id is None
    best = match.candidates[0]
    assert best.product_id == 1 and best.score >= LIKELY_MIN
    assert "same brand" in best.why and "same model" in best.why


def test_a_model_number_in_the_title_counts_when_the_listing_has_no_mpn():
    match = INDEX.match(ListingFacts(title="Gibson LPS500HCNH1 Les Paul"))
    assert match.kind == "likely" and match.candidates[0].product_id == 2


def test_another_brand_is_never_a_candidate_and_a_stranger_matches_nothing():
    match = INDEX.match(ListingFacts(brand="Epiphone", title="Gibson Les Paul Standard 50s Heritage Cherry"))
    assert all(c.product_id != 2 for c in match.candidates)
    stranger = INDEX.match(ListingFacts(sku="Z1", brand="Yamaha", title="Yamaha PSR-E373 keyboard"))
    assert stranger.kind == "none" and stranger.candidates == () and stranger.product_id is None


def test_matching_blocks_candidates_instead_of_comparing_all_pairs(monkeypatch):
    rng = random.Random(7)
    brands = [f"brand{i}" for i in range(200)]
    words = [f"w{i}" for i in range(3000)] + ["guitar", "black", "vintage", "amp"] * 50
    products = [
        CatalogueProduct(i, f"RP-{i}", " ".join(rng.sample(words, 6)), rng.choice(brands), None, f"M{i}X")
        for i in range(5_000)
    ]
    index = CatalogueIndex.build(products)
    scored = 0
    score = CatalogueIndex._score

    def counted(self, *args):
        nonlocal scored
        scored += 1
        return score(self, *args)

    monkeypatch.setattr(CatalogueIndex, "_score", counted)
    listings = [
        ListingFacts(brand=p.brand, title=p.title + " used", mpn=p.mpn) for p in rng.sample(products, 500)
    ]
    matches = [index.match(listing) for listing in listings]
    assert all(m.kind == "likely" for m in matches)
    assert all(m.candidates[0].product_id == int(p.mpn[1:-1]) for m, p in zip(matches, listings, strict=True))
    assert scored <= MAX_SCORED * len(listings)  # all pairs would be 2.5×10⁶ comparisons

"""Pick & pack rules: which order a code names, which line a scanned item is, over-scans and wrong items,
what a short pick leaves, and the walking order of bins."""

from __future__ import annotations

import pytest

from retail_pipeline.domain.packing import (
    AmbiguousOrderCode,
    InvalidCode,
    OrderCandidate,
    PackLine,
    bin_sort_key,
    choose_order,
    clean_code,
    gtin_key,
    match_item,
    order_code,
    progress,
    scanned_counts,
)

EAN = "4006381333931"
UPC = "036000291452"  # UPC-A; the same code as EAN-13 is 0036000291452


def lines(**scanned: int) -> list[PackLine]:
    return [
        PackLine(1, "RP-HP-XM5", EAN, "Sony WH-1000XM5", 1, scanned.get("a", 0)),
        PackLine(2, "RP-STR-1046", UPC, "Ernie Ball Slinky", 2, scanned.get("b", 0)),
        PackLine(3, "RP-STR-1046", UPC, "Ernie Ball Slinky", 1, scanned.get("c", 0)),  # same product twice
    ]


def test_a_code_is_trimmed_and_garbage_is_refused():
    assert clean_code("  RP-1\r\n") == "RP-1"
    for bad in ("", "   ", "x" * 129, "RP\x07-1"):
        with pytest.raises(InvalidCode):
            clean_code(bad)


def test_gtin_key_compares_upc_and_ean_forms_of_one_code():
    assert gtin_key(UPC) == gtin_key("0" + UPC) == gtin_key("0-36000-29145-2") == "00036000291452"
    assert gtin_key("4006381333932") is None  # bad check digit
    assert gtin_key("RP-1") is None


def test_items_match_by_gtin_or_sku_and_count_down():
    verdict = match_item(EAN, lines())
    assert (verdict.outcome, verdict.line_id, verdict.counted) == ("counted", 1, True)
    assert "done" in verdict.message
    assert match_item("rp-hp-xm5", lines()).line_id == 1  # SKU, any case
    assert match_item("0" + UPC, lines()).line_id == 2  # the scanner's EAN-13 form of a UPC-A
    verdict = match_item(UPC, lines(b=1))
    assert verdict.line_id == 2 and "1 more to pick" not in verdict.message and "done" in verdict.message


def test_a_product_on_two_lines_fills_them_in_order_then_is_an_over_scan():
    assert match_item(UPC, lines(b=2)).line_id == 3
    over = match_item(UPC, lines(b=2, c=1))
    assert (over.outcome, over.counted) == ("over_scan", False)
    assert "all 3 already scanned" in over.message


def test_anything_else_is_a_wrong_item():
    wrong = match_item("5901234123457", lines())
    assert (wrong.outcome, wrong.line_id, wrong.counted) == ("wrong_item", None, False)
    assert "not in this order" in wrong.message


def test_progress_complete_and_what_a_short_pick_leaves():
    half = progress(lines(a=1, b=1))
    assert (half.ordered, half.scanned, half.complete) == (4, 2, False)
    assert half.missing == [
        {"line_id": 2, "sku": "RP-STR-1046", "title": "Ernie Ball Slinky", "missing": 1, "ordered": 2},
        {"line_id": 3, "sku": "RP-STR-1046", "title": "Ernie Ball Slinky", "missing": 1, "ordered": 1},
    ]
    assert progress(lines(a=1, b=2, c=1)).complete
    assert not progress([]).complete  # an order without lines is not packed by accident
    assert scanned_counts([2, 1, 2]) == {2: 2, 1: 1}


def test_an_order_code_is_a_pin_then_the_channels_number_then_our_id():
    orders = [
        OrderCandidate(7, "1001", "7023000000000001"),
        OrderCandidate(1001, "BB-9", None),
        OrderCandidate(8, "X-7", "7023000000000002"),
    ]
    assert choose_order(order_code("7023 0000 0000 0002"), orders) == 8  # printed in groups
    assert choose_order(order_code("1001"), orders) == 7  # the channel's number beats our id
    assert choose_order(order_code("#1001"), [orders[1]]) == 1001
    assert choose_order(order_code("order 8"), orders) == 8
    assert choose_order(order_code("nothing"), orders) is None
    with pytest.raises(AmbiguousOrderCode, match="scan the label"):
        choose_order(order_code("1001"), [orders[0], OrderCandidate(9, "1001", None)])


def test_bins_sort_in_walking_order_with_no_bin_last():
    bins = ["B-01-2", None, "A-10-3", "a-02-1", "A-2-9", ""]
    assert sorted(bins, key=bin_sort_key) == ["a-02-1", "A-2-9", "A-10-3", "B-01-2", None, ""]

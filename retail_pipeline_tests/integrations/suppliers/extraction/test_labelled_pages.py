"""The labelled page set (see pages/PROVENANCE.md and pages/RESULTS.md) must keep scoring above these
floors, which sit just under the figures measured when they were set, separately for the real pages
(captures of live shops) and the synthetic ones (written alongside the extractor). The markup-only
baseline shows what the fallbacks add."""

import importlib.util
from pathlib import Path

import pytest

BENCHMARK = Path(__file__).resolve().parents[4] / "benchmarks" / "extraction.py"

# Measured on 31 real pages: price 1.0, sku 1.0, name 1.0, gtin 1.0 (support 2), brand 1.0 (support 15),
# currency 1.0, availability 0.982. One wrong page out of 31 costs ~0.02-0.04 of F1 (brand: ~0.035), so
# these floors fail on the second new mistake in a field (gtin, support 2: on the first).
REAL_FLOORS = {
    "price": 0.96,
    "sku": 0.95,
    "name": 0.96,
    "gtin": 0.9,
    "brand": 0.9,
    "currency": 0.96,
    "availability": 0.95,
}
# Measured on 67 synthetic pages: 1.0 on every field (brand labelled on 10).
SYNTHETIC_FLOORS = {
    "price": 0.97,
    "sku": 0.95,
    "name": 0.98,
    "gtin": 0.95,
    "brand": 0.95,
    "currency": 0.98,
    "availability": 0.95,
}


@pytest.fixture(scope="module")
def report():
    spec = importlib.util.spec_from_file_location("extraction_benchmark", BENCHMARK)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.run()


def test_set_is_large_and_labelled(report):
    assert report["pages"] >= 70
    assert report["subsets"]["real"]["pages"] >= 31


@pytest.mark.parametrize(
    ("subset", "field"),
    [("real", f) for f in sorted(REAL_FLOORS)] + [("synthetic", f) for f in sorted(SYNTHETIC_FLOORS)],
)
def test_extractor_scores_above_floor(report, subset, field):
    floors = REAL_FLOORS if subset == "real" else SYNTHETIC_FLOORS
    assert report["subsets"][subset]["extractor"]["fields"][field]["f1"] >= floors[field]


@pytest.mark.parametrize("subset", ["real", "synthetic"])
@pytest.mark.parametrize("field", ["price", "sku", "name"])
def test_fallbacks_beat_markup_only(report, subset, field):
    scores = report["subsets"][subset]
    assert scores["extractor"]["fields"][field]["f1"] > scores["markup_only"]["fields"][field]["f1"]

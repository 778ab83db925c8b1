"""Generic product extractor vs a markup-only baseline on the labelled pages.

Usage: python benchmarks/extraction.py [PAGES_DIR]
Prints one JSON object: per-field precision/recall/F1 (price, sku, name, gtin, availability) for the
full extractor and for a baseline that reads JSON-LD and microdata only (no OpenGraph, no visible-page
fallbacks, no reconciliation), both computed in this run, plus pages per second for each. The same
figures are given for each subset of the set: "real" (captures of live shops, `"real": true` in the
label) and "synthetic" (pages written for the set and hand-made fixtures). Only the real subset says
anything about the real web; the synthetic one was written alongside the extractor.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

from retail_pipeline.integrations.suppliers.extraction.extract import extract_product
from retail_pipeline.integrations.suppliers.extraction.merge import markup_layers
from retail_pipeline.integrations.suppliers.extraction.page import Page
from retail_pipeline.integrations.suppliers.extraction.scoring import score

DEFAULT_PAGES = (
    Path(__file__).resolve().parent.parent
    / "retail_pipeline_tests"
    / "integrations"
    / "suppliers"
    / "extraction"
    / "pages"
)


SUBSETS = ("real", "synthetic")


def load_labelled(
    pages_dir: Path = DEFAULT_PAGES, subset: str | None = None
) -> list[tuple[str, str, str | None, dict]]:
    """(name, html, url, expected) for every NAME.html with a NAME.json beside it (optionally only the
    "real" or the "synthetic" subset)."""
    out = []
    for label_file in sorted(pages_dir.glob("*.json")):
        label = json.loads(label_file.read_text(encoding="utf-8"))
        kind = "real" if label.get("real") else "synthetic"
        if subset is not None and kind != subset:
            continue
        html = label_file.with_suffix(".html").read_text(encoding="utf-8")
        out.append((label_file.stem, html, label.get("url"), label["expected"]))
    return out


def full_extractor(html: str, url: str | None) -> dict:
    return extract_product(html, url).model_dump(mode="json")


def markup_only_extractor(html: str, url: str | None) -> dict:
    """First JSON-LD/microdata value per field, as a plain schema.org reader would give."""
    result: dict = {}
    for _, fields in markup_layers(Page(html, url, None)):
        for key, value in fields.items():
            result.setdefault(key, value)
    result.setdefault("sku", result.get("product_id"))  # a plain reader takes productID as the SKU
    return result


def _score_pages(pages: list) -> dict:
    report: dict = {"pages": len(pages)}
    for label, extractor in (("extractor", full_extractor), ("markup_only", markup_only_extractor)):
        started = time.perf_counter()
        predictions = [(extractor(html, url), expected) for _, html, url, expected in pages]
        elapsed = time.perf_counter() - started
        report[label] = {
            "fields": score(predictions),
            "pages_per_second": round(len(pages) / elapsed, 1) if elapsed else None,
        }
    return report


def run(pages_dir: Path = DEFAULT_PAGES) -> dict:
    """Scores over the whole set, plus the same under "subsets" for the real and synthetic pages."""
    report = _score_pages(load_labelled(pages_dir))
    report["subsets"] = {subset: _score_pages(load_labelled(pages_dir, subset)) for subset in SUBSETS}
    return report


def failures(pages_dir: Path = DEFAULT_PAGES, subset: str | None = "real") -> list[dict]:
    """Every (page, field, predicted, expected) the full extractor gets wrong, for error analysis."""
    from retail_pipeline.integrations.suppliers.extraction.scoring import SCORED_FIELDS, field_outcome

    out = []
    for name, html, url, expected in load_labelled(pages_dir, subset):
        predicted = full_extractor(html, url)
        for field in SCORED_FIELDS:
            if field in expected:
                tp, fp, fn = field_outcome(field, predicted.get(field), expected[field])
                if fp or fn:
                    out.append(
                        {
                            "page": name,
                            "field": field,
                            "predicted": predicted.get(field),
                            "expected": expected[field],
                        }
                    )
    return out


def _summary(report: dict) -> dict:
    """Per subset and extractor, just the F1 per field (the compact view printed first)."""
    parts = {"all": report, **report["subsets"]}
    return {
        subset: {
            "pages": r["pages"],
            **{
                name: {f: v["f1"] for f, v in r[name]["fields"].items()}
                for name in ("extractor", "markup_only")
            },
        }
        for subset, r in parts.items()
    }


if __name__ == "__main__":
    args = [a for a in sys.argv[1:] if not a.startswith("--")]
    pages_dir = Path(args[0]) if args else DEFAULT_PAGES
    if "--failures" in sys.argv:
        for row in failures(pages_dir, None if "--all" in sys.argv else "real"):
            print(json.dumps(row, ensure_ascii=False))
    else:
        result = run(pages_dir)
        print(json.dumps({"f1_summary": _summary(result), **result}, indent=2))

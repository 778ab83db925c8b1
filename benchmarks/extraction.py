"""Generic product extractor vs a markup-only baseline on the labelled pages.

Usage: python benchmarks/extraction.py [PAGES_DIR]
Prints one JSON object: per-field precision/recall/F1 (price, sku, name, gtin, availability) for the
full extractor and for a baseline that reads JSON-LD and microdata only (no OpenGraph, no visible-page
fallbacks, no reconciliation), both computed in this run, plus pages per second for each.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

from retail_pipeline.integrations.suppliers.extract import extract_product
from retail_pipeline.integrations.suppliers.extraction.merge import markup_layers
from retail_pipeline.integrations.suppliers.extraction.page import Page
from retail_pipeline.integrations.suppliers.extraction.scoring import score

DEFAULT_PAGES = Path(__file__).resolve().parent.parent / "retail_pipeline_tests" / "extraction" / "pages"


def load_labelled(pages_dir: Path = DEFAULT_PAGES) -> list[tuple[str, str, str | None, dict]]:
    """(name, html, url, expected) for every NAME.html with a NAME.json beside it."""
    out = []
    for label_file in sorted(pages_dir.glob("*.json")):
        label = json.loads(label_file.read_text(encoding="utf-8"))
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
    return result


def run(pages_dir: Path = DEFAULT_PAGES) -> dict:
    pages = load_labelled(pages_dir)
    report: dict = {"pages": len(pages)}
    for label, extractor in (("extractor", full_extractor), ("markup_only", markup_only_extractor)):
        started = time.perf_counter()
        predictions = [(extractor(html, url), expected) for _, html, url, expected in pages]
        elapsed = time.perf_counter() - started
        report[label] = {"fields": score(predictions), "pages_per_second": round(len(pages) / elapsed, 1)}
    return report


if __name__ == "__main__":
    print(json.dumps(run(Path(sys.argv[1]) if len(sys.argv) > 1 else DEFAULT_PAGES), indent=2))

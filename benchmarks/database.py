"""Fresh database per test: clone of a migrated template vs. migrating an empty database.

Prints one JSON line: medians in ms and the ratio against the baseline (migrate from scratch),
both measured in this process on the same embedded server, since these machines are noisy.
"""

from __future__ import annotations

import json
import statistics
import tempfile
import time
from pathlib import Path

from retail_pipeline.db import embedded, migrations
from retail_pipeline.db.admin import create_database, relax_durability
from retail_pipeline.db.urls import with_database
from retail_pipeline.settings import PROJECT_ROOT

ROUNDS = 7


def _timed(fn) -> float:
    started = time.perf_counter()
    fn()
    return (time.perf_counter() - started) * 1000


def main() -> None:
    server = embedded.start(Path(tempfile.mkdtemp(prefix="rp-bench-")) / "pg", keep_running=False)
    relax_durability(server)  # as the test fixture does
    sql_dir = PROJECT_ROOT / "sql"
    create_database(server, "bench_template")
    migrations.migrate(with_database(server, "bench_template"), sql_dir)

    migrate_ms, clone_ms = [], []
    for i in range(ROUNDS):

        def from_scratch(name=f"bench_scratch_{i}"):
            create_database(server, name)
            migrations.migrate(with_database(server, name), sql_dir)

        def from_template(name=f"bench_clone_{i}"):
            create_database(server, name, template="bench_template")

        migrate_ms.append(_timed(from_scratch))
        clone_ms.append(_timed(from_template))
    baseline, clone = statistics.median(migrate_ms), statistics.median(clone_ms)
    print(
        json.dumps(
            {
                "benchmark": "fresh_test_database",
                "rounds": ROUNDS,
                "baseline_migrate_median_ms": round(baseline, 1),
                "template_clone_median_ms": round(clone, 1),
                "speedup_vs_baseline": round(baseline / clone, 2),
            }
        )
    )


if __name__ == "__main__":
    main()

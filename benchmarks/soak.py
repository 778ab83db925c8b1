"""A long-running instance stays green (issue 9, item 9): eight `run-once` runs on one instance.

One embedded PostgreSQL (business tables and Dagster's run history), one data dir, so the simulated
world (listings, orders, the clock) carries on from run to run as it does for `retail-pipeline
run-once` invoked eight times. Each run-once lets the market shop for an hour of simulated time
(RUN_ONCE_MARKET_MINUTES, default 60) before it syncs orders, so by the last run eight hours of sales
have sold out a good part of the catalogue. Every run must still succeed: sold out is a business state,
and the LaunchLock gate judges broken data, not empty shelves.

Prints one JSON line per run, then one JSON object with the headline figures (the last line).
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import socket
import tempfile
import time
from pathlib import Path
from typing import Any

from retail_pipeline.db import embedded

RUNS = 8
PRODUCTS_PER_SUPPLIER = int(os.environ.get("SOAK_PRODUCTS_PER_SUPPLIER", "60"))  # the simulators' default


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _gate_checks(instance, run_ids: list[str]) -> dict[str, dict[str, Any]]:
    """The LaunchLock gate's verdict per supplier, read from the runs' check evaluations."""
    import dagster as dg

    gates: dict[str, dict[str, Any]] = {}
    for run_id in run_ids:
        supplier = instance.get_run_by_id(run_id).tags.get("dagster/partition")
        for entry in instance.all_logs(run_id, of_type=dg.DagsterEventType.ASSET_CHECK_EVALUATION):
            evaluation = entry.dagster_event.event_specific_data
            if evaluation.check_name != "launchlock_failure_rate":
                continue
            metadata = {k: getattr(v, "value", v) for k, v in evaluation.metadata.items()}
            gates[supplier] = {
                "passed": evaluation.passed,
                "failure_rate": metadata.get("failure_rate"),
                "sold_out": metadata.get("sold_out"),
            }
    return gates


def _sold_out_share(database_url: str) -> float:
    """Share of the suppliers' listed products with no unit left to sell."""
    import psycopg

    with psycopg.connect(database_url) as conn:
        total, sold_out = conn.execute(
            """SELECT count(*), count(*) FILTER (WHERE coalesce(p.stock_quantity, sp.stock_quantity) = 0
                                                  OR sp.availability IN ('out_of_stock', 'discontinued'))
                 FROM retail.products p JOIN retail.supplier_products sp ON sp.id = p.supplier_product_id
                WHERE sp.removed_at IS NULL"""
        ).fetchone()
    return round(sold_out / total, 3) if total else 0.0


def main() -> dict[str, Any]:
    import dagster as dg

    from retail_pipeline.orchestration import run_once
    from retail_pipeline.settings import get_settings

    scratch = Path(tempfile.mkdtemp(prefix="rp-bench-soak-"))
    scratch.chmod(0o755)  # as root the embedded server runs as another user
    try:
        database_url = embedded.start(scratch / "pg", keep_running=False)
        os.environ.update(
            DATABASE_URL=database_url,
            RETAIL_DATA_DIR=str(scratch / "var"),
            MEDIA_SIGNING_KEY="bench",
            SIMULATOR_PORT=str(_free_port()),
            SIMULATOR_PRODUCTS_PER_SUPPLIER=str(PRODUCTS_PER_SUPPLIER),
        )
        os.environ.pop("DAGSTER_HOME", None)
        get_settings.cache_clear()

        per_run: list[dict[str, Any]] = []
        started = time.perf_counter()
        for number in range(1, RUNS + 1):
            run_started = time.perf_counter()
            summary = run_once()
            seconds = time.perf_counter() - run_started
            run_ids = [run["run_id"] for run in summary["runs"]]
            row = {
                "run": number,
                "ok": summary["ok"],
                "seconds": round(seconds, 1),
                "dagster_runs": len(run_ids),
                "failed_runs": [
                    f"{run['job']}[{run['partition']}]" for run in summary["runs"] if not run["success"]
                ],
                "purchases": (summary.get("market") or {}).get("purchases", 0),
                "sold_out_share": _sold_out_share(database_url),
                "launchlock_gate": _gate_checks(dg.DagsterInstance.get(), run_ids),
            }
            if "error" in summary:
                row["error"] = summary["error"]
            per_run.append(row)
            print(json.dumps(row), flush=True)
        total = time.perf_counter() - started

        result = {
            "benchmark": "soak_run_once",
            "runs": RUNS,
            "products_per_supplier": PRODUCTS_PER_SUPPLIER,
            "runs_ok": sum(row["ok"] for row in per_run),
            "all_ok": all(row["ok"] for row in per_run),
            "dagster_runs_failed": sum(len(row["failed_runs"]) for row in per_run),
            "purchases_total": sum(row["purchases"] for row in per_run),
            "sold_out_share_at_end": per_run[-1]["sold_out_share"],
            "max_gate_failure_rate": max(
                (g["failure_rate"] or 0 for row in per_run for g in row["launchlock_gate"].values()),
                default=0,
            ),
            "first_run_s": per_run[0]["seconds"],
            "later_run_median_s": sorted(row["seconds"] for row in per_run[1:])[(RUNS - 1) // 2],
            "total_s": round(total, 1),
        }
        print(json.dumps(result), flush=True)
        return result
    finally:
        with contextlib.suppress(Exception):  # best effort: the scratch directory goes anyway
            embedded.stop(scratch / "pg")
        shutil.rmtree(scratch, ignore_errors=True)


if __name__ == "__main__":
    raise SystemExit(0 if main()["all_ok"] else 1)

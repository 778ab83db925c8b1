"""Queued work as runs: each new row of a queue table becomes exactly one run.

Webhook imports, operator commands and channels' order webhooks are stored as rows first; a sensor
built here reads the queued rows above its cursor, asks for one run per row with the run key
``<prefix>:<row id>`` (the daemon never launches a run key twice) and moves its cursor.

Ids are taken at INSERT but become visible only at COMMIT, so a slow transaction can show up after a
higher id was already seen. The sensor therefore re-reads ``reread_window`` ids below the highest one
it requested, and remembers the ids it requested within that window so it asks for each only once.

Cursor: ``{"last_id": highest id requested, "requested": [ids requested within the window]}``; a bare
number works too, so an operator can set it by hand from the UI.
"""

# No `from __future__ import annotations`: Dagster reads the sensor's resource annotation at runtime.
import json
from collections.abc import Callable, Mapping
from typing import Any

import dagster as dg
from sqlalchemy import Row, text

from retail_pipeline.defs.resources import DatabaseResource

REREAD_WINDOW = 1000
MAX_RUNS_PER_TICK = 100


def parse_cursor(cursor: str | None) -> tuple[int, set[int]]:
    """(highest id requested, ids requested within the re-read window)."""
    data = json.loads(cursor) if cursor else 0
    if isinstance(data, int):
        return data, set()
    return data["last_id"], set(data["requested"])


def queued_rows_sensor(
    *,
    name: str,
    job: dg.JobDefinition,
    queued: str,
    run_key_prefix: str,
    run_config_for: Callable[[Row], dict[str, Any]],
    skip_reason: str,
    minimum_interval_seconds: int,
    params: Mapping[str, Any] | None = None,
    tags_for: Callable[[Row], dict[str, str]] | None = None,
    partition_key_for: Callable[[Row], str] | None = None,
    description: str | None = None,
    reread_window: int = REREAD_WINDOW,
    max_runs_per_tick: int = MAX_RUNS_PER_TICK,
) -> dg.SensorDefinition:
    """A sensor requesting one ``job`` run per row of ``queued``, oldest first.

    ``queued`` is a SELECT (bound with ``params``) of the rows waiting for a run, with an ``id`` column
    and no ORDER BY or LIMIT: the sensor adds the cursor's bounds, the order and the per-tick limit.
    ``partition_key_for``: for a partitioned ``job``, the partition each row's run materialises.
    """
    select = text(
        f"SELECT * FROM ({queued}) AS queued"
        " WHERE id > :floor AND id <> ALL(:requested) ORDER BY id LIMIT :limit"
    )

    @dg.sensor(
        name=name,
        job=job,
        minimum_interval_seconds=minimum_interval_seconds,
        default_status=dg.DefaultSensorStatus.RUNNING,
        description=description,
    )
    def _sensor(context: dg.SensorEvaluationContext, db: DatabaseResource) -> dg.SensorResult:
        last_id, requested = parse_cursor(context.cursor)
        with db.engine.connect() as conn:
            rows = conn.execute(
                select,
                {
                    **(params or {}),
                    "floor": last_id - reread_window,
                    "requested": sorted(requested),
                    "limit": max_runs_per_tick,
                },
            ).all()
        run_requests = [
            dg.RunRequest(
                run_key=f"{run_key_prefix}:{row.id}",
                run_config=run_config_for(row),
                tags=tags_for(row) if tags_for else {},
                partition_key=partition_key_for(row) if partition_key_for else None,
            )
            for row in rows
        ]
        last_id = max([last_id, *(row.id for row in rows)])
        requested = {i for i in requested | {row.id for row in rows} if i > last_id - reread_window}
        cursor = json.dumps({"last_id": last_id, "requested": sorted(requested)})
        if not run_requests:
            return dg.SensorResult(skip_reason=skip_reason, cursor=cursor)
        return dg.SensorResult(run_requests=run_requests, cursor=cursor)

    return _sensor

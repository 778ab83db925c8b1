"""The audit trail (``retail.activity_log``): the one writer that runs, the sidecar and the console use."""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import Connection, text

LOG_ACTIVITY = text(
    """
    INSERT INTO retail.activity_log
           (actor, action, outcome, channel, entity_type, entity_id, idempotency_key, dry_run, details, run_id)
    VALUES (:actor, :action, :outcome, CAST(:channel AS retail.channel), :entity_type, :entity_id, :key,
            :dry_run, CAST(:details AS jsonb), :run_id)
    """
)


def log_activity(
    conn: Connection,
    *,
    action: str,
    outcome: str = "info",
    actor: str | None = None,
    run_id: str | None = None,
    channel: str | None = None,
    entity_type: str | None = None,
    entity_id: Any = None,
    key: str | None = None,
    dry_run: bool = False,
    details: dict[str, Any] | None = None,
) -> None:
    """One activity_log row in the caller's transaction (never secrets in ``details``). Without an
    ``actor``, the run that acted (``run:<id>``), or ``system`` outside a run."""
    conn.execute(
        LOG_ACTIVITY,
        {
            "actor": actor or (f"run:{run_id}" if run_id else "system"),
            "action": action,
            "outcome": outcome,
            "channel": channel,
            "entity_type": entity_type,
            "entity_id": None if entity_id is None else str(entity_id),
            "key": key,
            "dry_run": dry_run,
            "details": json.dumps(details or {}, default=str),
            "run_id": run_id,
        },
    )

"""The ops inbox's tasks (``retail.ops_tasks``): every writer opens, bumps and closes them here.

A task is one problem that needs a person, named by ``(kind, dedupe_key)``. One conflict policy:

- raised while its task is unresolved (open or acknowledged): that task is bumped (occurrences + 1,
  last_seen_at) and carries the latest title, severity, details and run; never a second row;
- raised after its task was resolved or dismissed: a new task opens (the unique index
  ``ops_tasks_open_key`` covers unresolved rows only), so closing a task never silences a problem
  that comes back.

``once=True`` is for keys that name a single event (a failed Dagster run): seeing the same event again
is not a new occurrence, so a key that has ever had a task, in any status, is left alone.

Insert and bump are one ``INSERT ... ON CONFLICT`` statement: concurrent writers raising the same
problem end with one row, never a unique violation.
"""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import Connection, RowMapping, text

UNRESOLVED = ("open", "acknowledged")
CLOSED = ("resolved", "dismissed")
MAX_TITLE = 300  # one line in the inbox; details carry the rest

OPEN_TASK = text(
    """
    INSERT INTO retail.ops_tasks (kind, dedupe_key, severity, title, details, channel, entity_type, entity_id,
                                  run_id)
    SELECT :kind, :key, :severity, :title, CAST(:details AS jsonb), CAST(:channel AS retail.channel),
           :entity_type, :entity_id, :run_id
     WHERE NOT (:once AND EXISTS (SELECT 1 FROM retail.ops_tasks WHERE kind = :kind AND dedupe_key = :key))
    ON CONFLICT (kind, dedupe_key) WHERE status IN ('open', 'acknowledged')
    DO UPDATE SET occurrences = retail.ops_tasks.occurrences + 1, last_seen_at = now(),
                  severity = EXCLUDED.severity, title = EXCLUDED.title, details = EXCLUDED.details,
                  run_id = coalesce(EXCLUDED.run_id, retail.ops_tasks.run_id)
            WHERE NOT :once
    RETURNING id
    """
)

# resolved_at/resolved_by are set exactly when the task is closed (the ops_tasks_resolved_at check).
_SET_STATUS = """
    UPDATE retail.ops_tasks
       SET status = :status,
           resolved_at = CASE WHEN :status IN ('resolved', 'dismissed') THEN now() END,
           resolved_by = CASE WHEN :status IN ('resolved', 'dismissed') THEN :by END
"""
CLOSE_BY_KEY = text(
    _SET_STATUS
    + " WHERE kind = :kind AND dedupe_key = :key AND status IN ('open', 'acknowledged') RETURNING id"
)
SET_STATUS_BY_ID = text(_SET_STATUS + " WHERE id = :id RETURNING *")


def open_task(
    conn: Connection,
    *,
    kind: str,
    key: str,
    title: str,
    details: dict[str, Any] | None = None,
    severity: str = "error",
    channel: str | None = None,
    entity_type: str | None = None,
    entity_id: Any = None,
    run_id: str | None = None,
    once: bool = False,
) -> int | None:
    """Opens the task for ``(kind, key)`` or bumps its unresolved one, in the caller's transaction.
    Returns the task's id; None only when ``once`` left an already-recorded key alone."""
    return conn.execute(
        OPEN_TASK,
        {
            "kind": kind,
            "key": key,
            "severity": severity,
            "title": title[:MAX_TITLE],
            "details": json.dumps(details or {}, default=str),
            "channel": channel,
            "entity_type": entity_type,
            "entity_id": None if entity_id is None else str(entity_id),
            "run_id": run_id,
            "once": once,
        },
    ).scalar()


def resolve_task(conn: Connection, *, kind: str, key: str, by: str, status: str = "resolved") -> int | None:
    """Closes the unresolved task for ``(kind, key)`` (the problem went away); returns its id, or None
    when there was none."""
    if status not in CLOSED:
        raise ValueError(f"a task is closed as one of {CLOSED}, not {status!r}")
    return conn.execute(CLOSE_BY_KEY, {"kind": kind, "key": key, "status": status, "by": by}).scalar()


def set_task_status(conn: Connection, task_id: int, status: str, *, by: str) -> RowMapping | None:
    """Moves one task to ``status`` (acknowledged, resolved, dismissed) as a person asked; returns the
    updated row, or None when there is no such task. Whether the move is allowed is the caller's rule."""
    return (
        conn.execute(SET_STATUS_BY_ID, {"id": task_id, "status": status, "by": by}).mappings().one_or_none()
    )

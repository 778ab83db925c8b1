"""Remote listings we did not make (seed 001 reconciliation): what applying an `unknown_listing`
sync event does. Today: one ops task per listing (kind unknown_remote_listing)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection

from retail_pipeline.db.ops_tasks import open_task


def apply_unknown_listing(conn: Connection, channel: str, event: Any, run_id: str | None) -> str:
    """Apply one pending `unknown_listing` event in the caller's transaction; returns what was done
    (a short outcome word the caller counts)."""
    remote = event.remote_value or {}
    open_task(
        conn, kind="unknown_remote_listing", key=f"unknown_remote_listing:{channel}:{event.external_listing_id}",
        severity="warning",
        title=f"{channel} listing {event.external_listing_id} ({remote.get('sku') or 'no SKU'}) is not ours",
        details=remote, channel=channel, entity_type="remote_listing", entity_id=event.external_listing_id,
        run_id=run_id,
    )  # fmt: skip
    return "task"

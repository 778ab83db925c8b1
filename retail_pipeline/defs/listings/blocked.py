"""A channel that refuses automated work until a person acts (`ChannelBlocked`: a bot-protection
challenge, a sign-in only a person can do): the pass that met it stops there, and one ops task per
channel and kind asks for the person's action. Used by every pass that calls a channel's listings
(publish, stock push, state sync)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection

from retail_pipeline.db.ops_tasks import open_task
from retail_pipeline.integrations.marketplaces.base import ChannelBlocked, ChannelError


def error_details(error: ChannelError) -> dict[str, Any]:
    """An ops task's details for a channel error: its message, the channel's details, and the
    browser trace kept for it (a path under the media root, linked by the inbox) where there is one."""
    details: dict[str, Any] = {"error": error.message, "details": error.details}
    if isinstance(error.details, dict) and error.details.get("trace"):
        details["trace"] = error.details["trace"]
    return details


def open_blocked_task(conn: Connection, error: ChannelBlocked, run_id: str | None) -> int | None:
    """The one task for this channel being blocked (bumped while it stays open)."""
    return open_task(
        conn, kind=error.task_kind, key=f"{error.task_kind}:{error.channel}", title=error.action,
        details={**error_details(error), "action": error.action}, channel=error.channel, run_id=run_id,
    )  # fmt: skip

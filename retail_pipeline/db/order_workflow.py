"""What every status-driven order step shares: a history row where the state machine allows it, the
order's ops task opened (or bumped) on a failure and resolved when the step later succeeds, and the
bounded concurrent pass over the orders."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable, Iterable
from typing import Any

from sqlalchemy import Connection, text

from retail_pipeline.db.ops_tasks import open_task, resolve_task
from retail_pipeline.domain.orders import can_move

LOCK_ORDER = text("SELECT current_status FROM retail.orders WHERE id = :id FOR UPDATE")
APPEND_STATUS = text(
    """
    INSERT INTO retail.order_status_history (order_id, status, reason, details, source, run_id)
    VALUES (:id, :status, :reason, CAST(:details AS jsonb), :source, :run_id)
    """
)


def append_status(
    conn: Connection,
    order_id: int,
    status: str,
    *,
    source: str,
    run_id: str | None,
    reason: str | None = None,
    details: dict[str, Any] | None = None,
) -> bool:
    """Appends `status` after the order's latest one if `can_move` allows it (the order row locked, so
    two steps never both append); False when it does not."""
    current = conn.execute(LOCK_ORDER, {"id": order_id}).scalar()
    if not can_move(current, status):
        return False
    conn.execute(
        APPEND_STATUS,
        {"id": order_id, "status": status, "reason": reason[:500] if reason else None,
         "details": json.dumps(details or {}, default=str), "source": source, "run_id": run_id},
    )  # fmt: skip
    return True


def task_key(kind: str, order_id: int) -> str:
    return f"{kind}:order:{order_id}"


def open_order_task(
    conn: Connection, kind: str, order_id: int, channel: str, title: str, details: dict[str, Any], run_id
) -> int | None:
    """The order's open task of this kind, opened or bumped (the policy of db.ops_tasks); its id."""
    return open_task(
        conn, kind=kind, key=task_key(kind, order_id), title=title, details=details, channel=channel,
        entity_type="order", entity_id=order_id, run_id=run_id,
    )  # fmt: skip


def resolve_order_task(conn: Connection, kind: str, order_id: int, by: str) -> None:
    resolve_task(conn, kind=kind, key=task_key(kind, order_id), by=by)


async def each_order(
    rows: Iterable[Any], one: Callable[[Any], Awaitable[None]], *, concurrency: int, clients: Iterable[Any]
) -> None:
    """`one(row)` for every row, `concurrency` at a time. `one` records per-order failures itself; what
    escapes it is systemic (bad credentials) and is raised as itself. The clients are closed after."""
    semaphore = asyncio.Semaphore(max(1, concurrency))

    async def bounded(row: Any) -> None:
        async with semaphore:
            await one(row)

    try:
        async with asyncio.TaskGroup() as group:
            for row in rows:
                group.create_task(bounded(row))
    except BaseExceptionGroup as errors:
        raise errors.exceptions[0] from None
    finally:
        for client in list(clients):
            await client.aclose()

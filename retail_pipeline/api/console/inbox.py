"""Console page: Inbox (``/console/inbox``): what needs a person, over ``build_inbox`` (the function
``GET /ops/inbox`` answers with). Unresolved tasks grouped by kind, most severe first, with their age;
acknowledge / resolve / dismiss with a note (``POST /ops/tasks/{id}/…``), a failed run linked to its
Dagster run page, a command that needs a person retried (``POST /ops/commands/{id}/retry``). New tasks,
orders and messages arrive live (``/console/events``, console.js)."""

from __future__ import annotations

from collections import defaultdict
from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse
from sqlalchemy import Engine

from retail_pipeline.api.console.session import PageViewer
from retail_pipeline.api.console.templating import render
from retail_pipeline.api.database import db_engine
from retail_pipeline.api.ops_inbox import DEFAULT_LIMIT, Inbox, TaskItem, shared_inbox

router = APIRouter(tags=["console"], include_in_schema=False)

# The newest tasks a page lists per group (the JSON route's default, so both share one query in flight);
# the rest are counted, and /ops/inbox pages on.
PAGE_LIMIT = DEFAULT_LIMIT
SEVERITY_RANK = {"critical": 0, "error": 1, "warning": 2, "info": 3}


def task_groups(inbox: Inbox) -> list[tuple[str, int, list[TaskItem]]]:
    """(kind, unresolved count, items most severe then newest first), the kinds with the most severe
    and then the most tasks first."""
    items: dict[str, list[TaskItem]] = defaultdict(list)
    for task in inbox.open_tasks.items:
        items[task.kind].append(task)
    for kind_items in items.values():
        kind_items.sort(key=lambda t: (SEVERITY_RANK.get(t.severity, 9), -t.created_at.timestamp()))
    kinds = set(inbox.open_tasks.by_kind) | set(items)

    def worst(kind: str) -> int:
        return min((SEVERITY_RANK.get(t.severity, 9) for t in items.get(kind, [])), default=9)

    ordered = sorted(kinds, key=lambda k: (worst(k), -inbox.open_tasks.by_kind.get(k, 0), k))
    return [
        (kind, inbox.open_tasks.by_kind.get(kind, len(items.get(kind, []))), items.get(kind, []))
        for kind in ordered
    ]


@router.get("/console/inbox", response_class=HTMLResponse)
def page(
    request: Request, principal: PageViewer, engine: Annotated[Engine, Depends(db_engine)]
) -> HTMLResponse:
    body, _ = shared_inbox(engine, request.app.state.settings, limit=PAGE_LIMIT)
    inbox = Inbox.model_validate_json(body)
    return render(
        request,
        "inbox.html",
        {"active": "inbox", "inbox": inbox, "groups": task_groups(inbox), "now": inbox.generated_at},
        principal,
    )

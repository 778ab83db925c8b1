"""The sidecar application: ``create_app()`` wires settings, the database handle and the routes."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Annotated, Any

from fastapi import APIRouter, Depends, FastAPI, Request
from fastapi.responses import JSONResponse
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from retail_pipeline.api import (
    adoptions,
    ai,
    categories,
    channel_selection,
    channels,
    commands,
    conversations,
    export,
    home_kpis,
    imports,
    key_admin,
    keys,
    kpis,
    llm_health,
    media,
    ops,
    ops_inbox,
    orders,
    packing,
    products,
    shipping,
    suppliers,
    sync,
    tasks,
    webhooks,
)
from retail_pipeline.api.auth import Principal, current_principal
from retail_pipeline.api.coalesce import SingleFlight
from retail_pipeline.api.console import conversations as console_conversations
from retail_pipeline.api.console import events as console_events
from retail_pipeline.api.console import home as console_home
from retail_pipeline.api.console import inbox as console_inbox
from retail_pipeline.api.console import keys as console_keys
from retail_pipeline.api.console import orders as console_orders
from retail_pipeline.api.console import pack as console_pack
from retail_pipeline.api.console import products as console_products
from retail_pipeline.api.console import session as console_session
from retail_pipeline.api.console import suppliers as console_suppliers
from retail_pipeline.api.database import AppDatabase
from retail_pipeline.db import migrations
from retail_pipeline.memory import long_lived_objects_frozen
from retail_pipeline.settings import Settings, get_settings

logger = logging.getLogger(__name__)

# Health must answer quickly even when the database hangs rather than refuses.
HEALTH_STATEMENT_TIMEOUT_MS = 2000

router = APIRouter()


def _first_line(exc: BaseException) -> str:
    # SQLAlchemy wraps the driver error and appends a docs link; the driver's own first line is the useful part.
    return str(getattr(exc, "orig", None) or exc).strip().splitlines()[0]


# One round trip on a pooled connection: it proves the database answers and reads the migration history.
HEALTH_QUERY = text(f"SELECT version, checksum FROM {migrations.HISTORY_TABLE}")
UNDEFINED_TABLE = "42P01"  # a database nobody has migrated yet: no history table
_health_checks: SingleFlight[tuple[int, dict]] = SingleFlight()


def _check_health(database: AppDatabase, settings: Settings) -> tuple[int, dict]:
    try:
        with database.engine.connect() as conn:
            conn.exec_driver_sql(f"SET LOCAL statement_timeout = {HEALTH_STATEMENT_TIMEOUT_MS}")
            try:
                history = dict(conn.execute(HEALTH_QUERY).tuples().all())
            except DBAPIError as exc:
                if getattr(exc.orig, "sqlstate", None) != UNDEFINED_TABLE:
                    raise
                history = {}
        state = migrations.status_from_history(migrations.discover_cached(settings.sql_dir), history)
    except migrations.MigrationError as exc:
        return 503, {"status": "unavailable", "database": "ok", "reason": f"migrations refused: {exc}"}
    # Whatever layer failed (driver, pool, starting the embedded server), the database is not there.
    except Exception as exc:
        logger.warning("health: database unreachable", exc_info=True)
        return 503, {"status": "unavailable", "database": "unreachable",
                     "reason": f"database unreachable: {_first_line(exc)}"}  # fmt: skip
    body = {"applied": state.applied, "pending": [m.path.name for m in state.pending]}
    if state.pending:
        names = ", ".join(body["pending"])
        reason = f"{len(state.pending)} migration(s) not applied ({names}): run `retail-pipeline db migrate`"
        return 503, {"status": "unavailable", "database": "ok", "migrations": body, "reason": reason}
    return 200, {"status": "ok", "database": "ok", "migrations": body}


@router.get("/health", tags=["ops"])
def health(request: Request) -> JSONResponse:
    """200 when the database answers and every migration on disk is applied; 503 with a reason otherwise.

    Load balancers poll this: it costs one indexed read on a pooled connection, the files on disk are
    hashed only when they change, and polls arriving together share one check (never an old answer)."""
    database: AppDatabase = request.app.state.database
    code, body = _health_checks.run(id(database), lambda: _check_health(database, request.app.state.settings))
    return JSONResponse(body, status_code=code)


@router.get("/whoami", tags=["auth"])
def whoami(principal: Annotated[Principal, Depends(current_principal)]) -> dict[str, Any]:
    """The caller's role (``anonymous`` without a key) and the role order the sidecar enforces."""
    key = None
    if principal.key_id is not None:
        key = {"id": principal.key_id, "prefix": principal.key_prefix, "label": principal.label}
    return {"role": principal.role, "key": key, "roles": list(keys.ROLE_RANK)}


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    # The console's templates allocate a lot; without this, full collections over the imports' ~250k
    # objects cost ~150 ms every few dozen pages.
    with long_lived_objects_frozen():
        yield


def create_app(settings: Settings | None = None) -> FastAPI:
    """A new sidecar app. Nothing touches the database until the first request that needs it."""
    settings = settings or get_settings()
    app = FastAPI(
        lifespan=lifespan,
        title="retail_pipeline sidecar",
        description="Health, signed media and role-checked operations over the pipeline's PostgreSQL.",
    )
    app.state.settings = settings
    app.state.database = AppDatabase(settings)
    app.include_router(router)
    app.include_router(media.router)
    app.include_router(imports.router)
    app.include_router(ops.router)
    app.include_router(ops_inbox.router)
    app.include_router(tasks.router)
    app.include_router(adoptions.router)
    app.include_router(kpis.router)
    app.include_router(llm_health.router)
    app.include_router(commands.router)
    app.include_router(channels.router)
    app.include_router(webhooks.router)
    app.include_router(packing.router)
    app.include_router(shipping.router)
    app.include_router(conversations.router)
    app.include_router(console_events.router)
    app.include_router(orders.router)
    app.include_router(home_kpis.router)
    app.include_router(products.router)
    app.include_router(categories.router)
    app.include_router(ai.router)
    app.include_router(export.router)
    app.include_router(suppliers.router)
    app.include_router(channel_selection.router)
    app.include_router(key_admin.router)
    app.include_router(sync.router)
    console_session.install(
        app,
        [
            console_home.router, console_inbox.router, console_orders.router, console_pack.router,
            console_conversations.router, console_products.router, console_suppliers.router, console_keys.router,
        ],
    )  # fmt: skip
    return app

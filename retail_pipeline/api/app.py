"""The sidecar application: ``create_app()`` wires settings, the database handle and the routes."""

from __future__ import annotations

import logging
from typing import Annotated, Any

from fastapi import APIRouter, Depends, FastAPI, Request
from fastapi.responses import JSONResponse

from retail_pipeline.api import (
    ai,
    channels,
    commands,
    export,
    imports,
    keys,
    kpis,
    llm_health,
    media,
    ops,
    ops_inbox,
    products,
    suppliers,
    tasks,
    webhooks,
)
from retail_pipeline.api.auth import Principal, current_principal
from retail_pipeline.api.database import AppDatabase
from retail_pipeline.db import migrations
from retail_pipeline.settings import Settings, get_settings

logger = logging.getLogger(__name__)

# Health must answer quickly even when the database hangs rather than refuses.
HEALTH_STATEMENT_TIMEOUT_MS = 2000

router = APIRouter()


def _first_line(exc: BaseException) -> str:
    # SQLAlchemy wraps the driver error and appends a docs link; the driver's own first line is the useful part.
    return str(getattr(exc, "orig", None) or exc).strip().splitlines()[0]


def _unavailable(reason: str, **body: Any) -> JSONResponse:
    return JSONResponse({"status": "unavailable", **body, "reason": reason}, status_code=503)


@router.get("/health", tags=["ops"])
def health(request: Request) -> JSONResponse:
    """200 when the database answers and every migration on disk is applied; 503 with a reason otherwise."""
    database: AppDatabase = request.app.state.database
    settings: Settings = request.app.state.settings
    try:
        with database.engine.connect() as conn:
            conn.exec_driver_sql(f"SET LOCAL statement_timeout = {HEALTH_STATEMENT_TIMEOUT_MS}")
            conn.exec_driver_sql("SELECT 1")
        state = migrations.status(database.url, settings.sql_dir)
    except migrations.MigrationError as exc:
        return _unavailable(f"migrations refused: {exc}", database="ok")
    # Whatever layer failed (driver, pool, starting the embedded server), the database is not there.
    except Exception as exc:
        logger.warning("health: database unreachable", exc_info=True)
        return _unavailable(f"database unreachable: {_first_line(exc)}", database="unreachable")

    body = {"applied": state.applied, "pending": [m.path.name for m in state.pending]}
    if state.pending:
        names = ", ".join(body["pending"])
        return _unavailable(
            f"{len(state.pending)} migration(s) not applied ({names}): run `retail-pipeline db migrate`",
            database="ok",
            migrations=body,
        )
    return JSONResponse({"status": "ok", "database": "ok", "migrations": body})


@router.get("/whoami", tags=["auth"])
def whoami(principal: Annotated[Principal, Depends(current_principal)]) -> dict[str, Any]:
    """The caller's role (``anonymous`` without a key) and the role order the sidecar enforces."""
    key = None
    if principal.key_id is not None:
        key = {"id": principal.key_id, "prefix": principal.key_prefix, "label": principal.label}
    return {"role": principal.role, "key": key, "roles": list(keys.ROLE_RANK)}


def create_app(settings: Settings | None = None) -> FastAPI:
    """A new sidecar app. Nothing touches the database until the first request that needs it."""
    settings = settings or get_settings()
    app = FastAPI(
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
    app.include_router(kpis.router)
    app.include_router(llm_health.router)
    app.include_router(commands.router)
    app.include_router(channels.router)
    app.include_router(webhooks.router)
    app.include_router(products.router)
    app.include_router(ai.router)
    app.include_router(export.router)
    app.include_router(suppliers.router)
    return app

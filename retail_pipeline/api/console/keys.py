"""Console page: API keys (admin). Creating and revoking use the same functions as /api/keys."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse
from sqlalchemy import Engine

from retail_pipeline.api import keys
from retail_pipeline.api.console.session import PageAdmin
from retail_pipeline.api.console.templating import render
from retail_pipeline.api.database import db_engine
from retail_pipeline.api.key_admin import create_key, revoke_key

router = APIRouter(tags=["console"], include_in_schema=False)


def _page(request: Request, principal, engine: Engine, **extra) -> HTMLResponse:
    context = {"active": "keys", "keys": keys.list_api_keys(engine), "roles": keys.ROLES, **extra}
    return render(request, "keys.html", context, principal)


@router.get("/console/keys", response_class=HTMLResponse)
def page(
    request: Request, principal: PageAdmin, engine: Annotated[Engine, Depends(db_engine)]
) -> HTMLResponse:
    return _page(request, principal, engine)


@router.post("/console/keys", response_class=HTMLResponse)
def create(
    request: Request,
    principal: PageAdmin,
    engine: Annotated[Engine, Depends(db_engine)],
    role: Annotated[str, Form()],
    label: Annotated[str | None, Form(max_length=100)] = None,
) -> HTMLResponse:
    return _page(request, principal, engine, created=create_key(engine, role, label))


@router.post("/console/keys/{key_id}/revoke", response_class=HTMLResponse)
def revoke(
    key_id: int, request: Request, principal: PageAdmin, engine: Annotated[Engine, Depends(db_engine)]
) -> HTMLResponse:
    return _page(request, principal, engine, revoked=revoke_key(engine, key_id))

"""Admin routes for API keys: list, create (the key is shown once), revoke. The CLI's functions, over HTTP."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, status
from pydantic import BaseModel, Field
from sqlalchemy import Engine

from retail_pipeline.api import keys
from retail_pipeline.api.auth import Admin
from retail_pipeline.api.database import db_engine

router = APIRouter(prefix="/api/keys", tags=["auth"])


class KeyView(BaseModel):
    id: int
    prefix: str
    role: str
    label: str | None
    created_at: datetime
    revoked_at: datetime | None
    last_used_at: datetime | None


class NewKey(BaseModel):
    role: str = Field(description="viewer, operator or admin")
    label: str | None = Field(default=None, max_length=100)


class CreatedKey(KeyView):
    key: str = Field(description="The key itself: shown this once, stored only as a hash.")


@router.get("", response_model=list[KeyView])
def list_keys(_: Admin, engine: Annotated[Engine, Depends(db_engine)]) -> list[dict]:
    return keys.list_api_keys(engine)


def create_key(engine: Engine, role: str, label: str | None) -> dict:
    try:
        secret, row = keys.issue_api_key(engine, role, (label or "").strip() or None)
    except ValueError as exc:
        raise HTTPException(
            status.HTTP_422_UNPROCESSABLE_CONTENT, detail={"field": "role", "message": str(exc)}
        ) from None
    return {**row, "key": secret}


@router.post("", response_model=CreatedKey, status_code=status.HTTP_201_CREATED)
def post_key(body: NewKey, _: Admin, engine: Annotated[Engine, Depends(db_engine)]) -> dict:
    return create_key(engine, body.role, body.label)


def revoke_key(engine: Engine, key_id: int) -> dict:
    try:
        return keys.revoke_api_key(engine, key_id)
    except keys.ApiKeyNotFound as exc:
        raise HTTPException(status.HTTP_404_NOT_FOUND, detail=str(exc)) from None


@router.post("/{key_id}/revoke", response_model=KeyView)
def post_revoke(key_id: int, _: Admin, engine: Annotated[Engine, Depends(db_engine)]) -> dict:
    return revoke_key(engine, key_id)

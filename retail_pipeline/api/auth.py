"""Who is calling: the role behind ``X-API-Key``, and ``require_role`` to guard routes with it."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, HTTPException, status
from fastapi.security import APIKeyHeader
from sqlalchemy import Engine

from retail_pipeline.api import keys
from retail_pipeline.api.database import db_engine

API_KEY_HEADER = "X-API-Key"

# auto_error=False: a missing header means anonymous, not an error. Declared as a security scheme
# so /docs offers an "Authorize" box for it.
_api_key_header = APIKeyHeader(name=API_KEY_HEADER, auto_error=False)


@dataclass(frozen=True)
class Principal:
    role: str
    key_id: int | None = None
    key_prefix: str | None = None
    label: str | None = None


ANONYMOUS = Principal(role=keys.ANONYMOUS)


def current_principal(
    api_key: Annotated[str | None, Depends(_api_key_header)], engine: Annotated[Engine, Depends(db_engine)]
) -> Principal:
    """Dependency: anonymous without a key, the key's role with a live one, 401 for any other key."""
    if api_key is None:
        return ANONYMOUS
    try:
        row = keys.authenticate(engine, api_key)
    except keys.ApiKeyRejected as exc:
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED, detail=str(exc), headers={"WWW-Authenticate": "APIKey"}
        ) from None
    return Principal(role=row["role"], key_id=row["id"], key_prefix=row["prefix"], label=row["label"])


def require_role(minimum: str) -> Callable[..., Principal]:
    """Dependency factory: ``Depends(require_role("operator"))`` admits operator and admin keys.

    Returns the Principal, so a route can also take it as a parameter. An unknown role name fails
    here, when the route is declared, rather than on the first request.
    """
    keys.check_role(minimum)

    def dependency(principal: Annotated[Principal, Depends(current_principal)]) -> Principal:
        if keys.ROLE_RANK[principal.role] < keys.ROLE_RANK[minimum]:
            who = (
                f"no API key was sent (header {API_KEY_HEADER})"
                if principal.key_prefix is None
                else f"key {principal.key_prefix} has role {principal.role}"
            )
            raise HTTPException(
                status.HTTP_403_FORBIDDEN, detail=f"this endpoint needs role {minimum} or above; {who}"
            )
        return principal

    return dependency


# Route parameters that require a role (and give the caller).
Operator = Annotated[Principal, Depends(require_role("operator"))]
Viewer = Annotated[Principal, Depends(require_role("viewer"))]

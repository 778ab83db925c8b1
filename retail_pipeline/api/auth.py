"""Who is calling: the role behind ``X-API-Key`` or a console session, and ``require_role`` to guard routes.

One mechanism for both: a route guarded by ``Operator`` works for a script sending its key and for the
console in a browser. A request authenticated by the session cookie alone must also carry the session's
CSRF token when it changes anything (a header key cannot be sent by another site, a cookie can).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, HTTPException, Request, status
from fastapi.security import APIKeyCookie, APIKeyHeader
from sqlalchemy import Engine

from retail_pipeline.api import keys
from retail_pipeline.api.console import session_store as sessions
from retail_pipeline.api.database import db_engine

API_KEY_HEADER = "X-API-Key"

# auto_error=False: a missing header means anonymous, not an error. Declared as a security scheme
# so /docs offers an "Authorize" box for it.
_api_key_header = APIKeyHeader(name=API_KEY_HEADER, auto_error=False)
_session_cookie = APIKeyCookie(name=sessions.COOKIE_NAME, auto_error=False)
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


@dataclass(frozen=True)
class Principal:
    role: str
    key_id: int | None = None
    key_prefix: str | None = None
    label: str | None = None
    session_id: int | None = None  # set when the caller is a console session
    csrf_token: str | None = None

    @property
    def can_act(self) -> bool:
        return keys.ROLE_RANK[self.role] >= keys.ROLE_RANK["operator"]


ANONYMOUS = Principal(role=keys.ANONYMOUS)


async def _presented_csrf(request: Request) -> str | None:
    header = request.headers.get(sessions.CSRF_HEADER)
    if header is not None:
        return header
    if request.headers.get("content-type", "").startswith(
        ("application/x-www-form-urlencoded", "multipart/form-data")
    ):
        field = (await request.form()).get(sessions.CSRF_FIELD)  # Starlette caches the parsed form
        return field if isinstance(field, str) else None
    return None


async def _session_principal(request: Request, engine: Engine, token: str) -> Principal:
    session = sessions.live_session(engine, token)
    if session is None:
        return ANONYMOUS  # signed out, expired or revoked: the console sends the person to sign in
    if request.method not in SAFE_METHODS and not sessions.csrf_matches(
        session, await _presented_csrf(request)
    ):
        raise HTTPException(
            status.HTTP_403_FORBIDDEN,
            detail=f"missing or wrong CSRF token: send the session's token in {sessions.CSRF_HEADER}",
        )
    key = session.key
    return Principal(role=key["role"], key_id=key["id"], key_prefix=key["prefix"], label=key["label"],
                     session_id=session.id, csrf_token=session.csrf_token)  # fmt: skip


async def current_principal(
    request: Request,
    api_key: Annotated[str | None, Depends(_api_key_header)],
    session_token: Annotated[str | None, Depends(_session_cookie)],
    engine: Annotated[Engine, Depends(db_engine)],
) -> Principal:
    """Dependency: the key's role with a live X-API-Key (401 for any other key); else the console session's
    (CSRF-checked on state-changing requests); else anonymous."""
    if api_key is None:
        return await _session_principal(request, engine, session_token) if session_token else ANONYMOUS
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
Admin = Annotated[Principal, Depends(require_role("admin"))]
Operator = Annotated[Principal, Depends(require_role("operator"))]
Viewer = Annotated[Principal, Depends(require_role("viewer"))]

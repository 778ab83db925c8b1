"""Console sessions: an API key signs in once; the browser then holds a random session token.

The cookie carries only that token (stored here as its sha256, like keys). Each session has its own CSRF
token, which every state-changing request made with the cookie must echo (header ``X-CSRF-Token`` or form
field ``csrf_token``). A session is looked up with its key on every request, so signing out, expiry and
revoking the key all take effect on the next request.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Engine, text

from retail_pipeline.api import keys

COOKIE_NAME = "rp_session"
CSRF_HEADER = "X-CSRF-Token"
CSRF_FIELD = "csrf_token"


@dataclass(frozen=True)
class Session:
    id: int
    csrf_token: str
    key: dict[str, Any]  # id, prefix, role, label


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def open_session(
    engine: Engine, api_key: str, *, hours: float, user_agent: str | None = None
) -> tuple[str, Session]:
    """Sign in with a live key (raises keys.ApiKeyRejected otherwise); returns the cookie token and the session."""
    key = keys.authenticate(engine, api_key)
    token, csrf = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
    with engine.begin() as conn:
        session_id = conn.execute(
            text(
                "INSERT INTO retail.console_sessions (token_hash, csrf_token, api_key_id, user_agent, expires_at)"
                " VALUES (:h, :c, :k, :ua, now() + make_interval(secs => :secs)) RETURNING id"
            ),
            {
                "h": _hash(token),
                "c": csrf,
                "k": key["id"],
                "ua": (user_agent or "")[:300],
                "secs": hours * 3600,
            },
        ).scalar_one()
    return token, Session(id=session_id, csrf_token=csrf, key=key)


LIVE_SESSION = text(
    """
    SELECT s.id, s.csrf_token, k.id AS key_id, k.prefix, k.role, k.label
      FROM retail.console_sessions s
      JOIN retail.api_keys k ON k.id = s.api_key_id
     WHERE s.token_hash = :h AND s.ended_at IS NULL AND s.expires_at > now() AND k.revoked_at IS NULL
    """
)


def live_session(engine: Engine, token: str) -> Session | None:
    """The session behind a cookie token, or None when it is unknown, ended, expired or its key revoked."""
    if not token or len(token) > 128:
        return None
    with engine.connect() as conn:
        row = conn.execute(LIVE_SESSION, {"h": _hash(token)}).one_or_none()
    if row is None:
        return None
    key = {"id": row.key_id, "prefix": row.prefix, "role": row.role, "label": row.label}
    return Session(id=row.id, csrf_token=row.csrf_token, key=key)


def end_session(engine: Engine, session_id: int) -> None:
    with engine.begin() as conn:
        conn.execute(
            text("UPDATE retail.console_sessions SET ended_at = coalesce(ended_at, now()) WHERE id = :id"),
            {"id": session_id},
        )


def csrf_matches(session: Session, presented: str | None) -> bool:
    return presented is not None and secrets.compare_digest(presented.encode(), session.csrf_token.encode())


STILL_LIVE = text(
    """
    SELECT EXISTS (
        SELECT 1 FROM retail.api_keys k
         WHERE k.id = :key_id AND k.revoked_at IS NULL
           AND (CAST(:session_id AS bigint) IS NULL OR EXISTS (
                SELECT 1 FROM retail.console_sessions s
                 WHERE s.id = :session_id AND s.api_key_id = k.id AND s.ended_at IS NULL AND s.expires_at > now())))
    """
)


def still_live(engine: Engine, key_id: int, session_id: int | None) -> bool:
    """Whether a key (and the console session it opened, if any) may still be served: a long-lived
    response (the live event stream) asks this as it goes, so revoking or signing out ends it too."""
    with engine.connect() as conn:
        return bool(conn.execute(STILL_LIVE, {"key_id": key_id, "session_id": session_id}).scalar_one())

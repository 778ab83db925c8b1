"""Sidecar API keys: created once, stored only as a hash, revoked rather than deleted.

A key looks like ``rp_1a2b3c4d_<43 url-safe chars>``. The ``rp_1a2b3c4d`` part is its public
prefix: stored in clear so people can tell keys apart in ``apikey list`` and revoke one without
holding the secret. The CLI (``retail-pipeline apikey …``) and the sidecar share these functions.
"""

from __future__ import annotations

import hashlib
import secrets
import threading
import time
from typing import Any

from sqlalchemy import Engine, text

ANONYMOUS = "anonymous"
ROLES = ("viewer", "operator", "admin")  # ascending privilege; the table's CHECK allows exactly these
ROLE_RANK = {ANONYMOUS: 0, **{role: rank for rank, role in enumerate(ROLES, start=1)}}

KEY_SCHEME = "rp"
# Authenticating more often than this does not move last_used_at: a busy key would otherwise turn
# every read request into a write on one hot row.
LAST_USED_RESOLUTION = "1 minute"
# A live key's role is remembered this long per process, so a request pays no database round trip
# for it; a revocation made in another process (the CLI, another sidecar) applies within this time.
AUTH_CACHE_SECONDS = 5.0


class ApiKeyNotFound(LookupError):
    """No single key matches the id or prefix given."""


class ApiKeyRejected(Exception):
    """A presented key is unknown or revoked; the message says which."""


def hash_key(key: str) -> str:
    # A plain sha256 is enough here, unlike for passwords: keys carry 256 random bits, so there is no
    # dictionary to try, and a fast deterministic hash lets the lookup use the unique index on key_hash.
    return hashlib.sha256(key.encode()).hexdigest()


def check_role(role: str) -> str:
    if role not in ROLES:
        raise ValueError(f"unknown role {role!r}: choose one of {', '.join(ROLES)}")
    return role


def issue_api_key(engine: Engine, role: str, label: str | None = None) -> tuple[str, dict[str, Any]]:
    """Store a new key for ``role``; the key in plaintext (this is the only time it exists) and its row."""
    check_role(role)
    prefix = f"{KEY_SCHEME}_{secrets.token_hex(4)}"
    key = f"{prefix}_{secrets.token_urlsafe(32)}"
    with engine.begin() as conn:
        row = conn.execute(
            text(
                "INSERT INTO retail.api_keys (key_hash, prefix, role, label) VALUES (:h, :p, :r, :l)"
                " RETURNING id, prefix, role, label, created_at, revoked_at, last_used_at"
            ),
            {"h": hash_key(key), "p": prefix, "r": role, "l": label},
        ).one()
    return key, dict(row._mapping)


def create_api_key(engine: Engine, role: str, label: str | None = None) -> str:
    """Store a new key for ``role`` and return it in plaintext: this is the only time it exists."""
    return issue_api_key(engine, role, label)[0]


def _key_filter(key_prefix_or_id: str | int) -> tuple[str, dict[str, Any], str]:
    """SQL condition, parameters and a description for an id, a prefix (``rp_1a2b3c4d``) or a whole
    leaked key, which is matched by its prefix."""
    value = str(key_prefix_or_id).strip()
    if value.isdigit():
        return "id = :v", {"v": int(value)}, f"id {value}"
    if not value.startswith(f"{KEY_SCHEME}_"):
        raise ApiKeyNotFound(f"{value!r} is neither a key id nor a prefix like {KEY_SCHEME}_1a2b3c4d")
    prefix = "_".join(value.split("_", 2)[:2])
    return "prefix = :v", {"v": prefix}, f"prefix {prefix}"


def revoke_api_key(engine: Engine, key_prefix_or_id: str | int) -> dict[str, Any]:
    """Revoke one key (idempotent: revoking a revoked key keeps its first revocation time)."""
    where, params, described = _key_filter(key_prefix_or_id)
    with engine.begin() as conn:
        rows = conn.execute(text(f"SELECT id FROM retail.api_keys WHERE {where}"), params).all()
        if not rows:
            raise ApiKeyNotFound(f"no API key with {described}; see `retail-pipeline apikey list`")
        if len(rows) > 1:
            raise ApiKeyNotFound(f"{len(rows)} API keys share {described}; revoke one by id instead")
        row = conn.execute(
            text(
                "UPDATE retail.api_keys SET revoked_at = coalesce(revoked_at, now())"
                " WHERE id = :id RETURNING id, prefix, role, label, created_at, revoked_at, last_used_at"
            ),
            {"id": rows[0].id},
        ).one()
    _forget(row.id)  # at once in this process; others within AUTH_CACHE_SECONDS
    return dict(row._mapping)


def list_api_keys(engine: Engine) -> list[dict[str, Any]]:
    """Every key, revoked ones included, oldest first; never the hash."""
    with engine.connect() as conn:
        rows = conn.execute(
            text(
                "SELECT id, prefix, role, label, created_at, revoked_at, last_used_at"
                " FROM retail.api_keys ORDER BY id"
            )
        )
        return [dict(row._mapping) for row in rows]


# One round trip per request: the key's row, and its last use recorded at most once a minute.
AUTHENTICATE = text(
    f"""
    WITH key AS (SELECT id, prefix, role, label, revoked_at FROM retail.api_keys WHERE key_hash = :h),
         used AS (UPDATE retail.api_keys a SET last_used_at = now()
                    FROM key
                   WHERE a.id = key.id AND key.revoked_at IS NULL
                     AND (a.last_used_at IS NULL OR a.last_used_at < now() - interval '{LAST_USED_RESOLUTION}')
                  RETURNING a.id)
    SELECT id, prefix, role, label, revoked_at FROM key
    """
)


_live_keys: dict[tuple[str, str], tuple[float, dict[str, Any]]] = {}  # (database, hash) -> (expiry, row)
_live_keys_lock = threading.Lock()


def _forget(key_id: int) -> None:
    with _live_keys_lock:
        for cache_key in [k for k, (_, row) in _live_keys.items() if row["id"] == key_id]:
            del _live_keys[cache_key]


def authenticate(engine: Engine, key: str) -> dict[str, Any]:
    """The key's row (id, prefix, role, label) if it is live; records its use. Raises ApiKeyRejected.
    Live keys are remembered for AUTH_CACHE_SECONDS; unknown and revoked ones are looked up each time."""
    cache_key = (str(engine.url), hash_key(key))
    now = time.monotonic()
    with _live_keys_lock:
        cached = _live_keys.get(cache_key)
    if cached is not None and cached[0] > now:
        return cached[1]
    with engine.begin() as conn:
        row = conn.execute(AUTHENTICATE, {"h": cache_key[1]}).one_or_none()
    if row is None:
        raise ApiKeyRejected("unknown API key: check the X-API-Key header, or ask an admin for a key")
    if row.revoked_at is not None:
        raise ApiKeyRejected(
            f"API key {row.prefix} was revoked at {row.revoked_at.isoformat()}; ask an admin for a new one"
        )
    live = {"id": row.id, "prefix": row.prefix, "role": row.role, "label": row.label}
    with _live_keys_lock:
        _live_keys[cache_key] = (now + AUTH_CACHE_SECONDS, live)
    return live

"""Numbered plain-SQL migrations with Flyway's rules, in a few dozen lines.

Why not yoyo-migrations: it records applied ids but no checksums, so an edited, already-applied
file passes silently, and its lock is a table rather than an advisory lock. The rules here:
files ``NNN_name.sql`` apply once, in order, each in its own transaction, under a session advisory
lock (concurrent migrators wait), recorded with a sha256; an applied file that changed is refused.
"""

from __future__ import annotations

import hashlib
import os
import re
import time
from dataclasses import dataclass
from pathlib import Path

import psycopg

from retail_pipeline.db.urls import BUSINESS_SCHEMA, DAGSTER_SCHEMA, libpq_url

MIGRATION_FILE = re.compile(r"^(\d+)_([A-Za-z0-9_]+)\.sql$")
ADVISORY_LOCK_KEY = 0x7265_7461_696C  # "retail": one lock for every migrator of this database
HISTORY_TABLE = f"{BUSINESS_SCHEMA}.schema_migrations"


class MigrationError(RuntimeError):
    """The migrations on disk and the ones recorded in the database disagree."""


@dataclass(frozen=True)
class Migration:
    version: int
    name: str
    path: Path
    checksum: str

    @property
    def sql(self) -> str:
        return self.path.read_text()


@dataclass(frozen=True)
class MigrationStatus:
    applied: list[int]
    pending: list[Migration]

    @property
    def current(self) -> bool:
        return not self.pending


def discover(sql_dir: Path) -> list[Migration]:
    """The migration files in `sql_dir`, in order, each with its sha256."""
    migrations: dict[int, Migration] = {}
    for path in sorted(sql_dir.glob("*.sql")):
        match = MIGRATION_FILE.match(path.name)
        if not match:
            raise MigrationError(f"{path.name}: migration files must be named NNN_description.sql")
        version = int(match.group(1))
        if version in migrations:
            raise MigrationError(
                f"{path.name}: version {version} is also used by {migrations[version].path.name}"
            )
        checksum = hashlib.sha256(path.read_bytes()).hexdigest()
        migrations[version] = Migration(version, match.group(2), path, checksum)
    return [migrations[v] for v in sorted(migrations)]


_discovered: dict[Path, tuple[tuple, list[Migration]]] = {}


def discover_cached(sql_dir: Path) -> list[Migration]:
    """`discover`, read again only when a file in `sql_dir` was added, removed or changed (name, size,
    mtime): a health check polled many times a second hashes nothing."""
    stamp = tuple(sorted((e.name, e.stat().st_size, e.stat().st_mtime_ns) for e in os.scandir(sql_dir)))
    cached = _discovered.get(sql_dir)
    if cached is None or cached[0] != stamp:
        cached = _discovered[sql_dir] = (stamp, discover(sql_dir))
    return cached[1]


def status_from_history(on_disk: list[Migration], history: dict[int, str]) -> MigrationStatus:
    """The status given the recorded history (version → checksum); raises MigrationError like `status`."""
    return MigrationStatus(applied=sorted(history), pending=_verify(on_disk, history))


def _ensure_history(conn: psycopg.Connection) -> None:
    # Dagster's own tables live in their schema; create it here so Dagster never needs DDL rights on public.
    conn.execute(f"CREATE SCHEMA IF NOT EXISTS {BUSINESS_SCHEMA}")
    conn.execute(f"CREATE SCHEMA IF NOT EXISTS {DAGSTER_SCHEMA}")
    conn.execute(
        f"""CREATE TABLE IF NOT EXISTS {HISTORY_TABLE} (
              version integer PRIMARY KEY,
              name text NOT NULL,
              checksum char(64) NOT NULL,
              applied_at timestamptz NOT NULL DEFAULT now(),
              execution_ms integer NOT NULL)"""
    )


def _applied(conn: psycopg.Connection) -> dict[int, str]:
    exists = conn.execute("SELECT to_regclass(%s)", (HISTORY_TABLE,)).fetchone()[0]
    if exists is None:
        return {}
    return dict(conn.execute(f"SELECT version, checksum FROM {HISTORY_TABLE}").fetchall())


def _verify(on_disk: list[Migration], applied: dict[int, str]) -> list[Migration]:
    """Refuse edited or vanished applied files; return what is still to apply."""
    by_version = {m.version: m for m in on_disk}
    for version, checksum in sorted(applied.items()):
        migration = by_version.get(version)
        if migration is None:
            raise MigrationError(f"migration {version} is recorded as applied but its file is missing")
        if migration.checksum != checksum.strip():
            raise MigrationError(
                f"{migration.path.name} was edited after it was applied "
                f"(recorded sha256 {checksum.strip()[:12]}…, file now {migration.checksum[:12]}…). "
                "Applied migrations are immutable: restore the file and add a new numbered migration."
            )
    return [m for m in on_disk if m.version not in applied]


def status(database_url: str, sql_dir: Path) -> MigrationStatus:
    on_disk = discover(sql_dir)
    with psycopg.connect(libpq_url(database_url), autocommit=True, connect_timeout=5) as conn:
        applied = _applied(conn)
    return MigrationStatus(applied=sorted(applied), pending=_verify(on_disk, applied))


def migrate(database_url: str, sql_dir: Path) -> list[Migration]:
    """Apply pending migrations; returns those applied by this call (empty when already current)."""
    on_disk = discover(sql_dir)
    done: list[Migration] = []
    with psycopg.connect(libpq_url(database_url), autocommit=True, connect_timeout=10) as conn:
        conn.execute("SELECT pg_advisory_lock(%s)", (ADVISORY_LOCK_KEY,))
        try:
            with conn.transaction():
                _ensure_history(conn)
            # Read the history only once we hold the lock: another migrator may just have finished.
            for migration in _verify(on_disk, _applied(conn)):
                started = time.monotonic()
                with conn.transaction():
                    conn.execute(migration.sql.encode())
                    conn.execute(
                        f"INSERT INTO {HISTORY_TABLE} (version, name, checksum, execution_ms)"
                        " VALUES (%s, %s, %s, %s)",
                        (
                            migration.version,
                            migration.name,
                            migration.checksum,
                            int((time.monotonic() - started) * 1000),
                        ),
                    )
                done.append(migration)
        finally:
            conn.execute("SELECT pg_advisory_unlock(%s)", (ADVISORY_LOCK_KEY,))
    return done

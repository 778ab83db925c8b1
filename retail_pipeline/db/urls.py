"""One database URL in, the right driver per consumer out.

SQLAlchemy 2.1 reads ``postgresql://`` as psycopg 3; dagster-postgres needs psycopg2 (it breaks on
``NOTIFY run_events, $1`` otherwise), and Dagster's tables live in their own schema.
"""

from __future__ import annotations

from sqlalchemy.engine import URL, make_url

BUSINESS_SCHEMA = "retail"
DAGSTER_SCHEMA = "dagster"


def with_driver(url: str, driver: str) -> str:
    parsed = make_url(url)
    if parsed.get_backend_name() not in ("postgresql", "postgres"):
        raise ValueError(f"DATABASE_URL must be a PostgreSQL URL, got backend {parsed.get_backend_name()!r}")
    return parsed.set(drivername=f"postgresql+{driver}").render_as_string(hide_password=False)


def app_url(url: str) -> str:
    """SQLAlchemy URL for the application (psycopg 3)."""
    return with_driver(url, "psycopg")


def libpq_url(url: str) -> str:
    """Plain ``postgresql://`` URL for psql and raw psycopg connections."""
    return make_url(app_url(url)).set(drivername="postgresql").render_as_string(hide_password=False)


def dagster_url(url: str) -> str:
    """URL for dagster-postgres: psycopg2 driver, search_path pinned to the dagster schema."""
    parsed: URL = make_url(with_driver(url, "psycopg2"))
    query = dict(parsed.query)
    query["options"] = f"-csearch_path={DAGSTER_SCHEMA}"
    return parsed.set(query=query).render_as_string(hide_password=False)


def with_database(url: str, database: str) -> str:
    return make_url(url).set(database=database).render_as_string(hide_password=False)


def redact(url: str) -> str:
    return make_url(url).render_as_string(hide_password=True)

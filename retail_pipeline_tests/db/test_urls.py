import pytest
from sqlalchemy.engine import make_url

from retail_pipeline.db.urls import app_url, dagster_url, libpq_url, redact


def test_each_consumer_gets_its_driver():
    url = "postgresql://app:s3cret@db.example:5433/retail"
    assert app_url(url) == "postgresql+psycopg://app:s3cret@db.example:5433/retail"
    assert (
        libpq_url("postgresql+psycopg2://app:s3cret@db.example/retail")
        == "postgresql://app:s3cret@db.example/retail"
    )
    dagster = make_url(dagster_url(url))
    # psycopg2 because dagster-postgres breaks on psycopg 3 (NOTIFY … $1); its tables in their own schema
    assert dagster.drivername == "postgresql+psycopg2"
    assert dagster.query["options"] == "-csearch_path=dagster"
    assert (dagster.host, dagster.port, dagster.database, dagster.password) == (
        "db.example",
        5433,
        "retail",
        "s3cret",
    )


def test_embedded_socket_urls_keep_their_host_parameter():
    url = "postgresql://postgres:@/postgres?host=/tmp/x/pg"
    assert make_url(dagster_url(url)).query["host"] == "/tmp/x/pg"


def test_non_postgres_urls_are_refused_and_passwords_redacted():
    with pytest.raises(ValueError, match="must be a PostgreSQL URL"):
        app_url("sqlite:///x.db")
    assert "s3cret" not in redact("postgresql://app:s3cret@h/db")

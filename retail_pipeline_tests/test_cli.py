"""The `retail-pipeline` command as a user runs it: a subprocess with only environment variables."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import psycopg

from retail_pipeline.settings import PROJECT_ROOT

CLI = [sys.executable, "-m", "retail_pipeline.cli"]


def run_cli(*args: str, env: dict[str, str], timeout: float = 180) -> subprocess.CompletedProcess:
    full_env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "DAGSTER_HOME")}
    full_env.update(env)
    return subprocess.run(
        [*CLI, *args], cwd=PROJECT_ROOT, env=full_env, capture_output=True, text=True, timeout=timeout
    )


def test_embedded_database_lifecycle_without_database_url(scratch_dir: Path):
    env = {"RETAIL_DATA_DIR": str(scratch_dir / "var")}
    try:
        url = run_cli("db", "url", env=env)
        assert url.returncode == 0, url.stderr
        url = url.stdout.strip()
        assert url.startswith("postgresql://") and str(scratch_dir) in url.replace("%2F", "/")

        first = run_cli("db", "migrate", env=env)
        assert first.returncode == 0, first.stderr
        assert "applied 001_" in first.stdout
        second = run_cli("db", "migrate", env=env)
        assert second.stdout.strip() == "database is up to date"

        with psycopg.connect(url) as conn:  # the server outlives the command that started it
            assert conn.execute("SELECT count(*) FROM retail.schema_migrations").fetchone()[0] >= 1
    finally:
        stopped = run_cli("db", "stop", env=env)
    assert stopped.returncode == 0 and "stopped" in stopped.stdout
    assert not (scratch_dir / "var" / "pg" / "postmaster.pid").exists()


def test_edited_migration_gives_a_clear_error_not_a_traceback(database_url, tmp_path):
    sql_dir = tmp_path / "sql"
    sql_dir.mkdir()
    for f in (PROJECT_ROOT / "sql").glob("*.sql"):
        (sql_dir / f.name).write_bytes(f.read_bytes() + b"\n-- edited\n")
    done = run_cli("db", "migrate", env={"DATABASE_URL": database_url, "SQL_DIR": str(sql_dir)})
    assert done.returncode == 2
    assert "was edited after it was applied" in done.stderr and "Traceback" not in done.stderr


def test_apikey_create_prints_the_key_once_and_stores_only_its_hash(database_url, tmp_path):
    env = {"DATABASE_URL": database_url, "RETAIL_DATA_DIR": str(tmp_path / "var")}
    done = run_cli("apikey", "create", "--role", "operator", "--label", "ci", env=env)
    assert done.returncode == 0, done.stderr
    key = done.stdout.strip()
    assert len(key) >= 32
    with psycopg.connect(database_url) as conn:
        stored = conn.execute("SELECT * FROM retail.api_keys").fetchall()
    assert len(stored) == 1 and key not in json.dumps([list(map(str, row)) for row in stored])
    bad = run_cli("apikey", "create", "--role", "superuser", env=env)
    assert bad.returncode == 2 and "invalid choice" in bad.stderr


def test_extract_product_prints_the_labelled_fields_of_a_page():
    page = (
        PROJECT_ROOT
        / "retail_pipeline_tests"
        / "integrations"
        / "suppliers"
        / "extraction"
        / "pages"
        / "aggregateoffer_marketplace_fr.json"
    )
    label = json.loads(page.read_text())
    done = run_cli("extract-product", str(page.with_suffix(".html")), "--base-url", label["url"], env={})
    assert done.returncode == 0, done.stderr
    product = json.loads(done.stdout)
    expected = label["expected"]
    assert (product["name"], product["price"], product["currency"], product["gtin"]) == (
        expected["name"],
        expected["price"],
        expected["currency"],
        expected["gtin"],
    )
    assert product["sku"] in expected["sku"]
    assert set(product) >= {
        "name",
        "price",
        "currency",
        "sku",
        "gtin",
        "mpn",
        "brand",
        "description",
        "images",
        "availability",
        "condition",
        "category",
    }

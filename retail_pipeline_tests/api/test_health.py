from __future__ import annotations

import shutil
from pathlib import Path

from fastapi.testclient import TestClient

from retail_pipeline.api.app import create_app
from retail_pipeline.db import embedded, migrations
from retail_pipeline.settings import Settings


def _copy_migrations(settings: Settings, target: Path) -> Path:
    shutil.copytree(settings.sql_dir, target)
    return target


def test_health_ok_on_a_migrated_database(client: TestClient, settings_env: Settings) -> None:
    response = client.get("/health")

    assert response.status_code == 200
    on_disk = [m.version for m in migrations.discover(settings_env.sql_dir)]
    assert response.json() == {
        "status": "ok",
        "database": "ok",
        "migrations": {"applied": on_disk, "pending": []},
    }


def test_health_503_when_a_migration_is_pending(settings_env: Settings, tmp_path: Path) -> None:
    sql_dir = _copy_migrations(settings_env, tmp_path / "sql")
    (sql_dir / "999_extra.sql").write_text("SELECT 1;\n")
    app = create_app(settings_env.model_copy(update={"sql_dir": sql_dir}))

    response = TestClient(app).get("/health")

    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "unavailable" and body["database"] == "ok"
    assert body["migrations"]["pending"] == ["999_extra.sql"]
    assert "999_extra.sql" in body["reason"] and "retail-pipeline db migrate" in body["reason"]


def test_health_503_when_an_applied_migration_was_edited(settings_env: Settings, tmp_path: Path) -> None:
    sql_dir = _copy_migrations(settings_env, tmp_path / "sql")
    first = sorted(sql_dir.glob("*.sql"))[0]
    first.write_text(first.read_text() + "\n-- edited after it was applied\n")
    app = create_app(settings_env.model_copy(update={"sql_dir": sql_dir}))

    response = TestClient(app).get("/health")

    assert response.status_code == 503
    assert first.name in response.json()["reason"] and "edited" in response.json()["reason"]


def test_health_follows_the_database_down_and_back_up(tmp_path: Path, scratch_dir: Path) -> None:
    pgdata = scratch_dir / "pg"
    url = embedded.start(pgdata)  # stopped and deleted in the finally below
    settings = Settings(database_url=url, retail_data_dir=tmp_path / "var", media_signing_key="unused")
    migrations.migrate(url, settings.sql_dir)
    app = create_app(settings)
    client = TestClient(app)
    try:
        assert client.get("/health").status_code == 200

        embedded.stop(pgdata)
        down = client.get("/health")
        assert down.status_code == 503
        assert down.json()["database"] == "unreachable"
        assert down.json()["reason"].startswith("database unreachable: ")

        embedded.start(pgdata)
        assert client.get("/health").status_code == 200
    finally:
        app.state.database.engine.dispose()
        embedded.stop(pgdata)


def test_health_503_on_a_database_nobody_migrated(settings_env: Settings, pg_server_url: str) -> None:
    from retail_pipeline.db.admin import create_database, drop_database
    from retail_pipeline.db.urls import with_database

    url = with_database(pg_server_url, "rp_health_unmigrated")
    create_database(pg_server_url, "rp_health_unmigrated")
    try:
        app = create_app(settings_env.model_copy(update={"database_url": url}))
        with TestClient(app) as client:
            response = client.get("/health")
        assert response.status_code == 503
        body = response.json()
        assert body["database"] == "ok" and body["migrations"]["applied"] == []
        assert "001_business_schema.sql" in body["migrations"]["pending"]
    finally:
        app.state.database.engine.dispose()
        drop_database(pg_server_url, "rp_health_unmigrated")

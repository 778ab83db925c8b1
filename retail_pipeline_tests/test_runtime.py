"""`prepare`: the process that prepared the database shares it with what it builds next."""

from __future__ import annotations

import pytest
from sqlalchemy import make_url

from retail_pipeline import runtime
from retail_pipeline.integrations.budgets import shared_engine
from retail_pipeline.settings import get_settings


def test_after_prepare_this_process_shares_call_budgets_in_the_database(
    monkeypatch: pytest.MonkeyPatch, tmp_path, database_url: str
):
    """Without DATABASE_URL the server is the embedded one, found by `prepare`: the settings this
    process had already read must not keep clients counting their budgets in memory."""
    monkeypatch.delenv("DATABASE_URL", raising=False)
    monkeypatch.setenv("RETAIL_DATA_DIR", str(tmp_path / "var"))
    get_settings.cache_clear()
    assert shared_engine() is None  # read before the server is known
    # The embedded server's URL, as resolve_database_url would give it, without starting one here.
    monkeypatch.setattr(runtime, "resolve_database_url", lambda settings: database_url)
    try:
        prepared = runtime.prepare()
        engine = shared_engine()
        assert prepared.database_url == database_url
        assert engine is not None and engine.url.database == make_url(database_url).database
    finally:
        get_settings.cache_clear()

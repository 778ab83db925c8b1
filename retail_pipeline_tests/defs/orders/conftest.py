"""Order test helpers: row counts. The fixtures (products listed on the channels, order sources, the
market) are in retail_pipeline_tests/conftest.py, shared with the fulfilment and channel tests."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Engine, text


def count(engine: Engine, sql: str, **params: Any) -> int:
    with engine.connect() as conn:
        return conn.scalar(text(sql), params)


def table_counts(engine: Engine) -> dict[str, int]:
    names = ("orders", "order_lines", "customers", "order_status_history", "activity_log")
    return {name: count(engine, f"SELECT count(*) FROM retail.{name}") for name in names}

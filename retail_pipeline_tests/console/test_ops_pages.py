"""Home, Inbox and Orders in a real browser: the charts over a realistic fortnight, a task resolved with a
note, a command retried, live updates arriving without a reload, an order's detail with its label."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect
from sqlalchemy import Engine

from retail_pipeline_tests.seeds.console_ops import seed_console_ops


@pytest.fixture
def fortnight(engine: Engine, settings_env) -> dict:
    return seed_console_ops(engine, settings_env.data_dir)


def test_home_shows_kpis_and_charts(signed_in, fortnight, screenshot):
    page = signed_in("viewer")
    page.goto("/console")
    expect(page.locator('[data-kpi="orders"] .value')).to_have_text(re.compile(r"^\d+$"))
    assert int(page.locator('[data-kpi="orders"] .value').inner_text()) == len(fortnight["orders"])
    expect(page.locator('svg[aria-label="Orders per day by channel"] rect')).not_to_have_count(0)
    screenshot(page, "home")

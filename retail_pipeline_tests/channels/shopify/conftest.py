"""Shopify fixtures: the simulators in-process, a client bound to them, and raw Admin API calls."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest

from retail_pipeline.channels.shopify import ShopifyClient, ShopifySettings
from retail_pipeline.simulators.shopify import ShopifyBackend
from retail_pipeline_tests.channels.rest_support import QUICK_RETRIES

BASE = "http://sim/shopify"
VERSION = "2025-07"
TOKEN = "shpat_test_token"


@pytest.fixture
def backend(sim) -> ShopifyBackend:
    return sim.backend("shopify")


@pytest.fixture
def settings() -> ShopifySettings:
    return ShopifySettings(base_url=BASE, access_token=TOKEN, api_version=VERSION, currency="NZD")


@pytest.fixture
async def client(settings, transport) -> AsyncIterator[ShopifyClient]:
    async with ShopifyClient(settings, transport=transport, policy=QUICK_RETRIES) as c:
        yield c


@pytest.fixture
async def admin(transport) -> AsyncIterator[httpx.AsyncClient]:
    """Raw Admin API calls, for what the wire itself must look like."""
    async with httpx.AsyncClient(
        transport=transport,
        base_url=f"{BASE}/admin/api/{VERSION}",
        headers={"X-Shopify-Access-Token": TOKEN},
    ) as c:
        yield c

"""Reverb fixtures: the simulators in-process, a client bound to them, raw API calls, Reverb drafts."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from retail_pipeline.channels.reverb import ReverbClient, ReverbSettings
from retail_pipeline.integrations.marketplaces.base import ListingDraft
from retail_pipeline.simulators.reverb import ReverbBackend
from retail_pipeline_tests.channels import rest_support

API = "http://sim/reverb/api"
TOKEN = "reverb-test-token"
HEADERS = {
    "Authorization": f"Bearer {TOKEN}",
    "Accept-Version": "3.0",
    "Accept": "application/hal+json",
    "Content-Type": "application/hal+json",
}
CATEGORY = "dfd39027-d134-4353-b9e4-57dc6be791b9"  # a category uuid, as /api/categories/flat lists them


def draft(sku: str = "OC-100123", **overrides: Any) -> ListingDraft:
    fields = {"make": "Fender", "model": "Player Stratocaster", "category_uuids": [CATEGORY]}
    return rest_support.draft(sku, **({"fields": fields} | overrides))


@pytest.fixture
def backend(sim) -> ReverbBackend:
    return sim.backend("reverb")


@pytest.fixture
def settings() -> ReverbSettings:
    return ReverbSettings(base_url=API, token=TOKEN, currency="NZD")


@pytest.fixture
async def client(settings, transport) -> AsyncIterator[ReverbClient]:
    async with ReverbClient(settings, transport=transport, policy=rest_support.QUICK_RETRIES) as c:
        yield c


@pytest.fixture
async def api(transport) -> AsyncIterator[httpx.AsyncClient]:
    """Raw API calls with every header Reverb requires."""
    async with httpx.AsyncClient(transport=transport, base_url=API, headers=HEADERS) as c:
        yield c

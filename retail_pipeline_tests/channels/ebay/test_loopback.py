"""The default configuration against the simulators on a real socket: EBAY_* unset, SIMULATOR_URL set."""

from __future__ import annotations

from datetime import timedelta

import pytest

from retail_pipeline.channels.ebay import EbayClient
from retail_pipeline.simulators import get_simulator

from .conftest import make_draft

pytestmark = pytest.mark.anyio


async def test_list_sell_and_ship_over_http_with_default_settings(simulator_url, simulator_app):
    sim = get_simulator(simulator_app)
    async with EbayClient() as client:
        assert client.base_url == f"{simulator_url}/ebay"
        listing = await client.create(make_draft())
        order = sim.backend("ebay").buy(listing.sku)
        (found,) = [o async for o in client.orders(sim.clock.now() - timedelta(minutes=5))]
        line_id = found["lineItems"][0]["lineItemId"]
        assert (
            await client.create_shipping_fulfillment(order.order_id, {line_id: 1}, "USPS", "9400") == "9400"
        )

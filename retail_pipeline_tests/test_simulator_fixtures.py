"""The shared simulator fixtures serve the same app in-process and on loopback."""

import httpx

from retail_pipeline.settings import get_settings
from retail_pipeline.simulators import get_simulator


async def _products_in_process(app) -> list[dict]:
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://sim") as client:
        return (await client.get("/onecheq/products.json", params={"limit": 250})).json()["products"]


def test_loopback_and_in_process_serve_one_state(simulator_app, simulator_url):
    import asyncio

    assert get_settings().simulator_url == simulator_url
    over_socket = httpx.get(f"{simulator_url}/onecheq/products.json", params={"limit": 250}).json()[
        "products"
    ]
    in_process = asyncio.run(_products_in_process(simulator_app))
    assert [p["id"] for p in over_socket] == [p["id"] for p in in_process] and len(in_process) > 0
    journal = get_simulator(simulator_app).journal
    assert sum(1 for e in journal.entries() if e.path.endswith("/products.json")) == 2

"""serve_in_thread: the same app on a real loopback socket for synchronous clients."""

from __future__ import annotations

import socket

import httpx
import pytest

from retail_pipeline.simulators import SimulatorConfig, build_simulator_app, get_simulator
from retail_pipeline.simulators.serving import serve_in_thread


def test_loopback_server_answers_and_shuts_down():
    app = build_simulator_app(SimulatorConfig(products_per_supplier=5))
    with serve_in_thread(app) as base_url:
        assert base_url.startswith("http://127.0.0.1:")
        index = httpx.get(f"{base_url}/").json()
        assert index["systems"][0]["base_url"] == f"{base_url}/onecheq"
        products = httpx.get(f"{base_url}/onecheq/products.json").json()["products"]
        assert len(products) == 5 and products[0]["images"][0]["src"].startswith(f"{base_url}/onecheq/")
        image = httpx.get(products[0]["images"][0]["src"])
        assert image.headers["content-type"] == "image/jpeg"

        # A hanging request times out on the client side and does not hold up shutdown.
        httpx.put(f"{base_url}/_control/faults/onecheq", json={"timeout_rate": 1.0, "hang_seconds": 30})
        with pytest.raises(httpx.ReadTimeout):
            httpx.get(f"{base_url}/onecheq/products.json", timeout=0.3)
        port = int(base_url.rsplit(":", 1)[1])
    assert get_simulator(app).journal.entries("onecheq")[-1].fault == "timeout"
    with pytest.raises(OSError), socket.create_connection(("127.0.0.1", port), timeout=1):
        pass

"""Fulfilment fixtures: accepted orders inserted with SQL (as the order sync would leave them), and the
Canada Post simulator with a client that does not wait between retries. Orders bought on the channels
(for tracking) come from the shared `listed` and `market` fixtures."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import Engine, text

from retail_pipeline.defs.resources import CarriersResource
from retail_pipeline.integrations.carriers.canadapost import CanadaPostSettings
from retail_pipeline.simulators.canadapost import CanadaPostBackend
from retail_pipeline_tests.seeds.ops import add_order

QUICK_ENV = {
    "CANADAPOST_BACKOFF_INITIAL_SECONDS": "0",
    "CANADAPOST_BACKOFF_MAX_SECONDS": "0",
    "CANADAPOST_THROTTLE_WAIT_SECONDS": "0",
    "CANADAPOST_MAX_ATTEMPTS": "10",
}
TORONTO = {"name": "Jane Doe", "street_1": "123 Main St", "city": "Toronto", "state": "ON",
           "zip_code": "M5V 2T6", "country_iso_code": "CA", "phone": "416-555-0199"}  # fmt: skip
SEATTLE = {"name": "John Roe", "street_1": "400 Broad St", "city": "Seattle", "state": "WA",
           "zip_code": "98109", "country_iso_code": "US"}  # fmt: skip


@pytest.fixture
def backend(sim) -> CanadaPostBackend:
    return sim.backend("canadapost")


@pytest.fixture(autouse=True)
def quick_canada_post_retries(monkeypatch: pytest.MonkeyPatch) -> None:
    """Canada Post clients built from the environment (the assets' own) retry without waiting."""
    for key, value in QUICK_ENV.items():
        monkeypatch.setenv(key, value)


@pytest.fixture
def carriers(transport, sim, engine) -> CarriersResource:
    """Clients bound to the in-process simulator (and its clock)."""
    return CarriersResource().with_kwargs(
        canada_post={
            "settings": CanadaPostSettings(_env_file=None),
            "transport": transport,
            "clock": sim.clock.now,
        }
    )


def insert_order(
    engine: Engine,
    number: int,
    *,
    address: dict[str, Any] | None = TORONTO,
    statuses: tuple[str, ...] = ("pending_acceptance", "accepted"),
    channel: str = "bestbuy",
    lines: tuple[tuple[str, int, str], ...] = (("RP-1001", 1, "199.00"),),
) -> int:
    """An order of `channel` numbered `number` (its external id `<CHANNEL>-<number>`), shipping to `address`."""
    with engine.begin() as conn:
        return add_order(
            conn,
            f"{channel.upper()}-{number}",
            statuses,
            channel=channel,
            shipping_address=address,
            lines=lines,
        )


def rows(engine: Engine, sql: str, **params: Any) -> list[dict[str, Any]]:
    with engine.connect() as conn:
        return [dict(r._mapping) for r in conn.execute(text(sql), params)]


def shipments(engine: Engine) -> dict[int, dict[str, Any]]:
    return {r["order_id"]: r for r in rows(engine, "SELECT * FROM retail.shipments ORDER BY order_id")}


def history(engine: Engine, order_id: int) -> list[str]:
    return [
        r["status"]
        for r in rows(
            engine,
            "SELECT status FROM retail.order_status_history WHERE order_id = :o ORDER BY id",
            o=order_id,
        )
    ]

"""Reference rates as the `fx_rates` asset leaves them: the simulated ECB's (the in-process simulators'
seed and start), stored as the asset stores them."""

from __future__ import annotations

from functools import cache

from sqlalchemy import Connection

from retail_pipeline.db.fx import store_rates
from retail_pipeline.simulators.config import SimulatorConfig
from retail_pipeline.simulators.ecb.models import EcbBackend

TEST_SEED = 7  # the `simulator_app` fixture's


@cache
def simulated_rates(seed: int = TEST_SEED, days: int = 1) -> tuple:
    """(day, currency, rate) of the business days published within `days` days of the simulators' start
    (1: the latest day only, all pricing needs)."""
    start = SimulatorConfig().start_time
    backend = EcbBackend(seed, start.date(), lambda: start)
    return tuple((day, c, r) for day in backend.published_days(days) for c, r in backend.rates(day).items())


def seed_fx_rates(conn: Connection, seed: int = TEST_SEED) -> dict[str, int]:
    return store_rates(conn, simulated_rates(seed), "ecb")

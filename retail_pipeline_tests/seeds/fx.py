"""Reference rates as the `fx_rates` asset leaves them: the simulated ECB's last 90 days (the in-process
simulators' seed and start), stored as the asset stores them."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Connection

from retail_pipeline.db.fx import store_rates
from retail_pipeline.simulators.config import SimulatorConfig
from retail_pipeline.simulators.ecb.models import HISTORY_DAYS, EcbBackend

TEST_SEED = 7  # the `simulator_app` fixture's


def simulated_rates(seed: int = TEST_SEED, now: datetime | None = None) -> list:
    now = now or SimulatorConfig().start_time
    backend = EcbBackend(seed, SimulatorConfig().start_time.date(), lambda: now)
    return [
        (day, c, r) for day in backend.published_days(HISTORY_DAYS) for c, r in backend.rates(day).items()
    ]


def seed_fx_rates(conn: Connection, seed: int = TEST_SEED) -> dict[str, int]:
    return store_rates(conn, simulated_rates(seed), "ecb")

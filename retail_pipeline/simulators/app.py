"""One ASGI app: each simulated external system under its own prefix, and /_control beside them.

Each system sees its own paths as if at the site root (`/onecheq/products.json` reaches OneCheq's
`/products.json`) and links back under its prefix, so a client's base URL is all that changes
between the simulator and the real site.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from fastapi import FastAPI, Request

from .clock import SimClock
from .config import ALL_SYSTEMS, SimulatorConfig
from .control import control_router
from .faults import FaultMiddleware, FaultRegistry
from .journal import JournalMiddleware, RequestJournal
from .registry import SYSTEMS


@dataclass
class Simulator:
    """What the systems share; in-process code reaches it as `get_simulator(app)`."""

    config: SimulatorConfig
    clock: SimClock
    journal: RequestJournal
    faults: FaultRegistry
    systems: dict[str, FastAPI] = field(default_factory=dict)

    def backend(self, system: str) -> Any:
        """A system's stateful model (a storefront's catalogue, a marketplace's listings)."""
        return self.systems[system].state.backend


def build_simulator_app(config: SimulatorConfig | None = None) -> FastAPI:
    """Without a config, settings come from SIMULATOR_* environment variables (see SimulatorConfig)."""
    config = config or SimulatorConfig.from_env()
    unknown = set(config.faults) - set(SYSTEMS) - {ALL_SYSTEMS}
    if unknown:
        raise ValueError(
            f"faults configured for unknown systems: {sorted(unknown)}; known: {sorted(SYSTEMS)}"
        )
    clock = SimClock(config.start_time)
    sim = Simulator(config, clock, RequestJournal(config.journal_entries), FaultRegistry(config, SYSTEMS))

    app = FastAPI(
        title="retail_pipeline simulators",
        docs_url="/_control/docs",
        openapi_url="/_control/openapi.json",
        redoc_url=None,
    )
    app.state.simulator = sim
    for name, spec in SYSTEMS.items():
        system_app = spec.build(sim)
        sim.systems[name] = system_app
        faulty = FaultMiddleware(system_app, sim.faults.injector(name))
        app.mount(f"/{name}", JournalMiddleware(faulty, system=name, journal=sim.journal, now=clock.now))
    app.include_router(control_router(sim))

    @app.get("/", tags=["control"])
    def index(request: Request) -> dict[str, Any]:
        base = str(request.base_url).rstrip("/")
        return {
            "systems": [
                {"name": spec.name, "description": spec.description, "base_url": f"{base}/{spec.name}"}
                for spec in SYSTEMS.values()
            ],
            "control": f"{base}/_control",
            "seed": config.seed,
            "now": clock.now().isoformat(),
        }

    return app


def get_simulator(app: FastAPI) -> Simulator:
    return app.state.simulator

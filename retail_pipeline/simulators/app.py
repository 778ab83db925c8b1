"""One ASGI app: each simulated external system under its own prefix, and /_control beside them.

Each system sees its own paths as if at the site root (`/onecheq/products.json` reaches OneCheq's
`/products.json`) and links back under its prefix, so a client's base URL is all that changes
between the simulator and the real site.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from fastapi import FastAPI, Request

from .clock import SimClock
from .config import ALL_SYSTEMS, SimulatorConfig
from .control import control_router
from .faults import FaultMiddleware, FaultRegistry
from .journal import JournalMiddleware, RequestJournal
from .registry import SYSTEMS


class Systems(Mapping[str, FastAPI]):
    """Each system's app (routes and backend), built the first time it is used: building all fourteen
    costs ~0.1-0.2 s (FastAPI analyses every route), which a test talking to one system paid each time."""

    def __init__(self, sim: Simulator):
        self._sim = sim
        self._built: dict[str, FastAPI] = {}
        self._lock = threading.RLock()  # loopback server thread and test thread; a build may reach another

    def __getitem__(self, name: str) -> FastAPI:
        built = self._built.get(name)
        if built is not None:
            return built
        if name not in SYSTEMS:
            raise KeyError(name)
        with self._lock:
            if name not in self._built:
                self._built[name] = SYSTEMS[name].build(self._sim)
            return self._built[name]

    def __contains__(self, name: object) -> bool:
        return name in SYSTEMS

    def __iter__(self) -> Iterator[str]:
        return iter(SYSTEMS)

    def __len__(self) -> int:
        return len(SYSTEMS)


@dataclass
class Simulator:
    """What the systems share; in-process code reaches it as `get_simulator(app)`."""

    config: SimulatorConfig
    clock: SimClock
    journal: RequestJournal
    faults: FaultRegistry
    systems: Systems = field(init=False)

    def __post_init__(self) -> None:
        self.systems = Systems(self)

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
    for name in SYSTEMS:
        faulty = FaultMiddleware(_Deferred(sim.systems, name), sim.faults.injector(name))
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


class _Deferred:
    """ASGI: a system's app, built on its first request."""

    def __init__(self, systems: Systems, name: str):
        self.systems, self.name = systems, name

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        await self.systems[self.name](scope, receive, send)


def get_simulator(app: FastAPI) -> Simulator:
    return app.state.simulator

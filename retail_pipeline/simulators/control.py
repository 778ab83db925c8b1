"""/_control: the simulated clock, fault settings and the request journal, for tests and the demo."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from fastapi import APIRouter, HTTPException, Query, Response
from pydantic import BaseModel, Field

from .config import FaultConfig
from .images import listing_photo

if TYPE_CHECKING:
    from .app import Simulator


class ClockAdvance(BaseModel):
    hours: float = Field(ge=0, description="Simulated hours to move forward.")


def control_router(sim: Simulator) -> APIRouter:
    router = APIRouter(prefix="/_control", tags=["control"])

    def clock_json() -> dict[str, Any]:
        return {
            "now": sim.clock.now().isoformat(),
            "start": sim.clock.start.isoformat(),
            "elapsed_hours": sim.clock.elapsed_hours,
        }

    def known(system: str) -> str:
        if system not in sim.faults:
            raise HTTPException(404, f"unknown system {system!r}; known: {', '.join(sim.systems)}")
        return system

    @router.get("/clock")
    def get_clock() -> dict[str, Any]:
        return clock_json()

    @router.post("/clock/advance")
    def advance_clock(body: ClockAdvance) -> dict[str, Any]:
        sim.clock.advance(body.hours)
        return clock_json()

    @router.post("/market/advance")
    def advance_market(
        minutes: float = Query(ge=0, le=7 * 24 * 60), rate_per_hour: float | None = Query(None, ge=0)
    ) -> dict[str, Any]:
        """Simulated buyers purchase live listings on every marketplace while the clock moves on."""
        from .market import Market, purchases_json

        made = Market.of(sim).advance(minutes, rate_per_hour=rate_per_hour)
        return {"purchases": purchases_json(made), "count": len(made), **clock_json()}

    @router.get("/faults")
    def get_all_faults() -> dict[str, FaultConfig]:
        return sim.faults.all()

    @router.get("/faults/{system}")
    def get_faults(system: str) -> FaultConfig:
        return sim.faults.get(known(system))

    @router.put("/faults/{system}")
    def put_faults(system: str, body: FaultConfig) -> FaultConfig:
        sim.faults.set(known(system), body)
        return body

    @router.delete("/faults", status_code=204)
    def reset_faults() -> Response:
        sim.faults.reset()
        return Response(status_code=204)

    @router.get("/photos/{name}.jpg")
    def seller_photo(name: str) -> Response:
        """The photos of listings a shop made by hand (`existing_listings.py`): any name draws one."""
        return Response(listing_photo(name), media_type="image/jpeg")

    @router.get("/journal")
    def get_journal(system: str | None = None, limit: int | None = Query(None, ge=1)) -> dict[str, Any]:
        entries = sim.journal.entries(system=system and known(system), limit=limit)
        return {"count": len(entries), "entries": [e.to_json() for e in entries]}

    @router.delete("/journal", status_code=204)
    def clear_journal() -> Response:
        sim.journal.clear()
        return Response(status_code=204)

    return router

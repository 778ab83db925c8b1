"""The ECB's reference-rate files as www.ecb.europa.eu serves them (under /ecb in the simulator).

- `GET /stats/eurofxref/eurofxref-daily.xml`: the latest business day's rates
- `GET /stats/eurofxref/eurofxref-hist-90d.xml`: every business day of the last 90 days, newest first

No authentication (public files); `text/xml`; `Last-Modified` = the latest publication. Anything else
is a 404, as the ECB answers it. Test hook: `POST /_control/rate?day=&currency=&rate=` pins a rate.
"""

from __future__ import annotations

from datetime import UTC, date
from decimal import Decimal, InvalidOperation
from email.utils import format_datetime
from typing import TYPE_CHECKING

from fastapi import FastAPI, HTTPException, Response

from . import responses
from .models import HISTORY_DAYS, EcbBackend, published_at

if TYPE_CHECKING:
    from ..app import Simulator


def build(sim: Simulator) -> FastAPI:
    backend = EcbBackend.for_simulator(sim)
    app = FastAPI(
        title="ECB euro foreign exchange reference rates (simulated)", docs_url=None, redoc_url=None
    )
    app.state.backend = backend

    def document(days: list[date]) -> Response:
        body = responses.envelope([(day, backend.rates(day)) for day in days])
        modified = format_datetime(published_at(days[0]).astimezone(UTC), usegmt=True)
        return Response(body, media_type="text/xml", headers={"Last-Modified": modified})

    @app.get("/stats/eurofxref/eurofxref-daily.xml")
    def daily() -> Response:
        return document(backend.published_days(1))

    @app.get("/stats/eurofxref/eurofxref-hist-90d.xml")
    def history() -> Response:
        return document(backend.published_days(HISTORY_DAYS))

    @app.post("/_control/rate")
    def pin(day: date, currency: str, rate: str) -> dict[str, str]:
        try:
            backend.set_rate(day, currency, Decimal(rate))
        except (ValueError, InvalidOperation) as error:
            raise HTTPException(422, str(error)) from None
        return {"day": day.isoformat(), "currency": currency, "rate": rate}

    return app

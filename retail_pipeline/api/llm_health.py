"""``GET /llm/health`` (operator): the configured LLM (never the key), a probe of its ``/models``, and
what enrichment recently spent."""

import time
from datetime import UTC, datetime, timedelta
from typing import Annotated, Literal

import httpx
from fastapi import APIRouter, Depends, Query, Request
from pydantic import BaseModel, Field
from sqlalchemy import Engine, text

from retail_pipeline.api.auth import Operator
from retail_pipeline.api.database import db_engine
from retail_pipeline.integrations.llm import LLMSettings, resolve_endpoint
from retail_pipeline.settings import Settings

router = APIRouter(prefix="/llm", tags=["ops"])

LLM_PROBE_TIMEOUT_SECONDS = 3.0
OPENAI_API = "https://api.openai.com/v1"


class LLMConfig(BaseModel):
    mode: str
    enricher: Literal["llm", "offline"]
    base_url: str | None
    model: str | None
    api_key_configured: bool
    timeout_seconds: float


class LLMProbe(BaseModel):
    ok: bool
    url: str | None
    status_code: int | None = None
    latency_ms: float | None = None
    model_listed: bool | None = Field(default=None, description="Whether /models lists the configured model.")
    error: str | None = None


class EnrichmentStats(BaseModel):
    window_hours: int
    products: int
    enriched: int
    failed: int
    blocked: int
    llm_products: int
    llm_calls: int = Field(description="Requests spent on those products (llm_attempts).")
    prompt_tokens: int
    completion_tokens: int
    by_model: dict[str, int]


class LLMHealth(BaseModel):
    status: Literal["ok", "degraded", "offline"]
    config: LLMConfig
    probe: LLMProbe
    enrichment: EnrichmentStats


ENRICHMENT_STATS = text(
    """
    SELECT coalesce(model, '(offline)') AS model, count(*) AS products,
           count(*) FILTER (WHERE status = 'enriched') AS enriched,
           count(*) FILTER (WHERE status = 'failed') AS failed,
           count(*) FILTER (WHERE status = 'blocked') AS blocked,
           count(*) FILTER (WHERE enricher = 'llm') AS llm_products,
           coalesce(sum(llm_attempts), 0) AS llm_calls,
           coalesce(sum(prompt_tokens), 0) AS prompt_tokens,
           coalesce(sum(completion_tokens), 0) AS completion_tokens
      FROM retail.products
     WHERE enriched_at >= :since
     GROUP BY coalesce(model, '(offline)')
    """
)


def _redact(message: str, secret: str | None) -> str:
    return message.replace(secret, "***") if secret else message


def probe_llm(
    base_url: str, api_key: str | None, model: str, timeout: float = LLM_PROBE_TIMEOUT_SECONDS
) -> LLMProbe:
    """GET {base_url}/models: reachable, authorised, and does it know our model? Never raises."""
    url = f"{base_url.rstrip('/')}/models"
    headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
    started = time.perf_counter()
    try:
        response = httpx.get(url, headers=headers, timeout=timeout)
    except httpx.HTTPError as exc:
        latency = round((time.perf_counter() - started) * 1000, 1)
        return LLMProbe(
            ok=False, url=url, latency_ms=latency, error=_redact(f"{type(exc).__name__}: {exc}", api_key)
        )
    latency = round((time.perf_counter() - started) * 1000, 1)
    if response.status_code != 200:
        try:
            detail = response.json()["error"]["message"]  # OpenAI's error body
        except (ValueError, KeyError, TypeError):
            detail = response.text[:200]
        return LLMProbe(
            ok=False,
            url=url,
            status_code=response.status_code,
            latency_ms=latency,
            error=_redact(f"HTTP {response.status_code}: {detail}", api_key),
        )
    try:
        listed = any(m.get("id") == model for m in response.json().get("data", []))
    except (ValueError, AttributeError):
        return LLMProbe(
            ok=False,
            url=url,
            status_code=200,
            latency_ms=latency,
            error="the /models answer is not OpenAI's list shape",
        )
    return LLMProbe(ok=True, url=url, status_code=200, latency_ms=latency, model_listed=listed)


@router.get("/health")
def llm_health(
    request: Request,
    engine: Annotated[Engine, Depends(db_engine)],
    _: Operator,
    hours: Annotated[int, Query(ge=1, le=30 * 24, description="Enrichment stats window.")] = 24,
) -> LLMHealth:
    """The LLM as configured (LLM_*; never the key), a short probe of its /models, and what
    enrichment spent in the last ``hours``."""
    settings: Settings = request.app.state.settings
    env = LLMSettings()
    api_key = env.api_key.get_secret_value() if env.api_key else None
    try:
        endpoint = resolve_endpoint(
            env.mode,
            env.base_url,
            api_key,
            use_simulators=settings.use_simulators,
            simulator_url=settings.simulator_url,
        )
        config_error = None
    except ValueError as exc:  # LLM_MODE=llm with nothing to call
        endpoint, config_error = None, str(exc)
    base_url = (endpoint.base_url or OPENAI_API) if endpoint else None
    config = LLMConfig(
        mode=env.mode.value,
        enricher="llm" if endpoint else "offline",
        base_url=base_url,
        model=env.model if endpoint else None,
        api_key_configured=api_key is not None,
        timeout_seconds=env.timeout_seconds,
    )
    if config_error:
        probe = LLMProbe(ok=False, url=None, error=config_error)
    elif endpoint is None:
        probe = LLMProbe(ok=True, url=None, error=None)
    else:
        probe = probe_llm(base_url, endpoint.api_key, env.model)

    with engine.connect() as conn:
        rows = conn.execute(ENRICHMENT_STATS, {"since": datetime.now(UTC) - timedelta(hours=hours)}).all()
    fields = (
        "products",
        "enriched",
        "failed",
        "blocked",
        "llm_products",
        "llm_calls",
        "prompt_tokens",
        "completion_tokens",
    )
    stats = EnrichmentStats(
        window_hours=hours,
        **{f: sum(getattr(r, f) for r in rows) for f in fields},
        by_model={r.model: r.products for r in rows},
    )
    state = "offline" if endpoint is None and not config_error else ("ok" if probe.ok else "degraded")
    return LLMHealth(status=state, config=config, probe=probe, enrichment=stats)

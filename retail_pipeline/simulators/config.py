"""Simulator configuration: one pydantic model, from code or from SIMULATOR_* environment variables."""

from __future__ import annotations

from datetime import UTC, datetime

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field
from pydantic_settings import BaseSettings, SettingsConfigDict

ALL_SYSTEMS = "*"


class FaultConfig(BaseModel):
    """What goes wrong with one system's responses. Rates are per-request probabilities, drawn from
    a generator seeded by the simulator seed, so a run's faults are reproducible."""

    model_config = ConfigDict(extra="forbid")

    latency_ms: float = Field(0, ge=0, description="Delay added before answering.")
    latency_jitter_ms: float = Field(0, ge=0, description="Uniform +/- spread around latency_ms.")
    latency_rate: float = Field(1.0, ge=0, le=1, description="Share of requests that get the delay.")
    error_rate: float = Field(0, ge=0, le=1, description="Answer 500, 502 or 503.")
    rate_limit_rate: float = Field(0, ge=0, le=1, description="Answer 429 with Retry-After.")
    retry_after_seconds: int = Field(1, ge=0)
    timeout_rate: float = Field(0, ge=0, le=1, description="Hang for hang_seconds, then answer 504.")
    hang_seconds: float = Field(30, ge=0)
    malformed_rate: float = Field(0, ge=0, le=1, description="Answer 200 with the body cut in half.")


class SimulatorConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    seed: int = 1
    products_per_supplier: int = Field(60, ge=1, le=100_000)
    start_time: AwareDatetime = Field(
        datetime(2025, 6, 2, 9, 0, tzinfo=UTC), description="Simulated instant the clock starts at."
    )
    crawl_delay_seconds: int = Field(
        0, ge=0, description="robots.txt Crawl-delay where a site sets one; 0 = none (demo and tests)."
    )
    faults: dict[str, FaultConfig] = Field(
        default_factory=dict,
        description=f"By system name; {ALL_SYSTEMS!r} = every system without its own entry.",
    )
    journal_entries: int = Field(
        50_000, ge=1, description="Requests the journal keeps (the oldest go first); a big crawl needs more."
    )

    def faults_for(self, system: str) -> FaultConfig:
        return self.faults.get(system) or self.faults.get(ALL_SYSTEMS) or FaultConfig()

    @classmethod
    def from_env(cls) -> SimulatorConfig:
        """SIMULATOR_SEED, SIMULATOR_PRODUCTS_PER_SUPPLIER, SIMULATOR_START_TIME,
        SIMULATOR_CRAWL_DELAY_SECONDS and SIMULATOR_FAULTS (JSON), each optional."""
        return cls.model_validate(_FromEnvironment().model_dump())


class _FromEnvironment(BaseSettings, SimulatorConfig):
    # Ignore other SIMULATOR_* variables (SIMULATOR_URL belongs to the pipeline's settings).
    model_config = SettingsConfigDict(env_prefix="SIMULATOR_", extra="ignore")

"""Configuration from the environment (one place, read lazily, never at import time)."""

from __future__ import annotations

import secrets
from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

PROJECT_ROOT = Path(__file__).resolve().parents[1]


class Settings(BaseSettings):
    """Every knob the pipeline reads. Field names map to upper-case environment variables."""

    model_config = SettingsConfigDict(env_file=".env", extra="ignore")

    database_url: str | None = Field(
        default=None, description="PostgreSQL URL; unset = embedded PostgreSQL under RETAIL_DATA_DIR."
    )
    retail_data_dir: Path = Field(default=PROJECT_ROOT / "var", description="Embedded DB, media, labels.")
    media_root: Path | None = Field(default=None, description="Defaults to RETAIL_DATA_DIR/media.")
    media_signing_key: str | None = Field(
        default=None, description="HMAC key for media tokens; unset = generated once under the data dir."
    )
    media_token_ttl_seconds: int = Field(default=3600, gt=0)
    media_storage: Literal["local", "s3"] = Field(
        default="local",
        description="Where images, labels and browser traces are kept: local disk (media root and data dir) "
        "or an S3-compatible object store (MEDIA_S3_*; credentials from the standard AWS_* variables).",
    )
    media_s3_bucket: str | None = Field(default=None, description="The bucket when MEDIA_STORAGE=s3.")
    media_s3_prefix: str = Field(default="", description="A key prefix inside the bucket, e.g. 'retail/'.")
    media_s3_endpoint_url: str | None = Field(
        default=None, description="An S3-compatible endpoint (MinIO, ...); unset = AWS S3."
    )
    media_public_base_url: str | None = Field(
        default=None,
        description="The sidecar's public address (https://shop.example.com): photo URLs handed to channels are "
        "signed /media links under it. Unset: with S3 the store's presigned URLs, else 127.0.0.1 (demo).",
    )
    media_public_ttl_seconds: int = Field(
        default=7 * 24 * 3600,
        gt=0,
        description="How long a photo URL handed to a channel works (S3 presigned URLs: at most 7 days).",
    )
    import_webhook_secret: SecretStr | None = Field(
        default=None,
        description="Shared secret of the n8n/Allegro import webhook; unset = endpoint answers 503.",
    )
    import_webhook_max_bytes: int = Field(default=5 * 1024 * 1024, gt=0)
    simulator_url: str = Field(default="http://127.0.0.1:8765", description="Base URL of the simulators.")
    simulator_port: int = 8765
    use_simulators: bool = Field(
        default=True, description="Route external systems to SIMULATOR_URL; false = the real services."
    )
    supplier_base_urls: dict[str, str] = Field(
        default_factory=dict, description='Per-supplier base URL overrides, JSON: {"onecheq": "https://…"}.'
    )
    api_host: str = "127.0.0.1"
    api_port: int = 8000
    dagster_port: int = 3000
    sql_dir: Path = Field(default=PROJECT_ROOT / "sql", description="Numbered plain-SQL migrations.")
    packing_required: bool = Field(
        default=True,
        description="Pick & pack before shipping: tracking is pushed only for orders packed in the console "
        "(label_created -> packed -> shipped). false = a shop without a warehouse step: tracking is pushed "
        "as soon as the label exists.",
    )
    inbox_message_wait_minutes: int = Field(
        default=60, gt=0, description="Ops inbox: a customer message unanswered this long is waiting."
    )
    console_session_hours: float = Field(
        default=12, gt=0, le=24 * 30, description="Ops console: a sign-in lasts this long (one working day)."
    )
    dagster_ui_url: str | None = Field(
        default=None,
        description="Where people open the Dagster UI (run links); defaults to 127.0.0.1:DAGSTER_PORT.",
    )
    dagster_webserver_url: str | None = Field(
        default=None,
        description="Where the sidecar reaches the Dagster webserver's GraphQL API to launch runs (POST "
        "/api/sync/…); defaults to http://127.0.0.1:DAGSTER_PORT, the demo's `dagster dev`.",
    )
    console_events_heartbeat_seconds: float = Field(
        default=15.0,
        gt=0,
        description="Console live events: a comment line this often keeps the stream open.",
    )
    llm_usd_per_million_prompt_tokens: float = Field(
        default=0.15, ge=0, description="LLM price per million prompt tokens (console spend estimate)."
    )
    llm_usd_per_million_completion_tokens: float = Field(
        default=0.60, ge=0, description="LLM price per million completion tokens (console spend estimate)."
    )
    category_min_confidence: float = Field(
        default=0.6,
        ge=0,
        le=1,
        description="A channel's top category suggestion is taken without asking at this confidence or more "
        "(domain/channel_categories.py says how confidence is computed and why 0.6).",
    )
    category_margin: float = Field(
        default=0.1,
        ge=0,
        le=1,
        description="... and only this far ahead of the second; else the operator chooses (an ops task).",
    )

    dagster_executor: Literal["default", "celery"] = Field(
        default="default",
        description="Where a run's steps execute: Dagster's default (the run's own process) or Celery "
        "workers (`retail-pipeline worker`, queues per kind of work: retail_pipeline/scale_out.py).",
    )
    celery_broker_url: str = Field(
        default="redis://127.0.0.1:6379/0",
        description="The Celery broker with DAGSTER_EXECUTOR=celery: redis://... or amqp://... (RabbitMQ).",
    )
    celery_result_backend: str | None = Field(
        default=None, description="Where step results wait; unset = the broker when Redis, else rpc://."
    )

    @field_validator(
        "database_url",
        "celery_result_backend",
        "media_s3_bucket",
        "media_s3_endpoint_url",
        "media_public_base_url",
    )
    @classmethod
    def _blank_is_unset(cls, value: str | None) -> str | None:
        return value or None

    @model_validator(mode="after")
    def _s3_needs_a_bucket(self) -> Settings:
        if self.media_storage == "s3" and not self.media_s3_bucket:
            raise ValueError("MEDIA_STORAGE=s3 needs MEDIA_S3_BUCKET (and MEDIA_S3_ENDPOINT_URL for MinIO)")
        return self

    @property
    def data_dir(self) -> Path:
        return self.retail_data_dir.resolve()

    @property
    def media_dir(self) -> Path:
        return (self.media_root or self.data_dir / "media").resolve()

    @property
    def dagster_ui_base(self) -> str:
        return (self.dagster_ui_url or f"http://127.0.0.1:{self.dagster_port}").rstrip("/")

    @property
    def dagster_webserver_base(self) -> str:
        return (self.dagster_webserver_url or f"http://127.0.0.1:{self.dagster_port}").rstrip("/")

    @property
    def embedded_pgdata(self) -> Path:
        return self.data_dir / "pg"

    @property
    def dagster_home(self) -> Path:
        return self.data_dir / "dagster_home"

    def service_base(self, configured: str | None, simulated: str, live: str) -> str:
        """An external system's base URL: as configured, else its simulator's (`simulated` is the path
        under SIMULATOR_URL) when USE_SIMULATORS, else the live service."""
        if configured:
            return configured.rstrip("/")
        return f"{self.simulator_url.rstrip('/')}/{simulated}" if self.use_simulators else live

    def at_simulator(self, url: str, system: str) -> bool:
        """True when `url` is the simulator of `system` (which accepts its own stand-in credentials)."""
        return url.startswith(f"{self.simulator_url.rstrip('/')}/{system}")

    def signing_key(self) -> bytes:
        """The media HMAC key; generated once and kept beside the data so every process agrees."""
        if self.media_signing_key:
            return self.media_signing_key.encode()
        key_file = self.data_dir / "media_signing.key"
        key_file.parent.mkdir(parents=True, exist_ok=True)
        try:  # exclusive create: two processes starting together still end up with one key
            with open(key_file, "x") as fh:
                key_file.chmod(0o600)
                fh.write(secrets.token_urlsafe(32))
        except FileExistsError:
            pass
        return key_file.read_text().strip().encode()


@lru_cache
def get_settings() -> Settings:
    return Settings()

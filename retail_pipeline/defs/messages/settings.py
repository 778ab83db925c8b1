"""How we answer buyers (`MessagingSettings`, MESSAGES_* variables): quiet hours
(MESSAGES_QUIET_HOURS_START/END as HH:MM, MESSAGES_TIMEZONE, MESSAGES_QUIET_HOURS_MODE notice|hold),
MESSAGES_SIGNATURE, MESSAGES_RETURN_DAYS, MESSAGES_AUTO_REPLIES_ENABLED (false: sync only, never send).
"""

from __future__ import annotations

from datetime import time

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from retail_pipeline.domain.auto_replies import QuietHours, QuietMode, ReplyPolicy


class MessagingSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="MESSAGES_", env_file=".env", extra="ignore")

    quiet_hours_start: time | None = Field(default=time(21, 0), description="Local; unset = no quiet hours.")
    quiet_hours_end: time | None = Field(default=time(8, 0))
    timezone: str = Field(default="America/Toronto", description="The quiet hours' zone (IANA).")
    quiet_hours_mode: QuietMode = Field(default="notice", description="notice: only the out-of-hours notice.")
    signature: str = "Customer Service"
    return_days: int = Field(default=30, ge=0)
    auto_replies_enabled: bool = True

    def policy(self) -> ReplyPolicy:
        quiet = None
        if self.quiet_hours_start is not None and self.quiet_hours_end is not None:
            quiet = QuietHours(
                self.quiet_hours_start, self.quiet_hours_end, self.timezone, self.quiet_hours_mode
            )
        return ReplyPolicy(quiet_hours=quiet, signature=self.signature, return_days=self.return_days)

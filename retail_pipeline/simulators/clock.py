"""Simulated time shared by every system: it moves only when told to."""

from __future__ import annotations

import threading
from datetime import datetime, timedelta


class SimClock:
    def __init__(self, start: datetime):
        if start.tzinfo is None:
            raise ValueError("the simulated clock needs a timezone-aware start")
        self.start = start
        self._elapsed = timedelta(0)
        self._lock = threading.Lock()

    def now(self) -> datetime:
        with self._lock:
            return self.start + self._elapsed

    @property
    def elapsed_hours(self) -> float:
        with self._lock:
            return self._elapsed.total_seconds() / 3600

    def advance(self, hours: float) -> datetime:
        """Move forward; never back, so Last-Modified and If-Modified-Since stay meaningful."""
        if hours < 0:
            raise ValueError("the simulated clock only moves forward")
        with self._lock:
            self._elapsed += timedelta(hours=hours)
            return self.start + self._elapsed

    def advance_to(self, moment: datetime) -> datetime:
        """Move forward to exactly `moment` (no float rounding); a moment already past changes nothing."""
        with self._lock:
            self._elapsed = max(self._elapsed, moment - self.start)
            return self.start + self._elapsed

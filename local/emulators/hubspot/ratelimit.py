"""HubSpot's two limits for a private app: requests per rolling 10 seconds (per app) and per day (per
account, reset at midnight; the emulated account's midnight is UTC on the emulator clock).

Every authenticated answer carries X-HubSpot-RateLimit-Max, -Remaining, -Interval-Milliseconds, -Daily
and -Daily-Remaining. A refused request does not count, and answers 429 with policyName
TEN_SECONDLY_ROLLING or DAILY.
"""

from __future__ import annotations

from collections import deque
from dataclasses import asdict
from datetime import date

from local.emulators.common import Clock

from .config import RateLimitConfig

TEN_SECONDLY = "TEN_SECONDLY_ROLLING"
DAILY = "DAILY"


class RateLimiter:
    def __init__(self, config: RateLimitConfig, clock: Clock) -> None:
        self._defaults = RateLimitConfig(**asdict(config))
        self.config = RateLimitConfig(**asdict(config))
        self._clock = clock
        self._windows: dict[int, deque[float]] = {}
        self._day: date | None = None
        self._used = 0
        self.rejected = {TEN_SECONDLY: 0, DAILY: 0}

    def reset(self) -> None:
        self.config = RateLimitConfig(**asdict(self._defaults))
        self._windows.clear()
        self._day = None
        self._used = 0
        self.rejected = {TEN_SECONDLY: 0, DAILY: 0}

    def configure(self, body: dict) -> dict:
        if "max_per_interval" in body:
            self.config.max_per_interval = int(body["max_per_interval"])
        if "interval_ms" in body:
            self.config.interval_ms = int(body["interval_ms"])
        if "daily" in body:
            self.config.daily = int(body["daily"])
        if "daily_used" in body:
            self._roll_day()
            self._used = int(body["daily_used"])
        if body.get("clear"):
            self._windows.clear()
            self._used = 0
        return self.snapshot()

    def _roll_day(self) -> None:
        today = self._clock.now().date()
        if self._day != today:
            self._day = today
            self._used = 0

    def check(self, app_id: int) -> tuple[str | None, dict[str, str]]:
        """Count one request of `app_id`; returns (the policy that refused it or None, headers)."""
        self._roll_day()
        now = self._clock.timestamp()
        window = self._windows.setdefault(app_id, deque())
        horizon = now - self.config.interval_ms / 1000
        while window and window[0] <= horizon:
            window.popleft()
        refused: str | None = None
        if self._used >= self.config.daily:
            refused = DAILY
        elif len(window) >= self.config.max_per_interval:
            refused = TEN_SECONDLY
        if refused is None:
            window.append(now)
            self._used += 1
        else:
            self.rejected[refused] += 1
        headers = {
            "X-HubSpot-RateLimit-Max": str(self.config.max_per_interval),
            "X-HubSpot-RateLimit-Remaining": str(max(0, self.config.max_per_interval - len(window))),
            "X-HubSpot-RateLimit-Interval-Milliseconds": str(self.config.interval_ms),
            "X-HubSpot-RateLimit-Daily": str(self.config.daily),
            "X-HubSpot-RateLimit-Daily-Remaining": str(max(0, self.config.daily - self._used)),
        }
        return refused, headers

    def snapshot(self) -> dict:
        self._roll_day()
        now = self._clock.timestamp()
        horizon = now - self.config.interval_ms / 1000
        return {
            **asdict(self.config),
            "daily_used": self._used,
            "daily_remaining": max(0, self.config.daily - self._used),
            "day": self._day.isoformat() if self._day else None,
            "in_window": {str(app): sum(1 for t in w if t > horizon) for app, w in self._windows.items()},
            "rejected": dict(self.rejected),
        }

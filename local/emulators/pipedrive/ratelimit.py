"""Pipedrive's two limits: a burst limit per token over a rolling window, and a daily token budget.

Every operation costs tokens (the `x-token-cost` of the official OpenAPI specs) against the company's
daily budget; every request counts once against the token's burst window. Both are measured on the
emulator clock, so a test can move time instead of waiting. Headers on every authenticated response:
x-ratelimit-limit, x-ratelimit-remaining, x-ratelimit-reset (seconds until the window frees a slot),
x-daily-requests-left (tokens left today; the day is UTC on the emulator clock).
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import asdict
from datetime import date

from local.emulators.common import Clock

from .config import RateLimitConfig


class RateLimiter:
    def __init__(self, config: RateLimitConfig, clock: Clock) -> None:
        self._defaults = RateLimitConfig(**asdict(config))
        self.config = RateLimitConfig(**asdict(config))
        self._clock = clock
        self._windows: dict[str, deque[float]] = {}
        self._day: date | None = None
        self._used = 0
        self.rejected = {"burst": 0, "daily": 0}

    def reset(self) -> None:
        self.config = RateLimitConfig(**asdict(self._defaults))
        self._windows.clear()
        self._day = None
        self._used = 0
        self.rejected = {"burst": 0, "daily": 0}

    def configure(self, body: dict) -> dict:
        if "burst_limit" in body:
            self.config.burst_limit = int(body["burst_limit"])
        if "burst_window" in body:
            self.config.burst_window = float(body["burst_window"])
        if "daily_budget" in body:
            self.config.daily_budget = int(body["daily_budget"])
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

    def check(self, token: str, cost: int) -> tuple[str | None, dict[str, str]]:
        """Count one request; returns (None or "burst"/"daily" when refused, headers)."""
        self._roll_day()
        now = self._clock.timestamp()
        window = self._windows.setdefault(token, deque())
        horizon = now - self.config.burst_window
        while window and window[0] <= horizon:
            window.popleft()
        refused: str | None = None
        if len(window) >= self.config.burst_limit:
            refused = "burst"
        elif self._used + cost > self.config.daily_budget:
            refused = "daily"
        if refused is None:
            window.append(now)
            self._used += cost
        else:
            self.rejected[refused] += 1
        remaining = max(0, self.config.burst_limit - len(window))
        reset = math.ceil(window[0] + self.config.burst_window - now) if window else math.ceil(self.config.burst_window)
        headers = {
            "x-ratelimit-limit": str(self.config.burst_limit),
            "x-ratelimit-remaining": str(remaining),
            "x-ratelimit-reset": str(max(reset, 0)),
            "x-daily-requests-left": str(max(0, self.config.daily_budget - self._used)),
        }
        return refused, headers

    def snapshot(self) -> dict:
        self._roll_day()
        now = self._clock.timestamp()
        return {
            **asdict(self.config),
            "daily_used": self._used,
            "daily_left": max(0, self.config.daily_budget - self._used),
            "day": self._day.isoformat() if self._day else None,
            "in_window": {
                token[:4] + "…": sum(1 for t in w if t > now - self.config.burst_window)
                for token, w in self._windows.items()
            },
            "rejected": dict(self.rejected),
        }

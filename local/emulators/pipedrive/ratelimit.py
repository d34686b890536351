"""Pipedrive's two limits: a burst limit per token over a rolling window, and a daily token budget.

Every operation costs tokens (the `x-token-cost` of the official OpenAPI specs) against the company's
daily budget; every request counts once against the token's burst window. Both are measured on the
emulator clock, so a test can move time instead of waiting. Headers on every authenticated response:
x-ratelimit-limit, x-ratelimit-remaining, x-ratelimit-reset (seconds until the window frees a slot),
x-daily-requests-left (tokens left today; the day is UTC on the emulator clock).
"""

from __future__ import annotations

import math

from local.emulators.common.ratelimit import RollingLimiter

from .config import RateLimitConfig


class RateLimiter(RollingLimiter):
    WINDOW = "burst"
    DAILY = "daily"
    config: RateLimitConfig

    def window_limit(self) -> int:
        return self.config.burst_limit

    def window_seconds(self) -> float:
        return self.config.burst_window

    def daily_limit(self) -> int:
        return self.config.daily_budget

    def label(self, key: str) -> str:
        return key[:4] + "…"  # a token, never shown whole

    def check(self, token: str, cost: int) -> tuple[str | None, dict[str, str]]:
        """Count one request; returns (None or "burst"/"daily" when refused, headers)."""
        refused, window, now = self.count(token, cost)
        remaining = max(0, self.config.burst_limit - len(window))
        reset = math.ceil(window[0] + self.config.burst_window - now) if window else math.ceil(self.config.burst_window)
        return refused, {
            "x-ratelimit-limit": str(self.config.burst_limit),
            "x-ratelimit-remaining": str(remaining),
            "x-ratelimit-reset": str(max(reset, 0)),
            "x-daily-requests-left": str(self.daily_left()),
        }

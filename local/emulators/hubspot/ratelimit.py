"""HubSpot's two limits for a private app: requests per rolling 10 seconds (per app) and per day (per
account, reset at midnight; the emulated account's midnight is UTC on the emulator clock).

Every authenticated answer carries X-HubSpot-RateLimit-Max, -Remaining, -Interval-Milliseconds, -Daily
and -Daily-Remaining. A refused request does not count, and answers 429 with policyName
TEN_SECONDLY_ROLLING or DAILY.
"""

from __future__ import annotations

from local.emulators.common.ratelimit import RollingLimiter

from .config import RateLimitConfig

TEN_SECONDLY = "TEN_SECONDLY_ROLLING"
DAILY = "DAILY"


class RateLimiter(RollingLimiter):
    WINDOW = TEN_SECONDLY
    DAILY = DAILY
    DAILY_FIRST = True
    LEFT_KEY = "daily_remaining"
    config: RateLimitConfig

    def window_limit(self) -> int:
        return self.config.max_per_interval

    def window_seconds(self) -> float:
        return self.config.interval_ms / 1000

    def daily_limit(self) -> int:
        return self.config.daily

    def check(self, app_id: int) -> tuple[str | None, dict[str, str]]:
        """Count one request of `app_id`; returns (the policy that refused it or None, headers)."""
        refused, window, _ = self.count(app_id)
        return refused, {
            "X-HubSpot-RateLimit-Max": str(self.config.max_per_interval),
            "X-HubSpot-RateLimit-Remaining": str(max(0, self.config.max_per_interval - len(window))),
            "X-HubSpot-RateLimit-Interval-Milliseconds": str(self.config.interval_ms),
            "X-HubSpot-RateLimit-Daily": str(self.config.daily),
            "X-HubSpot-RateLimit-Daily-Remaining": str(self.daily_left()),
        }

"""Xero's rate limits: per tenant 60/minute, 5 in flight, 5,000/day; per app 10,000/minute.

Windows are fixed, not rolling: a window opens with the first call after the previous one closed, so
each tenant's windows reset at their own times (trust Retry-After). Time is the emulator clock, so a
test can reach the 61st call of a minute and then move past the window without waiting.
Over a limit: 429, X-Rate-Limit-Problem (minute | day | concurrent | appminute) and, for the minute and
day limits, Retry-After in seconds. Every API response carries X-MinLimit-Remaining,
X-DayLimit-Remaining and X-AppMinLimit-Remaining.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta

from local.emulators.common import Clock

from .config import RateLimits

MINUTE = timedelta(minutes=1)
DAY = timedelta(days=1)


@dataclass
class Window:
    started: datetime | None = None
    count: int = 0

    def roll(self, now: datetime, length: timedelta) -> None:
        if self.started is None or now >= self.started + length:
            self.started = now
            self.count = 0

    def seconds_left(self, now: datetime, length: timedelta) -> int:
        if self.started is None:
            return 0
        return max(1, math.ceil((self.started + length - now).total_seconds()))


@dataclass
class TenantUsage:
    minute: Window
    day: Window
    in_flight: int = 0
    rejected: int = 0


@dataclass
class Decision:
    allowed: bool
    headers: dict[str, str]
    problem: str | None = None


class RateLimiter:
    def __init__(self, limits: RateLimits, clock: Clock) -> None:
        self.limits = limits
        self._clock = clock
        self._tenants: dict[str, TenantUsage] = {}
        self._app_minute = Window()
        self.rejections: dict[str, int] = {}

    def reset(self) -> None:
        self._tenants.clear()
        self._app_minute = Window()
        self.rejections = {}

    def configure(self, body: dict) -> dict:
        for name in ("minute", "day", "concurrent", "app_minute"):
            if name in body:
                setattr(self.limits, name, int(body[name]))
        return asdict(self.limits)

    def _usage(self, tenant_id: str) -> TenantUsage:
        usage = self._tenants.get(tenant_id)
        if usage is None:
            usage = self._tenants[tenant_id] = TenantUsage(Window(), Window())
        return usage

    def _headers(self, usage: TenantUsage) -> dict[str, str]:
        return {
            "X-MinLimit-Remaining": str(max(0, self.limits.minute - usage.minute.count)),
            "X-DayLimit-Remaining": str(max(0, self.limits.day - usage.day.count)),
            "X-AppMinLimit-Remaining": str(max(0, self.limits.app_minute - self._app_minute.count)),
        }

    def acquire(self, tenant_id: str) -> Decision:
        """Count one call (and hold an in-flight slot) or refuse it. Call under the emulator lock."""
        now = self._clock.now()
        usage = self._usage(tenant_id)
        usage.minute.roll(now, MINUTE)
        usage.day.roll(now, DAY)
        self._app_minute.roll(now, MINUTE)
        problem, retry_after = None, None
        if usage.in_flight >= self.limits.concurrent:
            problem = "concurrent"
        elif usage.day.count >= self.limits.day:
            problem, retry_after = "day", usage.day.seconds_left(now, DAY)
        elif usage.minute.count >= self.limits.minute:
            problem, retry_after = "minute", usage.minute.seconds_left(now, MINUTE)
        elif self._app_minute.count >= self.limits.app_minute:
            problem = "appminute"
        if problem is not None:
            usage.rejected += 1
            self.rejections[problem] = self.rejections.get(problem, 0) + 1
            headers = {**self._headers(usage), "X-Rate-Limit-Problem": problem}
            if retry_after is not None:
                headers["Retry-After"] = str(retry_after)
            return Decision(False, headers, problem)
        usage.minute.count += 1
        usage.day.count += 1
        self._app_minute.count += 1
        usage.in_flight += 1
        return Decision(True, self._headers(usage))

    def release(self, tenant_id: str) -> None:
        usage = self._usage(tenant_id)
        usage.in_flight = max(0, usage.in_flight - 1)

    def headers(self, tenant_id: str) -> dict[str, str]:
        return self._headers(self._usage(tenant_id))

    def snapshot(self) -> dict:
        return {
            "limits": asdict(self.limits),
            "app_minute": {"started": self._app_minute.started, "count": self._app_minute.count},
            "rejections": dict(self.rejections),
            "tenants": {
                tenant_id: {
                    "minute": {"started": usage.minute.started, "count": usage.minute.count},
                    "day": {"started": usage.day.started, "count": usage.day.count},
                    "in_flight": usage.in_flight,
                    "rejected": usage.rejected,
                }
                for tenant_id, usage in self._tenants.items()
            },
        }

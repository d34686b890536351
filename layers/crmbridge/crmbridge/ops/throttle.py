"""Pacing bulk work to one Xero organisation's limits, from Xero's own counters.

Xero allows a tenant 60 calls a minute and 5,000 a day in fixed windows that open with the first call
after the previous window closed, at times of their own (../reference/xero.md). Every answer says
what is left (X-MinLimit-Remaining, X-DayLimit-Remaining). The throttle:
- notes when the current minute window was first seen: the answer that shows more calls left than
  the one before opened a new window no later than that answer arrived, so the window closes at most
  60 s after it;
- before a call, when no more than `minute_reserve` calls are left, waits until that moment has
  passed (the reserve leaves room for the live sync sharing the organisation);
- refuses to start a call when no more than `day_reserve` calls are left today (DailyBudgetReached);
- after a 429, waits what Retry-After says.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

import httpx

from crmbridge.errors import BridgeError

WINDOW_SECONDS = 60.0
MARGIN_SECONDS = 1.0


class DailyBudgetReached(BridgeError):
    """The organisation's calls left today are down to the reserve: stop, resume after Xero's reset."""


@dataclass
class Throttle:
    clock: Callable[[], float] = time.time
    sleep: Callable[[float], None] = time.sleep
    minute_reserve: int = 0
    day_reserve: int = 0
    minute_remaining: int | None = None
    day_remaining: int | None = None
    window_seen_at: float | None = None
    waited_seconds: float = 0.0
    calls: int = 0
    rate_limited: int = 0

    def observe(self, tenant_id: str, response: httpx.Response) -> None:
        """Every Xero answer (XeroClient's on_response hook)."""
        self.calls += 1
        now = self.clock()
        minute = _int(response.headers.get("x-minlimit-remaining"))
        day = _int(response.headers.get("x-daylimit-remaining"))
        if response.status_code == 429:
            self.rate_limited += 1
        if minute is not None and response.status_code != 429:
            if self.minute_remaining is None or minute >= self.minute_remaining or self.window_seen_at is None:
                self.window_seen_at = now
            self.minute_remaining = minute
        if day is not None:
            self.day_remaining = day

    def before_call(self, tenant_id: str = "") -> None:
        """Wait, if the minute's calls are used up; refuse if the day's are."""
        if self.day_remaining is not None and self.day_remaining <= self.day_reserve:
            raise DailyBudgetReached(
                f"Xero allows {self.day_remaining} more calls today for this organisation (reserve {self.day_reserve})")
        if self.minute_remaining is not None and self.minute_remaining <= self.minute_reserve:
            opened = self.window_seen_at if self.window_seen_at is not None else self.clock()
            self.wait(opened + WINDOW_SECONDS + MARGIN_SECONDS - self.clock())
            self.minute_remaining = None  # a new window: the next answer says how much of it is left

    def after_rate_limit(self, retry_after: float | None) -> None:
        """A 429 despite the pacing (someone else used the window): wait as Xero says."""
        self.wait(retry_after if retry_after is not None else WINDOW_SECONDS)
        self.minute_remaining = None

    def wait(self, seconds: float) -> None:
        if seconds > 0:
            self.waited_seconds += seconds
            self.sleep(seconds)


def _int(value: str | None) -> int | None:
    try:
        return int(value) if value is not None else None
    except ValueError:
        return None

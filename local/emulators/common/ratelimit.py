"""A rolling window of requests per caller plus a daily budget per account, on the emulator clock.

Pipedrive (burst per token, daily token budget) and HubSpot (per app per 10 s, daily per account) differ
in their names, their headers and which limit they check first; the counting is the same. The day is
UTC on the emulator clock; a refused request does not count.
"""

from __future__ import annotations

from collections import deque
from dataclasses import asdict, fields, replace
from datetime import date
from typing import Any, ClassVar

from .clock import Clock


class RollingLimiter:
    WINDOW: ClassVar[str] = "window"  # the names a refusal is reported under
    DAILY: ClassVar[str] = "daily"
    DAILY_FIRST: ClassVar[bool] = False  # which limit answers when both are exceeded
    LEFT_KEY: ClassVar[str] = "daily_left"  # the snapshot's name for what is left today

    def __init__(self, config: Any, clock: Clock) -> None:
        self._defaults = replace(config)
        self.config = replace(config)
        self._clock = clock
        self._windows: dict[Any, deque[float]] = {}
        self._day: date | None = None
        self._used = 0
        self.rejected = {self.WINDOW: 0, self.DAILY: 0}

    # what each service calls its limits ------------------------------------------------------------
    def window_limit(self) -> int:
        raise NotImplementedError

    def window_seconds(self) -> float:
        raise NotImplementedError

    def daily_limit(self) -> int:
        raise NotImplementedError

    def label(self, key: Any) -> str:
        return str(key)

    # control ---------------------------------------------------------------------------------------
    def reset(self) -> None:
        self.config = replace(self._defaults)
        self._windows.clear()
        self._day = None
        self._used = 0
        self.rejected = {self.WINDOW: 0, self.DAILY: 0}

    def configure(self, body: dict) -> dict:
        """Set any config field by name (as its type), `daily_used`, or `clear` the counts."""
        for item in fields(self.config):
            if item.name in body:
                setattr(self.config, item.name, type(getattr(self.config, item.name))(body[item.name]))
        if "daily_used" in body:
            self._roll_day()
            self._used = int(body["daily_used"])
        if body.get("clear"):
            self._windows.clear()
            self._used = 0
        return self.snapshot()

    def snapshot(self) -> dict:
        self._roll_day()
        horizon = self._clock.timestamp() - self.window_seconds()
        return {
            **asdict(self.config),
            "daily_used": self._used,
            self.LEFT_KEY: self.daily_left(),
            "day": self._day.isoformat() if self._day else None,
            "in_window": {self.label(key): sum(1 for t in w if t > horizon) for key, w in self._windows.items()},
            "rejected": dict(self.rejected),
        }

    # counting --------------------------------------------------------------------------------------
    def daily_left(self) -> int:
        return max(0, self.daily_limit() - self._used)

    def _roll_day(self) -> None:
        today = self._clock.now().date()
        if self._day != today:
            self._day = today
            self._used = 0

    def count(self, key: Any, cost: int = 1) -> tuple[str | None, deque[float], float]:
        """Count one request of `key`: (the refusal or None, the key's window, now)."""
        self._roll_day()
        now = self._clock.timestamp()
        window = self._windows.setdefault(key, deque())
        horizon = now - self.window_seconds()
        while window and window[0] <= horizon:
            window.popleft()
        over = {self.WINDOW: len(window) >= self.window_limit(), self.DAILY: self._used + cost > self.daily_limit()}
        order = (self.DAILY, self.WINDOW) if self.DAILY_FIRST else (self.WINDOW, self.DAILY)
        refused = next((name for name in order if over[name]), None)
        if refused is None:
            window.append(now)
            self._used += cost
        else:
            self.rejected[refused] += 1
        return refused, window, now

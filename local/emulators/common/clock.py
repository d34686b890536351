"""A movable clock: tests move time forward instead of sleeping.

The clock is real UTC time plus an offset, or a frozen instant. Everything time-based in an emulator
(token expiry, rate-limit windows, overdue invoices, webhook retries) reads it, so advancing it by an
hour through the control endpoint has the same effect as waiting an hour.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta


def parse_instant(value: str) -> datetime:
    """ISO 8601 to an aware UTC datetime (naive input is taken as UTC)."""
    text = value.strip()
    if text.endswith("Z"):
        text = text[:-1] + "+00:00"
    parsed = datetime.fromisoformat(text)
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC)


class Clock:
    def __init__(self, lock: threading.RLock | None = None) -> None:
        self._lock = lock or threading.RLock()
        self._offset = timedelta(0)
        self._frozen: datetime | None = None
        self._listeners: list[Callable[[], None]] = []

    def now(self) -> datetime:
        with self._lock:
            if self._frozen is not None:
                return self._frozen
            return datetime.now(UTC) + self._offset

    def timestamp(self) -> float:
        return self.now().timestamp()

    def advance(self, seconds: float) -> datetime:
        with self._lock:
            if self._frozen is not None:
                self._frozen += timedelta(seconds=seconds)
            else:
                self._offset += timedelta(seconds=seconds)
        self._changed()
        return self.now()

    def set(self, instant: datetime) -> datetime:
        with self._lock:
            if self._frozen is not None:
                self._frozen = instant
            else:
                self._offset = instant - datetime.now(UTC)
        self._changed()
        return self.now()

    def freeze(self, frozen: bool) -> datetime:
        with self._lock:
            if frozen and self._frozen is None:
                self._frozen = self.now()
            elif not frozen and self._frozen is not None:
                self._offset = self._frozen - datetime.now(UTC)
                self._frozen = None
        self._changed()
        return self.now()

    def reset(self) -> None:
        with self._lock:
            self._offset = timedelta(0)
            self._frozen = None
        self._changed()

    def on_change(self, listener: Callable[[], None]) -> None:
        """Called after every move, e.g. so a webhook worker re-checks its due retries at once."""
        self._listeners.append(listener)

    def _changed(self) -> None:
        for listener in list(self._listeners):
            listener()

    def snapshot(self) -> dict:
        with self._lock:
            return {
                "now": self.now().isoformat(),
                "offset_seconds": self._offset.total_seconds(),
                "frozen": self._frozen is not None,
            }

    def apply(self, body: dict) -> dict:
        """The control endpoint's body: {"advance": seconds}, {"set": iso}, {"freeze": bool}, {"reset": true}."""
        if body.get("reset"):
            self.reset()
        # Freeze first so that a set instant is exact; thaw last so advancing still applies.
        if body.get("freeze") is True:
            self.freeze(True)
        if "set" in body:
            self.set(parse_instant(str(body["set"])))
        if "advance" in body:
            self.advance(float(body["advance"]))
        if body.get("freeze") is False:
            self.freeze(False)
        return self.snapshot()

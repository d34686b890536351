"""Webhook delivery: a background worker that batches events, POSTs them, and retries failures.

An emulator publishes events; after a short batching delay (real time, a few ms, so end-to-end latency
stays low) the emulator's `build_batch` turns the pending events into one or more signed requests,
and the worker POSTs them. A failed attempt (connection error, timeout, non-2xx) is retried after the
next delay of the retry schedule, measured on the emulator clock: a test that advances the clock
triggers due retries at once instead of waiting. Every attempt is recorded for /_emulator/state.
"""

from __future__ import annotations

import http.client
import itertools
import logging
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from .clock import Clock

logger = logging.getLogger(__name__)

# Decreasing frequency over about 24 hours, the shape Xero describes for its own retries.
DEFAULT_RETRY_SCHEDULE: tuple[float, ...] = (
    5, 30, 60, 300, 900, 1800, 3600, 7200, 14400, 28800, 28800,
)

# build_batch(events) -> [(body bytes, headers, meta)]
BatchBuilder = Callable[[list[dict]], list[tuple[bytes, dict[str, str], dict]]]

_opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # never via an env proxy


def post(url: str, body: bytes, headers: dict[str, str], timeout: float) -> tuple[int | None, bytes, str | None]:
    """POST and return (status, response body, error). Non-2xx is a status, not an error."""
    request = urllib.request.Request(url, data=body, headers=headers, method="POST")  # noqa: S310
    try:
        with _opener.open(request, timeout=timeout) as response:
            return response.status, response.read(), None
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read() if exc.fp else b"", None
    except (OSError, ValueError, http.client.HTTPException) as exc:  # refused, reset, timeout, bad URL/answer
        return None, b"", f"{type(exc).__name__}: {exc}"


@dataclass
class Delivery:
    id: int
    url: str
    body: bytes
    headers: dict[str, str]
    created_at: datetime
    next_attempt_at: datetime
    meta: dict = field(default_factory=dict)
    attempts: list[dict] = field(default_factory=list)
    state: str = "pending"  # pending | delivered | failed
    in_flight: bool = False

    def to_json(self) -> dict:
        return {
            "id": self.id,
            "url": self.url,
            "state": self.state,
            "created_at": self.created_at.isoformat(),
            "next_attempt_at": self.next_attempt_at.isoformat() if self.state == "pending" else None,
            "headers": self.headers,
            "body": self.body.decode("utf-8", "replace"),
            "meta": self.meta,
            "attempts": self.attempts,
        }


class WebhookDispatcher:
    def __init__(
        self,
        lock: threading.RLock,
        clock: Clock,
        build_batch: BatchBuilder,
        *,
        name: str = "webhooks",
        url: str | None = None,
        retry_schedule: tuple[float, ...] = DEFAULT_RETRY_SCHEDULE,
        batch_delay: float = 0.005,
        timeout: float = 5.0,
        disable_when_exhausted: bool = True,
        keep_delivered: int = 2000,
    ) -> None:
        self._cond = threading.Condition(lock)
        self._clock = clock
        self._build_batch = build_batch
        self.name = name
        self.url = url
        self.retry_schedule = tuple(float(s) for s in retry_schedule)
        self.batch_delay = batch_delay
        self.timeout = timeout
        self.disable_when_exhausted = disable_when_exhausted
        self.disabled_reason: str | None = None
        self._keep_delivered = keep_delivered
        self._pending_events: list[dict] = []
        self._flush_at: float | None = None
        self._deliveries: list[Delivery] = []
        self._ids = itertools.count(1)
        self._sending = 0
        self._stopping = False
        self._thread: threading.Thread | None = None
        self.events_published = 0
        clock.on_change(self._poke)

    # lifecycle ----------------------------------------------------------------------------------
    def start(self) -> None:
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name=f"{self.name}-delivery", daemon=True)
            self._thread.start()

    def stop(self) -> None:
        with self._cond:
            self._stopping = True
            self._cond.notify_all()
        if self._thread is not None:
            self._thread.join(timeout=self.timeout + 1)
            self._thread = None

    def _poke(self) -> None:
        with self._cond:
            self._cond.notify_all()

    # configuration ------------------------------------------------------------------------------
    @property
    def enabled(self) -> bool:
        return bool(self.url) and self.disabled_reason is None

    def configure(self, body: dict) -> dict:
        with self._cond:
            if "url" in body:
                self.url = body["url"] or None
                self.disabled_reason = None
            if "retry_schedule" in body:
                self.retry_schedule = tuple(float(s) for s in body["retry_schedule"])
            if "batch_delay_ms" in body:
                self.batch_delay = float(body["batch_delay_ms"]) / 1000
            if "timeout" in body:
                self.timeout = float(body["timeout"])
            if "disable_when_exhausted" in body:
                self.disable_when_exhausted = bool(body["disable_when_exhausted"])
            if body.get("enabled") is True:
                self.disabled_reason = None
            elif body.get("enabled") is False:
                self.disabled_reason = "disabled by control endpoint"
            self._cond.notify_all()
            return self.settings()

    def settings(self) -> dict:
        return {
            "url": self.url,
            "enabled": self.enabled,
            "disabled_reason": self.disabled_reason,
            "retry_schedule": list(self.retry_schedule),
            "batch_delay_ms": self.batch_delay * 1000,
            "timeout": self.timeout,
            "disable_when_exhausted": self.disable_when_exhausted,
        }

    def reset(self) -> None:
        with self._cond:
            self._pending_events.clear()
            self._flush_at = None
            self._deliveries.clear()
            self.events_published = 0
            self._cond.notify_all()

    # publishing ---------------------------------------------------------------------------------
    def publish(self, event: dict) -> None:
        """Queue one event; it goes out with whatever else arrives within the batching delay."""
        with self._cond:
            if not self.enabled:
                return
            self.events_published += 1
            self._pending_events.append(event)
            if self._flush_at is None:
                self._flush_at = time.monotonic() + self.batch_delay
            self._cond.notify_all()

    def wait_idle(self, timeout: float = 5.0) -> bool:
        """True once nothing is batching, in flight, or due now (pending retries due later don't count)."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                now = self._clock.now()
                busy = (
                    self._pending_events
                    or self._sending
                    or any(d.state == "pending" and d.next_attempt_at <= now for d in self._deliveries)
                )
                if not busy:
                    return True
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                self._cond.wait(timeout=min(remaining, 0.05))

    def deliveries(self) -> list[dict]:
        with self._cond:
            return [d.to_json() for d in self._deliveries]

    def snapshot(self) -> dict:
        with self._cond:
            return {
                **self.settings(),
                "events_published": self.events_published,
                "pending_events": len(self._pending_events),
                "deliveries": [d.to_json() for d in self._deliveries],
            }

    # worker -------------------------------------------------------------------------------------
    def _run(self) -> None:
        with self._cond:
            while not self._stopping:
                self._flush_if_due()
                delivery = self._next_due()
                if delivery is None:
                    self._cond.wait(timeout=self._wait_time())
                    continue
                delivery.in_flight = True
                self._sending += 1
                self._cond.release()
                try:
                    started = time.monotonic()
                    status, response, error = post(delivery.url, delivery.body, delivery.headers, self.timeout)
                    elapsed_ms = round((time.monotonic() - started) * 1000, 1)
                finally:
                    self._cond.acquire()
                    self._sending -= 1
                    delivery.in_flight = False
                self._record(delivery, status, response, error, elapsed_ms)
                self._cond.notify_all()

    def _flush_if_due(self) -> None:
        if self._flush_at is None or time.monotonic() < self._flush_at:
            return
        events, self._pending_events, self._flush_at = self._pending_events, [], None
        if not events or not self.url:
            return
        now = self._clock.now()
        try:
            batches = self._build_batch(events)
        except Exception:  # a bug in an emulator's builder must not kill the delivery worker
            logger.exception("building a webhook batch failed; %s events dropped", len(events))
            return
        for body, headers, meta in batches:
            self._deliveries.append(
                Delivery(next(self._ids), self.url, body, headers, now, now, meta=meta)
            )

    def _next_due(self) -> Delivery | None:
        if not self.enabled:
            return None
        now = self._clock.now()
        due = [d for d in self._deliveries if d.state == "pending" and not d.in_flight and d.next_attempt_at <= now]
        return min(due, key=lambda d: (d.next_attempt_at, d.id)) if due else None

    def _wait_time(self) -> float:
        waits = [1.0]
        if self._flush_at is not None:
            waits.append(self._flush_at - time.monotonic())
        now = self._clock.now()
        for d in self._deliveries:
            if d.state == "pending" and not d.in_flight:
                waits.append((d.next_attempt_at - now).total_seconds())
        return max(0.0, min(waits))

    def _record(self, delivery: Delivery, status: int | None, response: bytes, error: str | None, ms: float) -> None:
        now = self._clock.now()
        ok = status is not None and 200 <= status < 300
        delivery.attempts.append(
            {
                "attempt": len(delivery.attempts) + 1,
                "at": now.isoformat(),
                "status": status,
                "error": error,
                "duration_ms": ms,
                "response_body": response[:200].decode("utf-8", "replace"),
            }
        )
        if ok:
            delivery.state = "delivered"
            self._trim()
            return
        retries_done = len(delivery.attempts) - 1
        if retries_done < len(self.retry_schedule):
            delivery.next_attempt_at = now + timedelta(seconds=self.retry_schedule[retries_done])
            logger.info("webhook delivery %s failed (%s), retry at %s", delivery.id, status or error, delivery.next_attempt_at)
            return
        delivery.state = "failed"
        logger.warning("webhook delivery %s failed after %s attempts", delivery.id, len(delivery.attempts))
        if self.disable_when_exhausted:
            self.disabled_reason = f"delivery {delivery.id} failed after {len(delivery.attempts)} attempts"

    def _trim(self) -> None:
        delivered = [d for d in self._deliveries if d.state == "delivered"]
        excess = len(delivered) - self._keep_delivered
        if excess > 0:
            drop = {d.id for d in delivered[:excess]}
            self._deliveries = [d for d in self._deliveries if d.id not in drop]

"""Webhook delivery: sender threads that POST deliveries and retry failures on the emulator clock.

`DeliveryEngine` is what every emulator's webhooks share: sender threads, batching of events published
within a short real-time delay (a few ms, so end-to-end latency stays low), picking the next due
delivery, recording each attempt, retrying after the next delay of the schedule measured on the
emulator clock (a test that advances the clock triggers due retries at once instead of waiting),
`wait_idle`, and a reset that makes answers to requests already in flight count for nothing. An
engine decides what a delivery is, how each attempt is rendered (a retry may be a new request, signed
afresh) and what an outcome does.

`WebhookDispatcher` (Xero) is the simplest engine: one URL, requests built once by the emulator's
`build_batch`, replayed as they are on every attempt.
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
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any, ClassVar

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
    generation: int = 0

    def to_json(self) -> dict:
        return delivery_json(self, headers=self.headers, body=self.body.decode("utf-8", "replace"), meta=self.meta)


def delivery_json(delivery: Any, **details: Any) -> dict:
    """A delivery as /_emulator/state shows it: where, its state, when next, `details`, its attempts."""
    return {
        "id": delivery.id,
        "url": delivery.url,
        "state": delivery.state,
        "created_at": delivery.created_at.isoformat(),
        "next_attempt_at": delivery.next_attempt_at.isoformat() if delivery.state == "pending" else None,
        **details,
        "attempts": list(delivery.attempts),
    }


@dataclass
class DeliveryConfig:
    """How an engine delivers; each emulator's webhook config extends it with its own defaults and knobs."""

    retry_schedule: tuple[float, ...] = DEFAULT_RETRY_SCHEDULE
    # Multiplies every retry delay (0.001 makes a minute into 60 ms of clock time).
    retry_scale: float = 1.0
    # An answer slower than this is a failed attempt (a 2xx too, for engines whose late_fails is set).
    timeout: float = 5.0
    # Events published within this real-time window go out together.
    batch_delay: float = 0.005
    senders: int = 1


class DeliveryEngine:
    """The shared part of webhook delivery; see the module docstring. The caller of every method except
    the sender threads' holds nothing; the engine's condition shares the emulator's lock.

    Deliveries are any objects with id, next_attempt_at, generation, attempts, state (pending,
    delivered, failed...) and in_flight. Subclasses implement `_request(delivery) -> (url, body,
    headers)` and `_record(...)`, and `_batch(events, now) -> [delivery]` if they batch published events.
    """

    thread_name: ClassVar[str] = "webhooks"
    attempt_key: ClassVar[str] = "attempt"  # how an attempt is numbered in /_emulator/state
    first_attempt: ClassVar[int] = 1
    late_fails: ClassVar[bool] = True  # a 2xx slower than the timeout fails the attempt
    stop_wait: ClassVar[float | None] = None  # how long stop() waits for a sender (None: timeout + 1 s)

    def __init__(self, lock: threading.RLock, clock: Clock, config: DeliveryConfig, *, keep_delivered: int = 2000) -> None:
        self._cond = threading.Condition(lock)
        self._clock = clock
        self._defaults = replace(config)
        self.config = replace(config)
        self._keep_delivered = keep_delivered
        self._pending_events: list[dict] = []
        self._flush_at: float | None = None
        self._deliveries: list[Any] = []
        self._ids = itertools.count(1)
        self._generation = 0
        self._sending = 0
        self._stopping = False
        self._threads: list[threading.Thread] = []
        self.events_published = 0
        clock.on_change(self._poke)

    # lifecycle ----------------------------------------------------------------------------------
    def start(self) -> None:
        if self._threads:
            return
        self._stopping = False
        for index in range(max(1, self.config.senders)):
            thread = threading.Thread(target=self._run, name=f"{self.thread_name}-{index}", daemon=True)
            thread.start()
            self._threads.append(thread)

    def stop(self) -> None:
        with self._cond:
            self._stopping = True
            self._cond.notify_all()
        for thread in self._threads:
            thread.join(timeout=self.stop_wait if self.stop_wait is not None else self.config.timeout + 1)
        self._threads = []

    def _poke(self) -> None:
        with self._cond:
            self._cond.notify_all()

    def _forget_deliveries(self, *, restore_config: bool = True) -> None:
        """Nothing queued or sent (and the settings it started with, unless told otherwise); answers to
        requests in flight will be ignored. Holds the lock."""
        if restore_config:
            self.config = replace(self._defaults)
        self._generation += 1
        self._pending_events.clear()
        self._flush_at = None
        self._deliveries.clear()
        self.events_published = 0
        self._cond.notify_all()

    # publishing ---------------------------------------------------------------------------------
    def _queue_event(self, event: dict) -> None:
        """Batch an event with whatever else arrives within the batching delay. Holds the lock."""
        self._pending_events.append(event)
        if self._flush_at is None:
            self._flush_at = time.monotonic() + self.config.batch_delay
        self._cond.notify_all()

    def _batch(self, events: list[dict], now: datetime) -> list[Any]:
        """The deliveries for a batch of published events."""
        raise NotImplementedError

    def wait_idle(self, timeout: float = 5.0) -> bool:
        """True once nothing is batching, in flight or due now (retries due later do not count)."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                now = self._clock.now()
                busy = self._pending_events or self._sending or any(
                    d.state == "pending" and d.next_attempt_at <= now for d in self._deliveries
                )
                if not busy or not self._may_send():
                    return True
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                self._cond.wait(timeout=min(remaining, 0.05))

    def deliveries(self) -> list[dict]:
        with self._cond:
            return [d.to_json() for d in self._deliveries]

    def settings(self) -> dict:
        return {"retry_schedule": list(self.config.retry_schedule), "retry_scale": self.config.retry_scale,
                "timeout": self.config.timeout, "batch_delay_ms": self.config.batch_delay * 1000}

    def snapshot(self) -> dict:
        with self._cond:
            return {
                **self.settings(),
                "events_published": self.events_published,
                "pending_events": len(self._pending_events),
                "deliveries": [d.to_json() for d in self._deliveries],
            }

    def _configure_delivery(self, body: dict) -> None:
        """retry_schedule, retry_scale, timeout and batch_delay_ms from a control request. Holds the lock."""
        if "retry_schedule" in body:
            self.config.retry_schedule = tuple(float(s) for s in body["retry_schedule"])
        if "retry_scale" in body:
            self.config.retry_scale = float(body["retry_scale"])
        if "timeout" in body:
            self.config.timeout = float(body["timeout"])
        if "batch_delay_ms" in body:
            self.config.batch_delay = float(body["batch_delay_ms"]) / 1000
        self._cond.notify_all()

    # sending ------------------------------------------------------------------------------------
    def _may_send(self, delivery: Any = None) -> bool:
        """Whether anything (or this delivery) may be sent now."""
        return True

    def _request(self, delivery: Any) -> tuple[str, bytes, dict[str, str]]:
        """(url, body, headers) of the next attempt. Holds the lock."""
        raise NotImplementedError

    def _claim(self, delivery: Any) -> None:
        """Called before a delivery is sent (holding the lock)."""

    def _release(self, delivery: Any) -> None:
        """Called after a delivery's attempt, whatever its outcome (holding the lock)."""

    def _record(self, delivery: Any, status: int | None, response: bytes, error: str | None, elapsed: float) -> None:
        raise NotImplementedError

    def _flush_if_due(self) -> None:
        if self._flush_at is None or time.monotonic() < self._flush_at:
            return
        events, self._pending_events, self._flush_at = self._pending_events, [], None
        if not events:
            return
        try:
            self._deliveries.extend(self._batch(events, self._clock.now()))
        except Exception:  # a bug in an emulator's builder must not kill the delivery worker
            logger.exception("building a webhook batch failed; %s events dropped", len(events))

    def _next_due(self) -> Any | None:
        if not self._may_send():
            return None
        now = self._clock.now()
        due = [d for d in self._deliveries if d.state == "pending" and not d.in_flight and d.next_attempt_at <= now
               and self._may_send(d)]
        return min(due, key=lambda d: (d.next_attempt_at, d.id)) if due else None

    def _wait_time(self) -> float:
        waits = [1.0]
        if self._flush_at is not None:
            waits.append(self._flush_at - time.monotonic())
        now = self._clock.now()
        waits += [(d.next_attempt_at - now).total_seconds() for d in self._deliveries
                  if d.state == "pending" and not d.in_flight]
        return max(0.001, min(waits))

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
                self._claim(delivery)
                url, body, headers = self._request(delivery)
                timeout = self.config.timeout
                self._cond.release()
                try:
                    started = time.monotonic()
                    status, response, error = post(url, body, headers, timeout)
                    elapsed = time.monotonic() - started
                finally:
                    self._cond.acquire()
                    self._sending -= 1
                    delivery.in_flight = False
                    self._release(delivery)
                if delivery.generation == self._generation:
                    self._record(delivery, status, response, error, elapsed)
                self._cond.notify_all()

    # outcomes -----------------------------------------------------------------------------------
    def _attempted(self, delivery: Any, status: int | None, response: bytes, error: str | None,
                   elapsed: float) -> bool:
        """Note the attempt on the delivery; True if it succeeded (a 2xx, in time when late_fails)."""
        ok = status is not None and 200 <= status < 300
        if ok and self.late_fails and elapsed > self.config.timeout:
            ok, error = False, f"answered after {elapsed:.1f} s (limit {self.config.timeout} s)"
        delivery.attempts.append({
            self.attempt_key: len(delivery.attempts) + self.first_attempt,
            "at": self._clock.now().isoformat(),
            "status": status,
            "error": error,
            "duration_ms": round(elapsed * 1000, 1),
            "response_body": response[:200].decode("utf-8", "replace"),
        })
        if ok:
            delivery.state = "delivered"
            self._trim()
        return ok

    def _retry_later(self, delivery: Any) -> bool:
        """Schedule the next attempt after the schedule's next delay; False (and failed) once exhausted."""
        retries_done = len(delivery.attempts) - 1
        if retries_done < len(self.config.retry_schedule):
            delay = self.config.retry_schedule[retries_done] * self.config.retry_scale
            delivery.next_attempt_at = self._clock.now() + timedelta(seconds=delay)
            return True
        delivery.state = "failed"
        return False

    def _trim(self) -> None:
        delivered = [d for d in self._deliveries if d.state == "delivered"]
        excess = len(delivered) - self._keep_delivered
        if excess > 0:
            drop = {d.id for d in delivered[:excess]}
            self._deliveries = [d for d in self._deliveries if d.id not in drop]


class WebhookDispatcher(DeliveryEngine):
    """One URL; each batch of events becomes requests built once and replayed on every attempt; the
    webhook is disabled when a delivery exhausts its retries (unless disable_when_exhausted is off)."""

    late_fails = False

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
        config = DeliveryConfig(retry_schedule=tuple(float(s) for s in retry_schedule), timeout=timeout,
                                batch_delay=batch_delay)
        super().__init__(lock, clock, config, keep_delivered=keep_delivered)
        self._build_batch = build_batch
        self.name = name
        self.thread_name = f"{name}-delivery"  # type: ignore[misc]
        self.url = url
        self.disable_when_exhausted = disable_when_exhausted
        self.disabled_reason: str | None = None

    # configuration ------------------------------------------------------------------------------
    @property
    def enabled(self) -> bool:
        return bool(self.url) and self.disabled_reason is None

    def configure(self, body: dict) -> dict:
        with self._cond:
            if "url" in body:
                self.url = body["url"] or None
                self.disabled_reason = None
            self._configure_delivery(body)
            if "disable_when_exhausted" in body:
                self.disable_when_exhausted = bool(body["disable_when_exhausted"])
            if body.get("enabled") is True:
                self.disabled_reason = None
            elif body.get("enabled") is False:
                self.disabled_reason = "disabled by control endpoint"
            self._cond.notify_all()
            return self.settings()

    def settings(self) -> dict:
        return {"url": self.url, "enabled": self.enabled, "disabled_reason": self.disabled_reason,
                **super().settings(), "disable_when_exhausted": self.disable_when_exhausted}

    def reset(self) -> None:
        with self._cond:
            self._forget_deliveries(restore_config=False)  # Xero's reset keeps the webhook settings

    # delivery -----------------------------------------------------------------------------------
    def publish(self, event: dict) -> None:
        """Queue one event; it goes out with whatever else arrives within the batching delay."""
        with self._cond:
            if not self.enabled:
                return
            self.events_published += 1
            self._queue_event(event)

    def _batch(self, events: list[dict], now: datetime) -> list[Delivery]:
        if not self.url:
            return []
        return [Delivery(next(self._ids), self.url, body, headers, now, now, meta=meta, generation=self._generation)
                for body, headers, meta in self._build_batch(events)]

    def _may_send(self, delivery: Any = None) -> bool:
        return self.enabled

    def _request(self, delivery: Delivery) -> tuple[str, bytes, dict[str, str]]:
        return delivery.url, delivery.body, delivery.headers

    def _record(self, delivery: Delivery, status: int | None, response: bytes, error: str | None,
                elapsed: float) -> None:
        if self._attempted(delivery, status, response, error, elapsed):
            return
        if self._retry_later(delivery):
            logger.info("webhook delivery %s failed (%s), retry at %s", delivery.id, status or error,
                        delivery.next_attempt_at)
            return
        logger.warning("webhook delivery %s failed after %s attempts", delivery.id, len(delivery.attempts))
        if self.disable_when_exhausted:
            self.disabled_reason = f"delivery {delivery.id} failed after {len(delivery.attempts)} attempts"

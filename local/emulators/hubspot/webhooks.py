"""Webhooks the way HubSpot sends them: app subscriptions, JSON arrays of up to 100 events, v3 signatures,
and retries over 24 hours.

Why not common.WebhookDispatcher: a HubSpot retry is a new request, signed again with a fresh
X-HubSpot-Request-Timestamp (a receiver rejects timestamps older than 5 minutes, so replaying the first
attempt's headers a day later could never succeed), and each event in it carries its attemptNumber.

Subscriptions (by default `deal.creation` and `deal.propertyChange` on `dealstage`, as the bridge
registers them) decide which store events become webhook events. An answer that is not 2xx, or that
takes longer than the timeout (5 s), fails the attempt; it is retried after the next delay of the
schedule, measured on the emulator clock, until the schedule is exhausted.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import itertools
import json
import logging
import threading
import time
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta

from local.emulators.common import Clock
from local.emulators.common.webhooks import post

from .config import WebhookConfig

logger = logging.getLogger(__name__)

USER_AGENT = "HubSpot Connect 2.0 (http://dev.hubspot.com/) - WebhooksExecutorDaemon"
SUBSCRIPTION_TYPES = tuple(
    f"{obj}.{kind}" for obj in ("contact", "company", "deal", "line_item")
    for kind in ("creation", "deletion", "propertyChange")
)
CHANGE_FLAGS = {"creation": "CREATED", "deletion": "DELETED"}


def v3_signature(client_secret: str, method: str, uri: str, body: bytes, timestamp_ms: str) -> str:
    """Base64 HMAC-SHA256, keyed with the client secret, of method + URI + body + timestamp."""
    message = method.encode() + uri.encode("utf-8") + body + timestamp_ms.encode()
    return base64.b64encode(hmac.new(client_secret.encode("utf-8"), message, hashlib.sha256).digest()).decode()


def v1_signature(client_secret: str, body: bytes) -> str:
    """X-HubSpot-Signature (v1): hex SHA-256 of the client secret followed by the body."""
    return hashlib.sha256(client_secret.encode("utf-8") + body).hexdigest()


@dataclass
class Subscription:
    id: int
    subscription_type: str
    property_name: str | None = None
    active: bool = True

    def matches(self, event: dict) -> bool:
        if not self.active or f"{event['objectType']}.{event['kind']}" != self.subscription_type:
            return False
        return event["kind"] != "propertyChange" or event["propertyName"] == self.property_name

    def to_json(self) -> dict:
        out = {"id": self.id, "subscriptionType": self.subscription_type, "active": self.active}
        if self.property_name:
            out["propertyName"] = self.property_name
        return out


@dataclass
class Delivery:
    id: int
    url: str
    events: list[dict]
    created_at: datetime
    next_attempt_at: datetime
    generation: int
    attempts: list[dict] = field(default_factory=list)
    state: str = "pending"  # pending | delivered | failed
    in_flight: bool = False
    last_body: bytes = b""
    last_headers: dict[str, str] = field(default_factory=dict)

    def to_json(self) -> dict:
        return {
            "id": self.id,
            "url": self.url,
            "state": self.state,
            "created_at": self.created_at.isoformat(),
            "next_attempt_at": self.next_attempt_at.isoformat() if self.state == "pending" else None,
            "events": len(self.events),
            "headers": dict(self.last_headers),
            "body": self.last_body.decode("utf-8", "replace") if self.last_body else None,
            "attempts": list(self.attempts),
        }


class WebhookEngine:
    """Matches store events to subscriptions, batches them and delivers them (core.webhooks' interface)."""

    def __init__(self, lock: threading.RLock, clock: Clock, config: WebhookConfig, *, app_id: int, portal_id: int,
                 client_secret: str, url: str | None) -> None:
        self._cond = threading.Condition(lock)
        self._clock = clock
        self._defaults = WebhookConfig(**asdict(config))
        self.config = WebhookConfig(**asdict(config))
        self.app_id = app_id
        self.portal_id = portal_id
        self.client_secret = client_secret
        self._default_url = url
        self.url = url
        self.enabled = True
        self.subscriptions: list[Subscription] = []
        self._pending: list[dict] = []
        self._flush_at: float | None = None
        self._deliveries: list[Delivery] = []
        self._ids = itertools.count(1)
        self._event_ids = itertools.count(1_000_000_001)
        self._generation = 0
        self._sending = 0
        self._stopping = False
        self._threads: list[threading.Thread] = []
        self.events_published = 0
        self._default_subscriptions()
        clock.on_change(self._poke)

    def _default_subscriptions(self) -> None:
        self.subscriptions = [
            Subscription(1, "deal.creation"),
            Subscription(2, "deal.propertyChange", "dealstage"),
        ]

    # lifecycle --------------------------------------------------------------------------------------
    def start(self) -> None:
        if self._threads:
            return
        self._stopping = False
        for index in range(max(1, self.config.senders)):
            thread = threading.Thread(target=self._run, name=f"hubspot-webhooks-{index}", daemon=True)
            thread.start()
            self._threads.append(thread)

    def stop(self) -> None:
        with self._cond:
            self._stopping = True
            self._cond.notify_all()
        for thread in self._threads:
            thread.join(timeout=self.config.timeout + 1)
        self._threads = []

    def _poke(self) -> None:
        with self._cond:
            self._cond.notify_all()

    def reset(self) -> None:
        with self._cond:
            self._generation += 1
            self.config = WebhookConfig(**asdict(self._defaults))
            self.url = self._default_url
            self.enabled = True
            self._default_subscriptions()
            self._pending.clear()
            self._flush_at = None
            self._deliveries.clear()
            self.events_published = 0
            self._cond.notify_all()

    def configure(self, body: dict) -> dict:
        with self._cond:
            if "url" in body:
                self.url = body["url"] or None
            if "retry_schedule" in body:
                self.config.retry_schedule = tuple(float(s) for s in body["retry_schedule"])
            if "retry_scale" in body:
                self.config.retry_scale = float(body["retry_scale"])
            if "timeout" in body:
                self.config.timeout = float(body["timeout"])
            if "batch_delay_ms" in body:
                self.config.batch_delay = float(body["batch_delay_ms"]) / 1000
            if "max_events_per_request" in body:
                self.config.max_events_per_request = max(1, int(body["max_events_per_request"]))
            if "enabled" in body:
                self.enabled = bool(body["enabled"])
            if "subscriptions" in body:
                self.subscriptions = [self._subscription(i, spec) for i, spec in
                                      enumerate(body["subscriptions"], start=1)]
            self._cond.notify_all()
            return self.settings()

    @staticmethod
    def _subscription(index: int, spec: dict) -> Subscription:
        kind = spec.get("subscriptionType") or spec.get("eventType")
        if kind not in SUBSCRIPTION_TYPES:
            raise ValueError(f"subscriptionType must be one of {', '.join(SUBSCRIPTION_TYPES)}")
        prop = spec.get("propertyName")
        if kind.endswith(".propertyChange") and not prop:
            raise ValueError("propertyChange subscriptions need a propertyName")
        return Subscription(int(spec.get("id", index)), kind, prop, bool(spec.get("active", True)))

    def settings(self) -> dict:
        return {
            "url": self.url,
            "enabled": self.enabled,
            "retry_schedule": list(self.config.retry_schedule),
            "retry_scale": self.config.retry_scale,
            "timeout": self.config.timeout,
            "batch_delay_ms": self.config.batch_delay * 1000,
            "max_events_per_request": self.config.max_events_per_request,
            "subscriptions": [s.to_json() for s in self.subscriptions],
        }

    def snapshot(self) -> dict:
        with self._cond:
            return {
                **self.settings(),
                "events_published": self.events_published,
                "pending_events": len(self._pending),
                "deliveries": [d.to_json() for d in self._deliveries],
            }

    def deliveries(self) -> list[dict]:
        with self._cond:
            return [d.to_json() for d in self._deliveries]

    def wait_idle(self, timeout: float = 5.0) -> bool:
        """True once nothing is batching, in flight or due now (retries due later do not count)."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                now = self._clock.now()
                busy = self._pending or self._sending or any(
                    d.state == "pending" and d.next_attempt_at <= now for d in self._deliveries
                )
                if not busy:
                    return True
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                self._cond.wait(timeout=min(remaining, 0.05))

    # publishing -------------------------------------------------------------------------------------
    def publish(self, event: dict) -> None:
        """A store event: one webhook event per matching active subscription."""
        with self._cond:
            if not self.enabled or not self.url:
                return
            for subscription in self.subscriptions:
                if not subscription.matches(event):
                    continue
                self.events_published += 1
                payload = {
                    "eventId": next(self._event_ids),
                    "subscriptionId": subscription.id,
                    "portalId": self.portal_id,
                    "appId": self.app_id,
                    "occurredAt": event["occurredAt"],
                    "subscriptionType": subscription.subscription_type,
                    "attemptNumber": 0,
                    "objectId": event["objectId"],
                }
                if event["kind"] == "propertyChange":
                    payload["propertyName"] = event["propertyName"]
                    payload["propertyValue"] = event["propertyValue"] if event["propertyValue"] is not None else ""
                payload["changeSource"] = event["changeSource"]
                payload["sourceId"] = event["sourceId"]
                if event["kind"] in CHANGE_FLAGS:
                    payload["changeFlag"] = CHANGE_FLAGS[event["kind"]]
                self._pending.append(payload)
                if self._flush_at is None:
                    self._flush_at = time.monotonic() + self.config.batch_delay
            self._cond.notify_all()

    # sending ----------------------------------------------------------------------------------------
    def _flush_if_due(self) -> None:
        if self._flush_at is None or time.monotonic() < self._flush_at:
            return
        events, self._pending, self._flush_at = self._pending, [], None
        if not events or not self.url:
            return
        now = self._clock.now()
        size = self.config.max_events_per_request
        for start in range(0, len(events), size):
            self._deliveries.append(
                Delivery(next(self._ids), self.url, events[start : start + size], now, now, self._generation)
            )

    def _next_due(self) -> Delivery | None:
        now = self._clock.now()
        due = [d for d in self._deliveries if d.state == "pending" and not d.in_flight and d.next_attempt_at <= now]
        return min(due, key=lambda d: (d.next_attempt_at, d.id)) if due else None

    def _wait_time(self) -> float:
        waits = [1.0]
        if self._flush_at is not None:
            waits.append(self._flush_at - time.monotonic())
        now = self._clock.now()
        waits += [(d.next_attempt_at - now).total_seconds() for d in self._deliveries
                  if d.state == "pending" and not d.in_flight]
        return max(0.001, min(waits))

    def _request(self, delivery: Delivery) -> tuple[bytes, dict[str, str]]:
        attempt = len(delivery.attempts)
        body = json.dumps([{**event, "attemptNumber": attempt} for event in delivery.events],
                          separators=(",", ":"), ensure_ascii=False).encode("utf-8")
        timestamp = str(int(self._clock.now().timestamp() * 1000))
        headers = {
            "Content-Type": "application/json",
            "User-Agent": USER_AGENT,
            "X-HubSpot-Signature": v1_signature(self.client_secret, body),
            "X-HubSpot-Signature-Version": "v1",
            "X-HubSpot-Signature-v3": v3_signature(self.client_secret, "POST", delivery.url, body, timestamp),
            "X-HubSpot-Request-Timestamp": timestamp,
        }
        return body, headers

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
                body, headers = self._request(delivery)
                delivery.last_body, delivery.last_headers = body, headers
                url, timeout = delivery.url, self.config.timeout
                self._cond.release()
                try:
                    started = time.monotonic()
                    status, response, error = post(url, body, headers, timeout)
                    elapsed = time.monotonic() - started
                finally:
                    self._cond.acquire()
                    self._sending -= 1
                    delivery.in_flight = False
                if delivery.generation == self._generation:
                    self._record(delivery, status, response, error, elapsed)
                self._cond.notify_all()

    def _record(self, delivery: Delivery, status: int | None, response: bytes, error: str | None,
                elapsed: float) -> None:
        now = self._clock.now()
        in_time = elapsed <= self.config.timeout
        ok = status is not None and 200 <= status < 300 and in_time
        if status is not None and 200 <= status < 300 and not in_time:
            error = f"answered after {elapsed:.1f} s (limit {self.config.timeout} s)"
        delivery.attempts.append({
            "attemptNumber": len(delivery.attempts),
            "at": now.isoformat(),
            "status": status,
            "error": error,
            "duration_ms": round(elapsed * 1000, 1),
            "response_body": response[:200].decode("utf-8", "replace"),
        })
        if ok:
            delivery.state = "delivered"
            self._trim()
            return
        retries_done = len(delivery.attempts) - 1
        if retries_done < len(self.config.retry_schedule):
            delay = self.config.retry_schedule[retries_done] * self.config.retry_scale
            delivery.next_attempt_at = now + timedelta(seconds=delay)
            logger.info("hubspot webhook delivery %s failed (%s); retry at %s", delivery.id, status or error,
                        delivery.next_attempt_at.isoformat())
            return
        delivery.state = "failed"
        logger.warning("hubspot webhook delivery %s failed after %s attempts", delivery.id, len(delivery.attempts))

    def _trim(self, keep: int = 2000) -> None:
        delivered = [d for d in self._deliveries if d.state == "delivered"]
        if len(delivered) > keep:
            drop = {d.id for d in delivered[: len(delivered) - keep]}
            self._deliveries = [d for d in self._deliveries if d.id not in drop]

"""Webhooks the way HubSpot sends them: app subscriptions, JSON arrays of up to 100 events, v3 signatures,
and retries over 24 hours.

Why not common.WebhookDispatcher, which replays the first request: a HubSpot retry is a new request,
signed again with a fresh X-HubSpot-Request-Timestamp (a receiver rejects timestamps older than 5
minutes, so replaying the first attempt's headers a day later could never succeed), and each event in
it carries its attemptNumber. So this engine renders every attempt itself, on the shared DeliveryEngine
(sender threads, batching, retries on the emulator clock).

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
from dataclasses import dataclass, field
from datetime import datetime

from local.emulators.common import Clock
from local.emulators.common.webhooks import DeliveryEngine, delivery_json

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
        return delivery_json(self, events=len(self.events), headers=dict(self.last_headers),
                             body=self.last_body.decode("utf-8", "replace") if self.last_body else None)


class WebhookEngine(DeliveryEngine):
    """Matches store events to subscriptions, batches them and delivers them (core.webhooks' interface)."""

    thread_name = "hubspot-webhooks"
    attempt_key = "attemptNumber"
    first_attempt = 0

    def __init__(self, lock: threading.RLock, clock: Clock, config: WebhookConfig, *, app_id: int, portal_id: int,
                 client_secret: str, url: str | None) -> None:
        super().__init__(lock, clock, config)
        self.app_id = app_id
        self.portal_id = portal_id
        self.client_secret = client_secret
        self._default_url = url
        self.url = url
        self.enabled = True
        self.subscriptions: list[Subscription] = []
        self._event_ids = itertools.count(1_000_000_001)
        self._default_subscriptions()

    config: WebhookConfig

    def _default_subscriptions(self) -> None:
        self.subscriptions = [
            Subscription(1, "deal.creation"),
            Subscription(2, "deal.propertyChange", "dealstage"),
        ]

    # control ----------------------------------------------------------------------------------------
    def reset(self) -> None:
        with self._cond:
            self._forget_deliveries()
            self.url = self._default_url
            self.enabled = True
            self._default_subscriptions()

    def configure(self, body: dict) -> dict:
        with self._cond:
            if "url" in body:
                self.url = body["url"] or None
            self._configure_delivery(body)
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
        return {"url": self.url, "enabled": self.enabled, **super().settings(),
                "max_events_per_request": self.config.max_events_per_request,
                "subscriptions": [s.to_json() for s in self.subscriptions]}

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
                self._queue_event(payload)

    def _batch(self, events: list[dict], now: datetime) -> list[Delivery]:
        """Up to max_events_per_request events a request."""
        if not self.url:
            return []
        size = self.config.max_events_per_request
        return [Delivery(next(self._ids), self.url, events[start : start + size], now, now, self._generation)
                for start in range(0, len(events), size)]

    # sending ----------------------------------------------------------------------------------------
    def _request(self, delivery: Delivery) -> tuple[str, bytes, dict[str, str]]:
        """Every attempt is a new request: events numbered by attemptNumber, signed with a fresh timestamp."""
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
        delivery.last_body, delivery.last_headers = body, headers
        return delivery.url, body, headers

    def _record(self, delivery: Delivery, status: int | None, response: bytes, error: str | None,
                elapsed: float) -> None:
        if self._attempted(delivery, status, response, error, elapsed):
            return
        if self._retry_later(delivery):
            logger.info("hubspot webhook delivery %s failed (%s); retry at %s", delivery.id, status or error,
                        delivery.next_attempt_at.isoformat())
            return
        logger.warning("hubspot webhook delivery %s failed after %s attempts", delivery.id, len(delivery.attempts))

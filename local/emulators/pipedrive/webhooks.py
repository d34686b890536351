"""Webhooks v2: subscriptions (POST/GET/DELETE /v1/webhooks) and their delivery, the way Pipedrive does it.

Why not common.WebhookDispatcher: Pipedrive sends every event to every matching subscription, each with
its own URL and Basic auth; the body changes on every attempt (`meta.attempt` 1..4); and a subscription
is banned for 30 minutes after ten first-attempt failures (events in the ban are lost) and deleted after
three days without a successful delivery. The shared dispatcher has one URL and fixed bodies, so this
module is its own engine on the shared DeliveryEngine (sender threads, retries on the emulator clock).

Delivery: an event is sent at once (a sender thread wakes on publish, so latency is a few ms); success is
a 2xx within `timeout` (10 s); a failed first attempt is retried after 3, 30 and 150 s (x `retry_scale`)
measured on the emulator clock, so a test advances the clock instead of sleeping. One delivery per
subscription is in flight at a time, so a subscription sees its events in order.

The object also stands in for `core.webhooks`, so the shared control endpoints work with it:
GET/POST /_emulator/webhooks (settings, subscriptions, deliveries, lost events) and
POST /_emulator/webhooks/wait.
"""

from __future__ import annotations

import base64
import itertools
import logging
import threading
from collections import deque
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from local.emulators.common import Clock, jsonutil
from local.emulators.common.webhooks import DeliveryEngine

from .config import WebhookConfig
from .values import iso_millis, v1_time

logger = logging.getLogger(__name__)

EVENT_ACTIONS = ("create", "change", "delete", "*")
EVENT_OBJECTS = (
    "activity", "deal", "lead", "note", "organization", "person", "pipeline", "product", "stage", "user", "*",
)
MAX_PER_USER = 40


@dataclass
class Subscription:
    id: int
    owner_id: int
    user_id: int
    subscription_url: str
    event_action: str
    event_object: str
    name: str
    add_time: datetime
    http_auth_user: str | None = None
    http_auth_password: str | None = None
    version: str = "2.0"
    is_active: bool = True
    last_delivery_time: datetime | None = None
    last_http_status: int | None = None
    last_success_time: datetime | None = None
    ban_counter: int = 0
    banned_until: datetime | None = None
    remove_time: datetime | None = None
    remove_reason: str | None = None

    def matches(self, action: str, entity: str) -> bool:
        return (
            self.is_active
            and self.event_action in ("*", action)
            and self.event_object in ("*", entity)
        )

    def auth_header(self) -> str | None:
        if not self.http_auth_user:
            return None
        raw = f"{self.http_auth_user}:{self.http_auth_password or ''}".encode()
        return "Basic " + base64.b64encode(raw).decode()

    def to_v1(self, company_id: int) -> dict:
        return {
            "id": self.id,
            "company_id": company_id,
            "owner_id": self.owner_id,
            "user_id": self.user_id,
            "event_action": self.event_action,
            "event_object": self.event_object,
            "subscription_url": self.subscription_url,
            "name": self.name,
            "version": self.version,
            "is_active": 1 if self.is_active else 0,
            "add_time": v1_time(self.add_time),
            "remove_time": v1_time(self.remove_time),
            "type": "general",
            "http_auth_user": self.http_auth_user,
            "http_auth_password": self.http_auth_password,
            "additional_data": [],
            "remove_reason": self.remove_reason,
            "last_delivery_time": v1_time(self.last_delivery_time),
            "last_http_status": self.last_http_status,
            "admin_id": self.owner_id,
        }

    def state(self) -> dict:
        return {
            "ban_counter": self.ban_counter,
            "banned_until": self.banned_until.isoformat() if self.banned_until else None,
            "last_success_time": self.last_success_time.isoformat() if self.last_success_time else None,
        }


@dataclass
class Delivery:
    id: int
    subscription: Subscription
    event: dict
    next_attempt_at: datetime
    generation: int
    attempts: list[dict] = field(default_factory=list)
    state: str = "pending"  # pending | delivered | failed | dropped
    in_flight: bool = False
    last_payload: dict | None = None

    def to_json(self) -> dict:
        event = self.event
        return {
            "id": self.id,
            "webhook_id": self.subscription.id,
            "url": self.subscription.subscription_url,
            "state": self.state,
            "event": {
                "id": event["event_id"],
                "entity": event["entity"],
                "action": event["action"],
                "entity_id": event["entity_id"],
                "change_source": event["change_source"],
                "user_id": event["user_id"],
                "correlation_id": event["correlation_id"],
            },
            "next_attempt_at": self.next_attempt_at.isoformat() if self.state == "pending" else None,
            "attempts": list(self.attempts),
            "payload": self.last_payload or build_payload(self, attempt=len(self.attempts) + 1),
        }


def build_payload(delivery: Delivery, attempt: int) -> dict:
    """The webhook v2 body for one attempt; ids in meta are strings, ids in data integers."""
    event = delivery.event
    sub = delivery.subscription
    meta = {
        "action": event["action"],
        "entity": event["entity"],
        "entity_id": str(event["entity_id"]),
        "id": event["event_id"],
        "company_id": str(event["company_id"]),
        "correlation_id": event["correlation_id"],
        "is_bulk_edit": False,
        "timestamp": iso_millis(event["timestamp"]),
        "type": "general",
        "user_id": str(event["user_id"]),
        "version": "2.0",
        "webhook_id": str(sub.id),
        "webhook_owner_id": str(sub.owner_id),
        "change_source": event["change_source"],
        "attempt": attempt,
        "host": event["host"],
        "permitted_user_ids": list(event["permitted_user_ids"]),
    }
    return {"data": event["data"], "previous": event["previous"], "meta": meta}


class WebhookEngine(DeliveryEngine):
    thread_name = "pipedrive-webhooks"
    stop_wait = 0.5

    def __init__(self, lock: threading.RLock, clock: Clock, config: WebhookConfig, company_id: int) -> None:
        super().__init__(lock, clock, config)
        self.company_id = company_id
        self.enabled = True
        self.subscriptions: dict[int, Subscription] = {}
        self.removed: list[dict] = []
        self.lost: deque[dict] = deque(maxlen=1000)
        self.bans: list[dict] = []
        self._sub_ids = itertools.count(1)
        self._busy_subs: set[int] = set()

    config: WebhookConfig

    # control (the interface core.webhooks offers to the shared control endpoints) -------------------
    def reset(self) -> None:
        with self._cond:
            self._forget_deliveries()
            self.enabled = True
            self.subscriptions.clear()
            self.removed.clear()
            self.lost.clear()
            self.bans.clear()
            self._busy_subs.clear()
            self._sub_ids = itertools.count(1)

    def configure(self, body: dict) -> dict:
        with self._cond:
            self._configure_delivery(body)
            if "ban_threshold" in body:
                self.config.ban_threshold = int(body["ban_threshold"])
            if "ban_seconds" in body:
                self.config.ban_seconds = float(body["ban_seconds"])
            if "delete_after_seconds" in body:
                self.config.delete_after_seconds = float(body["delete_after_seconds"])
            if "enabled" in body:
                self.enabled = bool(body["enabled"])
            if body.get("unban"):
                for sub in self.subscriptions.values():
                    sub.banned_until = None
                    sub.ban_counter = 0
            self._cond.notify_all()
            return self.settings()

    def settings(self) -> dict:
        return {
            "enabled": self.enabled,
            **super().settings(),
            "ban_threshold": self.config.ban_threshold,
            "ban_seconds": self.config.ban_seconds,
            "delete_after_seconds": self.config.delete_after_seconds,
        }

    def snapshot(self) -> dict:
        with self._cond:
            return {
                **self.settings(),
                "events_published": self.events_published,
                "subscriptions": [
                    {**sub.to_v1(self.company_id), **sub.state()} for sub in self.subscriptions.values()
                ],
                "removed_subscriptions": list(self.removed),
                "bans": list(self.bans),
                "lost_events": list(self.lost),
                "deliveries": [d.to_json() for d in self._deliveries],
            }

    # subscriptions --------------------------------------------------------------------------------
    def add_subscription(self, **values: Any) -> Subscription:
        with self._cond:
            sub = Subscription(id=next(self._sub_ids), add_time=self._clock.now(), **values)
            self.subscriptions[sub.id] = sub
            return sub

    def count_for_user(self, user_id: int) -> int:
        return sum(1 for s in self.subscriptions.values() if s.user_id == user_id)

    def remove_subscription(self, sub_id: int, reason: str = "deleted") -> Subscription | None:
        with self._cond:
            sub = self.subscriptions.pop(sub_id, None)
            if sub is None:
                return None
            sub.is_active = False
            sub.remove_time = self._clock.now()
            sub.remove_reason = reason
            self.removed.append({"id": sub.id, "subscription_url": sub.subscription_url, "reason": reason,
                                 "at": sub.remove_time.isoformat()})
            for delivery in self._deliveries:
                if delivery.subscription is sub and delivery.state == "pending":
                    delivery.state = "dropped"
            self._cond.notify_all()
            return sub

    # publishing -----------------------------------------------------------------------------------
    def publish(self, event: dict) -> None:
        """Queue one event for every matching subscription (the caller holds the lock or not)."""
        with self._cond:
            self.events_published += 1
            now = self._clock.now()
            for sub in list(self.subscriptions.values()):
                if not sub.matches(event["action"], event["entity"]):
                    continue
                if sub.banned_until is not None and now < sub.banned_until:
                    self.lost.append({
                        "webhook_id": sub.id, "event_id": event["event_id"], "entity": event["entity"],
                        "action": event["action"], "entity_id": event["entity_id"], "at": now.isoformat(),
                        "reason": f"webhook banned until {sub.banned_until.isoformat()}",
                    })
                    continue
                self._deliveries.append(Delivery(next(self._ids), sub, event, now, self._generation))
            self._cond.notify_all()

    # sending: one delivery per subscription in flight, so a subscription sees its events in order ---
    def _may_send(self, delivery: Delivery | None = None) -> bool:
        if delivery is None:
            return self.enabled
        return delivery.subscription.id not in self._busy_subs

    def _claim(self, delivery: Delivery) -> None:
        self._busy_subs.add(delivery.subscription.id)

    def _release(self, delivery: Delivery) -> None:
        self._busy_subs.discard(delivery.subscription.id)

    def _request(self, delivery: Delivery) -> tuple[str, bytes, dict[str, str]]:
        sub = delivery.subscription
        payload = build_payload(delivery, len(delivery.attempts) + 1)
        delivery.last_payload = payload
        headers = {"Content-Type": "application/json", "User-Agent": "Pipedrive Webhooks"}
        auth = sub.auth_header()
        if auth:
            headers["Authorization"] = auth
        return sub.subscription_url, jsonutil.dumps_bytes(payload), headers

    def _record(self, delivery: Delivery, status: int | None, response: bytes, error: str | None,
                elapsed: float) -> None:
        now = self._clock.now()
        sub = delivery.subscription
        sub.last_delivery_time = now
        sub.last_http_status = status
        if self._attempted(delivery, status, response, error, elapsed):
            sub.last_success_time = now
            return
        if len(delivery.attempts) == 1:
            sub.ban_counter += 1
            if sub.ban_counter >= self.config.ban_threshold:
                sub.banned_until = now + timedelta(seconds=self.config.ban_seconds)
                sub.ban_counter = 0
                self.bans.append({"webhook_id": sub.id, "at": now.isoformat(),
                                  "until": sub.banned_until.isoformat()})
                logger.warning("pipedrive webhook %s banned until %s", sub.id, sub.banned_until)
        self._retry_later(delivery)
        since = sub.last_success_time or sub.add_time
        if (now - since).total_seconds() >= self.config.delete_after_seconds:
            self.remove_subscription(sub.id, "no successful delivery for 3 days")

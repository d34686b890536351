"""Xero webhook payloads: ids only, no event id, no data.

Each event is checked on its own: one with an id that is not a Xero GUID (a `resourceId` of
"../Contacts") is dropped, logged and counted, and the other events of the same signed payload are
still enqueued; nothing unchecked ever reaches a URL.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from aws_lambda_powertools import Logger
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from crmbridge.commands import XeroResourceChanged
from crmbridge.ids import is_xero_guid

logger = Logger(child=True)

_SYNCED_CATEGORIES = {"INVOICE", "CONTACT"}


class XeroEvent(BaseModel):
    model_config = ConfigDict(extra="ignore", populate_by_name=True)

    resource_url: str | None = Field(None, alias="resourceUrl")
    resource_id: str = Field(alias="resourceId", min_length=1, max_length=64)
    event_date_utc: datetime = Field(alias="eventDateUtc")
    event_type: str = Field(alias="eventType", min_length=1, max_length=32)
    event_category: str = Field(alias="eventCategory", min_length=1, max_length=32)
    tenant_id: str = Field(alias="tenantId", min_length=1, max_length=64)
    tenant_type: str | None = Field(None, alias="tenantType")

    @property
    def synced(self) -> bool:
        return self.event_category.upper() in _SYNCED_CATEGORIES


def _why_invalid(position: int, raw: Any) -> tuple[XeroEvent | None, str | None]:
    """The event, or why it cannot be used (never its values beyond a short id excerpt)."""
    try:
        event = XeroEvent.model_validate(raw)
    except ValidationError as exc:
        first = exc.errors(include_input=False, include_url=False)[0]
        field = ".".join(str(part) for part in first.get("loc", ())) or "event"
        return None, f"event {position}: {field}: {first.get('msg', 'invalid')}"
    if event.synced:
        for field, value in (("resourceId", event.resource_id), ("tenantId", event.tenant_id)):
            if not is_xero_guid(value):
                return None, f"event {position}: {field} is not a Xero id: {value[:40]!r}"
    return event, None


class XeroWebhook(BaseModel):
    model_config = ConfigDict(extra="ignore", populate_by_name=True)

    events: list[XeroEvent] = Field(default_factory=list)
    first_event_sequence: int | None = Field(None, alias="firstEventSequence")
    last_event_sequence: int | None = Field(None, alias="lastEventSequence")
    entropy: str | None = None
    # Why each unusable event was left out (filled in while parsing, never sent anywhere but the log).
    dropped: list[str] = Field(default_factory=list, exclude=True)

    @model_validator(mode="before")
    @classmethod
    def _drop_unusable_events(cls, data: Any) -> Any:
        if not isinstance(data, dict) or not isinstance(data.get("events"), list):
            return data  # the shape itself is wrong: refused as a whole
        events, dropped = [], []
        for position, raw in enumerate(data["events"], start=1):
            event, why = _why_invalid(position, raw)
            if event is not None:
                events.append(event)
            else:
                dropped.append(why)
        return {**data, "events": events, "dropped": dropped}

    @property
    def handshake(self) -> bool:
        """Intent-to-Receive: a signed payload without any event."""
        return not self.events and not self.dropped


def resource_commands(hook: XeroWebhook) -> list[XeroResourceChanged]:
    """Commands for the categories the bridge syncs; others (SUBSCRIPTION, CREDITNOTE) are dropped."""
    for why in hook.dropped:
        logger.warning("xero webhook event dropped", extra={"reason": why})
    commands = {}
    for event in hook.events:
        if not event.synced:
            continue
        command = XeroResourceChanged(
            tenant_id=event.tenant_id,
            category=event.event_category.upper(),  # type: ignore[arg-type]
            resource_id=event.resource_id,
            event_type=event.event_type.upper(),
            event_date=event.event_date_utc,
        )
        commands[command.idempotency_key] = command  # duplicates inside one batch collapse here
    return list(commands.values())

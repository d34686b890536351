"""Xero webhook payloads: ids only, no event id, no data."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

from crmbridge.commands import XeroResourceChanged

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


class XeroWebhook(BaseModel):
    model_config = ConfigDict(extra="ignore", populate_by_name=True)

    events: list[XeroEvent] = Field(default_factory=list)
    first_event_sequence: int | None = Field(None, alias="firstEventSequence")
    last_event_sequence: int | None = Field(None, alias="lastEventSequence")
    entropy: str | None = None


def resource_commands(hook: XeroWebhook) -> list[XeroResourceChanged]:
    """Commands for the categories the bridge syncs; others (SUBSCRIPTION, CREDITNOTE) are dropped."""
    commands = {}
    for event in hook.events:
        category = event.event_category.upper()
        if category not in _SYNCED_CATEGORIES:
            continue
        command = XeroResourceChanged(
            tenant_id=event.tenant_id,
            category=category,  # type: ignore[arg-type]
            resource_id=event.resource_id,
            event_type=event.event_type.upper(),
            event_date=event.event_date_utc,
        )
        commands[command.idempotency_key] = command  # duplicates inside one batch collapse here
    return list(commands.values())

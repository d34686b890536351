"""HubSpot webhook payloads (a JSON array of up to 100 events) and the "deal may just be won" decision.

A `deal.propertyChange` on `dealstage` carries only the new stage id. `closedwon` is won in the default
pipeline, but in a custom pipeline any stage whose probability is 1.0 is won too, and knowing that
takes a call to HubSpot's pipelines API: the webhook must answer within seconds, so every stage change
is enqueued as a candidate DealWon, and the worker (which re-reads the deal and its pipeline anyway)
confirms the deal is won before invoicing, or records "not_won".

Order is not guaranteed and duplicates happen: a deal's events in one request collapse to its latest,
and the command's idempotency key (deal id + the instant of the change) makes a redelivered event a
no-op; the worker reads the deal as it is now, so an older event arriving late decides nothing.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from aws_lambda_powertools import Logger
from pydantic import AliasChoices, BaseModel, ConfigDict, Field, TypeAdapter, field_validator

from crmbridge.commands import DealWon
from crmbridge.ids import is_crm_deal_id

logger = Logger(child=True)

STAGE_PROPERTY = "dealstage"
DEAL_STAGE_CHANGE = "deal.propertyChange"
# The generic subscriptions (object.propertyChange) name the object type by its id instead: deals are 0-3.
GENERIC_PROPERTY_CHANGE = "object.propertyChange"
DEAL_OBJECT_TYPE_ID = "0-3"


class HubSpotEvent(BaseModel):
    model_config = ConfigDict(extra="ignore", populate_by_name=True)

    event_id: str | None = Field(None, alias="eventId")
    subscription_id: int | None = Field(None, alias="subscriptionId")
    portal_id: int | None = Field(None, alias="portalId")
    app_id: int | None = Field(None, alias="appId")
    occurred_at: int = Field(alias="occurredAt", ge=0)
    # Older payloads call it eventType.
    subscription_type: str = Field(validation_alias=AliasChoices("subscriptionType", "eventType"), min_length=1,
                                   max_length=64)
    attempt_number: int = Field(0, alias="attemptNumber")
    object_id: str = Field(alias="objectId", min_length=1, max_length=32)
    object_type_id: str | None = Field(None, alias="objectTypeId")
    property_name: str | None = Field(None, alias="propertyName")
    property_value: str | None = Field(None, alias="propertyValue")
    change_source: str | None = Field(None, alias="changeSource")
    source_id: str | None = Field(None, alias="sourceId")
    change_flag: str | None = Field(None, alias="changeFlag")

    @field_validator("event_id", "object_id", "property_value", "source_id", mode="before")
    @classmethod
    def _as_text(cls, value: Any) -> Any:
        return None if value is None else str(value)

    @property
    def occurred(self) -> datetime:
        return datetime.fromtimestamp(self.occurred_at / 1000, tz=UTC)

    @property
    def is_deal_property_change(self) -> bool:
        return self.subscription_type == DEAL_STAGE_CHANGE or (
            self.subscription_type == GENERIC_PROPERTY_CHANGE and self.object_type_id == DEAL_OBJECT_TYPE_ID)

    @property
    def is_stage_change(self) -> bool:
        return self.is_deal_property_change and self.property_name == STAGE_PROPERTY


HUBSPOT_EVENTS = TypeAdapter(list[HubSpotEvent])


def _won_time(event: HubSpotEvent) -> str:
    """The instant of the stage change, to the millisecond: the same event always gives the same text."""
    return event.occurred.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def of_portal(events: list[HubSpotEvent], portal_id: int | None) -> tuple[list[HubSpotEvent], int]:
    """The events of this stack's HubSpot account, and how many were left out: an event of another
    portal names a deal of another company, which must never be invoiced here. None = not checked."""
    if portal_id is None:
        return events, 0
    kept = [event for event in events if event.portal_id == portal_id]
    if len(kept) < len(events):
        logger.warning("hubspot webhook events dropped: not from this stack's portal", extra={
            "dropped": len(events) - len(kept), "expected_portal_id": portal_id,
            "portal_ids": sorted({str(e.portal_id) for e in events if e.portal_id != portal_id})[:5]})
    return kept, len(events) - len(kept)


def deal_won_candidates(events: list[HubSpotEvent]) -> list[DealWon]:
    """One candidate DealWon per deal whose stage changed (to a non-empty stage), from its latest event."""
    latest: dict[str, HubSpotEvent] = {}
    for event in events:
        if not event.is_stage_change or not event.property_value:
            continue
        if not is_crm_deal_id(event.object_id):
            logger.warning("hubspot webhook event dropped: the deal id is not a string of digits",
                           extra={"object_id": event.object_id[:40]})
            continue
        seen = latest.get(event.object_id)
        if seen is None or event.occurred_at > seen.occurred_at:
            latest[event.object_id] = event
    return [
        DealWon(crm="hubspot", deal_id=event.object_id, won_time=_won_time(event), source_event_id=event.event_id)
        for event in latest.values()
    ]

"""The messages on the sync queue: normalised commands, whatever webhook or schedule produced them.

A webhook is only a hint: a command carries identities, never the data, and the worker re-reads the
source of truth. Each command has a stable idempotency key so duplicate deliveries collapse.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, field_validator

from crmbridge.ids import XeroGuid, is_crm_deal_id

CrmName = Literal["pipedrive", "hubspot"]


class _Command(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class DealWon(_Command):
    """A CRM deal became won (or was created won): invoice it once."""

    kind: Literal["deal_won"] = "deal_won"
    crm: CrmName
    deal_id: str
    won_time: str | None = None
    source_event_id: str | None = None
    # An operator's resync reruns a deal whose earlier attempt ended in a recorded failure.
    resync: bool = False
    # An operator asks for a new invoice because the deal's invoice was voided or deleted.
    reinvoice: bool = False

    @field_validator("deal_id")
    @classmethod
    def _crm_deal_id(cls, value: str) -> str:
        # Pipedrive's and HubSpot's deal ids are both positive integers: nothing else reaches a CRM URL.
        if not is_crm_deal_id(value):
            raise ValueError(f"not a CRM deal id (a positive whole number): {value[:80]!r}")
        return value

    @property
    def idempotency_key(self) -> str:
        suffix = ":reinvoice" if self.reinvoice else ":resync" if self.resync else ""
        return f"{self.crm}:deal:{self.deal_id}:won:{self.won_time or '-'}{suffix}"

    @property
    def correlation(self) -> dict[str, str]:
        return {"crm": self.crm, "deal_id": self.deal_id}


class XeroResourceChanged(_Command):
    """Xero said an invoice or contact changed; Xero gives no event id, so the key is ours."""

    kind: Literal["xero_changed"] = "xero_changed"
    tenant_id: XeroGuid
    category: Literal["INVOICE", "CONTACT"]
    resource_id: XeroGuid
    event_type: str = Field(min_length=1, max_length=32)
    event_date: datetime

    @property
    def idempotency_key(self) -> str:
        return (
            f"xero:{self.tenant_id}:{self.category}:{self.resource_id}:"
            f"{self.event_type}:{self.event_date.isoformat()}"
        )

    @property
    def correlation(self) -> dict[str, str]:
        return {"tenant_id": self.tenant_id, "xero_resource_id": self.resource_id}


Command = Annotated[DealWon | XeroResourceChanged, Field(discriminator="kind")]


class QueueMessage(BaseModel):
    """The SQS message body: a command plus its delivery bookkeeping."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    command: Command
    # Set when the worker parks a command (rate limit, daily limit): do not work on it before then.
    not_before: datetime | None = None
    attempt: int = Field(0, ge=0)
    # When this work was first parked: parking ends (a recorded failure) once it has lasted too long.
    first_parked_at: datetime | None = None


QUEUE_MESSAGE = TypeAdapter(QueueMessage)

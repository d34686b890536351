"""Pipedrive webhook payloads (v2, tolerant of v1) and the "deal just won" decision."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger
from pydantic import BaseModel, ConfigDict, Field, field_validator

from crmbridge.commands import DealWon
from crmbridge.ids import is_crm_deal_id

logger = Logger(child=True)


class PipedriveMeta(BaseModel):
    model_config = ConfigDict(extra="ignore")

    action: str
    entity: str | None = None
    entity_id: str | None = None
    id: str | None = None
    version: str | None = None
    change_source: str | None = None
    user_id: str | None = None
    attempt: int | None = None
    # v1 names of the same facts.
    object: str | None = None

    @field_validator("entity_id", "id", "user_id", mode="before")
    @classmethod
    def _ids_as_text(cls, value: Any) -> Any:
        return None if value is None else str(value)


class PipedriveWebhook(BaseModel):
    """v2: meta + data + previous. v1: meta + current + previous (mapped onto the same fields)."""

    model_config = ConfigDict(extra="ignore")

    meta: PipedriveMeta
    data: dict[str, Any] | None = None
    previous: dict[str, Any] | None = None
    current: dict[str, Any] | None = Field(None, exclude=True)

    @property
    def entity(self) -> str | None:
        return self.meta.entity or self.meta.object

    @property
    def now(self) -> dict[str, Any] | None:
        return self.data if self.data is not None else self.current


def _is_won(deal: dict[str, Any] | None) -> bool:
    return bool(deal) and deal.get("status") == "won"  # type: ignore[union-attr]


def deal_won_command(hook: PipedriveWebhook, *, integration_user_id: str | None = None) -> DealWon | None:
    """The command to enqueue for this event, or None when it is not a deal becoming won."""
    if hook.entity != "deal":
        return None
    if hook.meta.change_source == "api" and integration_user_id and hook.meta.user_id == integration_user_id:
        return None  # our own write echoing back
    deal = hook.now
    if not _is_won(deal):
        return None
    action = hook.meta.action.lower()
    previous = hook.previous or {}
    if action in {"create", "added"}:
        pass  # a deal created already won is invoiced too
    elif action in {"change", "updated"}:
        # v2 `previous` lists only the fields that changed; v1 carries the whole previous object.
        if "status" not in previous or previous.get("status") == "won":
            return None
    else:
        return None
    deal_id = deal.get("id") if deal else None  # type: ignore[union-attr]
    if deal_id is None:
        deal_id = hook.meta.entity_id
    if deal_id is None:
        return None
    if not is_crm_deal_id(str(deal_id)):
        logger.warning("pipedrive webhook dropped: the deal id is not a positive whole number",
                       extra={"deal_id": str(deal_id)[:40]})
        return None
    won_time = deal.get("won_time") if deal else None  # type: ignore[union-attr]
    return DealWon(
        crm="pipedrive",
        deal_id=str(deal_id),
        won_time=str(won_time) if won_time else None,
        source_event_id=hook.meta.id,
    )

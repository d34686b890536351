"""The sync history: every movement of data, per deal and per invoice, kept for a retention period.

Each entry says when, which direction (crm_to_xero, xero_to_crm), what happened (the handler's
summary), the outcome (done, parked, failed) and the error. Ops read it with `bridgectl history`.
"""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from typing import Any

from boto3.dynamodb.conditions import Key

from crmbridge.commands import Command, DealWon
from crmbridge.sync.records import subject_key


def direction(command: Command) -> str:
    return "crm_to_xero" if isinstance(command, DealWon) else "xero_to_crm"


class SyncHistory:
    def __init__(self, table: Any, *, retention_days: int = 90) -> None:
        self._table = table
        self._retention = timedelta(days=retention_days)

    def add(self, command: Command, *, at: datetime, outcome: str, summary: dict[str, str] | None = None,
            error: str | None = None, reason: str | None = None) -> None:
        item: dict[str, Any] = {
            "pk": subject_key(command),
            "sk": f"{at.isoformat()}#{uuid.uuid4().hex[:8]}",
            "at": at.isoformat(),
            "direction": direction(command),
            "command": command.kind,
            "outcome": outcome,
            "expires_at": int((at + self._retention).timestamp()),
        }
        if summary:
            item["summary"] = {k: str(v) for k, v in summary.items()}
        if error:
            item["error"] = error[:2000]
        if reason:
            item["reason"] = reason
        self._table.put_item(Item=item)

    def entries(self, subject: str, *, limit: int = 50) -> list[dict[str, Any]]:
        page = self._table.query(KeyConditionExpression=Key("pk").eq(subject), ScanIndexForward=False, Limit=limit)
        return list(reversed(page.get("Items", [])))

"""Per-deal sync records in the links table: the last outcome of each deal, visible to ops.

A permanent failure is stored with its reason and the command that failed, so that an operator can
see why and re-run it after fixing the CRM; a success clears it. Parked work (waiting for a rate limit,
a connection or another worker) is stored as PARKED with why, until when and since when, so that
`bridgectl status` shows it; it ends as OK, FAILED or, once parked too long, FAILED parked_too_long.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from crmbridge.commands import Command, DealWon, XeroResourceChanged
from crmbridge.errors import PermanentError

PARKED = "PARKED"


def subject_key(command: Command) -> str:
    """The partition key of the thing a command is about."""
    match command:
        case DealWon():
            return f"deal#{command.crm}#{command.deal_id}"
        case XeroResourceChanged():
            return f"xero#{command.tenant_id}#{command.category.lower()}#{command.resource_id}"
    raise TypeError(f"unknown command {type(command).__name__}")


class SyncRecords:
    SORT_KEY = "sync"

    def __init__(self, table: Any) -> None:
        self._table = table

    def failed(self, command: Command, error: PermanentError, *, at: datetime,
               extra: dict[str, str] | None = None) -> None:
        self._table.put_item(
            Item={
                **(extra or {}),
                "pk": subject_key(command),
                "sk": self.SORT_KEY,
                "status": "FAILED",
                "reason": error.reason,
                "message": error.message[:2000],
                "command": command.model_dump_json(),
                "updated_at": at.isoformat(),
            }
        )

    def parked(self, command: Command, *, why: str, until: datetime, since: datetime, gives_up_at: datetime,
               at: datetime) -> None:
        """The command waits until `until` for `why`; parked since `since`, it fails at `gives_up_at`."""
        self._table.put_item(
            Item={
                "pk": subject_key(command),
                "sk": self.SORT_KEY,
                "status": PARKED,
                "reason": "parked",
                "message": why[:2000],
                "parked_until": until.isoformat(),
                "parked_since": since.isoformat(),
                "gives_up_at": gives_up_at.isoformat(),
                "command": command.model_dump_json(),
                "updated_at": at.isoformat(),
            }
        )

    def succeeded(self, command: Command, *, at: datetime, summary: dict[str, str]) -> None:
        self._table.put_item(
            Item={
                "pk": subject_key(command),
                "sk": self.SORT_KEY,
                "status": "OK",
                "command": command.model_dump_json(),
                "updated_at": at.isoformat(),
                **{k: v for k, v in summary.items() if k not in {"pk", "sk"}},
            }
        )

    def get(self, command: Command) -> dict[str, Any] | None:
        item = self._table.get_item(Key={"pk": subject_key(command), "sk": self.SORT_KEY}).get("Item")
        return dict(item) if item else None

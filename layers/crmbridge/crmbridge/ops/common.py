"""What every ops module shares: its error type, progress callbacks, times, subjects, JSON shapes.

Nothing here prints: the CLI (ops.cli) renders what these modules return.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

from pydantic import BaseModel, ValidationError

from crmbridge.commands import Command, DealWon, QueueMessage, XeroResourceChanged
from crmbridge.errors import BridgeError
from crmbridge.times import parse_instant

# (done, total or None when unknown): called as a long operation advances.
ProgressFn = Callable[[int, int | None], None]


def no_progress(done: int, total: int | None) -> None:
    """The progress callback of callers that show none."""


class OpsError(BridgeError):
    """An operator-facing failure: the message says what is wrong and what to do."""


# Metadata of a dataclass field left out of JSON output (receipt handles, raw bodies...).
HIDDEN = {"json": False}


def jsonable(value: Any) -> Any:
    """Plain JSON types from the ops results: dataclasses, pydantic models, datetimes, Decimals."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: jsonable(getattr(value, f.name)) for f in dataclasses.fields(value)
                if f.metadata.get("json", True)}
    if isinstance(value, BaseModel):
        return value.model_dump(mode="json")
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [jsonable(v) for v in value]
    return value


def to_json(value: Any) -> str:
    return json.dumps(jsonable(value), indent=2, sort_keys=False)


def scan_all(table: Any, *, progress: ProgressFn = no_progress, **kwargs: Any) -> list[dict[str, Any]]:
    """Every item of a scan, page by page."""
    items: list[dict[str, Any]] = []
    while True:
        page = table.scan(**kwargs)
        items.extend(page.get("Items", []))
        progress(len(items), None)
        if "LastEvaluatedKey" not in page:
            return items
        kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]


# ----------------------------------------------------------------------------- times


def from_epoch(seconds: Any) -> datetime | None:
    if seconds is None or seconds == "":
        return None
    try:
        return datetime.fromtimestamp(float(seconds), tz=UTC)
    except (TypeError, ValueError, OverflowError):
        return None


def from_epoch_ms(millis: Any) -> datetime | None:
    try:
        return from_epoch(float(millis) / 1000)
    except (TypeError, ValueError):
        return None


def parse_time(text: Any) -> datetime | None:
    """An ISO 8601 timestamp as the bridge stores them (naive ones are taken as UTC)."""
    return parse_instant(text) if isinstance(text, str) else None


def duration(seconds: float) -> str:
    """A short human duration: 45s, 12m, 3h 5m, 2d 4h."""
    seconds = abs(int(seconds))
    if seconds < 60:
        return f"{seconds}s"
    minutes, _ = divmod(seconds, 60)
    if minutes < 60:
        return f"{minutes}m"
    hours, minutes = divmod(minutes, 60)
    if hours < 24:
        return f"{hours}h {minutes}m" if minutes else f"{hours}h"
    days, hours = divmod(hours, 24)
    return f"{days}d {hours}h" if hours else f"{days}d"


def relative(moment: datetime | None, now: datetime) -> str:
    """'in 12m' or '3h 5m ago' ('-' when unknown)."""
    if moment is None:
        return "-"
    delta = (moment - now).total_seconds()
    return f"in {duration(delta)}" if delta > 0 else f"{duration(delta)} ago"


def stamp(moment: datetime | None) -> str:
    """A compact UTC timestamp for tables."""
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S") if moment else "-"


# ----------------------------------------------------------------------------- subjects


def deal_subject(crm: str, deal_id: str) -> str:
    """The partition key of a deal's sync record and history (sync.records.subject_key)."""
    return f"deal#{crm}#{deal_id}"


def xero_subject(tenant_id: str, category: str, resource_id: str) -> str:
    return f"xero#{tenant_id}#{category.lower()}#{resource_id}"


def describe_subject(pk: str) -> str:
    """A human label for a sync record's or history entry's partition key."""
    parts = pk.split("#")
    if len(parts) == 3 and parts[0] == "deal":
        return f"deal {parts[2]} ({parts[1]})"
    if len(parts) == 4 and parts[0] == "xero":
        return f"{parts[2]} {parts[3]} (tenant {parts[1]})"
    return pk


def describe_command(command: Command) -> str:
    match command:
        case DealWon():
            extra = ", resync" if command.resync else ""
            won = f", won {command.won_time}" if command.won_time else ""
            return f"deal {command.deal_id} ({command.crm}{won}{extra})"
        case XeroResourceChanged():
            return (f"{command.category.lower()} {command.resource_id} (tenant {command.tenant_id}, "
                    f"{command.event_type} {command.event_date.isoformat()})")
    return command.kind  # pragma: no cover - the union is exhaustive


def parse_body(body: str) -> tuple[QueueMessage | None, str | None]:
    """A queue body as the worker reads it, or why it cannot be read."""
    try:
        return QueueMessage.model_validate_json(body), None
    except ValidationError as exc:
        errors = exc.errors(include_url=False)
        where = ".".join(str(p) for p in errors[0]["loc"]) if errors else ""
        what = f"{where}: {errors[0]['msg']}" if where else (errors[0]["msg"] if errors else str(exc))
        return None, f"not a bridge queue message ({what})"

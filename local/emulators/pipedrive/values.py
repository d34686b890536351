"""Wire formats: numbers, timestamps, ids and cursors the way Pipedrive writes them."""

from __future__ import annotations

import base64
import json
from datetime import UTC, date, datetime
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any

CENT = Decimal("0.01")


class ApiError(Exception):
    """An error answered to the client in Pipedrive's error shape."""

    def __init__(self, status: int, message: str, code: str | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.code = code

    def body(self) -> dict:
        body: dict[str, Any] = {
            "success": False,
            "error": self.message,
            "errorCode": self.status,
            "error_info": "Please check developers.pipedrive.com",
        }
        if self.code:
            body["code"] = self.code
        if self.status == 404:
            body.update({"data": None, "additional_data": None})
        return body


def bad_request(message: str) -> ApiError:
    return ApiError(400, message, "ERR_SCHEMA_VALIDATION_FAILED")


def not_found(what: str) -> ApiError:
    return ApiError(404, f"{what} not found")


def num(value: Decimal | int | None) -> Decimal | int | None:
    """A Decimal as Pipedrive writes it: 200 rather than 200.00, 12.5 rather than 12.50."""
    if value is None or isinstance(value, int):
        return value
    if value == value.to_integral_value():
        return int(value)
    return value.normalize()


def to_decimal(value: Any, name: str) -> Decimal:
    """v2 is strict: numbers must be JSON numbers, never strings or booleans."""
    if isinstance(value, bool) or not isinstance(value, (int, Decimal, float)):
        raise bad_request(f"{name} must be a number")
    try:
        result = Decimal(str(value)) if isinstance(value, float) else Decimal(value)
    except InvalidOperation as exc:
        raise bad_request(f"{name} must be a number") from exc
    if not result.is_finite():
        raise bad_request(f"{name} must be a finite number")
    return result


def to_int(value: Any, name: str, *, nullable: bool = False) -> int | None:
    if value is None and nullable:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        if isinstance(value, Decimal) and value == value.to_integral_value():
            return int(value)
        raise bad_request(f"{name} must be an integer")
    return value


def to_str(value: Any, name: str, *, nullable: bool = True, max_length: int | None = None) -> str | None:
    if value is None and nullable:
        return None
    if not isinstance(value, str):
        raise bad_request(f"{name} must be a string")
    if max_length is not None and len(value) > max_length:
        raise bad_request(f"{name} must be at most {max_length} characters")
    return value


def to_bool(value: Any, name: str) -> bool:
    if not isinstance(value, bool):
        raise bad_request(f"{name} must be a boolean (true or false)")
    return value


def to_date(value: Any, name: str, *, nullable: bool = True) -> str | None:
    if value is None and nullable:
        return None
    if not isinstance(value, str):
        raise bad_request(f"{name} must be a date string (YYYY-MM-DD)")
    try:
        date.fromisoformat(value)
    except ValueError as exc:
        raise bad_request(f"{name} must be a date in the format YYYY-MM-DD") from exc
    if len(value) != 10:
        raise bad_request(f"{name} must be a date in the format YYYY-MM-DD")
    return value


def round_money(value: Decimal) -> Decimal:
    return value.quantize(CENT, rounding=ROUND_HALF_UP)


def rfc3339(value: datetime | None) -> str | None:
    """v2 timestamps: RFC 3339 in UTC, whole seconds, e.g. 2024-01-01T00:00:00Z."""
    if value is None:
        return None
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def iso_millis(value: datetime) -> str:
    """Webhook meta.timestamp: 2025-01-01T00:00:00.000Z."""
    value = value.astimezone(UTC)
    return value.strftime("%Y-%m-%dT%H:%M:%S.") + f"{value.microsecond // 1000:03d}Z"


def v1_time(value: datetime | None) -> str | None:
    """v1 timestamps: '2019-12-09 13:59:21' in UTC."""
    if value is None:
        return None
    return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S")


def encode_cursor(offset: int) -> str:
    raw = json.dumps({"offset": offset}, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str) -> int:
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        offset = json.loads(base64.urlsafe_b64decode(padded.encode()))["offset"]
    except (ValueError, KeyError, TypeError) as exc:
        raise bad_request("Invalid cursor") from exc
    if not isinstance(offset, int) or offset < 0:
        raise bad_request("Invalid cursor")
    return offset


def page(items: list, limit_arg: str | None, cursor: str | None, default: int = 100) -> tuple[list, str | None]:
    """Cursor pagination of v2: `limit` up to 500 and an opaque `cursor`; next_cursor is None at the end."""
    if limit_arg is None or limit_arg == "":
        limit = default
    else:
        try:
            limit = int(limit_arg)
        except ValueError as exc:
            raise bad_request("limit must be an integer") from exc
    if limit < 1 or limit > 500:
        raise bad_request("limit must be between 1 and 500")
    start = decode_cursor(cursor) if cursor else 0
    chunk = items[start : start + limit]
    end = start + len(chunk)
    return chunk, (encode_cursor(end) if end < len(items) else None)

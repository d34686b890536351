"""Xero's date formats.

Xero's JSON writes dates and timestamps as Microsoft JSON dates, "/Date(1539993600000+0000)/", with
companion strings where the spec has them (DateString "2018-10-20T00:00:00", UpdatedDateUTCString
"2018-11-02T16:31:30Z"). The official SDK reads the "/Date(...)/" form (date[ms-format]) and writes
"/Date(ms)/" itself; other clients send "YYYY-MM-DD". Both are accepted here.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, time, timedelta, timezone
from email.utils import parsedate_to_datetime

MS_DATE_RE = re.compile(r"^/Date\((?P<ms>-?\d+)(?P<tz>[+-]\d{4})?\)/$")


def ms_from_datetime(value: datetime) -> int:
    return int(value.timestamp() * 1000)


def ms_date(value: date) -> str:
    """A calendar date as Xero writes it: midnight UTC of that day."""
    return f"/Date({ms_from_datetime(datetime.combine(value, time(), tzinfo=UTC))}+0000)/"


def ms_datetime(value: datetime) -> str:
    return f"/Date({ms_from_datetime(value)}+0000)/"


def ms_envelope(value: datetime) -> str:
    """The response envelope's DateTimeUTC has no offset in Xero's examples."""
    return f"/Date({ms_from_datetime(value)})/"


def date_string(value: date) -> str:
    return f"{value.isoformat()}T00:00:00"


def utc_string(value: datetime) -> str:
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_ms(text: str) -> datetime | None:
    match = MS_DATE_RE.match(text.strip())
    if not match:
        return None
    moment = datetime.fromtimestamp(int(match["ms"]) / 1000, tz=UTC)
    if match["tz"]:
        sign = 1 if match["tz"][0] == "+" else -1
        offset = timedelta(hours=int(match["tz"][1:3]), minutes=int(match["tz"][3:5])) * sign
        moment = moment.astimezone(timezone(offset))
    return moment


def parse_date(value: object) -> date:
    """A request's date: "/Date(ms)/", "YYYY-MM-DD" or "YYYY-MM-DDTHH:MM:SS..."; ValueError otherwise."""
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    text = str(value).strip()
    moment = parse_ms(text)
    if moment is not None:
        return moment.date()
    if len(text) >= 10 and re.match(r"^\d{4}-\d{2}-\d{2}", text):
        return date.fromisoformat(text[:10])
    raise ValueError(f"invalid date {value!r}")


def parse_timestamp(value: str) -> datetime:
    """If-Modified-Since: ISO 8601 (naive means UTC), RFC 1123, or "/Date(ms)/"."""
    text = value.strip()
    moment = parse_ms(text)
    if moment is not None:
        return moment.astimezone(UTC)
    try:
        iso = text[:-1] + "+00:00" if text.endswith("Z") else text
        parsed = datetime.fromisoformat(iso)
    except ValueError:
        parsed = parsedate_to_datetime(text)
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC)


def webhook_event_date(value: datetime) -> str:
    """eventDateUtc as in Xero's examples: "2024-06-21T01:15:39.902" (UTC, milliseconds, no zone)."""
    moment = value.astimezone(UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}"


def to_wire(value: object) -> object:
    """Replace native dates in a rendered object by Xero's JSON date strings (recursively)."""
    if isinstance(value, dict):
        return {key: to_wire(item) for key, item in value.items()}
    if isinstance(value, list):
        return [to_wire(item) for item in value]
    if isinstance(value, datetime):
        return ms_datetime(value)
    if isinstance(value, date):
        return ms_date(value)
    return value

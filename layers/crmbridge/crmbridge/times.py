"""Instants as the bridge stores and receives them: ISO 8601 text, naive ones taken as UTC."""

from __future__ import annotations

from datetime import UTC, datetime


def parse_instant(text: str | None) -> datetime | None:
    """The instant an ISO 8601 text names ("Z" or an offset; none = UTC), or None when it names none."""
    if not text:
        return None
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)

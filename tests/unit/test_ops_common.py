"""The shared ops helpers: durations, subjects, queue bodies and JSON output."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from crmbridge.commands import DealWon, QueueMessage, XeroResourceChanged
from crmbridge.ops.common import (
    HIDDEN,
    describe_command,
    describe_subject,
    duration,
    from_epoch,
    parse_body,
    parse_time,
    relative,
    to_json,
)

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


@pytest.mark.parametrize(("seconds", "text"), [(0, "0s"), (59, "59s"), (60, "1m"), (3599, "59m"), (3600, "1h"),
                                               (3900, "1h 5m"), (86400, "1d"), (90000, "1d 1h"), (-125, "2m")])
def test_durations(seconds, text):
    assert duration(seconds) == text


def test_relative_times():
    assert relative(NOW + timedelta(minutes=12), NOW) == "in 12m"
    assert relative(NOW - timedelta(hours=3), NOW) == "3h ago"
    assert relative(None, NOW) == "-"


def test_times_as_the_bridge_stores_them():
    assert parse_time("2026-03-01T12:00:00Z") == NOW
    assert parse_time("2026-03-01T12:00:00") == NOW
    assert parse_time("yesterday") is None and parse_time(None) is None
    assert from_epoch(Decimal(int(NOW.timestamp()))) == NOW and from_epoch(None) is None


def test_subjects_and_commands_read_as_what_they_concern():
    assert describe_subject("deal#pipedrive#42") == "deal 42 (pipedrive)"
    assert describe_subject("xero#6f1c3a52-3f43-4b8e-9d0f-6d1a1c2b7e10#invoice#4f2c9a63-54c1-4a4e-9a65-2a1f4f2b3c01") == "invoice 4f2c9a63-54c1-4a4e-9a65-2a1f4f2b3c01 (tenant 6f1c3a52-3f43-4b8e-9d0f-6d1a1c2b7e10)"
    assert describe_subject("odd") == "odd"
    assert describe_command(DealWon(crm="hubspot", deal_id="7", won_time="w", resync=True)) == \
        "deal 7 (hubspot, won w, resync)"
    change = XeroResourceChanged(tenant_id="6f1c3a52-3f43-4b8e-9d0f-6d1a1c2b7e10", category="CONTACT", resource_id="9b1d7e35-2c4a-4f6e-8a0b-5c3d2e1f0a9b", event_type="UPDATE",
                                 event_date=NOW)
    assert describe_command(change).startswith("contact 9b1d7e35-2c4a-4f6e-8a0b-5c3d2e1f0a9b (tenant 6f1c3a52-3f43-4b8e-9d0f-6d1a1c2b7e10, UPDATE 2026-03-01T12:00:00")


def test_queue_bodies_parse_or_say_why_not():
    message, error = parse_body(QueueMessage(command=DealWon(crm="pipedrive", deal_id="1")).model_dump_json())
    assert message is not None and error is None
    assert parse_body("nope")[1].startswith("not a bridge queue message (Invalid JSON")
    assert "command" in parse_body("{}")[1]


@dataclass
class Shape:
    at: datetime
    amount: Decimal
    ratio: Decimal
    command: DealWon
    secret: str = field(default="hide me", metadata=HIDDEN)


def test_json_output_is_plain_and_leaves_hidden_fields_out():
    out = json.loads(to_json(Shape(at=NOW, amount=Decimal(3), ratio=Decimal("0.5"),
                                   command=DealWon(crm="pipedrive", deal_id="1"))))

    assert out == {"at": "2026-03-01T12:00:00+00:00", "amount": 3, "ratio": 0.5,
                   "command": {"kind": "deal_won", "crm": "pipedrive", "deal_id": "1", "won_time": None,
                               "source_event_id": None, "resync": False, "reinvoice": False}}

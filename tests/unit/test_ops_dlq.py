"""bridgectl dlq: reading the dead-letter queue consumes nothing; redriving moves exactly what was asked."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from crmbridge.commands import DealWon, QueueMessage, XeroResourceChanged
from crmbridge.ops import dlq
from crmbridge.ops.common import OpsError
from crmbridge.ops.history import UNKNOWN_REASON
from crmbridge.sync.history import SyncHistory
from tests.unit.test_ops_fakes import FakeSqs, fake_target, standard_tables

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
TENANT = "6f1c3a52-3f43-4b8e-9d0f-6d1a1c2b7e10"
INVOICE = "4f2c9a63-54c1-4a4e-9a65-2a1f4f2b3c01"


def body(deal_id: str) -> str:
    return QueueMessage(command=DealWon(crm="pipedrive", deal_id=deal_id)).model_dump_json()


@pytest.fixture
def sqs() -> FakeSqs:
    return FakeSqs("sync", "dlq")


def fill(sqs: FakeSqs, count: int) -> list[str]:
    return [sqs.put("dlq", body(str(n))) for n in range(1, count + 1)]  # deal ids start at 1


def test_listing_reads_past_ten_messages_and_leaves_every_one_visible(sqs):
    ids = fill(sqs, 23)

    listing = dlq.list_messages(fake_target(sqs), now=NOW, reasons=False)

    assert [m.message_id for m in listing.messages] == ids
    assert listing.complete and listing.approximate_total == 23
    assert len(sqs.queues["dlq"]) == 23  # nothing deleted
    assert sqs.get_queue_attributes(QueueUrl="dlq")["Attributes"]["ApproximateNumberOfMessages"] == "23"
    assert not [c for c in sqs.calls if c[0] == "delete_message_batch"]


def test_a_hold_of_zero_hides_nothing_and_says_the_listing_may_be_partial(sqs):
    fill(sqs, 15)

    listing = dlq.list_messages(fake_target(sqs), now=NOW, hold=0, reasons=False)

    assert len(listing.messages) == 10 and not listing.complete
    assert all(c[1]["VisibilityTimeout"] == 0 for c in sqs.calls if c[0] == "receive_message")
    assert not [c for c in sqs.calls if c[0] == "change_message_visibility_batch"]


def test_the_limit_stops_the_listing(sqs):
    fill(sqs, 15)

    listing = dlq.list_messages(fake_target(sqs), now=NOW, limit=12, reasons=False)

    assert len(listing.messages) == 12 and not listing.complete
    assert sqs.get_queue_attributes(QueueUrl="dlq")["Attributes"]["ApproximateNumberOfMessages"] == "15"


def test_each_message_says_what_it_concerns_its_age_and_receive_count(sqs):
    sqs.put("dlq", QueueMessage(command=XeroResourceChanged(
        tenant_id=TENANT, category="INVOICE", resource_id=INVOICE, event_type="UPDATE", event_date=NOW)).model_dump_json())
    sqs.put("dlq", "not json")
    sqs.tick(90)

    [invoice, garbage] = dlq.list_messages(fake_target(sqs), now=datetime.fromtimestamp(sqs.now, UTC)).messages

    assert invoice.label.startswith(f"invoice {INVOICE} (tenant {TENANT}")
    assert invoice.subject == f"xero#{TENANT}#invoice#{INVOICE}"
    assert invoice.receive_count == 1 and invoice.age_seconds == pytest.approx(90)
    assert invoice.reason.reason == UNKNOWN_REASON
    assert garbage.command is None and "not a bridge queue message" in garbage.parse_error
    assert garbage.reason.reason == "unreadable body"


def test_the_reason_is_the_subjects_recorded_failure(sqs):
    tables = standard_tables()
    command = DealWon(crm="pipedrive", deal_id="7")
    SyncHistory(tables["SyncHistoryTable"]).add(command, at=NOW, outcome="parked", error="Xero answered 503")
    sqs.put("dlq", QueueMessage(command=command).model_dump_json())

    [message] = dlq.list_messages(fake_target(sqs, tables), now=NOW).messages

    assert (message.reason.reason, message.reason.detail, message.reason.source) == (
        "parked", "Xero answered 503", "sync history")


def test_show_finds_one_message_and_releases_what_it_read(sqs):
    ids = fill(sqs, 14)

    detail = dlq.show_message(fake_target(sqs), ids[12], now=NOW)

    assert detail.message.message_id == ids[12] and detail.message.command.deal_id == "13"
    assert sqs.get_queue_attributes(QueueUrl="dlq")["Attributes"]["ApproximateNumberOfMessages"] == "14"
    with pytest.raises(OpsError, match="not in the dead-letter queue"):
        dlq.show_message(fake_target(sqs), "m-nope", now=NOW)


def test_redrive_one_moves_only_that_message(sqs):
    ids = fill(sqs, 12)

    result = dlq.redrive(fake_target(sqs), message_id=ids[11], now=NOW)

    assert [m.message_id for m in result.moved] == [ids[11]]
    assert sqs.bodies("sync") == [body("12")]
    assert [m["MessageId"] for m in sqs.queues["dlq"]] == ids[:11]
    assert sqs.get_queue_attributes(QueueUrl="dlq")["Attributes"]["ApproximateNumberOfMessages"] == "11"


def test_redrive_all_moves_every_readable_message_and_keeps_the_rest(sqs):
    fill(sqs, 13)
    garbage = sqs.put("dlq", "{}")

    result = dlq.redrive(fake_target(sqs), everything=True, now=NOW)

    assert len(result.moved) == 13 and sorted(sqs.bodies("sync")) == sorted(body(str(n)) for n in range(1, 14))
    assert [k.message.message_id for k in result.kept] == [garbage]
    assert [m["MessageId"] for m in sqs.queues["dlq"]] == [garbage]
    assert sqs.get_queue_attributes(QueueUrl="dlq")["Attributes"]["ApproximateNumberOfMessages"] == "1"


def test_a_message_the_sync_queue_refuses_stays_in_the_dlq(sqs):
    fill(sqs, 2)
    sqs.refuse_sends.add(body("2"))

    result = dlq.redrive(fake_target(sqs), everything=True, now=NOW)

    assert [m.command.deal_id for m in result.moved] == ["1"]
    assert [k.message.command.deal_id for k in result.kept] == ["2"] and "refused" in result.kept[0].why
    assert sqs.bodies("dlq") == [body("2")]


@pytest.mark.parametrize("target", ["one", "all"])
def test_a_dry_run_changes_nothing(sqs, target):
    ids = fill(sqs, 11)

    result = dlq.redrive(fake_target(sqs), message_id=ids[3] if target == "one" else None,
                         everything=target == "all", dry_run=True, now=NOW)

    assert result.dry_run and len(result.moved) == (1 if target == "one" else 11)
    assert sqs.bodies("sync") == [] and len(sqs.queues["dlq"]) == 11
    assert sqs.get_queue_attributes(QueueUrl="dlq")["Attributes"]["ApproximateNumberOfMessages"] == "11"
    assert not [c for c in sqs.calls if c[0] in ("send_message_batch", "delete_message_batch")]


def test_redrive_of_an_unknown_id_moves_nothing(sqs):
    fill(sqs, 3)

    result = dlq.redrive(fake_target(sqs), message_id="m-none", now=NOW)

    assert result.not_found == ["m-none"] and result.moved == []
    assert len(sqs.queues["dlq"]) == 3 and sqs.bodies("sync") == []


def test_redrive_wants_one_id_or_all(sqs):
    with pytest.raises(OpsError):
        dlq.redrive(fake_target(sqs), now=NOW)
    with pytest.raises(OpsError):
        dlq.redrive(fake_target(sqs), message_id="x", everything=True, now=NOW)

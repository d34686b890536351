"""What an operator sees of the worker's outcomes: a dead letter names the real exception, parked work is
listed with why and until when, and work parked too long is a permanent failure `bridgectl status` lists."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from crmbridge.commands import DealWon, QueueMessage, XeroResourceChanged
from crmbridge.errors import RetryableError
from crmbridge.ops import dlq, status
from crmbridge.sync.history import SyncHistory
from crmbridge.sync.processor import Worker
from crmbridge.sync.records import SyncRecords
from tests.unit.test_ops_fakes import FakeSqs, fake_target, standard_tables

NOW = datetime(2026, 11, 24, 10, 0, tzinfo=UTC)
DEAL = DealWon(crm="pipedrive", deal_id="7")
TENANT = "6f1c3a52-3f43-4b8e-9d0f-6d1a1c2b7e10"
INVOICE = "4f2c9a63-54c1-4a4e-9a65-2a1f4f2b3c01"


class Clock:
    def __init__(self):
        self.now = NOW

    def __call__(self):
        return self.now


class ParkingQueue:
    def __init__(self):
        self.parked: list[QueueMessage] = []

    def park(self, message, *, until, delay_seconds, attempt):
        self.parked.append(message.model_copy(update={"not_before": None, "attempt": attempt}))


@pytest.fixture
def tables():
    return standard_tables()


def worker(tables, handler, clock) -> Worker:
    return Worker(queue=ParkingQueue(), records=SyncRecords(tables["LinksTable"]),  # type: ignore[arg-type]
                  handlers={"deal_won": handler, "xero_changed": handler}, run_once=lambda key, thunk: thunk(),
                  history=SyncHistory(tables["SyncHistoryTable"]), clock=clock)


def test_a_dead_letter_shows_the_bug_that_put_it_there_not_the_earlier_park(tables):
    """Given a deal that parked ("being invoiced by another worker") and then hit a KeyError on each
    redelivery until SQS dead-lettered it, when ops list the DLQ, then its reason is the KeyError."""
    clock = Clock()
    outcomes = iter([RetryableError("deal 7 is being invoiced by another worker", retry_after_seconds=5)])

    def handler(command):
        failure = next(outcomes, None)
        raise failure or KeyError("Contacts")

    w = worker(tables, handler, clock)
    w.process(QueueMessage(command=DEAL).model_dump_json())
    for _ in range(3):  # SQS redelivers the failing record until its maxReceiveCount
        clock.now += timedelta(seconds=30)
        with pytest.raises(KeyError):
            w.process(w.queue.parked[0].model_dump_json())
    sqs = FakeSqs("sync", "dlq")
    sqs.put("dlq", w.queue.parked[0].model_dump_json())

    [message] = dlq.list_messages(fake_target(sqs, tables), now=clock.now).messages

    assert (message.reason.reason, message.reason.detail) == ("unexpected_error", "KeyError: 'Contacts'")


def test_status_lists_parked_work_with_why_until_and_when_it_gives_up(tables):
    """Given a signed Xero event for a tenant without tokens, when it parks for an hour, then
    `bridgectl status` lists it: what it concerns, why, until when, since when and when it gives up."""
    clock = Clock()
    event = XeroResourceChanged(tenant_id=TENANT, category="INVOICE", resource_id=INVOICE, event_type="UPDATE",
                                event_date=NOW)

    def not_connected(command):
        raise RetryableError(f"Xero tenant {TENANT} is not connected", retry_after_seconds=3600)

    worker(tables, not_connected, clock).process(QueueMessage(command=event).model_dump_json())
    report = status.collect_status(fake_target(tables=tables), now=clock.now)

    [parked] = report.parked
    assert parked.why == f"Xero tenant {TENANT} is not connected"
    assert (parked.until, parked.since, parked.gives_up_at) == (NOW + timedelta(hours=1), NOW, NOW + timedelta(days=3))
    assert INVOICE in parked.label and report.failures == []


def test_work_whose_reason_never_clears_ends_as_a_permanent_failure_after_three_days(tables):
    """Given an event re-parked every hour because its tenant has no tokens, when three days have passed,
    then it is no longer parked: status lists it as failed parked_too_long with the reason."""
    clock = Clock()
    event = XeroResourceChanged(tenant_id=TENANT, category="INVOICE", resource_id=INVOICE, event_type="UPDATE",
                                event_date=NOW)

    def not_connected(command):
        raise RetryableError(f"Xero tenant {TENANT} is not connected", retry_after_seconds=3600)

    w = worker(tables, not_connected, clock)
    body = QueueMessage(command=event).model_dump_json()
    for _ in range(73):
        outcome = w.process(body)
        if outcome.status != "parked":
            break
        body = w.queue.parked[-1].model_dump_json()
        clock.now += timedelta(hours=1)
    report = status.collect_status(fake_target(tables=tables), now=clock.now)

    assert outcome.status == "failed" and clock.now == NOW + timedelta(days=3)
    assert report.parked == []
    [failure] = report.failures
    assert failure.reason == "parked_too_long" and "is not connected" in failure.message


def test_bridgectl_status_shows_the_parked_table(tables, monkeypatch):
    """Given parked work, when the operator runs `bridgectl status`, then a Parked table says why and until."""
    import io

    from crmbridge.ops import cli

    def busy(command):
        raise RetryableError("deal 7 is being invoiced by another worker", retry_after_seconds=5)

    worker(tables, busy, Clock()).process(QueueMessage(command=DEAL).model_dump_json())
    monkeypatch.setattr(cli, "resolve_target", lambda **kwargs: fake_target(FakeSqs("sync", "dlq"), tables))
    monkeypatch.setenv("COLUMNS", "200")
    out = io.StringIO()

    assert cli.run_cli(["status"], stdout=out, stderr=io.StringIO()) == 0
    assert "Parked (1)" in out.getvalue() and "being invoiced by another worker" in out.getvalue()
    assert "2026-11-24 10:00:05" in out.getvalue()  # until


def test_status_points_out_parked_work_that_never_came_back(tables):
    """Given work parked three days ago whose message has since left the queue (never re-run), when ops
    look a day after its give-up time, then status says so and where to look."""
    def busy(command):
        raise RetryableError("deal 7 is being invoiced by another worker", retry_after_seconds=5)

    worker(tables, busy, Clock()).process(QueueMessage(command=DEAL).model_dump_json())
    report = status.collect_status(fake_target(tables=tables), now=NOW + timedelta(days=4))

    assert any("past their give-up time" in note and "deal 7" in note for note in report.notes)
    fresh = status.collect_status(fake_target(tables=tables), now=NOW + timedelta(days=1))
    assert not any("past their give-up time" in note for note in fresh.notes)

"""One writer at a time per subject, and the last write is of the last read: ten events for one contact
at once (finance reconciling ten payments) leave the CRM with Xero's final balance, whatever the
interleaving, because a worker that finds the subject busy hands its read over to the holder."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest
from moto import mock_aws

from crmbridge.sync.serial import SerialWriter, serial_key
from tests.unit.test_ops_fakes import links_table

KEY = serial_key("tenant", "contact", "c-1")


@pytest.fixture
def table() -> Iterator[object]:
    with mock_aws():
        yield links_table()


class SlowCrm:
    """The CRM the balance is written to; a write takes as long as the test says (a slow API)."""

    def __init__(self) -> None:
        self.balance: int | None = None
        self.writes = 0

    def write(self, balance: int, pause: threading.Event | None) -> None:
        if pause is not None:
            pause.wait(5)
        self.balance = balance
        self.writes += 1


def test_a_worker_that_finds_the_subject_busy_hands_its_read_to_the_holder(table):
    # Given a worker holding the contact's lease, mid-way through writing the balance it read (100)
    xero = {"balance": 100}
    crm = SlowCrm()
    in_write, release = threading.Event(), threading.Event()
    holder = SerialWriter(table)

    def first_write() -> None:
        read = xero["balance"]
        if crm.writes == 0:
            in_write.set()
            crm.write(read, release)
        else:
            crm.write(read, None)

    thread = threading.Thread(target=lambda: holder.run(KEY, first_write))
    thread.start()
    assert in_write.wait(5)

    # When a payment lands in Xero (balance 0) and a second worker's event for it arrives meanwhile
    xero["balance"] = 0
    second = SerialWriter(table).run(KEY, lambda: crm.write(xero["balance"], None))
    release.set()
    thread.join(5)

    # Then the second worker hands over at once, and the holder reads again: the CRM ends with 0
    assert second == "handed_over"
    assert crm.balance == 0
    assert crm.writes == 2


def test_ten_events_for_one_contact_at_once_leave_xeros_final_balance(table):
    # Given a contact whose balance Xero lowers with each of ten payments reconciled at once
    xero = {"balance": 1000}
    crm = SlowCrm()
    lock = threading.Lock()
    start = threading.Barrier(10)

    def event() -> None:
        with lock:
            xero["balance"] -= 100  # the payment this event announces is already in Xero
        start.wait(5)
        SerialWriter(table).run(KEY, lambda: crm.write(xero["balance"], None))

    # When ten workers handle the ten events concurrently
    threads = [threading.Thread(target=event) for _ in range(10)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(10)

    # Then the CRM shows Xero's final balance, and no lease is left behind
    assert crm.balance == 0
    item = table.get_item(Key=KEY)["Item"]  # type: ignore[attr-defined]
    assert "owner" not in item


def test_a_holder_that_fails_lets_go_so_the_retry_can_take_the_lease(table):
    # Given a worker whose CRM write fails
    def failing() -> None:
        raise ConnectionError("CRM unreachable")

    with pytest.raises(ConnectionError):
        SerialWriter(table).run(KEY, failing)

    # When its message is retried (any worker), it takes the lease at once and writes
    crm = SlowCrm()
    assert SerialWriter(table).run(KEY, lambda: crm.write(5, None)) == "done"
    assert crm.balance == 5

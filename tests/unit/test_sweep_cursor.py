"""Sweeps never skip: a pass longer than one run's page cap resumes at the next run from its cursor, and
the watermark moves only when a pass has read its last page."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, timedelta

from crmbridge.sync import sweep
from crmbridge.sync.sweep import Sweeper, Watermarks
from crmbridge.xero.models import Invoice
from tests.unit.test_ops_fakes import FakeQueue, FakeTable

TENANT = "6f1c3a52-3f43-4b8e-9d0f-6d1a1c2b7e10"
START = datetime(2026, 12, 7, 9, 0, tzinfo=UTC)


def invoice(n: int, *, updated: datetime, status: str = "AUTHORISED", due: date | None = None) -> Invoice:
    return Invoice(InvoiceID=str(uuid.UUID(int=n + 1)), Type="ACCREC", Status=status, Contact={"ContactID": TENANT},
                   UpdatedDateUTC=updated, DueDate=datetime.combine(due, datetime.min.time(), UTC) if due else None)


class FakeXero:
    """Sales invoices in a fixed order, 100 a page, filtered as the sweep's two queries ask."""

    def __init__(self, invoices: list[Invoice]) -> None:
        self.invoices = invoices
        self.pages_read = 0

    def invoices_page(self, tenant_id: str, *, page: int, modified_since: datetime | None = None,
                      where: str | None = None) -> list[Invoice]:
        self.pages_read += 1
        rows = self.invoices
        if modified_since is not None:
            rows = [i for i in rows if i.updated_date_utc and i.updated_date_utc > modified_since]
        if where is not None:  # the overdue query: AUTHORISED and due before today
            rows = [i for i in rows if i.status == "AUTHORISED" and i.due_date and i.due_date.date() < START.date()]
        return rows[(page - 1) * 100: page * 100]


def sweeper(xero: FakeXero, queue: FakeQueue, table: FakeTable, clock) -> Sweeper:
    return Sweeper(xero=xero, queue=queue, watermarks=Watermarks(table), clock=clock)  # type: ignore[arg-type]


def test_more_changed_invoices_than_one_run_reads_are_all_enqueued_exactly_once_over_two_runs(monkeypatch):
    # Given a run that reads at most 3 pages, and 450 invoices changed since the last pass (5 pages)
    monkeypatch.setattr(sweep, "MAX_PAGES_PER_RUN", 3)
    changed = [invoice(n, updated=START - timedelta(minutes=30)) for n in range(450)]
    xero, queue, table = FakeXero(changed), FakeQueue(), FakeTable("pk", "sk")
    Watermarks(table).set(TENANT, "modified", START - timedelta(hours=1))
    Watermarks(table).set(TENANT, "overdue", START)  # the overdue pass is done for today
    now = [START]
    run = sweeper(xero, queue, table, lambda: now[0])

    # When the sweep runs twice
    first = run.run([TENANT])
    after_first = Watermarks(table).get(TENANT, "modified")
    now[0] = START + timedelta(minutes=15)
    second = run.run([TENANT])

    # Then the first run stopped unfinished without moving the watermark, the second finished the pass,
    # and every changed invoice was enqueued exactly once
    assert first.unfinished == [TENANT] and after_first == START - timedelta(hours=1)
    assert second.unfinished == []
    ids = [c.resource_id for c in queue.sent if c.event_type == "SWEEP"]
    assert sorted(ids) == sorted(i.invoice_id for i in changed) and len(ids) == len(set(ids)) == 450
    # and the watermark is the start of the pass (the first run), so changes during it are read next time
    assert Watermarks(table).get(TENANT, "modified") == START and Watermarks(table).cursor(TENANT, "modified") is None


def test_the_daily_overdue_pass_resumes_from_its_cursor_and_counts_as_done_once_it_ends(monkeypatch):
    # Given 250 overdue invoices (3 pages) and runs of at most 2 pages, no changed invoices
    monkeypatch.setattr(sweep, "MAX_PAGES_PER_RUN", 2)
    overdue = [invoice(n, updated=START - timedelta(days=9), due=START.date() - timedelta(days=3))
               for n in range(250)]
    xero, queue, table = FakeXero(overdue), FakeQueue(), FakeTable("pk", "sk")
    Watermarks(table).set(TENANT, "modified", START)
    now = [START]
    run = sweeper(xero, queue, table, lambda: now[0])

    # When it runs three times on the same day
    run.run([TENANT])
    overdue_after_first = Watermarks(table).get(TENANT, "overdue")
    now[0] = START + timedelta(minutes=15)
    run.run([TENANT])
    pages_before_third = xero.pages_read
    now[0] = START + timedelta(minutes=30)
    run.run([TENANT])

    # Then the first run left the day unfinished, the second finished it, and the third read no overdue page
    ids = [c.resource_id for c in queue.sent if c.event_type == "OVERDUE"]
    assert overdue_after_first is None
    assert sorted(ids) == sorted(i.invoice_id for i in overdue) and len(ids) == 250
    assert {c.event_date for c in queue.sent if c.event_type == "OVERDUE"} == {START}
    assert xero.pages_read - pages_before_third == 1  # only the modified query's (empty) page

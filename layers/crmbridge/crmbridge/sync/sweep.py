"""Scheduled sweeps that catch what webhooks missed.

- modified: every sales invoice changed since the last sweep (If-Modified-Since) is re-synced, so a
  dropped, disabled or never-sent webhook (payments have no category of their own) loses nothing;
- overdue: once a day, every AUTHORISED invoice past its due date is re-synced, because becoming
  overdue changes a customer's balance and "on stop" flag without any change in Xero.

The sweep only enqueues commands; the worker does the writing, with the same idempotency and
ordering rules as for webhooks. A watermark per tenant moves forward only after a full pass.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from crmbridge.commands import XeroResourceChanged
from crmbridge.errors import RateLimitedError, RetryableError
from crmbridge.queue import SyncQueue
from crmbridge.xero.client import XeroClient

# Xero's If-Modified-Since has second resolution: overlap a little rather than miss an edge.
OVERLAP = timedelta(seconds=5)
MAX_PAGES_PER_RUN = 50


@dataclass
class SweepReport:
    tenants: int = 0
    enqueued: int = 0
    pages: int = 0
    rate_limited: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)


class Watermarks:
    """The last completed sweep per tenant and kind, in the links table."""

    def __init__(self, table: Any) -> None:
        self._table = table

    def get(self, tenant_id: str, kind: str) -> datetime | None:
        item = self._table.get_item(Key={"pk": f"sweep#{tenant_id}", "sk": kind}).get("Item")
        return datetime.fromisoformat(item["at"]) if item else None

    def set(self, tenant_id: str, kind: str, at: datetime) -> None:
        self._table.put_item(Item={"pk": f"sweep#{tenant_id}", "sk": kind, "at": at.isoformat()})


@dataclass
class Sweeper:
    xero: XeroClient
    queue: SyncQueue
    watermarks: Watermarks
    clock: Callable[[], datetime] = lambda: datetime.now(UTC)
    first_sweep_lookback: timedelta = timedelta(days=1)

    def run(self, tenants: list[str]) -> SweepReport:
        report = SweepReport()
        for tenant_id in tenants:
            report.tenants += 1
            try:
                self._modified(tenant_id, report)
                self._overdue(tenant_id, report)
            except RateLimitedError:
                report.rate_limited.append(tenant_id)  # the watermark did not move: next run resumes
            except RetryableError:
                report.failed.append(tenant_id)  # likewise: a transient fault, the next run resumes
        return report

    def _modified(self, tenant_id: str, report: SweepReport) -> None:
        started = self.clock()
        since = self.watermarks.get(tenant_id, "modified") or started - self.first_sweep_lookback
        self._enqueue_pages(tenant_id, report, started, modified_since=since - OVERLAP)
        self.watermarks.set(tenant_id, "modified", started)

    def _overdue(self, tenant_id: str, report: SweepReport) -> None:
        started = self.clock()
        last = self.watermarks.get(tenant_id, "overdue")
        if last and last.date() >= started.date():
            return  # once a day
        today = started.date()
        where = f'Status=="AUTHORISED" AND DueDate<DateTime({today.year},{today.month:02d},{today.day:02d})'
        self._enqueue_pages(tenant_id, report, started, where=where, event_type="OVERDUE", event_date=started)
        self.watermarks.set(tenant_id, "overdue", started)

    def _enqueue_pages(self, tenant_id: str, report: SweepReport, started: datetime, *, event_type: str = "SWEEP",
                       event_date: datetime | None = None, **query: Any) -> None:
        for page in range(1, MAX_PAGES_PER_RUN + 1):
            invoices = self.xero.invoices_page(tenant_id, page=page, **query)
            report.pages += 1
            # SWEEP keys on the invoice's own UpdatedDateUTC, so an unchanged invoice is not redone;
            # OVERDUE keys on the day, so balances are refreshed once a day whatever changed.
            commands = [
                XeroResourceChanged(tenant_id=tenant_id, category="INVOICE", resource_id=i.invoice_id,
                                    event_type=event_type, event_date=event_date or i.updated_date_utc or started)
                for i in invoices
            ]
            if commands:
                report.enqueued += self.queue.send(commands)
            if len(invoices) < 100:
                return

"""Scheduled sweeps that catch what webhooks missed.

- modified: every sales invoice changed since the last sweep (If-Modified-Since) is re-synced, so a
  dropped, disabled or never-sent webhook (payments have no category of their own) loses nothing;
- overdue: once a day, every AUTHORISED invoice past its due date is re-synced, because becoming
  overdue changes a customer's balance and "on stop" flag without any change in Xero.

The sweep only enqueues commands; the worker does the writing, with the same idempotency and
ordering rules as for webhooks. A pass reads every page of its query; a run stops after
MAX_PAGES_PER_RUN pages, and then the pass's cursor (the query's moment and the next page) is kept
with the watermark, so the next run resumes where this one stopped. The watermark itself moves only
when a pass ends on a short page: nothing a run did not read is ever stepped over.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import Any

from crmbridge.commands import XeroResourceChanged
from crmbridge.errors import RateLimitedError, RetryableError
from crmbridge.queue import SyncQueue
from crmbridge.xero.client import XeroClient

# Xero's If-Modified-Since has second resolution: overlap a little rather than miss an edge.
OVERLAP = timedelta(seconds=5)
MAX_PAGES_PER_RUN = 50
PAGE_SIZE = 100  # Xero's page of invoices: a shorter one is the last


@dataclass
class SweepReport:
    tenants: int = 0
    enqueued: int = 0
    pages: int = 0
    # Tenants whose pass did not end in this run (the next run resumes it).
    unfinished: list[str] = field(default_factory=list)
    rate_limited: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class PassCursor:
    """A pass a run did not finish: when it started, what it asked for, and the page to read next."""

    started: datetime
    since: datetime | None
    page: int


class Watermarks:
    """Per tenant and kind: the start of the last completed pass, and the cursor of an unfinished one."""

    def __init__(self, table: Any) -> None:
        self._table = table

    def _item(self, tenant_id: str, kind: str) -> dict[str, Any] | None:
        return self._table.get_item(Key={"pk": f"sweep#{tenant_id}", "sk": kind}).get("Item")

    def get(self, tenant_id: str, kind: str) -> datetime | None:
        item = self._item(tenant_id, kind)
        return datetime.fromisoformat(item["at"]) if item and item.get("at") else None

    def cursor(self, tenant_id: str, kind: str) -> PassCursor | None:
        item = self._item(tenant_id, kind)
        if not item or not item.get("cursor_page"):
            return None
        since = item.get("cursor_since")
        return PassCursor(started=datetime.fromisoformat(item["cursor_started"]),
                          since=datetime.fromisoformat(since) if since else None, page=int(item["cursor_page"]))

    def set(self, tenant_id: str, kind: str, at: datetime) -> None:
        """A pass completed: the watermark moves to its start, and no cursor is left."""
        self._table.put_item(Item={"pk": f"sweep#{tenant_id}", "sk": kind, "at": at.isoformat()})

    def keep_cursor(self, tenant_id: str, kind: str, cursor: PassCursor) -> None:
        """A pass stopped at a run's page cap: the watermark stays, the cursor says where to resume."""
        item: dict[str, Any] = {"pk": f"sweep#{tenant_id}", "sk": kind, "cursor_started": cursor.started.isoformat(),
                                "cursor_page": cursor.page}
        if cursor.since is not None:
            item["cursor_since"] = cursor.since.isoformat()
        if (at := self.get(tenant_id, kind)) is not None:
            item["at"] = at.isoformat()
        self._table.put_item(Item=item)


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
        cursor = self.watermarks.cursor(tenant_id, "modified")
        if cursor is None:
            started = self.clock()
            since = (self.watermarks.get(tenant_id, "modified") or started - self.first_sweep_lookback) - OVERLAP
            cursor = PassCursor(started=started, since=since, page=1)
        self._pass(tenant_id, "modified", cursor, report, modified_since=cursor.since)

    def _overdue(self, tenant_id: str, report: SweepReport) -> None:
        cursor = self.watermarks.cursor(tenant_id, "overdue")
        if cursor is None:
            started = self.clock()
            last = self.watermarks.get(tenant_id, "overdue")
            if last and last.date() >= started.date():
                return  # once a day
            cursor = PassCursor(started=started, since=None, page=1)
        day = cursor.started.date()
        where = f'Status=="AUTHORISED" AND DueDate<DateTime({day.year},{day.month:02d},{day.day:02d})'
        self._pass(tenant_id, "overdue", cursor, report, where=where, event_type="OVERDUE", event_date=cursor.started)

    def _pass(self, tenant_id: str, kind: str, cursor: PassCursor, report: SweepReport, *, event_type: str = "SWEEP",
              event_date: datetime | None = None, **query: Any) -> None:
        """Pages from the cursor on, up to the run's cap; the watermark moves only when the pass ends."""
        for page in range(cursor.page, cursor.page + MAX_PAGES_PER_RUN):
            invoices = self.xero.invoices_page(tenant_id, page=page, **query)
            report.pages += 1
            # SWEEP keys on the invoice's own UpdatedDateUTC, so an unchanged invoice is not redone;
            # OVERDUE keys on the day, so balances are refreshed once a day whatever changed.
            commands = [
                XeroResourceChanged(tenant_id=tenant_id, category="INVOICE", resource_id=i.invoice_id,
                                    event_type=event_type, event_date=event_date or i.updated_date_utc or cursor.started)
                for i in invoices
            ]
            if commands:
                report.enqueued += self.queue.send(commands)
            if len(invoices) < PAGE_SIZE:
                self.watermarks.set(tenant_id, kind, cursor.started)
                return
            # Kept after every full page, so a fault on the next one resumes here, not at the start.
            self.watermarks.keep_cursor(tenant_id, kind, replace(cursor, page=page + 1))
        report.unfinished.append(tenant_id)

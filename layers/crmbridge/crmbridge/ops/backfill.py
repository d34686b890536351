"""`bridgectl backfill`: won deals of a period become Xero invoices, 50 per Xero request, resumably.

For each batch of up to 50 deals not yet invoiced (the links table says which are):
1. read the deals in bulk (crm.directory) and claim each in the links table, as the sync does, so a
   live worker and the backfill never both create one deal's invoice; the backfill's claims have one
   owner per organisation, so a restarted backfill takes its own claims over at once;
2. claims an interrupted run left (their outcome unknown: Xero may have created the invoices before
   the crash) are looked up in Xero by Reference, all of a batch in one call, and adopted only when
   proven (the contact and lines of the request that run recorded: sync.invoicing.proves);
3. build each invoice with the sync's builder and contact rules (against an index of the
   organisation's contacts read once), PUT the batch with summarizeErrors=false and an
   Idempotency-Key derived from the request itself (a retried request replays, it never creates
   twice), paced by ops.throttle to the minute limit and the daily budget;
4. record every created invoice in the links table (batch writes), then write the invoice back onto
   the deal and the Xero contact onto the organisation, as the sync does.
A deal Xero refuses is released (nothing was created) and reported with Xero's reason; a run that
stops (network fault past its retries, daily budget, Ctrl-C) leaves its open claims for the next run.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from functools import partial

from aws_lambda_powertools import Logger

from crmbridge.crm.models import CrmDeal
from crmbridge.errors import PermanentError, RateLimitedError, RetryableError
from crmbridge.mapping.invoice import build_invoice
from crmbridge.ops.common import ProgressFn, no_progress
from crmbridge.ops.golive import GoLive
from crmbridge.ops.throttle import DailyBudgetReached, Throttle
from crmbridge.sync.contacts import ContactIndex, resolve_contact_with
from crmbridge.sync.deal_won import draft_state, write_back_of
from crmbridge.sync.invoicing import CLAIM_LEASE_SECONDS, find_proven
from crmbridge.sync.links import Claim, Created
from crmbridge.xero.client import MAX_BATCH
from crmbridge.xero.models import ContactRef, Invoice, NewInvoice

logger = Logger(child=True)



def backfill_owner(tenant_id: str) -> str:
    return f"backfill:{tenant_id}"


def batch_idempotency_key(tenant_id: str, invoices: Sequence[NewInvoice]) -> str:
    """The same request, the same key: a retry replays; a different batch is a new request."""
    body = json.dumps([i.to_xero() for i in invoices], sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(f"invoices:{tenant_id}:{body}".encode()).hexdigest()


def chunks[T](items: Sequence[T], size: int) -> list[list[T]]:
    return [list(items[i:i + size]) for i in range(0, len(items), size)]


@dataclass
class Failure:
    deal_id: str
    reason: str
    message: str


@dataclass
class BackfillReport:
    tenant_id: str
    status: str
    won_from: datetime | None
    won_to: datetime | None
    deals_won: int = 0
    already_invoiced: int = 0
    created: int = 0
    adopted: int = 0  # proven in Xero after an interrupted run, not created again
    failed: list[Failure] = field(default_factory=list)
    busy: list[str] = field(default_factory=list)  # claimed by a live worker at the time
    written_back: int = 0
    write_back_failed: list[str] = field(default_factory=list)
    batches: int = 0
    create_requests: int = 0
    xero_calls: int = 0
    rate_limited: int = 0
    waited_seconds: float = 0.0
    stopped: str | None = None  # why the run ended before its last deal: run it again to resume

    @property
    def complete(self) -> bool:
        return self.stopped is None


class BackfillStopped(Exception):
    def __init__(self, why: str) -> None:
        super().__init__(why)
        self.why = why


@dataclass
class Backfill:
    golive: GoLive
    throttle: Throttle
    status: str = "DRAFT"
    batch_size: int = MAX_BATCH
    write_back: bool = True
    retries: int = 2  # of a batch whose answer was lost (same Idempotency-Key: Xero replays)
    clock: Callable[[], datetime] = lambda: datetime.now(UTC)
    crm_sleep: Callable[[float], None] = time.sleep
    crm_concurrency: int = 4  # write-back requests in flight

    def run(self, *, won_from: datetime | None = None, won_to: datetime | None = None,
            progress: ProgressFn = no_progress) -> BackfillReport:
        golive = self.golive
        report = BackfillReport(tenant_id=golive.tenant_id, status=self.status, won_from=won_from, won_to=won_to)
        calls_before = self.throttle.calls
        try:
            deals = self._crm_call(lambda: list(golive.crm.won_deals(won_from=won_from, won_to=won_to)))
            report.deals_won = len(deals)
            links = golive.links.invoices_for(golive.crm.name, [d.id for d in deals])
            # RELEASED deals (their invoice voided) are not invoiced again by a backfill: that takes an
            # operator's `resync deal --reinvoice` or a new win.
            todo = [d.id for d in deals if not (links.get(d.id) and links[d.id].state in ("CREATED", "RELEASED"))]
            report.already_invoiced = len(deals) - len(todo)
            progress(0, len(todo))
            if todo and self.write_back:
                # The bridge's CRM fields exist before any invoice does: Xero's webhooks about the new
                # invoices make the live worker write to them too, and two creators make two fields.
                for entity in golive.crm.field_entities:
                    self._crm_call(partial(golive.crm.field_codes, entity))
            if todo:
                contacts = ContactIndex(self._xero_call(lambda: golive.xero.contacts(golive.tenant_id)))
                for done, chunk in enumerate(chunks(todo, self.batch_size), start=1):
                    self._batch(chunk, contacts, report)
                    progress(min(done * self.batch_size, len(todo)), len(todo))
        except BackfillStopped as stop:
            report.stopped = stop.why
        except DailyBudgetReached as exc:
            report.stopped = f"{exc.message}: run the backfill again after Xero's daily reset"
        except KeyboardInterrupt:
            report.stopped = "interrupted: run the same backfill again to resume"
        except RetryableError as exc:  # Xero unreachable for a lookup: nothing half-done is lost
            report.stopped = f"{exc.message}: run the same backfill again to resume"
        report.xero_calls = self.throttle.calls - calls_before
        report.rate_limited = self.throttle.rate_limited
        report.waited_seconds = self.throttle.waited_seconds
        return report

    # ------------------------------------------------------------------ one batch
    def _batch(self, deal_ids: list[str], contacts: ContactIndex, report: BackfillReport) -> None:
        golive = self.golive
        crm_name, tenant_id, owner = golive.crm.name, golive.tenant_id, backfill_owner(golive.tenant_id)
        deals = {d.id: d for d in self._crm_call(lambda: golive.crm.read_deals(deal_ids))}
        now = self.clock()
        claims: dict[str, Claim] = {}
        requests: list[tuple[CrmDeal, NewInvoice]] = []
        for deal_id in deal_ids:
            deal = deals.get(deal_id)
            if deal is None or deal.status != "won":
                report.failed.append(Failure(deal_id, "not_won", "the deal is no longer won (or was deleted)"))
                continue
            claim = golive.links.claim(crm_name, deal_id, tenant_id=tenant_id, owner=owner,
                                       now=int(now.timestamp()), lease_seconds=CLAIM_LEASE_SECONDS)
            if claim is None:
                link = golive.links.invoice_for(crm_name, deal_id)
                if link and link.state == "CREATED":
                    report.already_invoiced += 1
                else:
                    report.busy.append(deal_id)
                continue
            claims[deal_id] = claim
            if claim.attempt:  # what an interrupted run sent: the proof to look for, and what to send again
                requests.append((deal, NewInvoice.model_validate_json(claim.attempt)))
                continue
            try:
                contact = resolve_contact_with(contacts, deal) if deal.organisation else ContactRef()
                requests.append((deal, build_invoice(deal, contact=contact, config=golive.mapping, status=self.status,
                                                     today=now.date())))
            except PermanentError as exc:
                golive.links.release(crm_name, deal.id, owner)
                report.failed.append(Failure(deal.id, exc.reason, exc.message))

        done: list[tuple[CrmDeal, Invoice, int]] = []
        uncertain = [(deal, request) for deal, request in requests if claims[deal.id].uncertain]
        found = self._find_existing(uncertain) if uncertain else {}
        for deal, _ in uncertain:
            if deal.id in found:
                done.append((deal, found[deal.id], claims[deal.id].generation))
                report.adopted += 1
        to_send = []
        for deal, request in requests:
            if deal.id in found:
                continue
            if golive.links.record_attempt(crm_name, deal.id, owner, request=request.model_dump_json(by_alias=True)):
                to_send.append((deal, request))
            else:
                report.busy.append(deal.id)
        if to_send:
            done.extend((deal, invoice, claims[deal.id].generation)
                        for deal, invoice in self._send(to_send, contacts, report))
        self._record(done, report)
        report.batches += 1

    def _find_existing(self, pairs: list[tuple[CrmDeal, NewInvoice]]) -> dict[str, Invoice]:
        """The invoices an interrupted run created, proven against the requests it recorded, by deal id."""
        by_reference = {request.reference: deal.id for deal, request in pairs}
        found = find_proven(self.golive.xero, self.golive.tenant_id, [request for _, request in pairs],
                            call=self._xero_call)
        return {by_reference[reference]: invoice for reference, invoice in found.items()}

    def _send(self, batch: list[tuple[CrmDeal, NewInvoice]], contacts: ContactIndex,
              report: BackfillReport) -> list[tuple[CrmDeal, Invoice]]:
        golive = self.golive
        crm_name, tenant_id, owner = golive.crm.name, golive.tenant_id, backfill_owner(golive.tenant_id)
        invoices = [invoice for _, invoice in batch]
        key = batch_idempotency_key(tenant_id, invoices)
        attempts = 0
        while True:
            report.create_requests += 1
            try:
                answers = self._xero_call(lambda: golive.xero.create_invoices(tenant_id, invoices, idempotency_key=key))
                break
            except PermanentError as exc:
                # The whole request refused (nothing created): release every claim of the batch.
                for deal, _ in batch:
                    golive.links.release(crm_name, deal.id, owner)
                    report.failed.append(Failure(deal.id, exc.reason, exc.message))
                return []
            except RetryableError as exc:
                attempts += 1
                if attempts <= self.retries:
                    logger.warning("batch answer lost; sending the same request again", extra={"attempt": attempts})
                    continue
                self._abandon(batch)
                raise BackfillStopped(f"Xero did not answer a batch ({exc.message}): run the same backfill again; "
                                      "it looks those deals up in Xero before sending anything") from exc
            except BaseException:
                self._abandon(batch)
                raise
        created = []
        for (deal, _), answer in zip(batch, answers, strict=True):
            if answer.invoice is None:
                golive.links.release(crm_name, deal.id, owner)
                report.failed.append(Failure(deal.id, "xero_validation", "; ".join(answer.errors)))
                continue
            invoice = answer.invoice
            created.append((deal, invoice))
            report.created += 1
            contacts.learn(invoice.contact)
        return created

    def _crm_call[T](self, call: Callable[[], T]) -> T:
        """One CRM call (or listing), waiting out its burst limit; its daily budget stops the run."""
        return self._patiently(call, who="the CRM", daily="daily", on_limit=lambda s: self.crm_sleep(s or 2.0),
                               transient_retries=self.retries)

    def _xero_call[T](self, call: Callable[[], T]) -> T:
        """One Xero call, waiting out 429s (Retry-After); the daily limit stops the run; other faults are
        the caller's (a lost batch answer is retried with its Idempotency-Key)."""
        return self._patiently(call, who="Xero", daily="day", on_limit=self.throttle.after_rate_limit,
                               transient_retries=0)

    def _patiently[T](self, call: Callable[[], T], *, who: str, daily: str,
                      on_limit: Callable[[float | None], None], transient_retries: int) -> T:
        attempts = 0
        while True:
            try:
                return call()
            except RateLimitedError as exc:
                if exc.problem == daily:
                    raise BackfillStopped(f"{who}'s daily API budget is used up: run the same backfill again after "
                                          "it resets") from exc
                on_limit(exc.retry_after_seconds)
            except RetryableError as exc:
                attempts += 1
                if attempts > transient_retries:
                    if not transient_retries:
                        raise
                    raise BackfillStopped(f"{who} did not answer ({exc.message}): run the same backfill again") from exc
                self.crm_sleep(2.0 * attempts)

    def _abandon(self, batch: list[tuple[CrmDeal, NewInvoice]]) -> None:
        golive = self.golive
        for deal, _ in batch:
            golive.links.abandon(golive.crm.name, deal.id, backfill_owner(golive.tenant_id))

    def _record(self, done_with_generation: list[tuple[CrmDeal, Invoice, int]], report: BackfillReport) -> None:
        if not done_with_generation:
            return
        golive = self.golive
        at = self.clock().isoformat()
        created = [Created(deal_id=deal.id, invoice_id=invoice.invoice_id, invoice_number=invoice.invoice_number,
                           contact_id=invoice.contact.contact_id,
                           organisation_id=deal.organisation.id if deal.organisation else None,
                           won_time=deal.won_time.isoformat() if deal.won_time else None,
                           deal_won_time=deal.won_time.isoformat() if deal.won_time else None, generation=generation)
                   for deal, invoice, generation in done_with_generation]
        done = [(deal, invoice) for deal, invoice, _ in done_with_generation]
        golive.links.record_created_many(golive.crm.name, golive.tenant_id, created, at=at)
        if not self.write_back:
            return
        written = self._write_back(done, created, report)
        if written:
            golive.links.mark_written_back_many(golive.crm.name, golive.tenant_id, written, at=at)
        report.written_back += len(written)

    def _write_back(self, done: list[tuple[CrmDeal, Invoice]], created: list[Created],
                    report: BackfillReport) -> list[Created]:
        """Each invoice onto its deal and each new Xero contact onto its organisation, as the sync does;
        `crm_concurrency` requests at a time (the CRM's burst limit is waited out per request)."""
        crm = self.golive.crm
        organisations: dict[str, str] = {}
        for deal, invoice in done:
            org, contact_id = deal.organisation, invoice.contact.contact_id
            if org and contact_id and org.xero_contact_id != contact_id:
                organisations.setdefault(org.id, contact_id)

        def write(deal: CrmDeal, invoice: Invoice, record: Created) -> Created:
            self._crm_call(partial(crm.write_invoice, deal.id, write_back_of(invoice)))
            return replace(record, state=draft_state(invoice))

        written: list[Created] = []
        with ThreadPoolExecutor(max_workers=self.crm_concurrency) as pool:
            for org_id, future in [(o, pool.submit(self._crm_call, partial(crm.set_organisation_contact, o, c)))
                                   for o, c in organisations.items()]:
                try:
                    future.result()
                except (PermanentError, BackfillStopped) as exc:
                    logger.warning("contact write-back failed", extra={"organisation_id": org_id, "error": str(exc)})
            futures = [(deal.id, pool.submit(write, deal, invoice, record))
                       for (deal, invoice), record in zip(done, created, strict=True)]
            for deal_id, future in futures:
                try:
                    written.append(future.result())
                except (PermanentError, BackfillStopped) as exc:
                    logger.warning("write-back failed", extra={"deal_id": deal_id, "error": str(exc)})
                    report.write_back_failed.append(deal_id)
        return written

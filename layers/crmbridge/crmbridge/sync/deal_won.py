"""A won deal becomes exactly one Xero invoice, and the CRM learns its number.

Three guards make it exactly-once: the links table (CREATED = done; a PENDING claim serialises
workers), the Idempotency-Key header (a retried PUT replays instead of creating), and, whenever an
earlier attempt's outcome is unknown (a crash between Xero's commit and ours), proof: the request that
attempt recorded is looked for in Xero (same Reference, contact and lines) and otherwise sent again
with the same key. An invoice that merely shares the deal id as its Reference is never adopted.

A voided or deleted invoice releases its deal; only an operator's `--reinvoice` or a new win (the deal
lost and won again) raises the next one.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime

from aws_lambda_powertools import Logger

from crmbridge.commands import DealWon
from crmbridge.crm.base import Crm
from crmbridge.crm.models import CrmDeal, InvoiceWriteBack
from crmbridge.errors import PermanentError, RetryableError
from crmbridge.mapping.config import MappingConfig
from crmbridge.mapping.invoice import build_invoice_with_notes
from crmbridge.sync.contacts import resolve_contact
from crmbridge.sync.invoicing import (
    CLAIM_LEASE_SECONDS,
    LIVE_STATUSES,
    find_proven,
    invoice_idempotency_key,
)
from crmbridge.sync.links import Claim, Created, InvoiceLink, Links
from crmbridge.times import parse_instant
from crmbridge.xero.client import XeroClient
from crmbridge.xero.models import ContactRef, Invoice, NewInvoice

logger = Logger(child=True)


def won_again(now: str | None, then: str | None) -> bool:
    """Is the win at `now` later than the win an invoice was raised for (the deal lost, then won again)?"""
    later, earlier = parse_instant(now), parse_instant(then)
    return bool(later and earlier and later > earlier)


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment else None


def invoice_url(invoice_id: str) -> str:
    return f"https://go.xero.com/AccountsReceivable/View.aspx?InvoiceID={invoice_id}"


def draft_state(invoice: Invoice) -> tuple[str, str] | None:
    """The (UpdatedDateUTC, status) just written to the CRM, for a DRAFT (which moves no balance): once
    recorded, Xero's webhook about the new invoice costs the worker no call at all."""
    if invoice.status != "DRAFT" or invoice.updated_date_utc is None:
        return None
    return invoice.updated_date_utc.astimezone(UTC).isoformat(), invoice.status


def write_back_of(invoice: Invoice) -> InvoiceWriteBack:
    return InvoiceWriteBack(
        invoice_id=invoice.invoice_id, invoice_number=invoice.invoice_number, status=invoice.status,
        url=invoice_url(invoice.invoice_id), total=invoice.total, amount_due=invoice.amount_due,
        amount_paid=invoice.amount_paid, due_date=invoice.due_date.date() if invoice.due_date else None,
        fully_paid_on=invoice.fully_paid_on_date.date() if invoice.fully_paid_on_date else None,
    )


@dataclass
class DealWonSync:
    crm: Crm
    xero: XeroClient
    links: Links
    mapping: MappingConfig
    invoice_status: str
    # The Xero organisation a won deal is invoiced to (tokens.tenants.resolve_tenant): chosen, never inferred.
    tenant_for: Callable[[DealWon, CrmDeal], str]
    clock: Callable[[], datetime] = lambda: datetime.now(UTC)
    on_metric: Callable[[str, float], None] = lambda name, value: None
    owner: str = field(default_factory=lambda: uuid.uuid4().hex)

    def __call__(self, command: DealWon) -> dict[str, str]:
        crm, deal_id = command.crm, command.deal_id
        link = self.links.invoice_for(crm, deal_id)
        deal: CrmDeal | None = None
        asked_again = command.reinvoice
        if link and link.state != "PENDING" and not asked_again and won_again(command.won_time, link.won_time):
            # A later win than the invoiced one, by the webhook: the CRM's own won time decides.
            deal = self.crm.read_deal(deal_id)
            asked_again = deal.status == "won" and won_again(_iso(deal.won_time), link.deal_won_time)
        if link and link.state == "CREATED":
            if not asked_again:
                return self._already_invoiced(deal_id, link)
            link = self._release_if_dead(command, link)
            if link.state == "CREATED":
                return self._already_invoiced(deal_id, link)
        if link and link.state == "RELEASED" and not asked_again:
            return {"outcome": "released", "invoice_id": link.invoice_id or "",
                    "why": f"its invoice {link.invoice_number or link.invoice_id} was voided or deleted in Xero; "
                           f"`bridgectl resync deal {deal_id} --reinvoice` raises a new one"}

        deal = deal or self.crm.read_deal(deal_id)
        if deal.status != "won":
            return {"outcome": "not_won", "deal_status": deal.status}

        tenant_id = self.tenant_for(command, deal)
        now = self.clock()
        claim = self.links.claim(crm, deal_id, tenant_id=tenant_id, owner=self.owner, now=int(now.timestamp()),
                                 lease_seconds=CLAIM_LEASE_SECONDS, reopen=bool(link and link.state == "RELEASED"))
        if claim is None:
            current = self.links.invoice_for(crm, deal_id)
            if current and current.state == "CREATED":  # another worker has just finished it
                return self._already_invoiced(deal_id, current)
            raise RetryableError(f"deal {deal_id} is being invoiced by another worker", retry_after_seconds=5)
        # An earlier attempt is settled in the organisation it was sent to, even if another was chosen since.
        tenant_id = claim.tenant_id or tenant_id

        invoice, notes = self._invoice(tenant_id, deal, claim, today=now.date())
        self.links.record_created(crm, tenant_id, Created(
            deal_id=deal_id, invoice_id=invoice.invoice_id, invoice_number=invoice.invoice_number,
            contact_id=invoice.contact.contact_id, organisation_id=deal.organisation.id if deal.organisation else None,
            won_time=command.won_time or _iso(deal.won_time), deal_won_time=_iso(deal.won_time),
            generation=claim.generation,
        ), at=now.isoformat())
        org = deal.organisation
        # The invoice's contact is the one this deal resolved or created (proven when adopted), so it
        # may go onto the organisation.
        if org and invoice.contact.contact_id and org.xero_contact_id != invoice.contact.contact_id:
            self.crm.set_organisation_contact(org.id, invoice.contact.contact_id)
        self._write_back(tenant_id, deal_id, invoice)
        result = {"outcome": "invoiced", "invoice_id": invoice.invoice_id, "invoice_number": invoice.invoice_number or "",
                  "tenant_id": tenant_id}
        if notes:  # what was shortened to fit Xero: in the deal's history (the result is its summary)
            logger.warning("deal data shortened to fit Xero", extra={"notes": notes})
            result["notes"] = "; ".join(notes)
        return result

    def _already_invoiced(self, deal_id: str, link: InvoiceLink) -> dict[str, str]:
        self.on_metric("DuplicatesSuppressed", 1)
        if not link.written_back and link.invoice_id:
            self._write_back(link.tenant_id, deal_id, self.xero.get_invoice(link.tenant_id, link.invoice_id))
        return {"outcome": "already_invoiced", "invoice_id": link.invoice_id or "",
                "invoice_number": link.invoice_number or ""}

    def _release_if_dead(self, command: DealWon, link: InvoiceLink) -> InvoiceLink:
        """Asked for a new invoice: only when Xero says the recorded one no longer bills anyone."""
        assert link.invoice_id
        current = self.xero.get_invoice(link.tenant_id, link.invoice_id)
        if current.status in LIVE_STATUSES:
            if command.reinvoice:
                raise PermanentError(
                    "live_invoice_exists",
                    f"deal {command.deal_id} has invoice {current.invoice_number or current.invoice_id} "
                    f"({current.status}) in Xero: void or delete it there before asking for a new one")
            return link
        self.links.release_invoice(command.crm, command.deal_id, link.invoice_id)
        logger.info("voided invoice released its deal", extra={"invoice_id": link.invoice_id, "status": current.status})
        return replace(link, state="RELEASED")

    def _invoice(self, tenant_id: str, deal: CrmDeal, claim: Claim, *, today: date) -> tuple[Invoice, list[str]]:
        """The deal's invoice: an earlier attempt's, proven or replayed, else a new one; and the notes of
        what its data lost to fit Xero."""
        key = invoice_idempotency_key(tenant_id, self.crm.name, deal.id, claim.generation)
        if claim.attempt:
            sent = NewInvoice.model_validate_json(claim.attempt)
            return self._proven(tenant_id, sent) or self._put(tenant_id, deal.id, sent, key), []
        try:
            contact = resolve_contact(self.xero, tenant_id, deal) if deal.organisation else ContactRef()
            built = build_invoice_with_notes(deal, contact=contact, config=self.mapping, status=self.invoice_status,
                                             today=today)
            if claim.uncertain and (found := self._proven(tenant_id, built.invoice)):  # a claim of an older version
                return found, built.notes
        except BaseException:
            # Whatever went wrong (bad data, a bug, Xero unreachable for the contact), nothing reached Xero.
            self.links.release(self.crm.name, deal.id, self.owner)
            raise
        request = built.invoice
        if not self.links.record_attempt(self.crm.name, deal.id, self.owner, request=request.model_dump_json(by_alias=True)):
            raise RetryableError(f"deal {deal.id}: the claim was taken over before sending", retry_after_seconds=5)
        return self._put(tenant_id, deal.id, request, key), built.notes

    def _put(self, tenant_id: str, deal_id: str, request: NewInvoice, key: str) -> Invoice:
        try:
            invoice = self.xero.create_invoice(tenant_id, request, idempotency_key=key)
        except PermanentError:
            # Xero refused it (validation): nothing was created, so the deal can be re-run once fixed.
            self.links.release(self.crm.name, deal_id, self.owner)
            raise
        except BaseException:
            # Timeout, lost answer, crash: Xero may or may not have the invoice. Whoever tries next
            # takes the claim at once and settles it from the recorded request.
            self.links.abandon(self.crm.name, deal_id, self.owner)
            raise
        self.on_metric("InvoicesCreated", 1)
        logger.info("invoice created", extra={"invoice_id": invoice.invoice_id, "invoice_number": invoice.invoice_number})
        return invoice

    def _proven(self, tenant_id: str, request: NewInvoice) -> Invoice | None:
        """The invoice an earlier attempt created from this very request, if Xero has it."""
        found = find_proven(self.xero, tenant_id, [request]).get(request.reference)
        if found is not None:
            self.on_metric("DuplicatesSuppressed", 1)
            logger.warning("an earlier attempt had created the invoice; adopting it", extra={"invoice_id": found.invoice_id})
        return found

    def _write_back(self, tenant_id: str, deal_id: str, invoice: Invoice) -> None:
        self.crm.write_invoice(deal_id, write_back_of(invoice))
        self.links.mark_written_back(self.crm.name, deal_id)
        if state := draft_state(invoice):
            self.links.advance_invoice_state(tenant_id, invoice.invoice_id, updated=state[0], status=state[1])

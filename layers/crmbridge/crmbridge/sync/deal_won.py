"""A won deal becomes exactly one Xero invoice, and the CRM learns its number.

Three guards make it exactly-once: the links table (CREATED = done; a PENDING claim serialises
workers), the Idempotency-Key header (a retried PUT replays instead of creating), and a lookup by
Reference whenever an earlier attempt's outcome is unknown (a crash between Xero's commit and ours).
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime

from aws_lambda_powertools import Logger

from crmbridge.commands import DealWon
from crmbridge.crm.base import Crm
from crmbridge.crm.models import CrmDeal, InvoiceWriteBack
from crmbridge.errors import PermanentError, RetryableError
from crmbridge.mapping.config import MappingConfig
from crmbridge.mapping.invoice import build_invoice, invoice_reference
from crmbridge.sync.contacts import resolve_contact
from crmbridge.sync.links import Links
from crmbridge.xero.client import XeroClient
from crmbridge.xero.models import ContactRef, Invoice

logger = Logger(child=True)

CLAIM_LEASE_SECONDS = 60
_LIVE = {"DRAFT", "SUBMITTED", "AUTHORISED", "PAID"}


def invoice_idempotency_key(tenant_id: str, crm: str, deal_id: str) -> str:
    """Stable across retries and workers: the same deal in the same organisation, always the same key."""
    return hashlib.sha256(f"invoice:{tenant_id}:{crm}:{deal_id}".encode()).hexdigest()


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
    tenant_for: Callable[[DealWon], str]
    clock: Callable[[], datetime] = lambda: datetime.now(UTC)
    on_metric: Callable[[str, float], None] = lambda name, value: None
    owner: str = field(default_factory=lambda: uuid.uuid4().hex)

    def __call__(self, command: DealWon) -> dict[str, str]:
        tenant_id = self.tenant_for(command)
        crm, deal_id = command.crm, command.deal_id
        link = self.links.invoice_for(crm, deal_id)
        if link and link.state == "CREATED":
            self.on_metric("DuplicatesSuppressed", 1)
            if not link.written_back and link.invoice_id:
                self._write_back(link.tenant_id, deal_id, self.xero.get_invoice(link.tenant_id, link.invoice_id))
            return {"outcome": "already_invoiced", "invoice_id": link.invoice_id or "",
                    "invoice_number": link.invoice_number or ""}

        deal = self.crm.read_deal(deal_id)
        if deal.status != "won":
            return {"outcome": "not_won", "deal_status": deal.status}

        now = self.clock()
        claim = self.links.claim(crm, deal_id, tenant_id=tenant_id, owner=self.owner,
                                 now=int(now.timestamp()), lease_seconds=CLAIM_LEASE_SECONDS)
        if claim is None:
            raise RetryableError(f"deal {deal_id} is being invoiced by another worker", retry_after_seconds=5)

        invoice = None
        if claim.uncertain:
            invoice = self._find_existing(tenant_id, deal)
            if invoice:
                self.on_metric("DuplicatesSuppressed", 1)
                logger.warning("earlier attempt had created the invoice; adopting it",
                               extra={"invoice_id": invoice.invoice_id})
        if invoice is None:
            invoice = self._create(tenant_id, deal, today=now.date())
        self.links.record_created(
            crm, deal_id, tenant_id=tenant_id, invoice_id=invoice.invoice_id, invoice_number=invoice.invoice_number,
            contact_id=invoice.contact.contact_id, won_time=command.won_time, at=now.isoformat(),
            organisation_id=deal.organisation.id if deal.organisation else None,
        )
        org = deal.organisation
        if org and invoice.contact.contact_id and org.xero_contact_id != invoice.contact.contact_id:
            self.crm.set_organisation_contact(org.id, invoice.contact.contact_id)
        self._write_back(tenant_id, deal_id, invoice)
        return {"outcome": "invoiced", "invoice_id": invoice.invoice_id, "invoice_number": invoice.invoice_number or "",
                "tenant_id": tenant_id}

    def _create(self, tenant_id: str, deal: CrmDeal, *, today: date) -> Invoice:
        try:
            contact = resolve_contact(self.xero, tenant_id, deal) if deal.organisation else ContactRef()
            new_invoice = build_invoice(deal, contact=contact, config=self.mapping,
                                        status=self.invoice_status, today=today)
        except PermanentError:
            self.links.release(self.crm.name, deal.id, self.owner)  # nothing reached Xero
            raise
        try:
            invoice = self.xero.create_invoice(
                tenant_id, new_invoice, idempotency_key=invoice_idempotency_key(tenant_id, self.crm.name, deal.id))
        except PermanentError:
            # Xero refused it (validation): nothing was created, so the deal can be re-run once fixed.
            self.links.release(self.crm.name, deal.id, self.owner)
            raise
        except BaseException:
            # Timeout, lost answer, crash: Xero may or may not have the invoice. Whoever tries next
            # takes the claim at once and looks it up by Reference before creating anything.
            self.links.abandon(self.crm.name, deal.id, self.owner)
            raise
        self.on_metric("InvoicesCreated", 1)
        logger.info("invoice created", extra={"invoice_id": invoice.invoice_id, "invoice_number": invoice.invoice_number})
        return invoice

    def _find_existing(self, tenant_id: str, deal: CrmDeal) -> Invoice | None:
        found = [i for i in self.xero.invoices_by_reference(tenant_id, invoice_reference(deal)) if i.status in _LIVE]
        return found[0] if found else None

    def _write_back(self, tenant_id: str, deal_id: str, invoice: Invoice) -> None:
        self.crm.write_invoice(deal_id, write_back_of(invoice))
        self.links.mark_written_back(self.crm.name, deal_id)
        if state := draft_state(invoice):
            self.links.advance_invoice_state(tenant_id, invoice.invoice_id, updated=state[0], status=state[1])

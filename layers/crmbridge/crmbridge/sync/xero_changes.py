"""Xero -> CRM: invoice status, amounts and dates onto the deal; balances and "on stop" onto the
organisation; a note for the deal owner when an invoice is paid; Xero-mastered contact fields.

Xero's webhooks carry ids only, so every change is re-read from Xero. Writes are ordered by the
invoice's UpdatedDateUTC: an older state arriving after a newer one is dropped, never written.
"""

from __future__ import annotations

import html
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from aws_lambda_powertools import Logger

from crmbridge.commands import XeroResourceChanged
from crmbridge.crm.base import Crm
from crmbridge.crm.models import CrmAddress, OrganisationBalance, OrganisationUpdate
from crmbridge.errors import PermanentError
from crmbridge.mapping.config import MappingConfig
from crmbridge.sync.deal_won import invoice_url, write_back_of
from crmbridge.sync.links import DealRef, Links
from crmbridge.xero.client import XeroClient
from crmbridge.xero.models import Contact, Invoice

logger = Logger(child=True)


def paid_note(invoice: Invoice) -> str:
    amount = f"{invoice.currency_code or ''} {invoice.total}".strip()
    paid_on = invoice.fully_paid_on_date.date().isoformat() if invoice.fully_paid_on_date else "today"
    number = html.escape(invoice.invoice_number or invoice.invoice_id)
    return (f"<p>Xero invoice <a href=\"{invoice_url(invoice.invoice_id)}\">{number}</a> "
            f"({html.escape(amount)}) was paid in full on {paid_on}.</p>")


def organisation_update(contact: Contact, fields: list[str]) -> OrganisationUpdate:
    phone = next((p.text for p in contact.phones if p.phone_type == "DEFAULT" and p.text), None)
    address = next((a for a in contact.addresses if a.address_type == "POBOX" and (a.address_line1 or a.city)), None)
    return OrganisationUpdate(
        email=contact.email_address if "email" in fields else None,
        phone=phone if "phone" in fields else None,
        address=CrmAddress(line1=address.address_line1, city=address.city, postal_code=address.postal_code,
                           country=address.country) if address and "address" in fields else None,
    )


@dataclass
class XeroChangeSync:
    crm: Crm
    xero: XeroClient
    links: Links
    mapping: MappingConfig
    clock: Callable[[], datetime] = lambda: datetime.now(UTC)
    on_metric: Callable[[str, float], None] = lambda name, value: None

    def __call__(self, command: XeroResourceChanged) -> dict[str, str]:
        if command.event_type == "CREATE":
            settled = self._creation_settled(command)
            if settled is not None:
                return settled
        if command.category == "INVOICE":
            return self.invoice_changed(command.tenant_id, command.resource_id,
                                        balances_only_if_stale=command.event_type == "OVERDUE")
        return self.contact_changed(command.tenant_id, command.resource_id)

    def _creation_settled(self, command: XeroResourceChanged) -> dict[str, str] | None:
        """A creation the bridge needs no Xero call for, or None. Backfills share the organisation's 60 calls
        a minute with the worker, and every invoice they create comes back as an event."""
        if command.category == "CONTACT":
            # A new contact holds what was just entered: the CRM's own data when the bridge created it.
            return {"outcome": "ignored", "why": "a new contact carries nothing the CRM lacks"}
        if self.links.invoice_state(command.tenant_id, command.resource_id):
            # The bridge created it as a DRAFT and wrote that state back already; changes come as UPDATEs.
            self.on_metric("StaleEventsDropped", 1)
            return {"outcome": "stale", "invoice_id": command.resource_id}
        return None

    def invoice_changed(self, tenant_id: str, invoice_id: str, *, balances_only_if_stale: bool = False) -> dict[str, str]:
        invoice = self.xero.get_invoice(tenant_id, invoice_id)
        if invoice.type != "ACCREC":
            return {"outcome": "ignored", "why": "not a sales invoice"}
        ref = self.links.deal_for_invoice(tenant_id, invoice_id) or self._link_by_reference(tenant_id, invoice)
        if ref is None:
            return {"outcome": "ignored", "why": "no deal for this invoice"}
        updated = (invoice.updated_date_utc or self.clock()).astimezone(UTC).isoformat()
        recorded = self.links.invoice_state(tenant_id, invoice_id)
        if recorded and recorded[0] >= updated:
            if balances_only_if_stale and ref.organisation_id and invoice.contact.contact_id:
                # Nothing changed on the invoice, but time made it overdue: the balance moved.
                self._write_balance(tenant_id, invoice.contact.contact_id, ref.organisation_id)
                return {"outcome": "balance_refreshed", "invoice_id": invoice_id}
            self.on_metric("StaleEventsDropped", 1)
            return {"outcome": "stale", "invoice_id": invoice_id}
        self.crm.write_invoice(ref.deal_id, write_back_of(invoice))
        if invoice.status == "PAID" and (recorded is None or recorded[1] != "PAID") and self.mapping.note_when_paid:
            self.crm.add_deal_note(ref.deal_id, paid_note(invoice))
        if ref.organisation_id and invoice.contact.contact_id:
            self._write_balance(tenant_id, invoice.contact.contact_id, ref.organisation_id)
        self.links.advance_invoice_state(tenant_id, invoice_id, updated=updated, status=invoice.status)
        logger.info("invoice state written to the CRM", extra={"invoice_id": invoice_id, "deal_id": ref.deal_id,
                                                                 "status": invoice.status})
        return {"outcome": "written", "deal_id": ref.deal_id, "status": invoice.status}

    def contact_changed(self, tenant_id: str, contact_id: str) -> dict[str, str]:
        link = self.links.organisation_for_contact(tenant_id, contact_id)
        if link is None:
            return {"outcome": "ignored", "why": "contact not linked to an organisation"}
        _, organisation_id = link
        contact = self.xero.get_contact(tenant_id, contact_id)
        if self.mapping.xero_master_fields:
            self.crm.update_organisation(organisation_id, organisation_update(contact, self.mapping.xero_master_fields))
        self._apply_balance(contact, organisation_id)
        return {"outcome": "written", "organisation_id": organisation_id}

    def _write_balance(self, tenant_id: str, contact_id: str, organisation_id: str) -> None:
        self._apply_balance(self.xero.get_contact(tenant_id, contact_id), organisation_id)

    def _apply_balance(self, contact: Contact, organisation_id: str) -> None:
        receivable = contact.balances.accounts_receivable if contact.balances else None
        if receivable is None:
            return
        self.crm.write_organisation_balance(organisation_id, OrganisationBalance(
            outstanding=receivable.outstanding, overdue=receivable.overdue,
            on_stop=receivable.overdue > self.mapping.on_stop_overdue_above,
        ))

    def _link_by_reference(self, tenant_id: str, invoice: Invoice) -> DealRef | None:
        if not (self.mapping.link_invoices_by_reference and invoice.reference):
            return None
        try:
            deal = self.crm.read_deal(invoice.reference.strip())
        except PermanentError as exc:
            if exc.reason == "crm_not_found":
                return None
            raise
        organisation_id = deal.organisation.id if deal.organisation else None
        self.links.link_invoice(tenant_id, invoice.invoice_id, crm=self.crm.name, deal_id=deal.id,
                                organisation_id=organisation_id, at=self.clock().isoformat())
        return DealRef(crm=self.crm.name, deal_id=deal.id, organisation_id=organisation_id)

"""Xero -> CRM: invoice status, amounts and dates onto the deal; balances and "on stop" onto the
organisation; a note for the deal owner when an invoice is paid; Xero-mastered contact fields.

Xero's webhooks carry ids only, so every change is re-read from Xero. Only invoices linked to a deal
(the bridge created them, or an operator linked them) touch a deal: a Reference that looks like a deal
id proves nothing. Any invoice of a contact the bridge linked to an organisation moves that
organisation's balances. Each invoice, and each contact's balances, is read and written under its own lease
(sync.serial), so the CRM ends with Xero's latest state whatever the interleaving of workers; an
invoice's older state arriving after a newer one (by UpdatedDateUTC) is dropped, never written.
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
from crmbridge.mapping.config import MappingConfig
from crmbridge.sync.deal_won import invoice_url, write_back_of
from crmbridge.sync.invoicing import RELEASED_STATUSES
from crmbridge.sync.links import DealRef, Links
from crmbridge.sync.serial import SerialWriter, serial_key
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
    serial: SerialWriter
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
        ref = self.links.deal_for_invoice(tenant_id, invoice_id)
        if ref is None:
            return self._unlinked_invoice_changed(tenant_id, invoice_id)
        result: dict[str, str] = {}
        ran = self.serial.run(serial_key(tenant_id, "invoice", invoice_id),
                              lambda: result.update(self._write_invoice(tenant_id, invoice_id, ref, balances_only_if_stale)))
        if ran == "handed_over":
            return {"outcome": "handed_over", "invoice_id": invoice_id,
                    "why": "another worker is writing this invoice and reads it again after us"}
        return result

    def _unlinked_invoice_changed(self, tenant_id: str, invoice_id: str) -> dict[str, str]:
        """An invoice the bridge did not create (raised by hand, perhaps with a PO number that looks like a
        deal id): it belongs to no deal, but it moves the balance of its contact, and a contact the bridge
        linked to an organisation (by evidence) shows that balance there."""
        invoice = self.xero.get_invoice(tenant_id, invoice_id)
        linked = self.links.organisation_for_contact(tenant_id, invoice.contact.contact_id) \
            if invoice.type == "ACCREC" and invoice.contact.contact_id else None
        if linked is None:
            return {"outcome": "ignored", "why": "not the bridge's invoice, nor one of a contact it links"}
        assert invoice.contact.contact_id
        self._write_balance(tenant_id, invoice.contact.contact_id, linked[1])
        return {"outcome": "balance_refreshed", "invoice_id": invoice_id, "organisation_id": linked[1]}

    def _write_invoice(self, tenant_id: str, invoice_id: str, ref: DealRef, balances_only_if_stale: bool) -> dict[str, str]:
        """Under the invoice's lease: read it and write its state to the deal unless a newer one is there."""
        invoice = self.xero.get_invoice(tenant_id, invoice_id)
        contact_id = invoice.contact.contact_id or ""
        if invoice.type != "ACCREC":
            return {"outcome": "ignored", "why": "not a sales invoice"}
        updated = (invoice.updated_date_utc or self.clock()).astimezone(UTC).isoformat()
        recorded = self.links.invoice_state(tenant_id, invoice_id)
        if recorded and recorded[0] >= updated:
            if balances_only_if_stale and ref.organisation_id and contact_id:
                # Nothing changed on the invoice, but time made it overdue: the balance moved.
                self._write_balance(tenant_id, contact_id, ref.organisation_id)
                return {"outcome": "balance_refreshed", "invoice_id": invoice_id}
            self.on_metric("StaleEventsDropped", 1)
            return {"outcome": "stale", "invoice_id": invoice_id}
        # The organisation's balance first: whoever sees the deal's new state sees the balance it left.
        if ref.organisation_id and contact_id:
            self._write_balance(tenant_id, contact_id, ref.organisation_id)
        self.crm.write_invoice(ref.deal_id, write_back_of(invoice))
        if invoice.status == "PAID" and (recorded is None or recorded[1] != "PAID") and self.mapping.note_when_paid:
            self.crm.add_deal_note(ref.deal_id, paid_note(invoice))
        if invoice.status in RELEASED_STATUSES and self.links.release_invoice(ref.crm, ref.deal_id, invoice_id):
            logger.info("voided invoice released its deal", extra={"invoice_id": invoice_id, "deal_id": ref.deal_id})
        self.links.advance_invoice_state(tenant_id, invoice_id, updated=updated, status=invoice.status)
        logger.info("invoice state written to the CRM", extra={"invoice_id": invoice_id, "deal_id": ref.deal_id,
                                                                 "status": invoice.status})
        return {"outcome": "written", "deal_id": ref.deal_id, "status": invoice.status}

    def contact_changed(self, tenant_id: str, contact_id: str) -> dict[str, str]:
        link = self.links.organisation_for_contact(tenant_id, contact_id)
        if link is None:
            return {"outcome": "ignored", "why": "contact not linked to an organisation"}
        _, organisation_id = link

        def write() -> None:
            contact = self.xero.get_contact(tenant_id, contact_id)
            if self.mapping.xero_master_fields:
                self.crm.update_organisation(organisation_id, organisation_update(contact, self.mapping.xero_master_fields))
            self._apply_balance(contact, organisation_id)

        ran = self.serial.run(serial_key(tenant_id, "contact", contact_id), write)
        return {"outcome": "written" if ran == "done" else "handed_over", "organisation_id": organisation_id}

    def _write_balance(self, tenant_id: str, contact_id: str, organisation_id: str) -> None:
        """Under the contact's lease, so the last balance written is the last one read."""
        self.serial.run(serial_key(tenant_id, "contact", contact_id),
                        lambda: self._apply_balance(self.xero.get_contact(tenant_id, contact_id), organisation_id))

    def _apply_balance(self, contact: Contact, organisation_id: str) -> None:
        receivable = contact.balances.accounts_receivable if contact.balances else None
        if receivable is None:
            return
        self.crm.write_organisation_balance(organisation_id, OrganisationBalance(
            outstanding=receivable.outstanding, overdue=receivable.overdue,
            on_stop=receivable.overdue > self.mapping.on_stop_overdue_above,
        ))

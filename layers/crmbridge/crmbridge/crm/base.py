"""The one interface the sync uses for every CRM; a new CRM is a new module implementing it."""

from __future__ import annotations

from typing import Protocol

from crmbridge.crm.models import CrmDeal, InvoiceWriteBack, OrganisationBalance, OrganisationUpdate


class Crm(Protocol):
    name: str

    def read_deal(self, deal_id: str) -> CrmDeal:
        """The deal with its lines, organisation and person, re-read from the CRM."""
        ...

    def set_organisation_contact(self, organisation_id: str, xero_contact_id: str) -> None: ...

    def write_invoice(self, deal_id: str, invoice: InvoiceWriteBack) -> None: ...

    def add_deal_note(self, deal_id: str, html: str) -> None: ...

    def write_organisation_balance(self, organisation_id: str, balance: OrganisationBalance) -> None: ...

    def update_organisation(self, organisation_id: str, update: OrganisationUpdate) -> None: ...

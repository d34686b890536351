"""Which Xero contact a won deal is invoiced to: matched on evidence only, never a guess."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from crmbridge.crm.models import CrmDeal
from crmbridge.errors import PermanentError
from crmbridge.mapping.contacts import normalise_company_name
from crmbridge.xero.client import XeroClient
from crmbridge.xero.models import Address, Contact, ContactRef, NewContact


class ContactFinder(Protocol):
    """Where Xero contacts are looked for: Xero itself (one call per question) or an index of them all."""

    def by_email(self, email: str) -> list[Contact]: ...

    def by_name(self, normalised_name: str) -> list[Contact]:
        """Candidates for a normalised company name (the caller keeps exact normalised matches)."""
        ...


@dataclass
class XeroContactFinder:
    xero: XeroClient
    tenant_id: str

    def by_email(self, email: str) -> list[Contact]:
        return self.xero.contacts_by_email(self.tenant_id, email)

    def by_name(self, normalised_name: str) -> list[Contact]:
        return self.xero.search_contacts(self.tenant_id, normalised_name.split()[0])


class ContactIndex:
    """Every contact of an organisation, read once (bulk work: audit, dry runs, backfill)."""

    def __init__(self, contacts: list[Contact]) -> None:
        self._by_email: dict[str, list[Contact]] = {}
        self._by_name: dict[str, list[Contact]] = {}
        for contact in contacts:
            self.add(contact)

    def add(self, contact: Contact) -> None:
        if contact.email_address:
            self._by_email.setdefault(contact.email_address.strip().lower(), []).append(contact)
        self._by_name.setdefault(normalise_company_name(contact.name), []).append(contact)

    def learn(self, contact: ContactRef) -> None:
        """A contact an invoice was just created for (perhaps a new one), so later deals find it."""
        if not (contact.contact_id and contact.name):
            return
        known = self._by_name.get(normalise_company_name(contact.name), [])
        if not any(c.contact_id == contact.contact_id for c in known):
            self.add(Contact(ContactID=contact.contact_id, Name=contact.name, EmailAddress=contact.email_address))

    def by_email(self, email: str) -> list[Contact]:
        return list(self._by_email.get(email.strip().lower(), []))

    def by_name(self, normalised_name: str) -> list[Contact]:
        return list(self._by_name.get(normalised_name, []))

    def all(self) -> list[Contact]:
        return [c for contacts in self._by_name.values() for c in contacts]


def resolve_contact(xero: XeroClient, tenant_id: str, deal: CrmDeal) -> ContactRef | NewContact:
    return resolve_contact_with(XeroContactFinder(xero, tenant_id), deal)


def resolve_contact_with(finder: ContactFinder, deal: CrmDeal) -> ContactRef | NewContact:
    """The Xero contact to invoice: stored ContactID, else by email, else by normalised name, else new."""
    org = deal.organisation
    assert org is not None
    if org.xero_contact_id:
        return ContactRef(ContactID=org.xero_contact_id)
    wanted = normalise_company_name(org.name)
    email = org.email or (deal.person.email if deal.person else None)
    if email:
        by_email = [c for c in finder.by_email(email) if c.contact_status != "ARCHIVED"]
        if len(by_email) > 1:
            by_email = [c for c in by_email if normalise_company_name(c.name) == wanted] or by_email
        if len(by_email) == 1:
            return ContactRef(ContactID=by_email[0].contact_id)
        if len(by_email) > 1:
            raise PermanentError("ambiguous_contact",
                                 f"{len(by_email)} Xero contacts have the email {email}; set the Xero contact ID on the organisation")
    if wanted:
        by_name = [c for c in finder.by_name(wanted)
                   if c.contact_status != "ARCHIVED" and normalise_company_name(c.name) == wanted]
        if len(by_name) == 1:
            return ContactRef(ContactID=by_name[0].contact_id)
        if len(by_name) > 1:
            raise PermanentError("ambiguous_contact",
                                 f"{len(by_name)} Xero contacts match the name {org.name!r}; set the Xero contact ID on the organisation")
    address = org.address
    return NewContact(
        Name=org.name, EmailAddress=email,
        Addresses=[Address(AddressLine1=address.line1, City=address.city, PostalCode=address.postal_code,
                           Country=address.country)] if address else None,
    )

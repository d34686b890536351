"""Which Xero contact a won deal is invoiced to: matched on evidence only, never a guess.

Evidence, strongest first: the Xero ContactID stored on the CRM organisation; an exact email (trimmed,
case-insensitive); an exact company name once normalised (mapping.contacts, which keeps every letter
of every script). Archived contacts are never used; a merged one stands for the contact it was
merged into. When the evidence names two live contacts, no one is picked: the deal fails with
`contact_decision_needed`, naming the candidates, until a person settles it with
`bridgectl contact use DEAL_ID XERO_CONTACT_ID` (or sets the ContactID on the organisation).

The email is stronger than the name: an email matching one contact wins even when that contact's name
differs from the organisation's (companies are renamed; the billing address is what finance keys on),
and a name never overrides it. Without any evidence a new contact is created with the invoice.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from crmbridge.crm.models import CrmDeal
from crmbridge.errors import PermanentError
from crmbridge.mapping.contacts import normalise_company_name, search_word
from crmbridge.xero.client import XeroClient
from crmbridge.xero.models import Address, Contact, ContactRef, NewContact

DECISION_NEEDED = "contact_decision_needed"
# Statuses a contact cannot be invoiced in: archived (merged ones too), and being erased on request.
NOT_LIVE = frozenset({"ARCHIVED", "GDPRREQUEST"})
_MAX_MERGE_HOPS = 10
_MAX_NAMED = 10  # candidates named in a failure's message (ops reads it in status; audit lists them all)


class ContactFinder(Protocol):
    """Where Xero contacts are looked for: Xero itself (one call per question) or an index of them all."""

    def by_email(self, email: str) -> list[Contact]:
        """Candidates for an email (the caller keeps the exact matches)."""
        ...

    def by_name(self, name: str) -> list[Contact]:
        """Candidates for a company name as written (the caller keeps exact normalised matches)."""
        ...

    def by_id(self, contact_id: str) -> Contact | None:
        """One contact, archived or merged ones included; None when Xero has none by that id."""
        ...

    def held(self, contact_id: str) -> Contact | None:
        """The contact if the finder already holds it, without a call of its own (else None)."""
        ...


@dataclass
class XeroContactFinder:
    xero: XeroClient
    tenant_id: str

    def by_email(self, email: str) -> list[Contact]:
        # searchTerm is case-insensitive over EmailAddress (spec); how a `where` equality treats case
        # is not documented.
        return self.xero.search_contacts(self.tenant_id, email.strip())

    def by_name(self, name: str) -> list[Contact]:
        # searchTerm is a case-insensitive text search of Name (spec), so any script can be looked up
        # by one of the name's own words as written; only exact normalised matches are kept after.
        word = search_word(name)
        return self.xero.search_contacts(self.tenant_id, word) if word else []

    def by_id(self, contact_id: str) -> Contact | None:
        try:
            return self.xero.get_contact(self.tenant_id, contact_id)
        except PermanentError as exc:
            if exc.reason == "xero_404":
                return None
            raise

    def held(self, contact_id: str) -> Contact | None:
        # A stored ContactID is used as it is: checking it would cost a call per invoice, and Xero
        # refuses an invoice to an archived contact itself (a recorded failure, never a wrong customer).
        return None


class ContactIndex:
    """Every contact of an organisation, read once (bulk work: audit, dry runs, backfill)."""

    def __init__(self, contacts: list[Contact]) -> None:
        self._by_id: dict[str, Contact] = {}
        self._by_email: dict[str, list[Contact]] = {}
        self._by_name: dict[str, list[Contact]] = {}
        for contact in contacts:
            self.add(contact)

    def add(self, contact: Contact) -> None:
        self._by_id[contact.contact_id] = contact
        if contact.email_address:
            self._by_email.setdefault(_email_key(contact.email_address), []).append(contact)
        if name := normalise_company_name(contact.name):
            self._by_name.setdefault(name, []).append(contact)

    def learn(self, contact: ContactRef) -> None:
        """A contact an invoice was just created for (perhaps a new one), so later deals find it."""
        if contact.contact_id and contact.name and contact.contact_id not in self._by_id:
            self.add(Contact(ContactID=contact.contact_id, Name=contact.name, EmailAddress=contact.email_address))

    def by_email(self, email: str) -> list[Contact]:
        return list(self._by_email.get(_email_key(email), []))

    def by_name(self, name: str) -> list[Contact]:
        return list(self._by_name.get(normalise_company_name(name), []))

    def by_id(self, contact_id: str) -> Contact | None:
        return self._by_id.get(contact_id)

    def held(self, contact_id: str) -> Contact | None:
        return self._by_id.get(contact_id)


def _email_key(email: str) -> str:
    return email.strip().lower()


def survivor(finder: ContactFinder, contact: Contact) -> Contact | None:
    """The live contact this one stands for: itself, or the one it was merged into (followed through
    chains of merges); None when that is archived, unknown or a loop."""
    seen = {contact.contact_id}
    while contact.merged_to_contact_id:
        merged_into = finder.by_id(contact.merged_to_contact_id)
        if merged_into is None or merged_into.contact_id in seen or len(seen) > _MAX_MERGE_HOPS:
            return None
        seen.add(merged_into.contact_id)
        contact = merged_into
    return None if contact.contact_status in NOT_LIVE else contact


def _live(finder: ContactFinder, candidates: list[Contact]) -> list[Contact]:
    """The live contacts the candidates stand for, each once."""
    out: dict[str, Contact] = {}
    for candidate in candidates:
        if (live := survivor(finder, candidate)) is not None:
            out.setdefault(live.contact_id, live)
    return list(out.values())


def decision_needed(deal: CrmDeal, why: str, candidates: list[Contact]) -> PermanentError:
    """The deal cannot be invoiced until a person chooses its contact: what to choose from, and how."""
    named = "; ".join(f"{c.contact_id} {c.name!r}" for c in candidates[:_MAX_NAMED])
    if len(candidates) > _MAX_NAMED:
        named += f"; and {len(candidates) - _MAX_NAMED} more"
    return PermanentError(
        DECISION_NEEDED,
        f"{why}{': ' + named if named else ''}. Choose the contact with `bridgectl contact use {deal.id} "
        "XERO_CONTACT_ID` (or set the Xero contact ID on the organisation); the deal is then invoiced",
        details={"candidates": [{"ContactID": c.contact_id, "Name": c.name} for c in candidates]},
    )


def resolve_contact(xero: XeroClient, tenant_id: str, deal: CrmDeal) -> ContactRef | NewContact:
    return resolve_contact_with(XeroContactFinder(xero, tenant_id), deal)


def resolve_contact_with(finder: ContactFinder, deal: CrmDeal) -> ContactRef | NewContact:
    """The Xero contact to invoice: the stored ContactID, else the one contact with the email, else the
    one with the normalised name, else a new one; a PermanentError(contact_decision_needed) when the
    evidence names several."""
    org = deal.organisation
    assert org is not None
    if org.xero_contact_id:
        return _stored(finder, deal, org.xero_contact_id)
    email = (org.email or (deal.person.email if deal.person else None) or "").strip()
    if email:
        found = _live(finder, [c for c in finder.by_email(email)
                               if c.email_address and _email_key(c.email_address) == _email_key(email)])
        if len(found) == 1:
            return ContactRef(ContactID=found[0].contact_id)
        if found:
            raise decision_needed(deal, f"{len(found)} Xero contacts have the email {email}", found)
    wanted = normalise_company_name(org.name)
    if wanted:  # a name with no letter or digit is no evidence of anything
        found = _live(finder, [c for c in finder.by_name(org.name) if normalise_company_name(c.name) == wanted])
        if len(found) == 1:
            return ContactRef(ContactID=found[0].contact_id)
        if found:
            raise decision_needed(deal, f"{len(found)} Xero contacts have the name {org.name!r} once normalised",
                                  found)
    address = org.address
    return NewContact(
        Name=org.name, EmailAddress=email or None,
        Addresses=[Address(AddressLine1=address.line1, City=address.city, PostalCode=address.postal_code,
                           Country=address.country)] if address else None,
    )


def _stored(finder: ContactFinder, deal: CrmDeal, contact_id: str) -> ContactRef:
    held = finder.held(contact_id)
    if held is None:
        return ContactRef(ContactID=contact_id)
    live = survivor(finder, held)
    if live is None:
        raise decision_needed(deal, f"the organisation's Xero contact {contact_id} {held.name!r} is archived in Xero "
                                    "(restore it there, or choose another)", [])
    return ContactRef(ContactID=live.contact_id)

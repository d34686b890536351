"""`bridgectl audit`: what to clean before going live, read from the CRM and Xero (nothing is changed).

Checks, each with a count and examples:
- duplicate_organisations: CRM organisations that look like one customer (the same normalised name,
  or the same email domain, personal mail domains aside);
- missing_invoice_data: organisations without what an invoice needs (a billing email, from the
  organisation or one of its persons; an address; a country, which decides the tax) and persons
  without an email;
- unmapped_products: CRM products no rule of the mapping document matches (they fall back to the
  default account, or fail when there is none);
- ambiguous_contacts: organisations that would match more than one Xero contact (the sync refuses
  them until someone chooses one: `bridgectl contact use`, or the Xero contact ID on the organisation);
- xero_duplicates: organisations the sync would create a new Xero contact for although a contact that
  looks like the same customer exists (a similar name, accents aside, or the same email domain).
The contact rules are the sync's own (sync.contacts.resolve_contact_with) over every Xero contact.
"""

from __future__ import annotations

import csv
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import IO

from crmbridge.crm.directory import ListedPerson, ListedProduct
from crmbridge.crm.models import CrmDeal, CrmOrganisation, CrmPerson
from crmbridge.errors import PermanentError
from crmbridge.mapping.config import MappingConfig, country_code
from crmbridge.mapping.contacts import normalise_company_name
from crmbridge.ops.common import ProgressFn, no_progress
from crmbridge.ops.golive import GoLive
from crmbridge.sync.contacts import DECISION_NEEDED, ContactIndex, resolve_contact_with
from crmbridge.xero.models import Contact, NewContact

CHECKS = {
    "duplicate_organisations": "CRM organisations that look like duplicates",
    "missing_invoice_data": "Organisations and persons missing what an invoice needs",
    "unmapped_products": "Products with no mapping rule",
    "ambiguous_contacts": "Organisations matching more than one Xero contact",
    "xero_duplicates": "Xero contacts the sync would duplicate",
}
# Mail domains many unrelated customers share: never a sign of one customer.
PERSONAL_DOMAINS = frozenset({
    "gmail.com", "googlemail.com", "outlook.com", "hotmail.com", "hotmail.co.uk", "live.com", "live.co.uk",
    "msn.com", "yahoo.com", "yahoo.co.uk", "icloud.com", "me.com", "mac.com", "aol.com", "proton.me",
    "protonmail.com", "gmx.com", "gmx.de", "web.de", "mail.com", "btinternet.com", "sky.com",
})


@dataclass
class AuditFinding:
    check: str
    subject: str
    detail: str
    crm_ids: list[str] = field(default_factory=list)
    xero_contact_ids: list[str] = field(default_factory=list)


@dataclass
class AuditReport:
    organisations: int
    persons: int
    products: int
    xero_contacts: int
    findings: list[AuditFinding] = field(default_factory=list)

    @property
    def counts(self) -> dict[str, int]:
        return {check: sum(1 for f in self.findings if f.check == check) for check in CHECKS}


def email_domain(email: str | None) -> str | None:
    if not email or "@" not in email:
        return None
    domain = email.rsplit("@", 1)[1].strip().lower()
    return None if not domain or domain in PERSONAL_DOMAINS else domain


def billing_email(org: CrmOrganisation, persons: list[ListedPerson]) -> str | None:
    """The address an invoice would go to: the organisation's, else its first person's (as the sync)."""
    return org.email or next((p.email for p in persons if p.email), None)


def _label(org: CrmOrganisation) -> str:
    return f"{org.name} ({org.id})"


def duplicate_organisations(orgs: list[CrmOrganisation], persons: dict[str, list[ListedPerson]]) -> list[AuditFinding]:
    """Groups of organisations with one normalised name, or one (business) email domain."""
    by_name: dict[str, list[CrmOrganisation]] = {}
    by_domain: dict[str, list[CrmOrganisation]] = {}
    for org in orgs:
        name = normalise_company_name(org.name)
        if name:
            by_name.setdefault(name, []).append(org)
        domains = {email_domain(org.email)} | {email_domain(p.email) for p in persons.get(org.id, [])}
        for domain in domains - {None}:
            by_domain.setdefault(domain, []).append(org)  # type: ignore[arg-type]
    findings = []
    seen: set[frozenset[str]] = set()
    for why, groups in (("the same name once normalised", by_name), ("the same email domain", by_domain)):
        for key, group in sorted(groups.items()):
            ids = frozenset(o.id for o in group)
            if len(ids) < 2 or ids in seen:
                continue
            seen.add(ids)
            findings.append(AuditFinding(
                "duplicate_organisations", ", ".join(_label(o) for o in group),
                f"{len(group)} organisations with {why} ({key!r}): merge them in the CRM",
                crm_ids=sorted(ids)))
    return findings


def missing_invoice_data(orgs: list[CrmOrganisation], persons: dict[str, list[ListedPerson]],
                         all_persons: list[ListedPerson]) -> list[AuditFinding]:
    findings = []
    for org in orgs:
        missing = []
        if not billing_email(org, persons.get(org.id, [])):
            missing.append("billing email (on the organisation or a person)")
        address = org.address
        if not address or not (address.line1 or address.city or address.postal_code):
            missing.append("address")
        if not (address and address.country):
            missing.append("country (decides the tax)")
        elif not country_code(address.country):
            missing.append(f"a country the mapping understands (has {address.country!r}; use an ISO code such as GB)")
        if missing:
            findings.append(AuditFinding("missing_invoice_data", f"organisation {_label(org)}",
                                         "missing " + ", ".join(missing), crm_ids=[org.id]))
    for person in all_persons:
        if not person.email:
            findings.append(AuditFinding("missing_invoice_data", f"person {person.name} ({person.id})",
                                         "missing email", crm_ids=[person.id]))
    return findings


def unmapped_products(products: Iterable[ListedProduct], mapping: MappingConfig) -> list[AuditFinding]:
    fallback = (f"falls back to the default account {mapping.default_account_code}" if mapping.default_account_code
                else "deals with it fail until a rule is added (no default account)")
    findings = []
    for product in products:
        matched = any((rule.product_code and rule.product_code == product.code)
                      or (rule.product_id and rule.product_id == product.id)
                      or (rule.name and rule.name == product.name) for rule in mapping.products)
        if not matched:
            findings.append(AuditFinding("unmapped_products", f"product {product.name} ({product.code or product.id})",
                                         f"no mapping rule: {fallback}", crm_ids=[product.id]))
    return findings


def _loose(name: str) -> str:
    """A normalised name without its accents ("Café" looks like "Cafe"): only ever to warn, never to match."""
    return normalise_company_name("".join(c for c in unicodedata.normalize("NFKD", name) if not unicodedata.combining(c)))


def _similar(name: str, other: str) -> bool:
    """Normalised names that are one company's: equal without spaces, or one the other's leading words."""
    if not name or not other:
        return False
    if name.replace(" ", "") == other.replace(" ", ""):
        return True
    shorter, longer = sorted((name, other), key=len)
    return longer.startswith(shorter + " ")


def contact_findings(orgs: list[CrmOrganisation], persons: dict[str, list[ListedPerson]],
                     contacts: list[Contact]) -> list[AuditFinding]:
    """Ambiguous matches, and new contacts that would duplicate an existing one."""
    index = ContactIndex(contacts)
    live = [c for c in contacts if c.contact_status != "ARCHIVED"]
    findings = []
    for org in orgs:
        email = billing_email(org, persons.get(org.id, []))
        deal = CrmDeal(id="audit", title="audit", status="won", currency="GBP", organisation=org,
                       person=CrmPerson(id="-", email=email) if email and not org.email else None)
        try:
            contact = resolve_contact_with(index, deal)
        except PermanentError as exc:
            if exc.reason != DECISION_NEEDED:
                raise
            candidates = exc.details.get("candidates")
            ids = [str(c["ContactID"]) for c in candidates] if isinstance(candidates, list) else []
            findings.append(AuditFinding("ambiguous_contacts", f"organisation {_label(org)}", exc.message,
                                         crm_ids=[org.id], xero_contact_ids=ids))
            continue
        if not isinstance(contact, NewContact):
            continue
        # Look-alikes only warn (a person decides); the sync never matches on them.
        wanted = _loose(org.name)
        domain = email_domain(email)
        lookalikes = [c for c in live if _similar(wanted, _loose(c.name))
                      or (domain and email_domain(c.email_address) == domain)]
        if lookalikes:
            findings.append(AuditFinding(
                "xero_duplicates", f"organisation {_label(org)}",
                f"the sync would create a new Xero contact {org.name!r}, but Xero has "
                + ", ".join(f"{c.name!r}" + (f" <{c.email_address}>" if c.email_address else "") for c in lookalikes)
                + ": set the organisation's Xero contact ID, or align the names/emails",
                crm_ids=[org.id], xero_contact_ids=[c.contact_id for c in lookalikes]))
    return findings


def audit(golive: GoLive, *, progress: ProgressFn = no_progress) -> AuditReport:
    crm = golive.crm
    orgs = list(crm.organisations())
    progress(1, 4)
    all_persons = list(crm.persons())
    persons: dict[str, list[ListedPerson]] = {}
    for person in all_persons:
        if person.organisation_id:
            persons.setdefault(person.organisation_id, []).append(person)
    products = list(crm.products())
    progress(2, 4)
    contacts = golive.xero.contacts(golive.tenant_id)
    progress(3, 4)
    report = AuditReport(organisations=len(orgs), persons=len(all_persons), products=len(products),
                         xero_contacts=len(contacts))
    report.findings = (duplicate_organisations(orgs, persons) + missing_invoice_data(orgs, persons, all_persons)
                       + unmapped_products(products, golive.mapping) + contact_findings(orgs, persons, contacts))
    progress(4, 4)
    return report


def write_csv(report: AuditReport, out: IO[str]) -> None:
    writer = csv.writer(out)
    writer.writerow(["check", "subject", "detail", "crm_ids", "xero_contact_ids"])
    for f in report.findings:
        writer.writerow([f.check, f.subject, f.detail, " ".join(f.crm_ids), " ".join(f.xero_contact_ids)])

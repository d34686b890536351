"""Audit checks over CRM organisations, persons, products and Xero contacts (pure functions)."""

from __future__ import annotations

import io

from crmbridge.crm.directory import ListedPerson, ListedProduct
from crmbridge.crm.models import CrmAddress, CrmOrganisation
from crmbridge.mapping.config import MappingConfig
from crmbridge.ops.audit import (
    AuditReport,
    contact_findings,
    duplicate_organisations,
    missing_invoice_data,
    unmapped_products,
    write_csv,
)
from crmbridge.xero.models import Contact

UK = CrmAddress(line1="1 High St", city="Leeds", country="United Kingdom")


def org(id_: str, name: str, email: str | None = None, address: CrmAddress | None = UK) -> CrmOrganisation:
    return CrmOrganisation(id=id_, name=name, email=email, address=address)


def test_organisations_with_one_normalised_name_are_duplicates():
    found = duplicate_organisations([org("1", "ACME Ltd"), org("2", "Acme Limited"), org("3", "Other plc")], {})
    assert [f.crm_ids for f in found] == [["1", "2"]]


def test_organisations_sharing_a_business_email_domain_are_duplicates():
    persons = {"2": [ListedPerson(id="p", email="bob@initech.com", organisation_id="2")]}
    found = duplicate_organisations([org("1", "Initech", "ap@initech.com"), org("2", "Initrode", None)], persons)
    assert [f.crm_ids for f in found] == [["1", "2"]]


def test_personal_mail_domains_are_not_a_sign_of_one_customer():
    found = duplicate_organisations([org("1", "Alpha", "a@gmail.com"), org("2", "Beta", "b@gmail.com")], {})
    assert found == []


def test_an_organisation_without_email_address_or_country_is_reported_with_what_it_lacks():
    [finding] = missing_invoice_data([org("1", "Bare", None, None)], {}, [])
    assert "billing email" in finding.detail and "address" in finding.detail and "country" in finding.detail


def test_a_persons_email_is_enough_for_billing():
    persons = {"1": [ListedPerson(id="p", email="pat@x.test", organisation_id="1")]}
    assert missing_invoice_data([org("1", "Has person")], persons, list(persons["1"])) == []


def test_a_country_the_mapping_cannot_read_is_reported():
    [finding] = missing_invoice_data([org("1", "Odd", "a@b.test", CrmAddress(line1="x", country="Narnia"))], {}, [])
    assert "Narnia" in finding.detail


def test_products_without_a_rule_are_unmapped():
    mapping = MappingConfig(default_account_code=None, products=[{"product_code": "LIC"}, {"name": "Support"}])
    products = [ListedProduct(id="1", name="Licence", code="LIC"), ListedProduct(id="2", name="Support"),
                ListedProduct(id="3", name="Mystery", code="MYS")]
    [finding] = unmapped_products(products, mapping)
    assert finding.crm_ids == ["3"] and "fail" in finding.detail


def test_an_organisation_matching_two_xero_contacts_is_ambiguous():
    contacts = [Contact(ContactID="x1", Name="Hooli", EmailAddress="ap@hooli.test"),
                Contact(ContactID="x2", Name="Hooli XYZ", EmailAddress="ap@hooli.test")]
    [finding] = contact_findings([org("1", "Hooli Holdings", "ap@hooli.test")], {}, contacts)
    assert finding.check == "ambiguous_contacts" and sorted(finding.xero_contact_ids) == ["x1", "x2"]


def test_a_new_contact_that_looks_like_an_existing_one_would_be_a_duplicate():
    contacts = [Contact(ContactID="x1", Name="Vandelay Industries Ltd")]
    [finding] = contact_findings([org("1", "Vandelay", "art@vandelay.test")], {}, contacts)
    assert finding.check == "xero_duplicates" and finding.xero_contact_ids == ["x1"]


def test_a_name_differing_only_by_accents_is_warned_of_not_matched():
    # Given Xero has "Cafe Nero Ltd" and the CRM's organisation is "Café Nero"
    contacts = [Contact(ContactID="x1", Name="Cafe Nero Ltd")]
    # When audited, Then the sync would create a new contact, and the look-alike is pointed out
    [finding] = contact_findings([org("1", "Café Nero", "hello@cafenero.test")], {}, contacts)
    assert finding.check == "xero_duplicates" and finding.xero_contact_ids == ["x1"]


def test_an_organisation_that_finds_its_contact_is_clean():
    contacts = [Contact(ContactID="x1", Name="Acme Ltd", EmailAddress="ap@acme.test")]
    assert contact_findings([org("1", "Acme Limited", "ap@acme.test")], {}, contacts) == []


def test_the_csv_has_one_row_per_finding():
    report = AuditReport(organisations=2, persons=0, products=0, xero_contacts=0,
                         findings=duplicate_organisations([org("1", "A Ltd"), org("2", "A Limited")], {}))
    out = io.StringIO()
    write_csv(report, out)
    rows = out.getvalue().strip().splitlines()
    assert rows[0].startswith("check,subject") and len(rows) == 2 and rows[1].startswith("duplicate_organisations")

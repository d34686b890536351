"""Contacts are matched on evidence only: the stored ContactID, an exact email, an exact name once
normalised (every letter of every script kept). Look-alikes get a new contact; ambiguity waits for a
person (`bridgectl contact use`), who is listed by `bridgectl status`."""
# ruff: noqa: RUF001  (look-alike letters of other scripts are what these tests are about)

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from crmbridge.commands import DealWon, QueueMessage
from crmbridge.crm.models import CrmDeal, CrmOrganisation
from crmbridge.errors import PermanentError
from crmbridge.mapping.contacts import normalise_company_name
from crmbridge.ops import status
from crmbridge.ops.common import OpsError
from crmbridge.ops.contact_decision import use_contact
from crmbridge.sync.contacts import ContactIndex, XeroContactFinder, resolve_contact_with
from crmbridge.sync.history import SyncHistory
from crmbridge.sync.records import SyncRecords
from crmbridge.xero.models import Contact, ContactRef, NewContact
from tests.unit.test_ops_fakes import FakeSqs, fake_target, standard_tables

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
TENANT = "tenant-1"
# Xero ContactIDs are UUIDs.
C1, C2, C3 = ("11111111-1111-4111-8111-111111111111", "22222222-2222-4222-8222-222222222222",
              "33333333-3333-4333-8333-333333333333")


class FakeXeroContacts:
    """Xero's Contacts as the spec describes them: searchTerm is a case-insensitive text search of Name
    and EmailAddress that leaves archived contacts out; GET Contacts/{id} returns any contact, with
    MergedToContactID, and 404 for an unknown id."""

    def __init__(self, *contacts: Contact) -> None:
        self.contacts = {c.contact_id: c for c in contacts}
        self.calls: list[str] = []

    def search_contacts(self, tenant_id: str, term: str) -> list[Contact]:
        self.calls.append(f"search {term}")
        wanted = term.lower()
        return [c for c in self.contacts.values() if c.contact_status != "ARCHIVED"
                and any(wanted in (field or "").lower() for field in (c.name, c.email_address))]

    def get_contact(self, tenant_id: str, contact_id: str) -> Contact:
        self.calls.append(f"get {contact_id}")
        if contact_id not in self.contacts:
            raise PermanentError("xero_404", "xero answered 404 to GET Contacts/{id}")
        return self.contacts[contact_id]


def deal(name: str, *, email: str | None = None, contact_id: str | None = None, deal_id: str = "7") -> CrmDeal:
    return CrmDeal(id=deal_id, title="t", status="won", currency="GBP",
                   organisation=CrmOrganisation(id="o1", name=name, email=email, xero_contact_id=contact_id))


def through_xero(*contacts: Contact) -> XeroContactFinder:
    return XeroContactFinder(FakeXeroContacts(*contacts), TENANT)  # type: ignore[arg-type]


LOOK_ALIKES = [("Acme 中国", "Acme 日本"), ("Ωmega Ltd", "Mega Ltd"), ("Øster Ltd", "Ster Limited"),
               ("ООО Ромашка", "ООО Лютик"), ("Café Nero Ltd", "Cafe Nero")]


# ----------------------------------------------------------------------------- normalisation


@pytest.mark.parametrize("ours, theirs", LOOK_ALIKES)
def test_look_alike_names_in_any_script_normalise_apart(ours, theirs):
    assert normalise_company_name(ours) != normalise_company_name(theirs)


@pytest.mark.parametrize("a, b", [("ООО «Ромашка»", "ооо ромашка"), ("ΩΜΈΓΑ Ltd", "Ωμέγα Limited"),
                                  ("ACME 中国 Ltd", "Acme 中国"), ("Straße GmbH", "STRASSE"),
                                  ("Ａｃｍｅ Pty Ltd", "acme"), ("Novo Nordisk A/S", "novo nordisk")])
def test_one_name_written_differently_normalises_alike(a, b):
    assert normalise_company_name(a) == normalise_company_name(b) != ""


def test_a_cyrillic_name_keeps_its_letters():
    assert normalise_company_name("ООО Ромашка") == "ооо ромашка"


# ----------------------------------------------------------------------------- names


@pytest.mark.parametrize("ours, theirs", LOOK_ALIKES)
def test_a_look_alike_xero_contact_is_not_invoiced_a_new_contact_is(ours, theirs):
    # Given Xero holds only a contact whose name looks like the organisation's
    finder = through_xero(Contact(ContactID=C1, Name=theirs))
    # When the deal's contact is resolved
    contact = resolve_contact_with(finder, deal(ours))
    # Then a new contact with the organisation's own name is created with the invoice
    assert isinstance(contact, NewContact) and contact.name == ours


@pytest.mark.parametrize("ours, theirs", [("ООО «Ромашка»", "ООО Ромашка"), ("ACME Ltd", "Acme Limited"),
                                          ("Acme 中国 Limited", "ACME 中国"), ("ΩΜΈΓΑ Ltd", "Ωμέγα")])
def test_the_same_name_finds_its_xero_contact_through_xero_search(ours, theirs):
    # Given Xero holds the customer, with the same name written differently, and a look-alike
    finder = through_xero(Contact(ContactID=C1, Name=theirs), Contact(ContactID=C2, Name=f"{theirs} Holdings"))
    # When resolved, Then the invoice goes to that contact
    assert resolve_contact_with(finder, deal(ours)) == ContactRef(ContactID=C1)


def test_a_name_without_letters_matches_nothing():
    # Given an organisation and a Xero contact whose names are only punctuation
    finder = through_xero(Contact(ContactID=C1, Name="—!"))
    # When resolved, Then no search is made and a new contact is created
    contact = resolve_contact_with(finder, deal("—"))
    assert isinstance(contact, NewContact) and finder.xero.calls == []  # type: ignore[attr-defined]


def test_two_contacts_sharing_the_name_need_a_decision_naming_both():
    # Given two live Xero contacts with one normalised name
    finder = through_xero(Contact(ContactID=C1, Name="Acme Ltd"), Contact(ContactID=C2, Name="ACME Limited"))
    # When deal 7 of "Acme" is resolved
    with pytest.raises(PermanentError) as err:
        resolve_contact_with(finder, deal("Acme"))
    # Then nothing is guessed: ops is told both candidates and how to choose
    assert err.value.reason == "contact_decision_needed"
    assert C1 in err.value.message and C2 in err.value.message and "'ACME Limited'" in err.value.message
    assert "bridgectl contact use 7 XERO_CONTACT_ID" in err.value.message


# ----------------------------------------------------------------------------- emails


def test_two_contacts_sharing_the_email_need_a_decision_naming_both():
    finder = through_xero(Contact(ContactID=C1, Name="Hooli UK Ltd", EmailAddress="ap@hooli.test"),
                          Contact(ContactID=C2, Name="Hooli Inc", EmailAddress="AP@hooli.test"))
    with pytest.raises(PermanentError) as err:
        resolve_contact_with(finder, deal("Hooli UK Ltd", email=" ap@hooli.test"))
    assert err.value.reason == "contact_decision_needed"
    assert [c["ContactID"] for c in err.value.details["candidates"]] == [C1, C2]  # type: ignore[union-attr]
    assert "2 Xero contacts have the email ap@hooli.test" in err.value.message


def test_the_email_wins_over_another_contact_with_the_name():
    # Given the organisation's email is one contact's (renamed since) and its name another's
    finder = through_xero(Contact(ContactID=C1, Name="Initech (old name)", EmailAddress="ap@initech.test"),
                          Contact(ContactID=C2, Name="Initech Ltd"))
    # When resolved, Then the email's contact is invoiced
    assert resolve_contact_with(finder, deal("Initech", email="AP@Initech.test")) == ContactRef(ContactID=C1)


def test_an_email_merely_containing_the_organisations_is_no_evidence():
    # Given Xero's contains search finds cap@acme.test for ap@acme.test
    finder = through_xero(Contact(ContactID=C1, Name="Capco", EmailAddress="cap@acme.test"))
    # When resolved, Then Capco is not invoiced
    assert isinstance(resolve_contact_with(finder, deal("Acme", email="ap@acme.test")), NewContact)


# ----------------------------------------------------------------------------- archived, merged, stored


def test_archived_contacts_are_never_matched():
    index = ContactIndex([Contact(ContactID=C1, Name="Acme Ltd", EmailAddress="ap@acme.test", ContactStatus="ARCHIVED")])
    assert isinstance(resolve_contact_with(index, deal("Acme Ltd", email="ap@acme.test")), NewContact)


def test_a_merged_contact_stands_for_the_one_it_was_merged_into():
    # Given the email's contact was merged in Xero into a contact with another name
    index = ContactIndex([
        Contact(ContactID=C1, Name="Acme (dup)", EmailAddress="ap@acme.test", ContactStatus="ARCHIVED",
                MergedToContactID=C2),
        Contact(ContactID=C2, Name="Acme Group Ltd")])
    # When resolved, Then the survivor is invoiced
    assert resolve_contact_with(index, deal("Acme", email="ap@acme.test")) == ContactRef(ContactID=C2)


def test_a_stored_contact_id_is_used_without_a_call():
    finder = through_xero(Contact(ContactID=C1, Name="Someone else"))
    assert resolve_contact_with(finder, deal("Acme", contact_id=C3)) == ContactRef(ContactID=C3)
    assert finder.xero.calls == []  # type: ignore[attr-defined]


def test_a_stored_contact_that_was_archived_needs_a_decision():
    index = ContactIndex([Contact(ContactID=C1, Name="Acme Ltd", ContactStatus="ARCHIVED"),
                          Contact(ContactID=C2, Name="Acme Ltd")])
    with pytest.raises(PermanentError) as err:
        resolve_contact_with(index, deal("Acme Ltd", contact_id=C1))
    assert err.value.reason == "contact_decision_needed" and "archived" in err.value.message


# ----------------------------------------------------------------------------- bridgectl contact use, status


class FakeCrm:
    name = "pipedrive"

    def __init__(self, *deals: CrmDeal) -> None:
        self.deals = {d.id: d for d in deals}
        self.contact_of: dict[str, str] = {}

    def read_deal(self, deal_id: str) -> CrmDeal:
        return self.deals[deal_id]

    def set_organisation_contact(self, organisation_id: str, xero_contact_id: str) -> None:
        self.contact_of[organisation_id] = xero_contact_id


@pytest.fixture
def tables():
    return standard_tables()


def test_contact_use_sets_the_contact_records_the_decision_and_enqueues_the_deal(tables):
    # Given deal 7 failed for want of a contact decision
    won = DealWon(crm="pipedrive", deal_id="7", won_time="2026-03-01T09:00:00Z")
    SyncRecords(tables["LinksTable"]).failed(won, PermanentError("contact_decision_needed", "two"), at=NOW)
    sqs, crm = FakeSqs("sync", "dlq"), FakeCrm(deal("Hooli", email="ap@hooli.test"))
    finder = through_xero(Contact(ContactID=C1, Name="Hooli UK Ltd"), Contact(ContactID=C2, Name="Hooli Inc"))
    # When ops chooses Hooli Inc
    decision = use_contact(fake_target(sqs, tables), crm, finder, "7", C2, now=NOW)  # type: ignore[arg-type]
    # Then the organisation carries its ContactID, the history says so, and the deal is on the queue again
    assert crm.contact_of == {"o1": C2} and decision.contact_name == "Hooli Inc"
    [entry] = SyncHistory(tables["SyncHistoryTable"]).entries("deal#pipedrive#7")
    assert entry["outcome"] == "decided" and entry["summary"]["xero_contact_id"] == C2
    [sent] = sqs.bodies("sync")
    assert QueueMessage.model_validate_json(sent).command == DealWon(
        crm="pipedrive", deal_id="7", won_time=won.won_time, resync=True)


def test_contact_use_follows_a_merge_to_the_survivor(tables):
    crm = FakeCrm(deal("Acme"))
    finder = through_xero(Contact(ContactID=C1, Name="Acme (dup)", ContactStatus="ARCHIVED", MergedToContactID=C2),
                          Contact(ContactID=C2, Name="Acme Ltd"))
    decision = use_contact(fake_target(tables=tables), crm, finder, "7", C1, now=NOW)  # type: ignore[arg-type]
    assert crm.contact_of == {"o1": C2} and "merged into it" in decision.summary


@pytest.mark.parametrize("chosen, why", [(C1, "archived"), (C3, "no contact"), ("not-an-id", "not a deal id")])
def test_contact_use_refuses_what_cannot_be_invoiced_and_changes_nothing(tables, chosen, why):
    sqs, crm = FakeSqs("sync", "dlq"), FakeCrm(deal("Acme"))
    finder = through_xero(Contact(ContactID=C1, Name="Acme Ltd", ContactStatus="ARCHIVED"))
    with pytest.raises(OpsError) as err:
        use_contact(fake_target(sqs, tables), crm, finder, "7", chosen, now=NOW)  # type: ignore[arg-type]
    assert why in err.value.message and crm.contact_of == {} and sqs.bodies("sync") == []


def test_status_lists_the_deals_needing_a_contact_decision(tables):
    records = SyncRecords(tables["LinksTable"])
    records.failed(DealWon(crm="pipedrive", deal_id="7"), PermanentError("contact_decision_needed", "two"), at=NOW)
    records.failed(DealWon(crm="pipedrive", deal_id="8"), PermanentError("no_organisation", "none"), at=NOW)
    report = status.collect_status(fake_target(tables=tables), now=NOW)
    assert [f.label for f in report.contact_decisions] == ["deal 7 (pipedrive)"]
    assert any("1 deal(s) need a contact decision (deal 7 (pipedrive))" in n and "bridgectl contact use" in n
               for n in report.notes)

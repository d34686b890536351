"""The invoicing engine (DealWonSync) against in-memory fakes of the CRM and Xero and moto's links table:
only the bridge's own invoices belong to a deal, uncertain outcomes are settled by proof, a voided
invoice releases its deal for exactly one new one, and an earlier attempt stays in its organisation."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from datetime import UTC, datetime
from decimal import Decimal

import pytest
from moto import mock_aws

from crmbridge.commands import DealWon
from crmbridge.crm.models import CrmDeal, CrmLine, CrmOrganisation
from crmbridge.errors import PermanentError, RetryableError
from crmbridge.mapping.config import MappingConfig
from crmbridge.sync.deal_won import DealWonSync
from crmbridge.sync.links import Links
from crmbridge.xero.models import ContactRef, Invoice, LineItem, NewInvoice
from tests.unit.test_ops_fakes import links_table

TENANT_A = "8f2c1e9a-0b6d-4c1e-9a4b-3f5e6d7c8b9a"
TENANT_B = "1b7e2f3a-4c5d-4e6f-8a9b-0c1d2e3f4a5b"
OUR_CONTACT = "3d9a4b5c-6e7f-4a8b-8c1d-2e3f4a5b6c7d"
OTHER_CONTACT = "4e0b5c6d-7f8a-4b9c-9d2e-3f4a5b6c7d8e"
WON = "2026-11-30T10:00:00+00:00"


class FakeXero:
    """Xero as the engine uses it: PUT with Idempotency-Key replay, lookups by Reference, reads by id."""

    def __init__(self) -> None:
        self.invoices: dict[str, tuple[str, Invoice]] = {}  # invoice id -> (tenant, invoice)
        self.replays: dict[tuple[str, str], str] = {}  # (tenant, key) -> invoice id
        self.faults: list[str] = []  # "503" (nothing created) or "lost" (created, answer lost), per PUT
        self.puts = 0
        self._ids = itertools.count(1)

    def add(self, tenant_id: str, *, reference: str, contact_id: str, status: str = "AUTHORISED",
            lines: list[LineItem] | None = None) -> Invoice:
        number = next(self._ids)
        invoice = Invoice(InvoiceID=f"0000000{number}-0000-4000-8000-000000000000", InvoiceNumber=f"INV-{number:04d}",
                          Type="ACCREC", Status=status, Reference=reference, CurrencyCode="GBP",
                          Contact=ContactRef(ContactID=contact_id, Name="?"),
                          LineItems=lines or [LineItem(Description="By hand", Quantity=Decimal(1),
                                                       UnitAmount=Decimal(999), AccountCode="200", TaxType="OUTPUT2")],
                          UpdatedDateUTC=datetime(2026, 11, 30, tzinfo=UTC))
        self.invoices[invoice.invoice_id] = (tenant_id, invoice)
        return invoice

    def create_invoice(self, tenant_id: str, request: NewInvoice, *, idempotency_key: str) -> Invoice:
        self.puts += 1
        fault = self.faults.pop(0) if self.faults else None
        if fault == "503":
            raise RetryableError("xero answered 503")
        if (tenant_id, idempotency_key) in self.replays:
            created = self.invoices[self.replays[tenant_id, idempotency_key]][1]
        else:
            assert isinstance(request.contact, ContactRef) and request.contact.contact_id
            created = self.add(tenant_id, reference=request.reference, contact_id=request.contact.contact_id,
                               status=request.status, lines=request.line_items)
            self.replays[tenant_id, idempotency_key] = created.invoice_id
        if fault == "lost":
            raise RetryableError("xero timed out")
        return created

    def invoices_by_references(self, tenant_id: str, references: list[str]) -> list[Invoice]:
        return [i for t, i in self.invoices.values() if t == tenant_id and i.reference in references]

    def get_invoice(self, tenant_id: str, invoice_id: str) -> Invoice:
        return self.invoices[invoice_id][1]

    def void(self, invoice_id: str) -> None:
        tenant, invoice = self.invoices[invoice_id]
        self.invoices[invoice_id] = (tenant, invoice.model_copy(update={"status": "VOIDED"}))

    def of(self, tenant_id: str, reference: str) -> list[Invoice]:
        return self.invoices_by_references(tenant_id, [reference])


class FakeCrm:
    name = "pipedrive"

    def __init__(self) -> None:
        self.deal = CrmDeal(id="7", title="Support", status="won", currency="GBP",
                            won_time=datetime.fromisoformat(WON),
                            organisation=CrmOrganisation(id="o1", name="Right Co Ltd", xero_contact_id=OUR_CONTACT),
                            lines=[CrmLine(name="Support", quantity=Decimal(2), unit_price=Decimal(50),
                                           tax_percent=Decimal(20), tax_method="exclusive")])
        self.written: list[str] = []
        self.contacts_set: list[str] = []

    def read_deal(self, deal_id: str) -> CrmDeal:
        return self.deal

    def write_invoice(self, deal_id: str, invoice) -> None:
        self.written.append(invoice.invoice_number)

    def set_organisation_contact(self, organisation_id: str, contact_id: str) -> None:
        self.contacts_set.append(contact_id)


@pytest.fixture
def world() -> Iterator[tuple[FakeCrm, FakeXero, Links, dict[str, str]]]:
    with mock_aws():
        chosen = {"tenant": TENANT_A}
        yield FakeCrm(), FakeXero(), Links(links_table()), chosen


def engine(crm: FakeCrm, xero: FakeXero, links: Links, chosen: dict[str, str]) -> DealWonSync:
    return DealWonSync(crm=crm, xero=xero, links=links, mapping=MappingConfig(default_account_code="200"),  # type: ignore[arg-type]
                       invoice_status="DRAFT", tenant_for=lambda command, deal: chosen["tenant"])


def won(**extra) -> DealWon:
    return DealWon(crm="pipedrive", deal_id="7", won_time=WON, **extra)


def ours(xero: FakeXero, tenant: str = TENANT_A) -> list[Invoice]:
    return [i for i in xero.of(tenant, "7") if i.contact.contact_id == OUR_CONTACT]


@pytest.mark.parametrize("fault", [None, "503", "lost"])
def test_a_po_number_invoice_naming_the_deal_is_never_adopted(world, fault):
    # Given another customer's invoice whose Reference (their PO number) equals the deal id
    crm, xero, links, chosen = world
    po = xero.add(TENANT_A, reference="7", contact_id=OTHER_CONTACT)
    sync = engine(crm, xero, links, chosen)
    if fault:
        # When the bridge's PUT fails (503) or commits with its answer lost, and the message is retried
        xero.faults.append(fault)
        with pytest.raises(RetryableError):
            sync(won())
    result = sync(won())

    # Then the deal has its own invoice for its own customer; the PO-number invoice is untouched
    [own] = ours(xero)
    assert result["invoice_id"] == own.invoice_id != po.invoice_id
    assert links.invoice_for("pipedrive", "7").invoice_id == own.invoice_id  # type: ignore[union-attr]
    assert OTHER_CONTACT not in crm.contacts_set
    assert len(xero.of(TENANT_A, "7")) == 2


def test_a_lost_answer_is_settled_by_the_recorded_request_without_a_second_put(world):
    # Given a PUT that Xero committed but whose answer was lost
    crm, xero, links, chosen = world
    sync = engine(crm, xero, links, chosen)
    xero.faults.append("lost")
    with pytest.raises(RetryableError):
        sync(won())

    # When the retry runs (a fresh worker)
    engine(crm, xero, links, chosen)(won())

    # Then the proven invoice is adopted: one invoice, and the retry sent nothing
    assert len(ours(xero)) == 1
    assert xero.puts == 1


def test_an_earlier_attempt_is_settled_in_its_organisation_after_another_is_chosen(world):
    # Given an attempt sent to organisation A whose answer was lost
    crm, xero, links, chosen = world
    xero.faults.append("lost")
    with pytest.raises(RetryableError):
        engine(crm, xero, links, chosen)(won())

    # When the operator picks organisation B before the retry
    chosen["tenant"] = TENANT_B
    result = engine(crm, xero, links, chosen)(won())

    # Then the deal keeps its invoice in A, and B gets none
    assert result["tenant_id"] == TENANT_A
    assert len(ours(xero, TENANT_A)) == 1 and ours(xero, TENANT_B) == []


def test_a_voided_invoice_releases_its_deal_for_exactly_one_new_invoice(world):
    # Given an invoiced deal whose invoice finance voided (the Xero event released the deal)
    crm, xero, links, chosen = world
    sync = engine(crm, xero, links, chosen)
    first = sync(won())["invoice_id"]
    xero.void(first)
    assert links.release_invoice("pipedrive", "7", first)

    # When the same win is delivered again, nothing is raised
    assert sync(won())["outcome"] == "released"
    # When the operator asks for a new invoice, exactly one is raised, with a new Idempotency-Key
    second = sync(won(resync=True, reinvoice=True))
    assert second["outcome"] == "invoiced" and second["invoice_id"] != first
    # And asking again while it is live is refused, with what to do
    with pytest.raises(PermanentError) as refused:
        sync(won(resync=True, reinvoice=True))
    assert refused.value.reason == "live_invoice_exists"
    assert sorted(i.status for i in ours(xero)) == ["DRAFT", "VOIDED"]


def test_a_deal_won_again_after_its_invoice_died_is_invoiced_again_and_a_redelivery_is_not(world):
    # Given an invoiced deal whose invoice was voided without the bridge hearing of it
    crm, xero, links, chosen = world
    sync = engine(crm, xero, links, chosen)
    xero.void(sync(won())["invoice_id"])

    # When the first win is delivered again, it is not a new win: no invoice
    assert sync(won())["outcome"] == "already_invoiced"
    # When the deal is lost and won again (a later won time in the CRM and the webhook)
    later = "2026-12-03T09:00:00+00:00"
    crm.deal = crm.deal.model_copy(update={"won_time": datetime.fromisoformat(later)})
    result = sync(DealWon(crm="pipedrive", deal_id="7", won_time=later))

    # Then exactly one new invoice
    assert result["outcome"] == "invoiced"
    assert sorted(i.status for i in ours(xero)) == ["DRAFT", "VOIDED"]


def test_any_failure_before_the_put_releases_the_claim_so_the_deal_never_waits_on_itself(world, monkeypatch):
    # Given a deal whose invoice building fails with something other than a typed error (a bug)
    crm, xero, links, chosen = world
    sync = engine(crm, xero, links, chosen)

    def broken(*args, **kwargs):
        raise OverflowError("date value out of range")

    monkeypatch.setattr("crmbridge.sync.deal_won.build_invoice_with_notes", broken)
    with pytest.raises(OverflowError):
        sync(won())

    # Then the claim is gone (nothing reached Xero): once fixed, the next attempt invoices at once
    assert links.invoice_for("pipedrive", "7") is None
    monkeypatch.undo()
    assert sync(won())["outcome"] == "invoiced"


def test_a_description_shortened_to_fit_xero_is_said_in_the_result_the_history_keeps(world):
    # Given a deal line with a 5,250-character description
    crm, xero, links, chosen = world
    crm.deal = crm.deal.model_copy(update={"lines": [crm.deal.lines[0].model_copy(update={"comments": "x" * 5250})]})

    # When it is invoiced
    result = engine(crm, xero, links, chosen)(won())

    # Then the invoice line ends with an ellipsis within Xero's 4,000, and the result says what was cut
    [own] = ours(xero)
    assert own.line_items[0].description.endswith("…") and len(own.line_items[0].description) <= 4000
    assert "shortened" in result["notes"]

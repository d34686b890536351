"""CRM data, generated, through the worker: the error boundary (sync.processor.Worker) running the
invoicing engine (DealWonSync) against in-memory fakes of the CRM and Xero and moto's links table.
Every case ends as an invoice whose lines are the deal's or as a recorded failure with its reason:
never an exception that would loop the message to the dead-letter queue, never a claim left behind.

FUZZ_EXAMPLES sets the examples (the long run: `FUZZ_EXAMPLES=10000 make fuzz`).
"""

from __future__ import annotations

import json
import os
from decimal import Decimal

from hypothesis import HealthCheck, given, settings
from moto import mock_aws

from crmbridge.commands import DealWon, QueueMessage
from crmbridge.crm.models import CrmDeal
from crmbridge.mapping.config import MappingConfig
from crmbridge.sync.deal_won import DealWonSync
from crmbridge.sync.links import Links
from crmbridge.sync.processor import Worker
from crmbridge.xero.models import ContactRef, Invoice, NewInvoice, xero_json
from tests.fuzz.test_crm_data import deals
from tests.unit.test_ops_fakes import links_table
from tests.unit.test_worker_outcomes import NOW, FakeHistory, FakeQueue, FakeRecords

TENANT = "8f2c1e9a-0b6d-4c1e-9a4b-3f5e6d7c8b9a"
WORKER_FUZZ = settings(max_examples=max(1, int(os.environ.get("FUZZ_EXAMPLES", "300")) // 3), deadline=None,
                       database=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


class OneDealCrm:
    name = "pipedrive"

    def __init__(self, deal: CrmDeal) -> None:
        self.deal, self.written = deal, []

    def read_deal(self, deal_id: str) -> CrmDeal:
        return self.deal

    def write_invoice(self, deal_id: str, invoice) -> None:
        self.written.append(invoice.invoice_id)

    def set_organisation_contact(self, organisation_id: str, contact_id: str) -> None:
        pass


class WireCheckingXero:
    """Takes the request as it goes on the wire (JSON numbers, as Xero's spec types them) and answers with
    the invoice Xero would hold; no contact matches, so every case creates its contact."""

    def __init__(self) -> None:
        self.created: list[dict] = []

    def search_contacts(self, tenant_id: str, term: str) -> list:
        return []

    def invoices_by_references(self, tenant_id: str, references) -> list[Invoice]:
        return []

    def create_invoice(self, tenant_id: str, request: NewInvoice, *, idempotency_key: str) -> Invoice:
        [sent] = json.loads(xero_json({"Invoices": [request.to_wire()]}), parse_float=Decimal)["Invoices"]
        assert all(isinstance(line[k], (int, Decimal)) for line in sent["LineItems"] for k in ("Quantity", "UnitAmount"))
        self.created.append(sent)
        return Invoice(InvoiceID="1b7e2f3a-4c5d-4e6f-8a9b-0c1d2e3f4a5b", InvoiceNumber="INV-0001", Type="ACCREC",
                       Status="DRAFT", Reference=request.reference, LineItems=request.line_items,
                       Contact=ContactRef(ContactID="3d9a4b5c-6e7f-4a8b-8c1d-2e3f4a5b6c7d"))


@WORKER_FUZZ
@given(deal=deals)
def test_crm_data_through_the_worker_ends_invoiced_or_recorded_never_looping(deal):
    with mock_aws():
        links = Links(links_table())
        crm, xero = OneDealCrm(deal), WireCheckingXero()
        sync = DealWonSync(crm=crm, xero=xero, links=links, mapping=MappingConfig(default_account_code="200"),  # type: ignore[arg-type]
                           invoice_status="DRAFT", tenant_for=lambda command, deal: TENANT)
        worker = Worker(queue=FakeQueue(), records=FakeRecords(), handlers={"deal_won": sync},  # type: ignore[arg-type]
                        run_once=lambda key, thunk: thunk(), clock=lambda: NOW, history=FakeHistory())  # type: ignore[arg-type]
        message = QueueMessage(command=DealWon(crm="pipedrive", deal_id=deal.id)).model_dump_json()

        outcome = worker.process(message)  # any other exception fails the test: it would loop to the DLQ

        link = links.invoice_for("pipedrive", deal.id)
        if outcome.status == "failed":
            # A recorded failure that says why, with nothing sent to Xero and no claim left to wait on
            assert worker.records.failed_with == [outcome.detail] and outcome.detail
            assert xero.created == [] and link is None
        else:
            assert outcome.status == "done"
            [sent] = xero.created
            expected = deal.lines or [None]
            assert len(sent["LineItems"]) == len(expected)
            for item, line in zip(sent["LineItems"], expected, strict=True):
                if line is not None:
                    assert (Decimal(str(item["Quantity"])), Decimal(str(item["UnitAmount"]))) == \
                        (line.quantity, line.unit_price)
            assert link is not None and link.state == "CREATED" and crm.written

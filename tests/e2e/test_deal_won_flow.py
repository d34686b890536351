"""A won Pipedrive deal becomes exactly one correct Xero invoice: the local stack over real HTTP.

The salesperson acts through the Pipedrive emulator's app endpoints; Pipedrive's signed webhooks go
through the gateway, the queue and the worker, which talks to both emulators as to the real services.
"""

from __future__ import annotations

import json
import threading
import uuid
from decimal import Decimal

import boto3
import httpx
import pytest

from crmbridge.commands import DealWon, QueueMessage
from local.credentials import credential
from local.demo import wait_for
from tests.e2e.flow import ACME, invoice_number, line, seed_deal, sync_record, the_invoice, totals, win

pytestmark = pytest.mark.e2e


def test_won_deal_becomes_one_draft_invoice_with_its_number_on_the_deal(flow):
    deal_id, _ = seed_deal(flow["pipedrive"], org=ACME, lines=[line("100.00", 3)])

    win(flow, deal_id)

    number = invoice_number(flow, deal_id)
    invoice = the_invoice(flow, deal_id)
    assert invoice["InvoiceNumber"] == number
    assert (invoice["Status"], invoice["Reference"], invoice["LineAmountTypes"]) == ("DRAFT", str(deal_id), "Exclusive")
    assert totals(invoice) == (Decimal("300.00"), Decimal("60.00"), Decimal("360.00"))


def test_inclusive_tax_with_a_discount_totals_as_xero_computes_it(flow):
    deal_id, _ = seed_deal(flow["pipedrive"], org={"name": f"Incl {uuid.uuid4().hex[:6]} Ltd"},
                           lines=[line("99.99", 3, method="inclusive", discount=10, discount_type="percentage"),
                                  line("5.00", 1, tax=5, method="inclusive")])
    win(flow, deal_id)
    invoice_number(flow, deal_id)

    invoice = the_invoice(flow, deal_id)
    assert invoice["LineAmountTypes"] == "Inclusive"
    assert [li["TaxType"] for li in invoice["LineItems"]] == ["OUTPUT2", "RROUTPUT"]
    # 3 x 99.99 less 10% = 269.973 -> 269.97 incl.; VAT 269.97/6 = 44.995 -> 45.00; 5.00 incl. 5%: 0.24
    assert Decimal(str(invoice["Total"])) == Decimal("274.97")
    assert Decimal(str(invoice["TotalTax"])) == Decimal("45.24")


def test_no_tax_deal_in_a_second_currency(flow):
    deal_id, _ = seed_deal(flow["pipedrive"], org={"name": f"Euro {uuid.uuid4().hex[:6]} GmbH"}, currency="EUR",
                           lines=[line("250.00", 2, tax=0, method="none")])
    win(flow, deal_id)
    invoice_number(flow, deal_id)

    invoice = the_invoice(flow, deal_id)
    assert (invoice["CurrencyCode"], invoice["LineAmountTypes"]) == ("EUR", "NoTax")
    assert invoice["LineItems"][0]["TaxType"] == "NONE"
    assert totals(invoice) == (Decimal("500.00"), Decimal("0.00"), Decimal("500.00"))


def test_deal_without_products_is_invoiced_for_its_value(flow):
    deal_id, _ = seed_deal(flow["pipedrive"], org={"name": f"Plain {uuid.uuid4().hex[:6]} Ltd"}, value=1000)
    win(flow, deal_id)
    invoice_number(flow, deal_id)

    invoice = the_invoice(flow, deal_id)
    assert len(invoice["LineItems"]) == 1
    assert totals(invoice) == (Decimal("1000.00"), Decimal("200.00"), Decimal("1200.00"))


def test_existing_xero_contact_is_matched_by_normalised_name(flow):
    name = f"Zeta {uuid.uuid4().hex[:6]}"
    existing = flow["xero"].http.put("/api.xro/2.0/Contacts", headers=flow["xero"]._auth(),
                                     json={"Contacts": [{"Name": f"{name.upper()} LIMITED"}]}).json()["Contacts"][0]
    deal_id, org_id = seed_deal(flow["pipedrive"], org={"name": f"{name} Ltd"}, lines=[line("10.00")])

    win(flow, deal_id)
    invoice_number(flow, deal_id)

    assert the_invoice(flow, deal_id)["Contact"]["ContactID"] == existing["ContactID"]
    org = flow["pipedrive"].organisation(org_id)
    assert flow["pipedrive"].custom(org, "organization", "Xero contact ID") == existing["ContactID"]


def test_existing_xero_contact_is_matched_by_the_persons_email(flow):
    email = f"buyer-{uuid.uuid4().hex[:6]}@example.com"
    existing = flow["xero"].http.put("/api.xro/2.0/Contacts", headers=flow["xero"]._auth(), json={
        "Contacts": [{"Name": f"Totally Different {uuid.uuid4().hex[:4]}", "EmailAddress": email}]}).json()["Contacts"][0]
    deal_id, _ = seed_deal(flow["pipedrive"], org={"name": f"Email {uuid.uuid4().hex[:6]} Ltd"},
                           person_email=email, lines=[line("10.00")])

    win(flow, deal_id)
    invoice_number(flow, deal_id)

    assert the_invoice(flow, deal_id)["Contact"]["ContactID"] == existing["ContactID"]


def test_unknown_customer_gets_a_new_xero_contact(flow):
    name = f"Brand New {uuid.uuid4().hex[:6]} Ltd"
    deal_id, _ = seed_deal(flow["pipedrive"], org={"name": name}, lines=[line("10.00")])

    win(flow, deal_id)
    invoice_number(flow, deal_id)

    assert the_invoice(flow, deal_id)["Contact"]["Name"] == name


def test_webhook_delivered_three_times_concurrently_makes_one_invoice(flow):
    deal_id, _ = seed_deal(flow["pipedrive"], org={"name": f"Triple {uuid.uuid4().hex[:6]} Ltd"},
                           lines=[line("1.00")], status="won")  # won quietly: the deliveries are ours
    deal = flow["pipedrive"].deal(deal_id)
    body = json.dumps({"meta": {"action": "change", "entity": "deal", "entity_id": str(deal_id), "version": "2.0",
                                "id": str(uuid.uuid4()), "change_source": "app", "user_id": "1"},
                       "data": deal, "previous": {"status": "open"}})
    auth = (credential("PIPEDRIVE_WEBHOOK_USER"), credential("PIPEDRIVE_WEBHOOK_PASSWORD"))
    answers: list[int] = []

    def deliver() -> None:
        answers.append(httpx.post(f"{flow['urls'].gateway}/webhooks/pipedrive", content=body, auth=auth,
                                  headers={"content-type": "application/json"}, timeout=10).status_code)

    threads = [threading.Thread(target=deliver) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    invoice_number(flow, deal_id)
    flow["stack"].drain(timeout=30)

    assert answers == [200, 200, 200]
    assert len(flow["xero"].invoices(str(deal_id))) == 1


def test_crash_after_xero_committed_the_invoice_still_gives_one(flow):
    deal_id, _ = seed_deal(flow["pipedrive"], org={"name": f"Crash {uuid.uuid4().hex[:6]} Ltd"}, lines=[line("7.00")])
    httpx.post(f"{flow['urls'].xero}/_emulator/faults",
               json={"kind": "drop", "phase": "after", "method": "PUT", "path_prefix": "/api.xro/2.0/Invoices",
                     "count": 1}, timeout=5)

    win(flow, deal_id)
    invoice_number(flow, deal_id)
    flow["stack"].drain(timeout=30)

    assert len(flow["xero"].invoices(str(deal_id))) == 1


def test_deal_reopened_and_won_again_gets_no_second_invoice(flow):
    deal_id, _ = seed_deal(flow["pipedrive"], org={"name": f"Again {uuid.uuid4().hex[:6]} Ltd"}, lines=[line("3.00")])
    win(flow, deal_id)
    invoice_number(flow, deal_id)

    flow["pipedrive"].app_update_deal(deal_id, {"status": "open"})
    win(flow, deal_id)
    flow["stack"].drain(timeout=30)

    assert len(flow["xero"].invoices(str(deal_id))) == 1


def test_deal_without_organisation_is_recorded_with_its_reason_and_can_be_rerun(flow):
    deal_id, _ = seed_deal(flow["pipedrive"], lines=[line("5.00")])

    win(flow, deal_id)
    record = wait_for("the failure record", lambda: sync_record(flow, deal_id), timeout=30)

    assert (record["status"], record["reason"]) == ("FAILED", "no_organisation")
    assert flow["xero"].invoices(str(deal_id)) == []

    # Sales fixes the deal in the CRM, then ops re-runs it.
    org_id = flow["pipedrive"].seed({"organizations": [{"ref": "o", "name": f"Fixed {uuid.uuid4().hex[:6]} Ltd"}]})[
        "refs"]["organizations"]["o"]
    flow["pipedrive"].app_update_deal(deal_id, {"org_id": org_id})
    command = DealWon.model_validate_json(record["command"])
    rerun = DealWon(crm="pipedrive", deal_id=str(deal_id), won_time=command.won_time, resync=True)
    boto3.client("sqs").send_message(QueueUrl=flow["stack"].queue_url(),
                                     MessageBody=QueueMessage(command=rerun).model_dump_json())
    invoice_number(flow, deal_id)

    assert len(flow["xero"].invoices(str(deal_id))) == 1
    assert sync_record(flow, deal_id)["status"] == "OK"


def test_xero_validation_error_is_recorded_with_xeros_message(flow):
    # The organisation points at a Xero contact that does not exist: Xero refuses the invoice.
    deal_id, _ = seed_deal(flow["pipedrive"], lines=[line("5.00")], org={
        "name": f"Ghost {uuid.uuid4().hex[:6]} Ltd", "custom_fields": {"Xero contact ID": str(uuid.uuid4())}})

    win(flow, deal_id)
    record = wait_for("the failure record", lambda: sync_record(flow, deal_id), timeout=30)

    assert (record["status"], record["reason"]) == ("FAILED", "xero_validation")
    assert "contact" in record["message"].lower()
    assert flow["xero"].invoices(str(deal_id)) == []


def test_tax_rate_with_no_tax_type_mapped_is_recorded_with_its_reason(flow):
    deal_id, _ = seed_deal(flow["pipedrive"], org={"name": f"Odd Rate {uuid.uuid4().hex[:6]} Ltd"},
                           lines=[line("5.00", tax=7)])

    win(flow, deal_id)
    record = wait_for("the failure record", lambda: sync_record(flow, deal_id), timeout=30)

    assert (record["status"], record["reason"]) == ("FAILED", "unmapped_tax_rate")
    assert "7" in record["message"]

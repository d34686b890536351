"""A won CRM deal becomes exactly one correct Xero invoice: the local stack over real HTTP, once with
Pipedrive and once with HubSpot as the stack's CRM.

The salesperson acts through the CRM emulator's app endpoints; the CRM's signed webhooks go through the
gateway, the queue and the worker, which talks to the emulators as to the real services.
"""

from __future__ import annotations

import threading
import uuid
from decimal import Decimal

import boto3
import httpx
import pytest

from crmbridge.commands import DealWon, QueueMessage
from local.demo import wait_for
from tests.e2e.flow import ACME, invoice_number, line, only, seed_deal, sync_record, the_invoice, totals, win

pytestmark = pytest.mark.e2e


def test_won_deal_becomes_one_draft_invoice_with_its_number_on_the_deal(flow):
    deal_id, _ = seed_deal(flow["crm"], org=ACME, lines=[line("100.00", 3)])

    win(flow, deal_id)

    number = invoice_number(flow, deal_id)
    invoice = the_invoice(flow, deal_id)
    assert invoice["InvoiceNumber"] == number
    assert (invoice["Status"], invoice["Reference"], invoice["LineAmountTypes"]) == ("DRAFT", str(deal_id), "Exclusive")
    assert totals(invoice) == (Decimal("300.00"), Decimal("60.00"), Decimal("360.00"))


def test_inclusive_tax_with_a_discount_totals_as_xero_computes_it(flow):
    deal_id, _ = seed_deal(flow["crm"], org={"name": f"Incl {uuid.uuid4().hex[:6]} Ltd"},
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
    deal_id, _ = seed_deal(flow["crm"], org={"name": f"Euro {uuid.uuid4().hex[:6]} GmbH"}, currency="EUR",
                           lines=[line("250.00", 2, tax=0, method="none")])
    win(flow, deal_id)
    invoice_number(flow, deal_id)

    invoice = the_invoice(flow, deal_id)
    assert (invoice["CurrencyCode"], invoice["LineAmountTypes"]) == ("EUR", "NoTax")
    assert invoice["LineItems"][0]["TaxType"] == "NONE"
    assert totals(invoice) == (Decimal("500.00"), Decimal("0.00"), Decimal("500.00"))


def test_deal_without_products_is_invoiced_for_its_value(flow):
    deal_id, _ = seed_deal(flow["crm"], org={"name": f"Plain {uuid.uuid4().hex[:6]} Ltd"}, value=1000)
    win(flow, deal_id)
    invoice_number(flow, deal_id)

    invoice = the_invoice(flow, deal_id)
    assert len(invoice["LineItems"]) == 1
    assert totals(invoice) == (Decimal("1000.00"), Decimal("200.00"), Decimal("1200.00"))


def test_existing_xero_contact_is_matched_by_normalised_name(flow):
    name = f"Zeta {uuid.uuid4().hex[:6]}"
    existing = flow["xero"].http.put("/api.xro/2.0/Contacts", headers=flow["xero"]._auth(),
                                     json={"Contacts": [{"Name": f"{name.upper()} LIMITED"}]}).json()["Contacts"][0]
    deal_id, org_id = seed_deal(flow["crm"], org={"name": f"{name} Ltd"}, lines=[line("10.00")])

    win(flow, deal_id)
    invoice_number(flow, deal_id)

    assert the_invoice(flow, deal_id)["Contact"]["ContactID"] == existing["ContactID"]
    assert flow["crm"].org_field(org_id, "xero_contact_id") == existing["ContactID"]


def test_existing_xero_contact_is_matched_by_the_persons_email(flow):
    email = f"buyer-{uuid.uuid4().hex[:6]}@example.com"
    existing = flow["xero"].http.put("/api.xro/2.0/Contacts", headers=flow["xero"]._auth(), json={
        "Contacts": [{"Name": f"Totally Different {uuid.uuid4().hex[:4]}", "EmailAddress": email}]}).json()["Contacts"][0]
    deal_id, _ = seed_deal(flow["crm"], org={"name": f"Email {uuid.uuid4().hex[:6]} Ltd"},
                           person_email=email, lines=[line("10.00")])

    win(flow, deal_id)
    invoice_number(flow, deal_id)

    assert the_invoice(flow, deal_id)["Contact"]["ContactID"] == existing["ContactID"]


def test_unknown_customer_gets_a_new_xero_contact(flow):
    name = f"Brand New {uuid.uuid4().hex[:6]} Ltd"
    deal_id, _ = seed_deal(flow["crm"], org={"name": name}, lines=[line("10.00")])

    win(flow, deal_id)
    invoice_number(flow, deal_id)

    assert the_invoice(flow, deal_id)["Contact"]["Name"] == name


def test_webhook_delivered_three_times_concurrently_makes_one_invoice(flow):
    deal_id, _ = seed_deal(flow["crm"], org={"name": f"Triple {uuid.uuid4().hex[:6]} Ltd"},
                           lines=[line("1.00")], status="won")  # won quietly: the deliveries are ours
    url, body, headers = flow["crm"].won_webhook(flow["urls"].gateway, deal_id)
    answers: list[int] = []

    def deliver() -> None:
        answers.append(httpx.post(url, content=body, headers=headers, timeout=10).status_code)

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
    deal_id, _ = seed_deal(flow["crm"], org={"name": f"Crash {uuid.uuid4().hex[:6]} Ltd"}, lines=[line("7.00")])
    httpx.post(f"{flow['urls'].xero}/_emulator/faults",
               json={"kind": "drop", "phase": "after", "method": "PUT", "path_prefix": "/api.xro/2.0/Invoices",
                     "count": 1}, timeout=5)

    win(flow, deal_id)
    invoice_number(flow, deal_id)
    flow["stack"].drain(timeout=30)

    assert len(flow["xero"].invoices(str(deal_id))) == 1


def test_deal_reopened_and_won_again_gets_no_second_invoice(flow):
    deal_id, _ = seed_deal(flow["crm"], org={"name": f"Again {uuid.uuid4().hex[:6]} Ltd"}, lines=[line("3.00")])
    win(flow, deal_id)
    invoice_number(flow, deal_id)

    flow["crm"].reopen(deal_id)
    win(flow, deal_id)
    flow["stack"].drain(timeout=30)

    assert len(flow["xero"].invoices(str(deal_id))) == 1


def test_deal_without_organisation_is_recorded_with_its_reason_and_can_be_rerun(flow):
    deal_id, _ = seed_deal(flow["crm"], lines=[line("5.00")])

    win(flow, deal_id)
    record = wait_for("the failure record", lambda: sync_record(flow, deal_id), timeout=30)

    assert (record["status"], record["reason"]) == ("FAILED", "no_organisation")
    assert flow["xero"].invoices(str(deal_id)) == []

    # Sales fixes the deal in the CRM, then ops re-runs it.
    org_id = flow["crm"].seed_organisation(f"Fixed {uuid.uuid4().hex[:6]} Ltd")
    flow["crm"].set_organisation(deal_id, org_id)
    command = DealWon.model_validate_json(record["command"])
    rerun = DealWon(crm=flow["crm"].name, deal_id=str(deal_id), won_time=command.won_time, resync=True)
    boto3.client("sqs").send_message(QueueUrl=flow["stack"].queue_url(),
                                     MessageBody=QueueMessage(command=rerun).model_dump_json())
    invoice_number(flow, deal_id)

    assert len(flow["xero"].invoices(str(deal_id))) == 1
    # The record is written once the command is done, just after the deal shows its invoice.
    wait_for("the OK record", lambda: sync_record(flow, deal_id)["status"] == "OK", timeout=30)


def test_xero_validation_error_is_recorded_with_xeros_message(flow):
    # The organisation points at a Xero contact that does not exist: Xero refuses the invoice.
    deal_id, _ = seed_deal(flow["crm"], lines=[line("5.00")], org={
        "name": f"Ghost {uuid.uuid4().hex[:6]} Ltd", "custom_fields": {"Xero contact ID": str(uuid.uuid4())}})

    win(flow, deal_id)
    record = wait_for("the failure record", lambda: sync_record(flow, deal_id), timeout=30)

    assert (record["status"], record["reason"]) == ("FAILED", "xero_validation")
    assert "contact" in record["message"].lower()
    assert flow["xero"].invoices(str(deal_id)) == []


def test_tax_rate_with_no_tax_type_mapped_is_recorded_with_its_reason(flow):
    deal_id, _ = seed_deal(flow["crm"], org={"name": f"Odd Rate {uuid.uuid4().hex[:6]} Ltd"},
                           lines=[line("5.00", tax=7)])

    win(flow, deal_id)
    record = wait_for("the failure record", lambda: sync_record(flow, deal_id), timeout=30)

    assert (record["status"], record["reason"]) == ("FAILED", "unmapped_tax_rate")
    assert "7" in record["message"]


def test_a_hubspot_stage_change_that_is_not_a_win_is_recorded_as_not_won(flow):
    only(flow, "hubspot")
    deal_id, _ = seed_deal(flow["crm"], org={"name": f"Maybe {uuid.uuid4().hex[:6]} Ltd"}, lines=[line("4.00")])

    flow["crm"].reopen(deal_id)  # to "Contract sent": a candidate the worker must turn down
    flow["stack"].drain(timeout=30)

    record = wait_for("the sync record", lambda: sync_record(flow, deal_id), timeout=30)
    assert (record["status"], record["outcome"], record["deal_status"]) == ("OK", "not_won", "open")
    assert flow["xero"].invoices(str(deal_id)) == []


def test_a_hubspot_deal_won_in_a_custom_pipeline_is_invoiced(flow):
    only(flow, "hubspot")
    hubspot = flow["crm"]
    pipelines = hubspot.http.get("/crm/v3/pipelines/deals").json()["results"]
    renewals = next(p for p in pipelines if p["label"] == "Renewals")
    [renewed] = [s["id"] for s in renewals["stages"] if s["metadata"]["probability"] == "1.0"]
    deal_id, _ = seed_deal(hubspot, org={"name": f"Renew {uuid.uuid4().hex[:6]} Ltd"}, lines=[line("9.00")])
    hubspot.app_update("deals", deal_id, {"pipeline": renewals["id"], "dealstage": renewals["stages"][0]["id"]})

    hubspot.app_update("deals", deal_id, {"dealstage": renewed})

    invoice_number(flow, deal_id)
    assert len(flow["xero"].invoices(str(deal_id))) == 1

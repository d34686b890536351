"""Xero tells the CRM: invoice status, payments, balances, on-stop, notes; missed webhooks swept up.

Finance acts in Xero (through the emulator's API with a token set of its own); Xero's signed webhooks
reach the bridge through the gateway; the deal and organisation in the CRM (Pipedrive, then HubSpot)
show the result.
"""

from __future__ import annotations

import json
import uuid
from decimal import Decimal

import boto3
import httpx
import pytest
from boto3.dynamodb.conditions import Key

from crmbridge.webhooks.signatures import xero_signature
from local.credentials import credential
from local.demo import wait_for
from tests.e2e.flow import invoice_number, line, seed_deal, the_invoice, win
from tests.e2e.golive_flow import bridgectl

pytestmark = pytest.mark.e2e


def invoiced_deal(flow, price: str = "100.00", **org) -> tuple[int, int, dict]:
    deal_id, org_id = seed_deal(flow["crm"], org={"name": f"Cust {uuid.uuid4().hex[:6]} Ltd", **org},
                                lines=[line(price)])
    win(flow, deal_id)
    invoice_number(flow, deal_id)
    flow["stack"].drain(timeout=30)
    return deal_id, org_id, the_invoice(flow, deal_id)


def deal_field(flow, deal_id: int, key: str):
    return flow["crm"].deal_field(deal_id, key)


def org_field(flow, org_id: int, key: str):
    return flow["crm"].org_field(org_id, key)


def wait_deal(flow, deal_id: int, name: str, expected) -> None:
    wait_for(f"deal {deal_id} {name} = {expected}", lambda: deal_field(flow, deal_id, name) == expected, timeout=30)


def notes(flow, deal_id: int) -> list[str]:
    return flow["crm"].notes(deal_id)


def test_approved_invoice_shows_its_status_and_amount_due_on_the_deal(flow):
    deal_id, org_id, invoice = invoiced_deal(flow)

    flow["xero"].approve(invoice["InvoiceID"])

    wait_deal(flow, deal_id, "invoice_status", "AUTHORISED")
    assert Decimal(str(deal_field(flow, deal_id, "amount_due"))) == Decimal("120.00")
    assert Decimal(str(org_field(flow, org_id, "outstanding"))) == Decimal("120.00")


def test_part_then_full_payment_ends_paid_with_the_date_and_a_note_for_the_owner(flow):
    deal_id, org_id, invoice = invoiced_deal(flow)
    flow["xero"].approve(invoice["InvoiceID"])

    flow["xero"].pay(invoice["InvoiceID"], "20.00", "2026-11-25")
    wait_for("part payment", lambda: Decimal(str(deal_field(flow, deal_id, "amount_paid") or 0)) == Decimal("20.00"),
             timeout=30)
    assert deal_field(flow, deal_id, "invoice_status") == "AUTHORISED"
    assert Decimal(str(deal_field(flow, deal_id, "amount_due"))) == Decimal("100.00")
    assert notes(flow, deal_id) == []

    flow["xero"].pay(invoice["InvoiceID"], "100.00", "2026-11-26")

    wait_deal(flow, deal_id, "invoice_status", "PAID")
    assert Decimal(str(deal_field(flow, deal_id, "amount_due"))) == Decimal("0")
    assert deal_field(flow, deal_id, "paid_date") == "2026-11-26"
    wait_for("the paid note", lambda: notes(flow, deal_id), timeout=15)
    [note] = notes(flow, deal_id)
    assert "paid in full" in note
    assert Decimal(str(org_field(flow, org_id, "outstanding"))) == Decimal("0")


def test_voided_and_deleted_invoices_show_as_such(flow):
    voided_deal, _, voided = invoiced_deal(flow)
    deleted_deal, _, deleted = invoiced_deal(flow)
    flow["xero"].approve(voided["InvoiceID"])
    wait_deal(flow, voided_deal, "invoice_status", "AUTHORISED")

    flow["xero"].update_invoice(voided["InvoiceID"], {"Status": "VOIDED"})
    flow["xero"].update_invoice(deleted["InvoiceID"], {"Status": "DELETED"})

    wait_deal(flow, voided_deal, "invoice_status", "VOIDED")
    wait_deal(flow, deleted_deal, "invoice_status", "DELETED")


def raised_by_hand(flow, deal_id, customer: str) -> dict:
    return flow["xero"].create_invoice({
        "Type": "ACCREC", "Contact": {"Name": customer}, "Reference": str(deal_id),
        "Date": "2026-11-24", "DueDate": "2026-12-24", "LineAmountTypes": "Exclusive", "Status": "AUTHORISED",
        "LineItems": [{"Description": "Raised by hand", "Quantity": 1, "UnitAmount": 50, "AccountCode": "200",
                       "TaxType": "OUTPUT2"}]})


def test_an_invoice_raised_in_xero_belongs_to_a_deal_only_once_an_operator_links_it(flow):
    # Given a deal won before the bridge ran (no webhook), and two invoices raised by hand naming it in
    # their Reference: one for another customer, one for the deal's own
    name = f"Manual {uuid.uuid4().hex[:6]} Ltd"
    deal_id, _ = seed_deal(flow["crm"], org={"name": name}, lines=[line("5.00")], status="won")
    stranger = raised_by_hand(flow, deal_id, f"Stranger {uuid.uuid4().hex[:6]} Ltd")
    own = raised_by_hand(flow, deal_id, name)
    flow["stack"].drain(timeout=30)
    # Then the References alone change nothing on the deal
    assert deal_field(flow, deal_id, "invoice_status") is None

    # When the operator links the stranger's invoice to the deal, it is refused
    refused = bridgectl(flow, "link", "invoice", stranger["InvoiceID"], "--deal", str(deal_id), code=1)
    assert "not to" in refused.stdout + refused.stderr
    # When the operator links the invoice billed to the deal's customer
    bridgectl(flow, "link", "invoice", own["InvoiceID"], "--deal", str(deal_id))

    # Then the deal shows that invoice's state
    wait_deal(flow, deal_id, "invoice_status", "AUTHORISED")
    assert Decimal(str(deal_field(flow, deal_id, "invoice_total"))) == Decimal("60.00")


def test_a_change_whose_webhook_never_came_is_caught_by_the_sweep(flow):
    deal_id, _, invoice = invoiced_deal(flow)
    urls = flow["urls"]
    httpx.post(f"{urls.xero}/_emulator/webhooks", json={"enabled": False}, timeout=5)
    try:
        flow["xero"].approve(invoice["InvoiceID"])
        flow["stack"].drain(timeout=30)
        assert deal_field(flow, deal_id, "invoice_status") == "DRAFT"

        flow["stack"].run_now("SweeperFunction")
        flow["stack"].drain(timeout=30)
    finally:
        httpx.post(f"{urls.xero}/_emulator/webhooks", json={"enabled": True}, timeout=5)

    assert deal_field(flow, deal_id, "invoice_status") == "AUTHORISED"


def test_an_old_event_arriving_after_a_newer_state_changes_nothing(flow):
    deal_id, _, invoice = invoiced_deal(flow)
    flow["xero"].approve(invoice["InvoiceID"])
    flow["xero"].pay(invoice["InvoiceID"], "120.00", "2026-11-25")
    wait_deal(flow, deal_id, "invoice_status", "PAID")
    flow["stack"].drain(timeout=30)
    notes_before = len(notes(flow, deal_id))

    body = json.dumps({"events": [{
        "resourceUrl": f"https://api.xero.com/api.xro/2.0/Invoices/{invoice['InvoiceID']}",
        "resourceId": invoice["InvoiceID"], "eventDateUtc": "2026-11-01T00:00:00.000",
        "eventType": "CREATE", "eventCategory": "INVOICE", "tenantId": flow["xero"].tenant,
        "tenantType": "ORGANISATION"}], "firstEventSequence": 1, "lastEventSequence": 1, "entropy": "x"})
    for _ in range(2):  # late, and delivered twice
        answer = httpx.post(f"{urls_of(flow).gateway}/webhooks/xero", content=body, timeout=10,
                            headers={"x-xero-signature": xero_signature(body.encode(), credential("XERO_WEBHOOK_KEY")),
                                     "content-type": "application/json"})
        assert answer.status_code == 200
    flow["stack"].drain(timeout=30)

    assert deal_field(flow, deal_id, "invoice_status") == "PAID"
    assert len(notes(flow, deal_id)) == notes_before


def test_the_bridges_own_crm_writes_trigger_no_further_sync(flow):
    deal_id, _, invoice = invoiced_deal(flow)

    flow["xero"].approve(invoice["InvoiceID"])
    wait_deal(flow, deal_id, "invoice_status", "AUTHORISED")
    flow["crm"].wait_webhooks(10)
    flow["stack"].drain(timeout=30)

    # The CRM told the bridge about whatever of its own writes it subscribes to; none became a command.
    history = boto3.resource("dynamodb").Table(flow["stack"].table_name("SyncHistoryTable"))
    entries = history.query(KeyConditionExpression=Key("pk").eq(f"deal#{flow['crm'].name}#{deal_id}"))["Items"]
    assert [e["command"] for e in entries] == ["deal_won"]
    assert len(flow["xero"].invoices(str(deal_id))) == 1


def urls_of(flow):
    return flow["urls"]


def test_a_customer_with_an_overdue_invoice_is_on_stop(flow):
    deal_id, org_id, invoice = invoiced_deal(flow)
    flow["xero"].approve(invoice["InvoiceID"])
    wait_deal(flow, deal_id, "invoice_status", "AUTHORISED")
    assert not flow["crm"].on_stop(org_id)

    # Finance raises a second invoice for the same customer by hand, already past its due date.
    older_deal, _ = seed_deal(flow["crm"], lines=[line("10.00")])
    flow["crm"].set_organisation(older_deal, org_id)
    flow["xero"].create_invoice({
        "Type": "ACCREC", "Contact": {"ContactID": invoice["Contact"]["ContactID"]}, "Reference": str(older_deal),
        "Date": "2026-09-01", "DueDate": "2026-10-01", "LineAmountTypes": "Exclusive", "Status": "AUTHORISED",
        "LineItems": [{"Description": "Old work", "Quantity": 1, "UnitAmount": 50, "AccountCode": "200",
                       "TaxType": "OUTPUT2"}]})

    wait_for("on stop", lambda: flow["crm"].on_stop(org_id), timeout=30)
    assert Decimal(str(org_field(flow, org_id, "overdue"))) == Decimal("60.00")
    assert Decimal(str(org_field(flow, org_id, "outstanding"))) == Decimal("180.00")

"""Only the bridge's own invoices belong to a deal: the local stack over real HTTP, with each CRM.

A customer's PO number is often a small integer, and so is a Pipedrive deal id: an invoice raised by
hand whose Reference equals a deal id must never take the deal (or its organisation) over, before or
after the win, with or without a fault on the bridge's own PUT. A voided invoice releases its deal,
which an operator (or a new win) invoices again, once.
"""

from __future__ import annotations

import uuid
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal

import httpx
import pytest

from local.demo import wait_for
from tests.e2e.flow import invoice_number, line, seed_deal, win
from tests.e2e.golive_flow import bridgectl

pytestmark = pytest.mark.e2e


def raise_by_hand(flow: dict, reference: str, customer: str, amount: int = 999) -> dict:
    """Finance raises an AUTHORISED invoice in Xero for another customer, its Reference a PO number."""
    return flow["xero"].create_invoice({
        "Type": "ACCREC", "Contact": {"Name": customer}, "Reference": reference, "Date": "2026-09-01",
        "DueDate": "2026-10-01", "LineAmountTypes": "Exclusive", "Status": "AUTHORISED",
        "LineItems": [{"Description": "Consulting", "Quantity": 1, "UnitAmount": amount, "AccountCode": "200",
                       "TaxType": "OUTPUT2"}]})


def fault_on_put(flow: dict, kind: str) -> None:
    rule = {"error": {"kind": "error", "status": 503, "phase": "before"},
            "lost_answer": {"kind": "drop", "phase": "after"}}[kind]
    httpx.post(f"{flow['urls'].xero}/_emulator/faults",
               json={**rule, "method": "PUT", "path_prefix": "/api.xro/2.0/Invoices", "count": 1}, timeout=5)


def invoiced_then_killed(flow: dict, name: str, status: str) -> tuple:
    """A won deal invoiced by the bridge, whose invoice finance then voids (approved first: Xero voids only
    approved invoices) or deletes (a DRAFT); the deal shows that status. (deal id, first invoice number)"""
    deal_id, _ = seed_deal(flow["crm"], org={"name": f"{name} {uuid.uuid4().hex[:6]} Ltd"}, lines=[line("30.00")])
    win(flow, deal_id)
    first = invoice_number(flow, deal_id)
    flow["stack"].drain(timeout=30)
    [invoice] = flow["xero"].invoices(str(deal_id))
    if status == "VOIDED":
        flow["xero"].approve(invoice["InvoiceID"])
    flow["xero"].update_invoice(invoice["InvoiceID"], {"Status": status})
    wait_for(f"{status} on the deal", lambda: flow["crm"].deal_field(deal_id, "invoice_status") == status, timeout=30)
    return deal_id, first


def assert_one_new_invoice(flow: dict, deal_id, first: str, *, dead: str) -> None:
    """The deal shows a new invoice number, and Xero holds that DRAFT beside the dead one, nothing else."""
    second = wait_for("the new invoice number", lambda: (n := flow["crm"].deal_field(deal_id, "invoice_number")) != first
                      and n, timeout=30)
    flow["stack"].drain(timeout=30)
    invoices = flow["xero"].invoices(str(deal_id))
    assert sorted(i["Status"] for i in invoices) == sorted(["DRAFT", dead])
    assert [i["InvoiceNumber"] for i in invoices if i["Status"] == "DRAFT"] == [second]


@pytest.mark.parametrize("fault", [None, "error", "lost_answer"])
def test_an_invoice_naming_the_deal_before_the_win_is_never_adopted(flow, fault):
    # Given another customer's invoice raised by hand whose Reference (a PO number) equals the deal id
    customer = f"Right Co {uuid.uuid4().hex[:6]} Ltd"
    deal_id, org_id = seed_deal(flow["crm"], org={"name": customer}, lines=[line("40.00")])
    other = raise_by_hand(flow, str(deal_id), f"Other Co {uuid.uuid4().hex[:6]} Ltd")
    if fault:
        fault_on_put(flow, fault)  # the bridge's PUT fails (503), or commits and its answer is lost

    # When the deal is won
    win(flow, deal_id)
    number = invoice_number(flow, deal_id)
    flow["stack"].drain(timeout=30)

    # Then the deal gets its own invoice, billed to its own customer, and the other invoice is untouched
    invoices = flow["xero"].invoices(str(deal_id))
    ours = [i for i in invoices if i["InvoiceID"] != other["InvoiceID"]]
    assert len(ours) == 1, invoices
    assert number == ours[0]["InvoiceNumber"] != other["InvoiceNumber"]
    assert flow["xero"].invoice(ours[0]["InvoiceID"])["Contact"]["Name"] == customer
    # And the organisation carries its own contact, not the other customer's, and is not on stop
    assert flow["crm"].org_field(org_id, "xero_contact_id") == ours[0]["Contact"]["ContactID"]
    assert flow["crm"].org_field(org_id, "xero_contact_id") != other["Contact"]["ContactID"]
    assert not flow["crm"].on_stop(org_id)


def test_an_invoice_naming_the_deal_after_the_win_changes_nothing_on_the_deal(flow):
    # Given a won deal with its invoice
    deal_id, org_id = seed_deal(flow["crm"], org={"name": f"Settled {uuid.uuid4().hex[:6]} Ltd"},
                                lines=[line("25.00")])
    win(flow, deal_id)
    number = invoice_number(flow, deal_id)
    flow["stack"].drain(timeout=30)

    # When finance raises an overdue invoice by hand for another customer with the deal id as Reference
    raise_by_hand(flow, str(deal_id), f"Stranger {uuid.uuid4().hex[:6]} Ltd")
    flow["crm"].wait_webhooks()
    flow["stack"].drain(timeout=30)

    # Then the deal still shows its own invoice and its organisation none of the stranger's balance
    assert flow["crm"].deal_field(deal_id, "invoice_number") == number
    assert flow["crm"].deal_field(deal_id, "invoice_status") == "DRAFT"
    assert Decimal(str(flow["crm"].org_field(org_id, "overdue") or 0)) == 0
    assert not flow["crm"].on_stop(org_id)


def test_a_voided_invoice_releases_its_deal_for_exactly_one_new_invoice(flow):
    # Given a won deal whose invoice finance voids in Xero
    deal_id, first = invoiced_then_killed(flow, "Voided", "VOIDED")

    # When the won webhook comes again, nothing new is raised (a redelivery is not a request)
    url, body, headers = flow["crm"].won_webhook(flow["urls"].gateway, deal_id)
    assert httpx.post(url, content=body, headers=headers, timeout=10).status_code == 200
    flow["stack"].drain(timeout=30)
    assert len(flow["xero"].invoices(str(deal_id))) == 1

    # When the operator asks for a new invoice
    bridgectl(flow, "resync", "deal", str(deal_id), "--reinvoice")

    # Then the deal has exactly one live invoice, the new one, and shows it
    assert_one_new_invoice(flow, deal_id, first, dead="VOIDED")

    # And asking again while that invoice is live is refused, with what to do
    refused = bridgectl(flow, "resync", "deal", str(deal_id), "--reinvoice", code=1)
    assert "void or delete it in Xero first" in refused.stderr + refused.stdout
    assert len(flow["xero"].invoices(str(deal_id))) == 2


def test_a_deal_won_again_after_its_invoice_was_deleted_is_invoiced_again(flow):
    # Given a won deal whose DRAFT invoice was deleted, and the deal then reopened (the customer backed out)
    deal_id, first = invoiced_then_killed(flow, "Comeback", "DELETED")
    flow["crm"].reopen(deal_id)

    # When the customer comes back and the deal is won again
    win(flow, deal_id)

    # Then it has exactly one new live invoice beside the deleted one
    assert_one_new_invoice(flow, deal_id, first, dead="DELETED")


def test_ten_payments_of_one_customer_reconciled_at_once_leave_xeros_final_balance(flow):
    # Given one customer with ten approved invoices, and slow CRM and Xero APIs (latency with jitter)
    name = f"Ten Payments {uuid.uuid4().hex[:6]} Ltd"
    org_id = flow["crm"].seed_organisation(name)
    deal_ids = []
    for _ in range(10):
        deal_id, _ = seed_deal(flow["crm"], title=f"{name} order", lines=[line("10.00")])
        flow["crm"].set_organisation(deal_id, org_id)
        deal_ids.append(deal_id)
    for deal_id in deal_ids:
        win(flow, deal_id)
    invoice_ids = []
    for deal_id in deal_ids:
        invoice_number(flow, deal_id)
        [invoice] = flow["xero"].invoices(str(deal_id))
        invoice_ids.append(invoice["InvoiceID"])
    for invoice_id in invoice_ids:
        flow["xero"].approve(invoice_id)
    wait_for("the outstanding 120.00", lambda: Decimal(str(flow["crm"].org_field(org_id, "outstanding") or 0)) == 120,
             timeout=60)
    slow = {"latency_ms": 25, "jitter_ms": 25}
    for emulator in (flow["urls"].xero, flow["urls"].pipedrive, flow["urls"].hubspot):
        if emulator:
            httpx.post(f"{emulator}/_emulator/latency", json=slow, timeout=5)
    try:
        # When finance reconciles all ten payments at once
        with ThreadPoolExecutor(max_workers=5) as pool:  # Xero allows 5 calls in flight
            list(pool.map(lambda invoice_id: flow["xero"].pay(invoice_id, "12.00", "2026-11-30"), invoice_ids))
        flow["crm"].wait_webhooks()
        flow["stack"].drain(timeout=120)
    finally:
        for emulator in (flow["urls"].xero, flow["urls"].pipedrive, flow["urls"].hubspot):
            if emulator:
                httpx.post(f"{emulator}/_emulator/latency", json={}, timeout=5)

    # Then every deal shows PAID and the organisation Xero's final balance: nothing outstanding
    assert [flow["crm"].deal_field(d, "invoice_status") for d in deal_ids] == ["PAID"] * 10
    assert Decimal(str(flow["crm"].org_field(org_id, "outstanding"))) == 0
    assert not flow["crm"].on_stop(org_id)

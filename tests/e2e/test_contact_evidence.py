"""Contacts on evidence only, on the local stack: a look-alike Xero contact is never invoiced, and a deal
whose evidence names two contacts waits for `bridgectl contact use`, then is invoiced to the chosen one."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from local.demo import wait_for
from tests.e2e.flow import invoice_number, line, seed_deal, sync_record, the_invoice, win
from tests.e2e.golive_flow import bridgectl, bridgectl_json

pytestmark = pytest.mark.e2e


def add_xero_contacts(flow: dict[str, Any], *contacts: dict[str, Any]) -> list[dict[str, Any]]:
    xero = flow["xero"]
    response = xero.http.put("/api.xro/2.0/Contacts", headers=xero._auth(), json={"Contacts": list(contacts)})
    assert response.status_code == 200, response.text
    return response.json()["Contacts"]


def test_an_organisation_named_in_chinese_gets_its_own_contact_not_a_look_alike(flow):
    # Given Xero has "Acme <tag> 日本", and the CRM's customer is "Acme <tag> 中国"
    tag = uuid.uuid4().hex[:6]
    [japan] = add_xero_contacts(flow, {"Name": f"Acme {tag} 日本"})
    deal_id, org_id = seed_deal(flow["crm"], org={"name": f"Acme {tag} 中国"}, lines=[line("100.00")])
    # When the deal is won
    win(flow, deal_id)
    invoice_number(flow, deal_id)
    # Then its invoice goes to a new contact with the customer's own name, which the organisation now carries
    contact = the_invoice(flow, deal_id)["Contact"]
    assert contact["ContactID"] != japan["ContactID"] and contact["Name"] == f"Acme {tag} 中国"
    assert flow["crm"].org_field(org_id, "xero_contact_id") == contact["ContactID"]


def test_two_contacts_sharing_the_email_wait_for_a_decision_then_the_chosen_one_is_invoiced(flow):
    # Given two live Xero contacts with the customer's billing email
    tag = uuid.uuid4().hex[:6]
    email = f"ap-{tag}@hooli.test"
    uk, inc = add_xero_contacts(flow, {"Name": f"Hooli {tag} UK Ltd", "EmailAddress": email},
                                {"Name": f"Hooli {tag} Inc", "EmailAddress": email})
    deal_id, org_id = seed_deal(flow["crm"], org={"name": f"Hooli {tag}"}, person_email=email,
                                lines=[line("100.00")])
    # When the deal is won, Then nothing is invoiced: ops sees a deal needing a contact decision
    win(flow, deal_id)
    record = wait_for("the recorded failure", lambda: (r := sync_record(flow, deal_id)) and r.get("status") == "FAILED"
                      and r, timeout=30)
    assert record["reason"] == "contact_decision_needed"
    assert uk["ContactID"] in record["message"] and inc["ContactID"] in record["message"]
    assert flow["xero"].invoices(str(deal_id)) == []
    status = bridgectl_json(flow, "status")
    assert f"deal#{flow['crm'].name}#{deal_id}" in {f["subject"] for f in status["contact_decisions"]}
    assert "need a contact decision" in bridgectl(flow, "status").stdout

    # When ops chooses Hooli Inc
    decision = bridgectl_json(flow, "contact", "use", str(deal_id), inc["ContactID"])
    assert decision["contact_id"] == inc["ContactID"]

    # Then the deal is invoiced to it, the organisation carries it, and the history says who decided
    invoice_number(flow, deal_id)
    assert the_invoice(flow, deal_id)["Contact"]["ContactID"] == inc["ContactID"]
    assert flow["crm"].org_field(org_id, "xero_contact_id") == inc["ContactID"]
    outcomes = [e["outcome"] for e in bridgectl_json(flow, "history", "deal", str(deal_id))["entries"]]
    assert outcomes[:2] == ["failed", "decided"] and outcomes[-1] == "done"

"""Xero is the master of a customer's billing email, phone and address: when finance changes them in
Xero, the CRM organisation follows (Xero's CONTACT webhook); what the CRM masters, the name, is never
written back."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from local.demo import wait_for
from tests.e2e.flow import invoice_number, line, seed_deal, the_invoice, win

pytestmark = pytest.mark.e2e


def organisation(flow: dict, org_id: Any) -> dict[str, Any]:
    """The organisation's name and the Xero-mastered fields, as the salesperson sees them in the CRM."""
    if flow["crm"].name == "pipedrive":
        pipedrive = flow["pipedrive"]
        org = pipedrive.organisation(org_id)
        return {"name": org["name"], "email": pipedrive.custom(org, "organization", "Billing email"),
                "phone": pipedrive.custom(org, "organization", "Phone"),
                "address": (org.get("address") or {}).get("value") or ""}
    company = flow["hubspot"].read("companies", org_id, "name", "xero_billing_email", "phone", "address", "city")
    return {"name": company.get("name"), "email": company.get("xero_billing_email"), "phone": company.get("phone"),
            "address": f"{company.get('address') or ''}, {company.get('city') or ''}"}


def test_billing_details_changed_in_xero_reach_the_crm_organisation_but_not_its_name(flow):
    # Given a won deal whose customer is now a Xero contact
    name = f"Contact Sync {uuid.uuid4().hex[:6]} Ltd"
    deal_id, org_id = seed_deal(flow["crm"], org={"name": name}, lines=[line("100.00")])
    win(flow, deal_id)
    invoice_number(flow, deal_id)
    contact_id = the_invoice(flow, deal_id)["Contact"]["ContactID"]

    # When finance changes the contact's billing email, phone, address and name in Xero
    flow["xero"].update_contact(contact_id, {
        "Name": f"{name} (renamed in Xero)", "EmailAddress": "accounts@contact-sync.example",
        "Phones": [{"PhoneType": "DEFAULT", "PhoneNumber": "020 7946 0000"}],
        "Addresses": [{"AddressType": "POBOX", "AddressLine1": "2 Low Road", "City": "Leeds", "PostalCode": "LS1 1AA",
                       "Country": "United Kingdom"}],
    })

    # Then the organisation has Xero's billing details, and keeps the CRM's name
    updated = wait_for("the organisation updated from Xero",
                       lambda: (org := organisation(flow, org_id))["email"] == "accounts@contact-sync.example" and org,
                       timeout=30)
    assert "7946 0000" in (updated["phone"] or "")
    assert "2 Low Road" in updated["address"] and "Leeds" in updated["address"]
    assert updated["name"] == name

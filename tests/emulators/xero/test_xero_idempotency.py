"""Idempotency-Key on PUT/POST."""

from __future__ import annotations

import httpx
import pytest


def _body(contact_id: str, reference: str = "deal-1") -> dict:
    return {"Invoices": [{"Type": "ACCREC", "Contact": {"ContactID": contact_id}, "Reference": reference,
                          "LineItems": [{"Description": "x", "Quantity": 1, "UnitAmount": 10, "AccountCode": "200",
                                         "TaxType": "OUTPUT2"}]}]}


def _count(api, reference: str = "deal-1") -> int:
    return len(api.get("/Invoices", params={"where": f'Reference=="{reference}"'}).json()["Invoices"])


def test_replay_with_the_same_key_returns_the_same_invoice_and_creates_none(api):
    # Given an invoice created with an Idempotency-Key
    contact = api.contact()
    key = {"Idempotency-Key": "deal-1-create"}
    first = api.put("/Invoices", _body(contact["ContactID"]), headers=key)
    # When the identical request is replayed
    second = api.put("/Invoices", _body(contact["ContactID"]), headers=key)
    # Then the same invoice comes back and there is still only one
    assert second.status_code == first.status_code == 200
    assert second.json()["Invoices"][0]["InvoiceID"] == first.json()["Invoices"][0]["InvoiceID"]
    assert _count(api) == 1


def test_same_key_with_a_different_body_is_refused(api):
    # Given a key used once
    contact = api.contact()
    api.put("/Invoices", _body(contact["ContactID"]), headers={"Idempotency-Key": "k-1"})
    # When reused with another body
    response = api.put("/Invoices", _body(contact["ContactID"], "deal-2"), headers={"Idempotency-Key": "k-1"})
    # Then it is refused with a 400 naming the key, and nothing is created
    assert response.status_code == 400
    assert response.json()["Elements"][0]["ValidationErrors"][0]["Message"] == \
        "Idempotency Key: k-1 is used with a different request."
    assert _count(api, "deal-2") == 0


def test_key_longer_than_128_characters_is_refused(api):
    # Given a 129-character key
    contact = api.contact()
    # When used
    response = api.put("/Invoices", _body(contact["ContactID"]), headers={"Idempotency-Key": "k" * 129})
    # Then refused, nothing created
    assert response.status_code == 400
    assert _count(api) == 0


def test_key_recovers_a_dropped_response(api, emulator_control):
    # Given a create whose response was lost after the write
    contact = api.contact()
    emulator_control("faults", {"kind": "drop", "count": 1, "method": "PUT", "path_prefix": "/api.xro/2.0/Invoices"})
    with pytest.raises(httpx.TransportError):
        api.put("/Invoices", _body(contact["ContactID"]), headers={"Idempotency-Key": "deal-1"})
    # When the client retries with the same key
    retry = api.put("/Invoices", _body(contact["ContactID"]), headers={"Idempotency-Key": "deal-1"})
    # Then it gets the original answer and there is one invoice
    assert retry.status_code == 200
    assert _count(api) == 1


def test_keys_are_forgotten_after_the_retention_period(api, emulator_control):
    # Given a key used, and the configured retention (60 s here) passed
    emulator_control("config", {"idempotency_ttl": 60})
    contact = api.contact()
    api.put("/Invoices", _body(contact["ContactID"]), headers={"Idempotency-Key": "old"})
    emulator_control("clock", {"advance": 61})
    # When the same request is sent again
    api.put("/Invoices", _body(contact["ContactID"]), headers={"Idempotency-Key": "old"})
    # Then it is processed again: a second invoice (why the bridge also looks up by Reference)
    assert _count(api) == 2


def test_keys_are_per_tenant(api, emulator_control):
    # Given the same key used in two organisations
    other = emulator_control("orgs", {"name": "Second Org Ltd"})
    contact = api.contact()
    api.put("/Invoices", _body(contact["ContactID"]), headers={"Idempotency-Key": "same"})
    other_contact = api.put("/Contacts", {"Contacts": [{"Name": "Other"}]},
                            headers={"xero-tenant-id": other["tenantId"]}).json()["Contacts"][0]
    # When the second organisation creates with that key
    response = api.put("/Invoices", _body(other_contact["ContactID"]),
                       headers={"Idempotency-Key": "same", "xero-tenant-id": other["tenantId"]})
    # Then it is processed there
    assert response.status_code == 200
    assert response.json()["Invoices"][0]["Contact"]["ContactID"] == other_contact["ContactID"]

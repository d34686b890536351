"""Control endpoints, several organisations, and the standalone entry point."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[3]


def test_state_holds_everything(api, emulator_control, xero):
    # Given a contact, an invoice and a payment
    invoice = api.invoice(api.contact()["ContactID"], Status="AUTHORISED")
    api.put("/Payments", {"Payments": [{"Invoice": {"InvoiceID": invoice["InvoiceID"]}, "Account": {"Code": "090"},
                                        "Amount": "10"}]})
    # When the state is read
    state = emulator_control("state", method="GET")
    # Then it has the records, the clock, the faults, the webhooks and the rate-limit counters
    org = state["xero"]["orgs"][xero.tenant_id]
    assert len(org["contacts"]) == 1 and len(org["invoices"]) == 1 and len(org["payments"]) == 1
    assert {"clock", "faults", "webhooks", "rate_limits"} <= set(state)
    assert state["rate_limits"]["tenants"][xero.tenant_id]["minute"]["count"] >= 3


def test_reset_forgets_everything(api, emulator_control, xero):
    # Given data, a fault and a moved clock
    api.contact()
    emulator_control("faults", {"kind": "500", "count": 5})
    emulator_control("clock", {"advance": 3600})
    # When reset
    emulator_control("reset")
    # Then records, faults and the clock offset are gone
    state = emulator_control("state", method="GET")
    assert state["xero"]["orgs"][xero.tenant_id]["contacts"] == []
    assert state["faults"]["rules"] == []
    assert abs(state["clock"]["offset_seconds"]) < 1


def test_clock_can_be_set_advanced_and_frozen(emulator_control):
    # Given a frozen clock set to a known instant
    emulator_control("clock", {"set": "2030-06-01T12:00:00Z", "freeze": True})
    # When it is advanced by 90 seconds and read twice
    emulator_control("clock", {"advance": 90})
    first = emulator_control("clock", method="GET")["now"]
    time.sleep(0.01)
    second = emulator_control("clock", method="GET")["now"]
    # Then it reads the set instant plus 90 s, and does not move on its own while frozen
    assert first == second == "2030-06-01T12:01:30+00:00"


def test_bad_fault_rule_is_refused(emulator_control, xero):
    # Given a fault kind that does not exist
    # When posted
    response = httpx.post(f"{xero.url}/_emulator/faults", json={"kind": "gremlins"})
    # Then the control endpoint says why
    assert response.status_code == 400
    assert "unknown fault kind" in response.json()["error"]


def test_another_organisation_can_be_connected(api, emulator_control, http):
    # Given a second organisation added through the control endpoint
    other = emulator_control("orgs", {"name": "Second Org Ltd", "base_currency": "EUR"})
    # When the app lists its connections and uses the new tenant
    tenants = {c["tenantId"]: c["tenantName"] for c in
               http.get("/connections", headers={"Authorization": f"Bearer {api.access_token}"}).json()}
    contact = api.put("/Contacts", {"Contacts": [{"Name": "Only There"}]}, headers={"xero-tenant-id": other["tenantId"]})
    # Then both organisations are connected, and each keeps its own records
    assert tenants[other["tenantId"]] == "Second Org Ltd" and len(tenants) == 2
    assert contact.status_code == 200
    assert api.get("/Contacts", params={"where": 'Name=="Only There"'}).json()["Contacts"] == []


def test_new_org_has_its_own_base_currency(api, emulator_control):
    # Given an organisation whose base currency is EUR
    other = emulator_control("orgs", {"name": "Euro GmbH", "base_currency": "EUR"})
    headers = {"xero-tenant-id": other["tenantId"]}
    contact = api.put("/Contacts", {"Contacts": [{"Name": "Kunde"}]}, headers=headers).json()["Contacts"][0]
    # When an invoice is created there without a currency
    response = api.put("/Invoices", {"Invoices": [{"Type": "ACCREC", "Contact": {"ContactID": contact["ContactID"]},
                                                   "LineItems": [{"Description": "x", "Quantity": 1, "UnitAmount": 1,
                                                                  "AccountCode": "200", "TaxType": "NONE"}]}]},
                       headers=headers)
    # Then it is in EUR
    assert response.json()["Invoices"][0]["CurrencyCode"] == "EUR"


def test_webhooks_carry_the_tenant_of_the_change(api, emulator_control, receiver):
    # Given two organisations and webhooks on
    other = emulator_control("orgs", {"name": "Second Org Ltd"})
    emulator_control("webhooks", {"url": receiver.url})
    # When a contact is created in the second one
    api.put("/Contacts", {"Contacts": [{"Name": "Elsewhere"}]}, headers={"xero-tenant-id": other["tenantId"]})
    deadline = time.monotonic() + 5
    while not receiver.requests and time.monotonic() < deadline:
        time.sleep(0.01)
    # Then the event names that tenant
    [event] = json.loads(receiver.requests[0]["body"])["events"]
    assert event["tenantId"] == other["tenantId"]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_standalone_module_serves_on_the_port_from_the_environment():
    # Given XERO_EMULATOR_PORT set to a free port
    port = _free_port()
    env = {**os.environ, "XERO_EMULATOR_PORT": str(port), "XERO_WEBHOOK_URL": "none", "PYTHONPATH": str(ROOT)}
    # When `python -m local.emulators.xero` is started
    process = subprocess.Popen([sys.executable, "-m", "local.emulators.xero"], cwd=ROOT, env=env,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        state = None
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            try:
                state = httpx.get(f"http://127.0.0.1:{port}/_emulator/state", timeout=1).json()
                break
            except httpx.TransportError:
                time.sleep(0.1)
        # Then it answers on 127.0.0.1 at that port, with webhooks off
        assert state is not None and state["emulator"] == "xero"
        assert state["webhooks"]["url"] is None
    finally:
        process.terminate()
        process.wait(timeout=10)

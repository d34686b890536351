"""Fault injection through /_emulator/faults: 429s, 5xx, slow answers, responses lost after the write."""

from __future__ import annotations

import httpx
import pytest


def _invoice_body(contact_id: str, reference: str) -> dict:
    return {"Invoices": [{"Type": "ACCREC", "Contact": {"ContactID": contact_id}, "Reference": reference,
                          "LineItems": [{"Description": "x", "Quantity": 1, "UnitAmount": 10, "AccountCode": "200",
                                         "TaxType": "OUTPUT2"}]}]}


def test_dropped_response_leaves_the_invoice_created(api, emulator_control):
    # Given the next invoice PUT will lose its response after the write commits
    contact = api.contact()
    emulator_control("faults", {"kind": "drop", "count": 1, "method": "PUT", "path_prefix": "/api.xro/2.0/Invoices"})
    # When the client creates an invoice
    with pytest.raises(httpx.TransportError):
        api.put("/Invoices", _invoice_body(contact["ContactID"], "deal-77"))
    # Then the client saw an error, yet the invoice exists and can be found by Reference
    found = api.get("/Invoices", params={"where": 'Reference=="deal-77"'}).json()["Invoices"]
    assert len(found) == 1


def test_drop_before_processing_creates_nothing(api, emulator_control):
    # Given a drop fault in the "before" phase
    contact = api.contact()
    emulator_control("faults", {"kind": "drop", "phase": "before", "count": 1, "method": "PUT"})
    # When the client creates an invoice
    with pytest.raises(httpx.TransportError):
        api.put("/Invoices", _invoice_body(contact["ContactID"], "deal-78"))
    # Then nothing was written
    assert api.get("/Invoices", params={"where": 'Reference=="deal-78"'}).json()["Invoices"] == []


def test_injected_5xx_on_the_next_call_only(api, emulator_control):
    # Given one injected 503
    emulator_control("faults", {"kind": "503", "count": 1})
    # When two calls are made
    first, second = api.get("/Contacts"), api.get("/Contacts")
    # Then the first fails with 503 and the second succeeds
    assert (first.status_code, second.status_code) == (503, 200)


def test_injected_429_looks_like_xero(api, emulator_control):
    # Given an injected rate-limit answer
    emulator_control("faults", {"kind": "429", "count": 1, "retry_after": 7})
    # When a call is made
    response = api.get("/Invoices")
    # Then it carries Xero's headers
    assert response.status_code == 429
    assert response.headers["X-Rate-Limit-Problem"] == "minute"
    assert response.headers["Retry-After"] == "7"


def test_timeout_after_commit_makes_the_client_give_up_but_keeps_the_write(api, emulator_control):
    # Given the next invoice PUT answers only after 2 seconds (the write itself is immediate)
    contact = api.contact()
    emulator_control("faults", {"kind": "timeout", "phase": "after", "seconds": 2, "count": 1, "method": "PUT"})
    # When the client gives up after 0.3 s
    with pytest.raises(httpx.TimeoutException):
        api.put("/Invoices", _invoice_body(contact["ContactID"], "deal-79"), timeout=0.3)
    # Then the invoice was created all the same
    assert len(api.get("/Invoices", params={"where": 'Reference=="deal-79"'}).json()["Invoices"]) == 1
    emulator_control("faults", method="DELETE")


def test_rate_based_faults_are_reproducible_with_a_seed(api, emulator_control):
    # Given a 50% 500-fault rate with seed 42
    def run() -> list[int]:
        emulator_control("faults", {"clear": True, "seed": 42, "rules": [{"kind": "500", "rate": 0.5}]})
        return [api.get("/TaxRates").status_code for _ in range(12)]

    # When the same sequence is run twice
    first, second = run(), run()
    # Then the same calls fail each time, and some but not all fail
    assert first == second
    assert 200 in first and 500 in first


def test_faults_can_be_limited_to_a_method_and_path(api, emulator_control):
    # Given a fault on POST /Invoices only
    emulator_control("faults", {"kind": "500", "method": "POST", "path_prefix": "/api.xro/2.0/Invoices"})
    # When GET /Invoices and PUT /Contacts are called
    # Then they are unaffected
    assert api.get("/Invoices").status_code == 200
    assert api.put("/Contacts", {"Contacts": [{"Name": "Unaffected"}]}).status_code == 200
    assert api.post("/Invoices", {"Invoices": []}).status_code == 500


def test_faults_apply_to_the_token_endpoint_too(identity, emulator_control):
    # Given a 500 injected on the token endpoint
    code = identity.code()
    emulator_control("faults", {"kind": "500", "count": 1, "path_prefix": "/connect/token"})
    # When the code is exchanged, then retried
    first = identity.exchange(code)
    second = identity.exchange(code)
    # Then the first fails before processing, so the retry still works
    assert first.status_code == 500
    assert second.status_code == 200


def test_injected_faults_are_logged_in_state(api, emulator_control):
    # Given one injected fault that fired
    emulator_control("faults", {"kind": "500", "count": 1})
    api.get("/Contacts")
    # When the state is read
    faults = emulator_control("state", method="GET")["faults"]
    # Then the rule shows its hit and the log has the call
    assert faults["rules"][0]["hits"] == 1
    assert faults["injected"][0]["path"] == "/api.xro/2.0/Contacts"

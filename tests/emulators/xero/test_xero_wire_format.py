"""The emulator refuses what Xero's spec and reports say Xero refuses, so a client that sends it fails its
tests: numbers as JSON strings (strict mode, on by default), escaped quotes inside a `where` literal."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import httpx
import pytest

from crmbridge.errors import PermanentError
from crmbridge.xero.client import XeroClient
from crmbridge.xero.models import ContactRef, LineItem, NewInvoice


def _line(**numbers) -> dict:
    return {"Description": "Consulting", "AccountCode": "200", "TaxType": "OUTPUT2", **numbers}


def _put(api, line: dict):
    contact = api.contact()
    body = {"Type": "ACCREC", "Contact": {"ContactID": contact["ContactID"]}, "LineAmountTypes": "Exclusive",
            "LineItems": [line]}
    return api.put("/Invoices", {"Invoices": [body]}, params={"summarizeErrors": "false"})


def test_the_strict_emulator_refuses_a_unit_amount_sent_as_a_string(api):
    # Given a line whose UnitAmount is the JSON string "120"
    response = _put(api, _line(Quantity=1, UnitAmount="120"))
    # Then the element is refused, saying which field is not a number
    [element] = response.json()["Invoices"]
    assert element["HasErrors"] is True
    assert [e["Message"] for e in element["ValidationErrors"]] == [
        "LineItems[1].UnitAmount must be a JSON number, not the string '120'."]


def test_the_same_line_with_json_numbers_is_created(api):
    response = _put(api, _line(Quantity=1, UnitAmount=120))
    [element] = response.json()["Invoices"]
    assert not element.get("HasErrors") and Decimal(str(element["Total"])) == Decimal("144.00")


def test_a_where_with_a_backslash_escaped_quote_is_a_query_parse_exception(api):
    # Given a where literal escaping a double quote with a backslash, as the bridge once sent
    response = api.get("/Invoices", params={"where": 'Reference=="PO \\"7\\""'})
    # Then Xero's QueryParseException: 400 with ErrorNumber 16, Type and Message
    assert response.status_code == 400
    body = response.json()
    assert (body["ErrorNumber"], body["Type"]) == (16, "QueryParseException") and body["Message"]


class Tokens:
    def __init__(self, token: str) -> None:
        self.token = token

    def access_token(self, tenant_id: str) -> str:
        return self.token

    def expired(self, tenant_id: str, token: str) -> None:
        raise AssertionError("the token does not expire in these tests")


@pytest.fixture
def client(api, xero):
    with httpx.Client(timeout=10) as http:
        yield XeroClient(http, f"{xero.url}/api.xro/2.0", Tokens(api.access_token))


def test_the_bridges_invoice_is_accepted_by_the_strict_emulator_with_its_exact_figures(api, client):
    # Given an invoice from the bridge with 4-decimal figures
    contact = api.contact()
    invoice = NewInvoice(Contact=ContactRef(ContactID=contact["ContactID"]), Date=date(2026, 12, 7),
                         DueDate=date(2027, 1, 6), Reference="101", CurrencyCode="GBP", LineAmountTypes="Exclusive",
                         LineItems=[LineItem(Description="Consulting", Quantity=Decimal("2.5"),
                                             UnitAmount=Decimal("19.9999"), AccountCode="200", TaxType="OUTPUT2")])
    # When created through the client
    created = client.create_invoice(api.tenant_id, invoice, idempotency_key="wire-1")
    # Then Xero computed from the exact figures: 2.5 x 19.9999 = 50.00 (49.99975 rounded), + 20% VAT
    assert (created.sub_total, created.total) == (Decimal("50.00"), Decimal("60.00"))


def test_a_reference_with_a_quote_is_found_exactly_without_a_query_parse_exception(api, client):
    # Given invoices referenced 'PO "7"' and 'PO "7" bis'
    contact = api.contact()
    for reference in ('PO "7"', 'PO "7" bis'):
        api.invoice(contact["ContactID"], Reference=reference)
    # When looked up by the exact reference (searchTerm, filtered exactly)
    found = client.invoices_by_reference(api.tenant_id, 'PO "7"')
    # Then only the exact one
    assert [i.reference for i in found] == ['PO "7"']


def test_the_client_refuses_an_id_that_would_change_the_path(client, api):
    with pytest.raises(PermanentError, match="not a Xero id"):
        client.get_contact(api.tenant_id, "../Contacts")

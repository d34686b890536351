"""Contract: the official Xero Python SDK (xero-python) as a real client of the emulator.

The SDK builds URLs from each API's `base_url` (AccountingApi: .../api.xro/2.0, IdentityApi: the host)
and refreshes tokens at TokenApi.refresh_token_url; pointing those at the emulator is all it takes.
Every response must deserialise into the SDK's models, whose setters validate enums.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
from xero_python.accounting import AccountingApi
from xero_python.accounting.models import (
    Account,
    Contact,
    Contacts,
    Invoice,
    Invoices,
    LineAmountTypes,
    LineItem,
    Payment,
)
from xero_python.api_client import ApiClient, Configuration
from xero_python.api_client.oauth2 import OAuth2Token, TokenApi
from xero_python.exceptions import HTTPStatusException
from xero_python.identity import IdentityApi


@pytest.fixture
def sdk(xero, identity, monkeypatch):
    """An SDK ApiClient holding a token set obtained through authorize + code exchange."""
    monkeypatch.setattr(TokenApi, "refresh_token_url", f"{xero.url}/connect/token")
    store: dict = {}
    client = ApiClient(
        Configuration(oauth2_token=OAuth2Token(client_id="local-client-id", client_secret="local-client-secret")),
        pool_threads=1,
        oauth2_token_getter=lambda: store["token"],
        oauth2_token_saver=lambda token: store.__setitem__("token", token),
    )
    token = identity.tokens()
    token["scope"] = token["scope"].split()
    client.set_oauth2_token(token)
    return client


@pytest.fixture
def accounting(sdk, xero) -> AccountingApi:
    return AccountingApi(sdk, base_url=xero.api_url)


def _contact(accounting, tenant, name="SDK Customer Ltd") -> Contact:
    created = accounting.create_contacts(tenant, contacts=Contacts(contacts=[Contact(name=name, email_address="ar@sdk.test")]))
    return created.contacts[0]


def _invoice(contact_id, reference="deal-sdk-1", status="AUTHORISED") -> Invoice:
    return Invoice(
        type="ACCREC",
        contact=Contact(contact_id=contact_id),
        date=date(2026, 5, 1),
        due_date=date(2026, 5, 31),
        reference=reference,
        status=status,
        line_amount_types=LineAmountTypes.EXCLUSIVE,
        line_items=[LineItem(description="Consulting", quantity=Decimal("2"), unit_amount=Decimal("150.00"),
                             account_code="200", tax_type="OUTPUT2")],
    )


def test_sdk_refreshes_through_the_emulator_token_endpoint(sdk, emulator_control):
    # Given the SDK holds a token set from the connect flow
    before = sdk.get_oauth2_token()
    # When it refreshes
    after = sdk.refresh_oauth2_token()
    # Then it got a rotated set in one call to the token endpoint
    assert after["refresh_token"] != before["refresh_token"]
    assert after["access_token"] != before["access_token"]
    calls = emulator_control("state", method="GET")["xero"]["identity"]["token_calls"]
    assert calls["refresh_token"] == 1


def test_sdk_lists_connections(sdk, xero):
    # Given the SDK's IdentityApi pointed at the emulator
    identity_api = IdentityApi(sdk, base_url=xero.url)
    # When it lists connections
    connections = identity_api.get_connections()
    # Then the demo tenant deserialises into the SDK's Connection model
    assert [c.tenant_id for c in connections] == [xero.tenant_id]
    assert connections[0].tenant_type == "ORGANISATION"
    assert connections[0].created_date_utc is not None


def test_sdk_creates_and_reads_contacts(accounting, xero):
    # Given a contact created through the SDK
    created = _contact(accounting, xero.tenant_id)
    # When it is read back by id and by where
    by_id = accounting.get_contact(xero.tenant_id, created.contact_id).contacts[0]
    by_where = accounting.get_contacts(xero.tenant_id, where='Name=="SDK Customer Ltd"').contacts
    # Then the SDK's models carry its fields
    assert by_id.name == "SDK Customer Ltd"
    assert by_id.email_address == "ar@sdk.test"
    assert by_id.balances.accounts_receivable.outstanding == Decimal("0.00")
    assert by_id.updated_date_utc is not None
    assert [c.contact_id for c in by_where] == [created.contact_id]


def test_sdk_creates_and_reads_invoices(accounting, xero):
    # Given an AUTHORISED invoice created through the SDK with an Idempotency-Key
    contact = _contact(accounting, xero.tenant_id)
    created = accounting.create_invoices(xero.tenant_id, invoices=Invoices(invoices=[_invoice(contact.contact_id)]),
                                         summarize_errors=False, idempotency_key="sdk-deal-1").invoices[0]
    # When it is read back by id and listed by Reference with paging
    by_id = accounting.get_invoice(xero.tenant_id, created.invoice_id).invoices[0]
    listed = accounting.get_invoices(xero.tenant_id, where='Reference=="deal-sdk-1"', page=1)
    # Then all deserialise, with Xero's figures: 2 x 150.00 + 20% VAT
    assert created.has_errors is False
    assert by_id.invoice_number == "INV-0001"
    assert by_id.status == "AUTHORISED"
    assert (by_id.sub_total, by_id.total_tax, by_id.total) == (Decimal("300.00"), Decimal("60.00"), Decimal("360.00"))
    assert by_id.date == date(2026, 5, 1) and by_id.due_date == date(2026, 5, 31)
    assert by_id.line_amount_types == LineAmountTypes.EXCLUSIVE
    assert by_id.line_items[0].tax_amount == Decimal("60.00")
    assert listed.pagination.item_count == 1
    assert listed.invoices[0].invoice_id == created.invoice_id


def test_sdk_payment_makes_the_invoice_paid(accounting, xero):
    # Given an AUTHORISED invoice of 360.00
    contact = _contact(accounting, xero.tenant_id)
    invoice = accounting.create_invoices(xero.tenant_id, invoices=Invoices(invoices=[_invoice(contact.contact_id)]),
                                         summarize_errors=False).invoices[0]
    # When the SDK pays it in full into the bank account
    payment = accounting.create_payment(xero.tenant_id, payment=Payment(
        invoice=Invoice(invoice_id=invoice.invoice_id), account=Account(code="090"), amount=Decimal("360.00"),
        date=date(2026, 5, 20))).payments[0]
    # Then the payment and the now PAID invoice deserialise
    after = accounting.get_invoice(xero.tenant_id, invoice.invoice_id).invoices[0]
    assert payment.amount == Decimal("360.00")
    assert after.status == "PAID"
    assert after.amount_due == Decimal("0.00")
    assert after.fully_paid_on_date == date(2026, 5, 20)
    assert accounting.get_payments(xero.tenant_id).payments[0].payment_id == payment.payment_id


def test_sdk_reads_settings(accounting, xero):
    # Given the demo organisation
    # When the SDK reads tax rates, accounts, organisation and currencies
    rates = accounting.get_tax_rates(xero.tenant_id).tax_rates
    rounding = accounting.get_accounts(xero.tenant_id, where='SystemAccount=="ROUNDING"').accounts
    banks = accounting.get_accounts(xero.tenant_id, where='Type=="BANK"').accounts
    organisation = accounting.get_organisations(xero.tenant_id).organisations[0]
    currencies = accounting.get_currencies(xero.tenant_id).currencies
    # Then all deserialise with the UK defaults
    assert {r.tax_type: r.effective_rate for r in rates}["OUTPUT2"] == Decimal("20.0000")
    assert len(rounding) == 1 and rounding[0].code == "860"
    assert banks and all(b.enable_payments_to_account for b in banks)
    assert organisation.base_currency.value == "GBP"
    assert {c.code.value for c in currencies} == {"GBP", "EUR", "USD"}


def test_sdk_sees_per_element_validation_errors(accounting, xero):
    # Given a batch with one invoice using an unknown tax type
    contact = _contact(accounting, xero.tenant_id)
    bad = _invoice(contact.contact_id, reference="bad")
    bad.line_items[0].tax_type = "NOPE"
    # When created with summarize_errors=False
    result = accounting.create_invoices(xero.tenant_id, invoices=Invoices(invoices=[_invoice(contact.contact_id), bad]),
                                        summarize_errors=False).invoices
    # Then the SDK gets each element's outcome
    assert [i.has_errors for i in result] == [False, True]
    assert result[1].validation_errors[0].message.startswith("The TaxType code 'NOPE'")


def test_sdk_raises_on_a_summarised_validation_exception(accounting, xero):
    # Given an invoice with an unknown account code
    contact = _contact(accounting, xero.tenant_id)
    bad = _invoice(contact.contact_id)
    bad.line_items[0].account_code = "999"
    # When created with the default summarising
    with pytest.raises(HTTPStatusException) as raised:
        accounting.create_invoices(xero.tenant_id, invoices=Invoices(invoices=[bad]))
    # Then the SDK raises a 400 whose body is Xero's ValidationException
    assert raised.value.status == 400
    assert raised.value.error_data["Type"] == "ValidationException"


def test_sdk_honours_retry_after_on_the_minute_limit(accounting, xero, emulator_control):
    # Given a minute limit of 1, used, with half a second of the window left on the emulator clock
    emulator_control("limits", {"minute": 1})
    accounting.get_tax_rates(xero.tenant_id)
    emulator_control("clock", {"advance": 59.5})
    # When the SDK calls again
    rates = accounting.get_tax_rates(xero.tenant_id).tax_rates
    # Then it was refused once (429 minute, Retry-After 1), waited as told, and succeeded on retry
    assert rates
    assert emulator_control("state", method="GET")["rate_limits"]["rejections"] == {"minute": 1}


def test_sdk_raises_its_rate_limit_exception_without_retry_after(accounting, xero, emulator_control):
    # Given the app-wide minute limit used up (Xero sends no Retry-After for it)
    emulator_control("limits", {"app_minute": 1})
    accounting.get_tax_rates(xero.tenant_id)
    # When the SDK calls again
    with pytest.raises(HTTPStatusException) as raised:
        accounting.get_tax_rates(xero.tenant_id)
    # Then it raises its rate-limit exception naming the problem
    assert raised.value.status == 429
    assert raised.value.rate_limit == "appminute"

"""Line and tax arithmetic exactly as Xero does it; expected figures are worked out by hand below."""

from __future__ import annotations

from decimal import Decimal

import pytest

from local.emulators.xero import arithmetic


def D(value) -> Decimal:
    return Decimal(str(value))


def _create(api, lines, lat, params=None, contact_name="Acme Ltd", **fields):
    contact = api.contact(contact_name)
    body = {"Type": "ACCREC", "Contact": {"ContactID": contact["ContactID"]}, "LineAmountTypes": lat,
            "LineItems": lines, **fields}
    return api.put("/Invoices", {"Invoices": [body]}, params=params)


def test_inclusive_invoice_with_discounts_totals_exactly_as_xero(api):
    # Given an Inclusive invoice:
    #   line 1: 3 x 19.99 less 10%      -> 59.97 x 0.9 = 53.973 -> 53.97; VAT 20% inclusive: 53.97 - 53.97/1.2
    #           = 53.97 - 44.975 = 8.995 -> 9.00
    #   line 2: 1 x 8.00 less 0.53      -> 7.47; VAT: 7.47 - 6.225 = 1.245 -> 1.25 (half-up; half-even would say 1.24)
    #   line 3: 2 x 5.00 zero rated     -> 10.00; VAT 0.00
    #   Total = 53.97 + 7.47 + 10.00 = 71.44; TotalTax = 9.00 + 1.25 = 10.25; SubTotal = 71.44 - 10.25 = 61.19
    #   (taxing the total instead would give 61.44/6 = 10.24: a penny out, which is why Xero taxes per line)
    lines = [
        {"Description": "Widgets", "Quantity": 3, "UnitAmount": 19.99, "DiscountRate": 10,
         "AccountCode": "200", "TaxType": "OUTPUT2"},
        {"Description": "Gadget", "Quantity": 1, "UnitAmount": 8.00, "DiscountAmount": 0.53,
         "AccountCode": "200", "TaxType": "OUTPUT2"},
        {"Description": "Books", "Quantity": 2, "UnitAmount": 5.00, "AccountCode": "200", "TaxType": "ZERORATEDOUTPUT"},
    ]
    # When it is created
    response = _create(api, lines, "Inclusive")
    # Then every figure is Xero's
    assert response.status_code == 200, response.text
    invoice = response.json()["Invoices"][0]
    assert [(D(li["LineAmount"]), D(li["TaxAmount"])) for li in invoice["LineItems"]] == [
        (D("53.97"), D("9.00")), (D("7.47"), D("1.25")), (D("10.00"), D("0.00"))]
    assert (D(invoice["SubTotal"]), D(invoice["TotalTax"]), D(invoice["Total"])) == (D("61.19"), D("10.25"), D("71.44"))
    assert D(invoice["TotalDiscount"]) == D("6.53")  # 6.00 + 0.53
    assert D(invoice["AmountDue"]) == D("71.44")


def test_exclusive_invoice_totals(api):
    # Given an Exclusive invoice:
    #   line 1: 1 x 12.10 at 5%          -> 12.10; VAT 0.605 -> 0.61 (half-up)
    #   line 2: 3 x 33.33 at 20%         -> 99.99; VAT 19.998 -> 20.00
    #   line 3: 2 x 49.99 less 15% at 20% -> 99.98 x 0.85 = 84.983 -> 84.98; VAT 16.996 -> 17.00
    #   SubTotal 197.07, TotalTax 37.61, Total 234.68
    lines = [
        {"Description": "a", "Quantity": 1, "UnitAmount": 12.10, "AccountCode": "200", "TaxType": "RROUTPUT"},
        {"Description": "b", "Quantity": 3, "UnitAmount": 33.33, "AccountCode": "200", "TaxType": "OUTPUT2"},
        {"Description": "c", "Quantity": 2, "UnitAmount": 49.99, "DiscountRate": 15, "AccountCode": "200",
         "TaxType": "OUTPUT2"},
    ]
    # When it is created
    invoice = _create(api, lines, "Exclusive").json()["Invoices"][0]
    # Then
    assert [D(li["TaxAmount"]) for li in invoice["LineItems"]] == [D("0.61"), D("20.00"), D("17.00")]
    assert (D(invoice["SubTotal"]), D(invoice["TotalTax"]), D(invoice["Total"])) == (
        D("197.07"), D("37.61"), D("234.68"))


def test_notax_invoice_charges_no_tax_whatever_the_tax_type(api):
    # Given a NoTax invoice whose line still names OUTPUT2: 2 x 50.00 = 100.00
    lines = [{"Description": "a", "Quantity": 2, "UnitAmount": 50, "AccountCode": "200", "TaxType": "OUTPUT2"}]
    # When it is created
    invoice = _create(api, lines, "NoTax").json()["Invoices"][0]
    # Then no tax at all
    assert (D(invoice["SubTotal"]), D(invoice["TotalTax"]), D(invoice["Total"])) == (D("100.00"), D("0.00"), D("100.00"))


def test_totals_in_the_request_are_ignored(api):
    # Given a request that claims its own totals and tax
    lines = [{"Description": "a", "Quantity": 1, "UnitAmount": 100, "AccountCode": "200", "TaxType": "OUTPUT2",
              "TaxAmount": 55, "LineAmount": 100}]
    # When it is created
    invoice = _create(api, lines, "Exclusive", SubTotal=1, TotalTax=2, Total=3).json()["Invoices"][0]
    # Then the emulator computes them: 100.00 + 20.00
    assert (D(invoice["SubTotal"]), D(invoice["TotalTax"]), D(invoice["Total"])) == (D("100.00"), D("20.00"), D("120.00"))


def test_unit_amount_keeps_four_decimals_only_with_unitdp_4(api):
    # Given 3 x 1.23456
    lines = [{"Description": "a", "Quantity": 3, "UnitAmount": 1.23456, "AccountCode": "200", "TaxType": "NONE"}]
    # When created with unitdp=4 (1.2346 x 3 = 3.7038 -> 3.70) and without (1.23 x 3 = 3.69)
    four = _create(api, lines, "Exclusive", params={"unitdp": 4}).json()["Invoices"][0]
    two = _create(api, lines, "Exclusive", contact_name="Other").json()["Invoices"][0]
    # Then
    assert D(four["LineItems"][0]["UnitAmount"]) == D("1.2346")
    assert D(four["LineItems"][0]["LineAmount"]) == D("3.70")
    assert D(two["LineItems"][0]["UnitAmount"]) == D("1.23")
    assert D(two["LineItems"][0]["LineAmount"]) == D("3.69")


def test_money_is_written_with_two_decimals(api):
    # Given an invoice of 1 x 100
    lines = [{"Description": "a", "Quantity": 1, "UnitAmount": 100, "AccountCode": "200", "TaxType": "NONE"}]
    # When its raw JSON is read
    raw = _create(api, lines, "Exclusive").text
    # Then amounts are JSON numbers with Xero's two decimals, quantities four
    assert '"Total":100.00' in raw and '"Quantity":1.0000' in raw


@pytest.mark.parametrize("field, value, message", [
    ("TaxType", "VAT20", "The TaxType code 'VAT20' does not exist or cannot be used for this type of transaction."),
    ("TaxType", "INPUT2", "The TaxType code 'INPUT2' does not exist or cannot be used for this type of transaction."),
    ("AccountCode", "999", "Account code '999' is not a valid code for this document."),
])
def test_unknown_tax_type_or_account_is_a_validation_exception(api, field, value, message):
    # Given a line with a tax type or account the organisation does not have (or an expense-only tax on a sale)
    line = {"Description": "a", "Quantity": 1, "UnitAmount": 10, "AccountCode": "200", "TaxType": "OUTPUT2",
            field: value}
    # When the invoice is created
    response = _create(api, [line], "Exclusive")
    # Then Xero's validation exception names it
    assert response.status_code == 400
    body = response.json()
    assert body["Type"] == "ValidationException"
    assert body["Elements"][0]["ValidationErrors"] == [{"Message": message}]


def test_second_currency_uses_the_given_rate(api):
    # Given an EUR invoice with its own rate
    lines = [{"Description": "a", "Quantity": 1, "UnitAmount": 100, "AccountCode": "200", "TaxType": "NONE"}]
    # When created
    invoice = _create(api, lines, "Exclusive", CurrencyCode="EUR", CurrencyRate=1.2).json()["Invoices"][0]
    # Then the invoice is in EUR at that rate, totals in EUR
    assert invoice["CurrencyCode"] == "EUR"
    assert D(invoice["CurrencyRate"]) == D("1.2")
    assert D(invoice["Total"]) == D("100.00")


def test_currency_the_org_does_not_have_is_refused(api):
    # Given a currency the organisation is not subscribed to
    lines = [{"Description": "a", "Quantity": 1, "UnitAmount": 100, "AccountCode": "200", "TaxType": "NONE"}]
    # When used
    response = _create(api, lines, "Exclusive", CurrencyCode="JPY")
    # Then refused
    assert response.json()["Elements"][0]["ValidationErrors"][0]["Message"] == \
        "Organisation is not subscribed to currency JPY"


def test_default_currency_is_the_org_base_currency(api):
    # Given an invoice without CurrencyCode
    lines = [{"Description": "a", "Quantity": 1, "UnitAmount": 1, "AccountCode": "200", "TaxType": "NONE"}]
    # When created
    invoice = _create(api, lines, "Exclusive").json()["Invoices"][0]
    # Then it is GBP at rate 1
    assert invoice["CurrencyCode"] == "GBP"
    assert D(invoice["CurrencyRate"]) == D("1")


@pytest.mark.parametrize("line_amount, rate, lat, expected", [
    ("0.10", "5", "Exclusive", "0.01"),    # 0.005 rounds half up
    ("7.47", "20", "Inclusive", "1.25"),   # 1.245 rounds half up
    ("100.00", "20", "NoTax", "0.00"),
    ("120.00", "20", "Inclusive", "20.00"),
])
def test_line_tax_is_rounded_half_up_to_two_decimals(line_amount, rate, lat, expected):
    # Given a line amount, a rate and how amounts are expressed
    # When the tax is computed
    tax = arithmetic.line_tax(D(line_amount), D(rate), lat)
    # Then it is rounded half-up to 2 decimals
    assert tax == D(expected)

"""Payments: AmountDue/AmountPaid follow, PAID at zero, no overpayment, only AUTHORISED invoices."""

from __future__ import annotations

from decimal import Decimal


def _authorised_invoice(api, amount=100):
    contact = api.contact()
    # 1 x amount + 20% VAT
    return api.invoice(contact["ContactID"], Status="AUTHORISED", DueDate="2999-01-01",
                       LineItems=[{"Description": "x", "Quantity": 1, "UnitAmount": amount, "AccountCode": "200",
                                   "TaxType": "OUTPUT2"}])


def _pay(api, invoice_id, amount, **extra):
    return api.put("/Payments", {"Payments": [{"Invoice": {"InvoiceID": invoice_id}, "Account": {"Code": "090"},
                                               "Date": "2026-05-01", "Amount": amount, **extra}]})


def test_partial_payment_moves_amount_due_and_paid(api):
    # Given an AUTHORISED invoice of 120.00
    invoice = _authorised_invoice(api)
    # When 50.00 is paid
    response = _pay(api, invoice["InvoiceID"], "50.00")
    # Then the invoice owes 70.00, has 50.00 paid, and stays AUTHORISED
    assert response.status_code == 200, response.text
    after = api.get(f"/Invoices/{invoice['InvoiceID']}").json()["Invoices"][0]
    assert (Decimal(str(after["AmountDue"])), Decimal(str(after["AmountPaid"]))) == (Decimal("70.00"), Decimal("50.00"))
    assert after["Status"] == "AUTHORISED"
    assert len(after["Payments"]) == 1


def test_paying_the_rest_makes_the_invoice_paid_with_fully_paid_date(api):
    # Given an AUTHORISED invoice of 120.00 with 50.00 paid
    invoice = _authorised_invoice(api)
    _pay(api, invoice["InvoiceID"], "50.00")
    # When the remaining 70.00 is paid on 2026-05-01
    response = _pay(api, invoice["InvoiceID"], "70.00")
    # Then it is PAID, owes nothing, and FullyPaidOnDate is the payment date
    assert response.status_code == 200, response.text
    after = api.get(f"/Invoices/{invoice['InvoiceID']}").json()["Invoices"][0]
    assert after["Status"] == "PAID"
    assert after["AmountDue"] == 0
    assert after["FullyPaidOnDate"] == "/Date(1777593600000+0000)/"


def test_overpayment_is_refused(api):
    # Given an invoice owing 120.00
    invoice = _authorised_invoice(api)
    # When 120.01 is paid
    response = _pay(api, invoice["InvoiceID"], "120.01")
    # Then Xero refuses it and nothing changes
    assert response.status_code == 400
    assert response.json()["Elements"][0]["ValidationErrors"][0]["Message"] == \
        "Payment amount exceeds the amount outstanding on this document"
    assert api.get(f"/Invoices/{invoice['InvoiceID']}").json()["Invoices"][0]["AmountPaid"] == 0


def test_payment_on_a_draft_is_refused(api):
    # Given a DRAFT invoice
    invoice = api.invoice(api.contact()["ContactID"])
    # When a payment is made against it
    response = _pay(api, invoice["InvoiceID"], "1.00")
    # Then it is refused
    assert response.status_code == 400
    assert response.json()["Elements"][0]["ValidationErrors"][0]["Message"] == \
        "Payments can only be made against Authorised documents"


def test_payment_to_an_account_that_takes_no_payments_is_refused(api):
    # Given an invoice
    invoice = _authorised_invoice(api)
    # When paid into the Sales account (not a bank account, payments not enabled)
    response = api.put("/Payments", {"Payments": [{"Invoice": {"InvoiceID": invoice["InvoiceID"]},
                                                   "Account": {"Code": "200"}, "Amount": "1.00"}]})
    # Then it is refused
    assert response.status_code == 400


def test_paid_invoice_cannot_be_voided(api):
    # Given a fully paid invoice
    invoice = _authorised_invoice(api)
    _pay(api, invoice["InvoiceID"], "120.00")
    # When it is voided
    response = api.post("/Invoices", {"Invoices": [{"InvoiceID": invoice["InvoiceID"], "Status": "VOIDED"}]})
    # Then it is refused
    assert response.status_code == 400


def test_authorised_invoice_with_a_payment_cannot_be_voided(api):
    # Given an AUTHORISED invoice with a part payment
    invoice = _authorised_invoice(api)
    _pay(api, invoice["InvoiceID"], "10.00")
    # When it is voided
    response = api.post("/Invoices", {"Invoices": [{"InvoiceID": invoice["InvoiceID"], "Status": "VOIDED"}]})
    # Then it is refused because a payment is allocated
    assert response.status_code == 400
    assert "payments" in response.json()["Elements"][0]["ValidationErrors"][0]["Message"]


def test_deleting_a_payment_reopens_the_invoice(api):
    # Given a fully paid invoice
    invoice = _authorised_invoice(api)
    payment = _pay(api, invoice["InvoiceID"], "120.00").json()["Payments"][0]
    # When the payment is deleted
    response = api.post(f"/Payments/{payment['PaymentID']}", {"Payments": [{"Status": "DELETED"}]})
    # Then the invoice is AUTHORISED again and owes the full amount
    assert response.status_code == 200, response.text
    after = api.get(f"/Invoices/{invoice['InvoiceID']}").json()["Invoices"][0]
    assert after["Status"] == "AUTHORISED"
    assert Decimal(str(after["AmountDue"])) == Decimal("120.00")


def test_payments_can_be_listed_and_read(api):
    # Given a payment
    invoice = _authorised_invoice(api)
    payment = _pay(api, invoice["InvoiceID"], "20.00").json()["Payments"][0]
    # When listed and read by id
    listed = api.get("/Payments").json()["Payments"]
    one = api.get(f"/Payments/{payment['PaymentID']}").json()["Payments"][0]
    # Then both show it against its invoice
    assert [p["PaymentID"] for p in listed] == [payment["PaymentID"]]
    assert one["Invoice"]["InvoiceID"] == invoice["InvoiceID"]
    assert one["PaymentType"] == "ACCRECPAYMENT"

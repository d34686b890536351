"""Payments against invoices: AmountDue/AmountPaid follow; AmountDue 0 makes the invoice PAID."""

from __future__ import annotations

import uuid
from datetime import datetime

from .arithmetic import round_money
from .dates import parse_date
from .errors import ValidationFailed
from .invoices import find_invoice, to_decimal
from .models import Account, Invoice, Org, Payment


def _account(org: Org, raw: dict) -> Account | None:
    if raw.get("AccountID"):
        return org.accounts.get(str(raw["AccountID"]).lower())
    if raw.get("Code"):
        return org.account_by_code(str(raw["Code"]))
    return None


def create_payment(org: Org, data: dict, now: datetime) -> tuple[Payment, Invoice]:
    messages: list[str] = []
    raw_invoice = data.get("Invoice") or {}
    invoice = None
    key = raw_invoice.get("InvoiceID") or raw_invoice.get("InvoiceNumber")
    if not key:
        messages.append("An Invoice must be specified for the payment.")
    else:
        invoice = find_invoice(org, str(key))
        if invoice is None:
            messages.append(f"Invoice {key} could not be found.")

    account = _account(org, data.get("Account") or {})
    if account is None:
        messages.append("A valid Account must be specified for the payment.")
    elif account.type != "BANK" and not account.enable_payments:
        messages.append(f"Account {account.code} cannot receive payments: it is not a bank account "
                        "and does not have payments enabled.")

    amount = to_decimal(data.get("Amount"), "Amount", messages)
    if amount is None:
        messages.append("Payment amount must be specified.")
    elif amount <= 0:
        messages.append("Payment amount must be greater than zero.")
    else:
        amount = round_money(amount)

    if invoice is not None:
        if invoice.status != "AUTHORISED":
            messages.append("Payments can only be made against Authorised documents")
        elif amount is not None and amount > invoice.amount_due:
            messages.append("Payment amount exceeds the amount outstanding on this document")
    try:
        payment_date = parse_date(data["Date"]) if data.get("Date") else now.date()
    except ValueError:
        messages.append(f"The Date '{data.get('Date')}' is not valid.")
        payment_date = now.date()
    if messages:
        raise ValidationFailed(*messages)
    assert invoice is not None and account is not None and amount is not None

    rate = to_decimal(data.get("CurrencyRate"), "CurrencyRate", []) or invoice.currency_rate
    payment = Payment(
        payment_id=str(uuid.uuid4()),
        invoice_id=invoice.invoice_id,
        account_id=account.account_id,
        date=payment_date,
        amount=amount,
        currency_rate=rate,
        reference=str(data.get("Reference") or ""),
        payment_type="ACCRECPAYMENT" if invoice.type == "ACCREC" else "ACCPAYPAYMENT",
        created=now,
        updated=now,
    )
    org.payments[payment.payment_id] = payment
    invoice.amount_paid += amount
    invoice.payment_ids.append(payment.payment_id)
    if invoice.amount_due == 0:
        invoice.status = "PAID"
        invoice.fully_paid_on_date = payment_date
    invoice.updated = now
    return payment, invoice


def delete_payment(org: Org, payment: Payment, now: datetime) -> Invoice:
    """POST /Payments/{id} {"Status": "DELETED"}: the amount goes back on the invoice."""
    if payment.status == "DELETED":
        raise ValidationFailed("Payment not of valid status for modification")
    invoice = org.invoices[payment.invoice_id]
    payment.status = "DELETED"
    payment.updated = now
    invoice.amount_paid -= payment.amount
    invoice.payment_ids.remove(payment.payment_id)
    if invoice.status == "PAID":
        invoice.status = "AUTHORISED"
        invoice.fully_paid_on_date = None
    invoice.updated = now
    return invoice


"""Records to Xero's JSON shapes (spec schemas Invoice, Contact, Payment, TaxRate, Account).

Renderers return "native" dicts (Decimal, date, datetime): the `where` filter works on those, and
dates.to_wire() turns them into Xero's "/Date(...)/" strings on the way out.
"""

from __future__ import annotations

import uuid
from datetime import date, datetime
from decimal import Decimal

from .arithmetic import round_unit
from .contacts import balances
from .dates import date_string, ms_envelope, utc_string
from .models import Account, Contact, Invoice, LineItem, Org, Payment, TaxRate

MONEY = Decimal("0.01")


def money(value: Decimal) -> Decimal:
    return value.quantize(MONEY)


def contact_summary(contact: Contact) -> dict:
    fields = contact.fields
    out = {"ContactID": contact.contact_id, "ContactStatus": contact.status, "Name": contact.name}
    for key in ("FirstName", "LastName", "EmailAddress", "ContactNumber"):
        if fields.get(key):
            out[key] = fields[key]
    out.update({"Addresses": [], "Phones": [], "ContactGroups": [], "ContactPersons": [], "HasValidationErrors": False})
    return out


def contact(org: Org, record: Contact, today: date, *, summary_only: bool = False) -> dict:
    out: dict = {"ContactID": record.contact_id, "ContactStatus": record.status}
    out.update(record.fields)
    out["ContactStatus"] = record.status
    out.setdefault("Addresses", [])
    out.setdefault("Phones", [])
    out.setdefault("ContactPersons", [])
    out["UpdatedDateUTC"] = record.updated
    out["ContactGroups"] = []
    invoice_types = {inv.type for inv in org.invoices.values()
                     if inv.contact_id == record.contact_id and inv.status not in ("DELETED", "VOIDED")}
    out["IsSupplier"] = "ACCPAY" in invoice_types
    out["IsCustomer"] = "ACCREC" in invoice_types
    out["HasAttachments"] = False
    out["HasValidationErrors"] = False
    if not summary_only:
        out["Balances"] = balances(org, record, today)
    return out


def line_item(line: LineItem, unitdp: int) -> dict:
    out: dict = {"LineItemID": line.line_item_id}
    if line.description is not None:
        out["Description"] = line.description
    out["Quantity"] = line.quantity
    out["UnitAmount"] = round_unit(line.unit_amount, unitdp)
    if line.item_code:
        out["ItemCode"] = line.item_code
    if line.account_code:
        out["AccountCode"] = line.account_code
    if line.account_id:
        out["AccountID"] = line.account_id
    if line.tax_type:
        out["TaxType"] = line.tax_type
    out["TaxAmount"] = money(line.tax_amount)
    out["LineAmount"] = money(line.line_amount)
    if line.discount_rate is not None:
        out["DiscountRate"] = line.discount_rate.quantize(MONEY)
    if line.discount_amount is not None:
        out["DiscountAmount"] = money(line.discount_amount)
    out["Tracking"] = line.tracking
    return out


def invoice_payment(payment: Payment) -> dict:
    return {
        "PaymentID": payment.payment_id,
        "Date": payment.date,
        "Amount": money(payment.amount),
        "Reference": payment.reference,
        "CurrencyRate": payment.currency_rate.quantize(Decimal("0.000001")),
        "HasAccount": False,
        "HasValidationErrors": False,
    }


def invoice(org: Org, record: Invoice, *, unitdp: int = 2, with_lines: bool = True, full_contact: bool = True) -> dict:
    contact_record = org.contacts[record.contact_id]
    payments = [org.payments[pid] for pid in record.payment_ids]
    out: dict = {
        "Type": record.type,
        "InvoiceID": record.invoice_id,
        "InvoiceNumber": record.invoice_number,
        "Reference": record.reference,
        "Payments": [invoice_payment(p) for p in payments],
        "CreditNotes": [],
        "Prepayments": [],
        "Overpayments": [],
        "AmountDue": money(record.amount_due),
        "AmountPaid": money(record.amount_paid),
        "AmountCredited": Decimal("0.00"),
        "CurrencyRate": record.currency_rate.quantize(Decimal("0.000001")),
        "IsDiscounted": record.is_discounted,
        "HasAttachments": False,
        "HasErrors": False,
        "Contact": contact_summary(contact_record) if full_contact else {
            "ContactID": contact_record.contact_id, "Name": contact_record.name, "HasValidationErrors": False,
        },
        "DateString": date_string(record.date),
        "Date": record.date,
    }
    if record.due_date is not None:
        out["DueDateString"] = date_string(record.due_date)
        out["DueDate"] = record.due_date
    out["Status"] = record.status
    out["LineAmountTypes"] = record.line_amount_types
    out["LineItems"] = [line_item(line, unitdp) for line in record.line_items] if with_lines else []
    out["SubTotal"] = money(record.sub_total)
    out["TotalTax"] = money(record.total_tax)
    out["Total"] = money(record.total)
    if record.is_discounted:
        out["TotalDiscount"] = money(record.total_discount)
    out["UpdatedDateUTC"] = record.updated
    out["UpdatedDateUTCString"] = utc_string(record.updated)
    out["CurrencyCode"] = record.currency_code
    out["SentToContact"] = record.sent_to_contact
    if record.fully_paid_on_date is not None:
        out["FullyPaidOnDate"] = record.fully_paid_on_date
    if record.expected_payment_date is not None:
        out["ExpectedPaymentDate"] = record.expected_payment_date
    if record.branding_theme_id:
        out["BrandingThemeID"] = record.branding_theme_id
    if record.url:
        out["Url"] = record.url
    return out


def payment(org: Org, record: Payment) -> dict:
    inv = org.invoices[record.invoice_id]
    account_record = org.accounts[record.account_id]
    contact_record = org.contacts[inv.contact_id]
    return {
        "PaymentID": record.payment_id,
        "Date": record.date,
        "BankAmount": money(record.amount),
        "Amount": money(record.amount),
        "Reference": record.reference,
        "CurrencyRate": record.currency_rate.quantize(Decimal("0.000001")),
        "PaymentType": record.payment_type,
        "Status": record.status,
        "UpdatedDateUTC": record.updated,
        "HasAccount": True,
        "IsReconciled": False,
        "Account": {"AccountID": account_record.account_id, "Code": account_record.code},
        "Invoice": {
            "Type": inv.type,
            "InvoiceID": inv.invoice_id,
            "InvoiceNumber": inv.invoice_number,
            "Contact": {"ContactID": contact_record.contact_id, "Name": contact_record.name},
            "CurrencyCode": inv.currency_code,
        },
        "HasValidationErrors": False,
    }


def tax_rate(record: TaxRate) -> dict:
    return {
        "Name": record.name,
        "TaxType": record.tax_type,
        "ReportTaxType": record.report_tax_type,
        "CanApplyToAssets": record.expenses,
        "CanApplyToEquity": record.expenses,
        "CanApplyToExpenses": record.expenses,
        "CanApplyToLiabilities": record.expenses,
        "CanApplyToRevenue": record.revenue,
        "DisplayTaxRate": record.rate.quantize(Decimal("0.0000")),
        "EffectiveRate": record.rate.quantize(Decimal("0.0000")),
        "Status": record.status,
        "TaxComponents": [
            {"Name": "VAT", "Rate": record.rate.quantize(Decimal("0.0000")), "IsCompound": False, "IsNonRecoverable": False}
        ],
    }


def account(record: Account, updated: datetime) -> dict:
    out: dict = {
        "AccountID": record.account_id,
        "Code": record.code,
        "Name": record.name,
        "Status": record.status,
        "Type": record.type,
        "TaxType": record.tax_type,
        "Class": record.account_class,
        "EnablePaymentsToAccount": record.enable_payments,
        "ShowInExpenseClaims": False,
        "ReportingCode": record.reporting_code or "",
        "HasAttachments": False,
        "UpdatedDateUTC": updated,
        "AddToWatchlist": False,
    }
    if record.system_account:
        out["SystemAccount"] = record.system_account
    if record.type == "BANK":
        out["BankAccountNumber"] = record.bank_account_number or ""
        out["BankAccountType"] = "BANK"
        out["CurrencyCode"] = record.currency_code
    return out


def envelope(now: datetime, key: str, items: list, pagination: dict | None = None) -> dict:
    out: dict = {
        "Id": str(uuid.uuid4()),
        "Status": "OK",
        "ProviderName": "Xero CRM Bridge (emulated Xero)",
        "DateTimeUTC": ms_envelope(now),
    }
    if pagination is not None:
        out["pagination"] = pagination
    out[key] = items
    return out

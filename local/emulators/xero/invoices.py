"""Invoices: validation, numbering, status transitions, arithmetic.

Status rules (Xero's invoice status codes): an invoice is created as DRAFT, SUBMITTED or AUTHORISED;
DRAFT and SUBMITTED can move between themselves, to AUTHORISED, or be DELETED; AUTHORISED can only be
VOIDED, and only while no payment is allocated; PAID is reached through payments only; VOIDED and
DELETED are final. An invoice with a payment cannot have its lines, amounts or contact edited.
"""

from __future__ import annotations

import calendar
import uuid
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any

from . import arithmetic, contacts
from .dates import parse_date
from .errors import ValidationFailed
from .models import Contact, Invoice, LineItem, Org

INVOICE_TYPES = ("ACCREC", "ACCPAY")
CREATE_STATUSES = ("DRAFT", "SUBMITTED", "AUTHORISED")
LINE_AMOUNT_TYPES = {"exclusive": "Exclusive", "inclusive": "Inclusive", "notax": "NoTax"}
# Fields that stay editable once a payment is allocated.
EDITABLE_WHEN_PAID = {"Reference", "SentToContact", "ExpectedPaymentDate", "Url", "InvoiceID", "InvoiceNumber",
                      "Status", "Type", "Contact"}


@dataclass
class InvoiceWrite:
    invoice: Invoice
    created: bool
    new_contact: Contact | None


def to_decimal(value: Any, field: str, messages: list[str]) -> Decimal | None:
    if value is None or value == "":
        return None
    try:
        return Decimal(str(value)) if not isinstance(value, Decimal) else value
    except InvalidOperation:
        messages.append(f"{field} must be a number.")
        return None


_LINE_NUMBERS = ("Quantity", "UnitAmount", "LineAmount", "DiscountRate", "DiscountAmount", "TaxAmount")


def string_numbers(data: dict) -> list[str]:
    """Messages for the number fields (`type: number` in the spec) sent as JSON strings: the strict
    emulator refuses them so that a client sending "UnitAmount": "120" fails its tests."""
    found = [f"CurrencyRate must be a JSON number, not the string {data['CurrencyRate']!r}."
             ] if isinstance(data.get("CurrencyRate"), str) else []
    lines = data.get("LineItems")
    for position, line in enumerate(lines if isinstance(lines, list) else [], start=1):
        if isinstance(line, dict):
            found += [f"LineItems[{position}].{name} must be a JSON number, not the string {line[name]!r}."
                      for name in _LINE_NUMBERS if isinstance(line.get(name), str)]
    return found


def find_invoice(org: Org, key: str) -> Invoice | None:
    """By InvoiceID or, as Xero allows on GET /Invoices/{id}, by InvoiceNumber."""
    invoice = org.invoices.get(key.lower())
    if invoice is not None:
        return invoice
    for candidate in org.invoices.values():
        if candidate.invoice_number == key and candidate.type == "ACCREC":
            return candidate
    return None


def resolve_for_upsert(org: Org, data: dict, path_id: str | None = None) -> Invoice | None:
    key = path_id or data.get("InvoiceID")
    if key:
        invoice = find_invoice(org, str(key))
        if invoice is None:
            raise ValidationFailed(f"Invoice with InvoiceID {key} could not be found.")
        return invoice
    number = data.get("InvoiceNumber")
    if number:
        for candidate in org.invoices.values():
            if candidate.invoice_number == number and candidate.type == (data.get("Type") or "ACCREC") \
                    and candidate.status != "DELETED":
                return candidate
    return None


def next_invoice_number(org: Org) -> str:
    taken = {inv.invoice_number for inv in org.invoices.values() if inv.type == "ACCREC"}
    while True:
        number = f"INV-{org.next_invoice_number:04d}"
        org.next_invoice_number += 1
        if number not in taken:
            return number


def due_date_from_terms(contact: Contact | None, invoice_date: date) -> date | None:
    terms = ((contact.fields.get("PaymentTerms") or {}) if contact else {}).get("Sales") or {}
    day, kind = terms.get("Day"), terms.get("Type")
    if day is None or not kind:
        return None
    day = int(day)
    if kind == "DAYSAFTERBILLDATE":
        return invoice_date + timedelta(days=day)
    if kind == "DAYSAFTERBILLMONTH":
        last = calendar.monthrange(invoice_date.year, invoice_date.month)[1]
        return date(invoice_date.year, invoice_date.month, last) + timedelta(days=day)
    if kind == "OFCURRENTMONTH":
        last = calendar.monthrange(invoice_date.year, invoice_date.month)[1]
        return date(invoice_date.year, invoice_date.month, min(day, last))
    if kind == "OFFOLLOWINGMONTH":
        year, month = (invoice_date.year + 1, 1) if invoice_date.month == 12 else (invoice_date.year, invoice_date.month + 1)
        return date(year, month, min(day, calendar.monthrange(year, month)[1]))
    return None


def _status_for_update(invoice: Invoice, requested: str | None, data: dict, messages: list[str]) -> str:
    current = invoice.status
    target = requested or current
    if current in ("VOIDED", "DELETED"):
        messages.append("Invoice not of valid status for modification")
        return current
    has_payments = bool(invoice.payment_ids)
    if has_payments:
        edited = [key for key in data if key not in EDITABLE_WHEN_PAID]
        contact = data.get("Contact")
        if isinstance(contact, dict) and contact.get("ContactID", invoice.contact_id).lower() != invoice.contact_id:
            edited.append("Contact")
        if target == "VOIDED":
            messages.append(
                "The status VOIDED cannot be applied to the invoice because it has payments or credit notes "
                "allocated to it."
            )
            return current
        if edited or target != current:
            messages.append("This document cannot be edited as it has a payment or credit note allocated to it.")
            return current
        return current
    if target == current:
        return current
    allowed = {
        "DRAFT": {"SUBMITTED", "AUTHORISED", "DELETED"},
        "SUBMITTED": {"DRAFT", "AUTHORISED", "DELETED"},
        "AUTHORISED": {"VOIDED"},
    }.get(current, set())
    if target == "PAID":
        messages.append("An invoice becomes PAID through payments; its status cannot be set to PAID.")
    elif target not in allowed:
        messages.append(f"Invoice status cannot be changed from {current} to {target}.")
    return target if target in allowed else current


def _build_lines(org: Org, raw_lines: Any, invoice_type: str, lat: str, unitdp: int, existing: Invoice | None,
                 messages: list[str]) -> list[LineItem]:
    if not isinstance(raw_lines, list):
        messages.append("LineItems must be a list.")
        return []
    old_ids = {line.line_item_id for line in existing.line_items} if existing else set()
    lines: list[LineItem] = []
    for raw in raw_lines:
        if not isinstance(raw, dict):
            messages.append("Each line item must be an object.")
            continue
        quantity = to_decimal(raw.get("Quantity"), "Quantity", messages)
        unit = to_decimal(raw.get("UnitAmount"), "UnitAmount", messages)
        given_line = to_decimal(raw.get("LineAmount"), "LineAmount", messages)
        discount_rate = to_decimal(raw.get("DiscountRate"), "DiscountRate", messages)
        discount_amount = to_decimal(raw.get("DiscountAmount"), "DiscountAmount", messages)
        # Xero fills in whichever of Quantity / UnitAmount is missing from LineAmount.
        if quantity is None:
            quantity = (given_line / unit) if (unit and given_line is not None) else Decimal(1)
        if unit is None:
            unit = (given_line / quantity) if (given_line is not None and quantity) else Decimal(0)
        if discount_rate is not None and discount_amount is not None:
            messages.append("Only one of DiscountRate or DiscountAmount can be applied to a line item.")
        if (discount_rate is not None or discount_amount is not None) and invoice_type != "ACCREC":
            messages.append("Discounts are only supported on ACCREC invoices.")
        if discount_rate is not None and not (Decimal(0) <= discount_rate <= Decimal(100)):
            messages.append("DiscountRate must be between 0 and 100.")

        account_code = raw.get("AccountCode")
        account_id = raw.get("AccountID")
        account = None
        if account_code not in (None, ""):
            account = org.account_by_code(str(account_code))
            if account is None or account.status != "ACTIVE":
                messages.append(f"Account code '{account_code}' is not a valid code for this document.")
        elif account_id:
            account = org.accounts.get(str(account_id).lower())
            if account is None:
                messages.append(f"Account ID '{account_id}' is not a valid account for this document.")

        tax_type = raw.get("TaxType") or (account.tax_type if account else None)
        rate = Decimal(0)
        if tax_type:
            tax = org.tax_rates.get(str(tax_type))
            usable = tax is not None and tax.status == "ACTIVE" and (
                tax.revenue if invoice_type == "ACCREC" else tax.expenses
            )
            if not usable:
                messages.append(
                    f"The TaxType code '{tax_type}' does not exist or cannot be used for this type of transaction."
                )
            else:
                rate = tax.rate
        figures = arithmetic.line_figures(
            quantity, unit, rate, lat, unitdp=unitdp, discount_rate=discount_rate, discount_amount=discount_amount
        )
        line_id = str(raw.get("LineItemID") or "").lower()
        lines.append(
            LineItem(
                line_item_id=line_id if line_id in old_ids else str(uuid.uuid4()),
                description=raw.get("Description"),
                quantity=figures.quantity,
                unit_amount=figures.unit_amount,
                line_amount=figures.line_amount,
                tax_amount=figures.tax_amount,
                tax_type=str(tax_type) if tax_type else None,
                account_code=account.code if account else (str(account_code) if account_code else None),
                account_id=account.account_id if account else None,
                item_code=raw.get("ItemCode"),
                discount_rate=discount_rate,
                discount_amount=discount_amount,
                tracking=list(raw.get("Tracking") or []),
            )
        )
    return lines


def _recompute_lines(org: Org, invoice: Invoice, lat: str) -> list[LineItem]:
    """Existing lines under a (possibly new) LineAmountTypes: same inputs, Xero's arithmetic again."""
    lines = []
    for line in invoice.line_items:
        rate = org.tax_rates[line.tax_type].rate if line.tax_type in org.tax_rates else Decimal(0)
        unitdp = max(2, -line.unit_amount.as_tuple().exponent)  # type: ignore[operator]
        figures = arithmetic.line_figures(
            line.quantity, line.unit_amount, rate, lat, unitdp=unitdp,
            discount_rate=line.discount_rate, discount_amount=line.discount_amount,
        )
        lines.append(LineItem(**{**vars(line), "line_amount": figures.line_amount, "tax_amount": figures.tax_amount}))
    return lines


def apply_invoice(org: Org, data: dict, now: datetime, unitdp: int, existing: Invoice | None) -> InvoiceWrite:
    """Create (existing None) or update an invoice from one request element; ValidationFailed if refused."""
    messages: list[str] = []
    today = now.date()

    invoice_type = data.get("Type") or (existing.type if existing else None)
    if existing is None and invoice_type not in INVOICE_TYPES:
        messages.append("Invoice Type must be specified" if not invoice_type else f"Invoice Type {invoice_type} is not valid")
    invoice_type = invoice_type if invoice_type in INVOICE_TYPES else "ACCREC"

    # contact ------------------------------------------------------------------------------------
    contact: Contact | None = org.contacts.get(existing.contact_id) if existing else None
    new_contact_data: dict | None = None
    raw_contact = data.get("Contact")
    if isinstance(raw_contact, dict) and raw_contact:
        contact_id = raw_contact.get("ContactID")
        if contact_id:
            contact = org.contacts.get(str(contact_id).lower())
            if contact is None:
                messages.append(f"The contact with ContactID {contact_id} could not be found.")
        elif raw_contact.get("ContactNumber") and contacts.find_by_number(org, str(raw_contact["ContactNumber"])):
            contact = contacts.find_by_number(org, str(raw_contact["ContactNumber"]))
        elif raw_contact.get("Name"):
            contact = contacts.find_by_name(org, str(raw_contact["Name"]))
            if contact is None:
                new_contact_data = raw_contact  # Xero creates the contact along with the invoice
        else:
            messages.append("A Contact must be specified for this type of transaction")
    elif existing is None:
        messages.append("A Contact must be specified for this type of transaction")

    # status -------------------------------------------------------------------------------------
    requested = data.get("Status")
    if existing is None:
        status = requested or "DRAFT"
        if status not in CREATE_STATUSES:
            messages.append("Invoice not of valid status for creation")
    else:
        status = _status_for_update(existing, requested, data, messages)

    # amounts type, currency, dates --------------------------------------------------------------
    raw_lat = data.get("LineAmountTypes")
    lat = existing.line_amount_types if existing else "Exclusive"
    if raw_lat is not None:
        lat = LINE_AMOUNT_TYPES.get(str(raw_lat).lower(), "")
        if not lat:
            messages.append(f"LineAmountTypes '{raw_lat}' is not valid: use Exclusive, Inclusive or NoTax.")
            lat = "Exclusive"

    currency = data.get("CurrencyCode") or (existing.currency_code if existing else org.base_currency)
    if currency not in org.currencies:
        messages.append(f"Organisation is not subscribed to currency {currency}")
    if currency == org.base_currency:
        currency_rate = Decimal("1.000000")
    else:
        given_rate = to_decimal(data.get("CurrencyRate"), "CurrencyRate", messages)
        if given_rate is not None and given_rate <= 0:
            messages.append("CurrencyRate must be greater than zero.")
        currency_rate = given_rate or (existing.currency_rate if existing else org.currencies.get(currency, Decimal(1)))

    try:
        invoice_date = parse_date(data["Date"]) if data.get("Date") else (existing.date if existing else today)
    except ValueError:
        messages.append(f"The Date '{data.get('Date')}' is not valid.")
        invoice_date = today
    due_date = existing.due_date if existing else None
    try:
        if data.get("DueDate"):
            due_date = parse_date(data["DueDate"])
    except ValueError:
        messages.append(f"The DueDate '{data.get('DueDate')}' is not valid.")
    if due_date is None:
        due_date = due_date_from_terms(contact, invoice_date)
    expected_payment_date = existing.expected_payment_date if existing else None
    if data.get("ExpectedPaymentDate"):
        try:
            expected_payment_date = parse_date(data["ExpectedPaymentDate"])
        except ValueError:
            messages.append("ExpectedPaymentDate is not valid.")

    # lines --------------------------------------------------------------------------------------
    if "LineItems" in data:
        lines = _build_lines(org, data["LineItems"], invoice_type, lat, unitdp, existing, messages)
    elif existing is not None:
        lines = _recompute_lines(org, existing, lat)
    else:
        lines = []
    if existing is None and not lines:
        messages.append("One or more line items must be specified")

    # number and reference -----------------------------------------------------------------------
    number = data.get("InvoiceNumber") or (existing.invoice_number if existing else None)
    if invoice_type == "ACCREC" and number:
        for other in org.invoices.values():
            if other.type == "ACCREC" and other.invoice_number == number and other.status != "DELETED" and (
                existing is None or other.invoice_id != existing.invoice_id
            ):
                messages.append("Invoice # must be unique.")
                break
    reference = data.get("Reference", existing.reference if existing else "")

    if messages:
        raise ValidationFailed(*messages)

    new_contact = None
    if new_contact_data is not None:
        new_contact = contacts.create_contact(org, new_contact_data, now)
        contact = new_contact
    assert contact is not None  # validated above
    if not number and invoice_type == "ACCREC":
        number = next_invoice_number(org)

    figures = [arithmetic.LineFigures(line.quantity, line.unit_amount, line.line_amount, line.tax_amount,
                                      arithmetic.round_money(line.quantity * line.unit_amount) - line.line_amount)
               for line in lines]
    totals = arithmetic.invoice_totals(figures, lat)
    values = dict(
        type=invoice_type,
        contact_id=contact.contact_id,
        status=status,
        line_amount_types=lat,
        date=invoice_date,
        due_date=due_date,
        invoice_number=number or "",
        reference=str(reference or ""),
        currency_code=currency,
        currency_rate=currency_rate,
        line_items=lines,
        sub_total=totals.sub_total,
        total_tax=totals.total_tax,
        total=totals.total,
        total_discount=totals.total_discount,
        is_discounted=any(line.discount_rate or line.discount_amount for line in lines),
        expected_payment_date=expected_payment_date,
        sent_to_contact=bool(data.get("SentToContact", existing.sent_to_contact if existing else False)),
        branding_theme_id=data.get("BrandingThemeID", existing.branding_theme_id if existing else None),
        url=data.get("Url", existing.url if existing else None),
    )
    if existing is None:
        invoice = Invoice(invoice_id=str(uuid.uuid4()), amount_paid=Decimal("0.00"), created=now, updated=now, **values)
        org.invoices[invoice.invoice_id] = invoice
        return InvoiceWrite(invoice, True, new_contact)
    for key, value in values.items():
        setattr(existing, key, value)
    existing.updated = now
    return InvoiceWrite(existing, False, new_contact)

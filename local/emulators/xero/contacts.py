"""Contacts: create, update, balances."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from .errors import ValidationFailed
from .models import Contact, Org

# The Contact fields a client may write (spec schema Contact minus the read-only ones).
WRITABLE_FIELDS = (
    "ContactNumber", "AccountNumber", "ContactStatus", "Name", "FirstName", "LastName", "CompanyNumber",
    "EmailAddress", "ContactPersons", "BankAccountDetails", "TaxNumber", "TaxNumberType",
    "AccountsReceivableTaxType", "AccountsPayableTaxType", "Addresses", "Phones",
    "SalesDefaultLineAmountType", "PurchasesDefaultLineAmountType", "DefaultCurrency", "XeroNetworkKey",
    "SalesDefaultAccountCode", "PurchasesDefaultAccountCode", "SalesTrackingCategories",
    "PurchasesTrackingCategories", "TrackingCategoryName", "TrackingCategoryOption", "PaymentTerms",
    "Website", "BrandingTheme", "BatchPayments", "Discount",
)
CONTACT_STATUSES = ("ACTIVE", "ARCHIVED", "GDPRREQUEST")


def _clean_fields(data: dict) -> dict[str, Any]:
    fields = {key: data[key] for key in WRITABLE_FIELDS if key in data}
    if isinstance(fields.get("Name"), str):
        fields["Name"] = fields["Name"].strip()
    return fields


def find_by_name(org: Org, name: str, *, active_only: bool = True) -> Contact | None:
    wanted = name.strip().lower()
    for contact in org.contacts.values():
        if active_only and contact.status != "ACTIVE":
            continue
        if contact.name.lower() == wanted:
            return contact
    return None


def find_by_number(org: Org, number: str) -> Contact | None:
    for contact in org.contacts.values():
        if contact.fields.get("ContactNumber") == number:
            return contact
    return None


def _validate(org: Org, fields: dict[str, Any], existing: Contact | None) -> None:
    messages = []
    name = fields.get("Name", existing.name if existing else None)
    if not name or not str(name).strip():
        messages.append("The contact name must be specified.")
    else:
        clash = find_by_name(org, str(name))
        if clash is not None and (existing is None or clash.contact_id != existing.contact_id):
            status = fields.get("ContactStatus", existing.status if existing else "ACTIVE")
            if status == "ACTIVE":
                messages.append(
                    f"The contact name {name} is already assigned to another contact. "
                    "The contact name must be unique across all active contacts."
                )
    number = fields.get("ContactNumber")
    if number:
        other = find_by_number(org, str(number))
        if other is not None and (existing is None or other.contact_id != existing.contact_id):
            messages.append(f"The contact number {number} is already assigned to another contact.")
    status = fields.get("ContactStatus")
    if status is not None and status not in CONTACT_STATUSES:
        messages.append(f"Contact status '{status}' is not valid.")
    email = fields.get("EmailAddress")
    if email and ("@" not in str(email) or " " in str(email).strip()):
        messages.append("Email address must be valid.")
    currency = fields.get("DefaultCurrency")
    if currency and currency not in org.currencies:
        messages.append(f"Organisation is not subscribed to currency {currency}")
    if messages:
        raise ValidationFailed(*messages)


def create_contact(org: Org, data: dict, now: datetime) -> Contact:
    fields = _clean_fields(data)
    _validate(org, fields, None)
    fields.setdefault("ContactStatus", "ACTIVE")
    contact = Contact(contact_id=str(uuid.uuid4()), fields=fields, created=now, updated=now)
    org.contacts[contact.contact_id] = contact
    return contact


def update_contact(org: Org, contact: Contact, data: dict, now: datetime) -> Contact:
    fields = _clean_fields(data)
    _validate(org, fields, contact)
    contact.fields.update(fields)
    contact.updated = now
    return contact


def resolve_for_upsert(org: Org, data: dict, path_id: str | None = None) -> Contact | None:
    """POST /Contacts updates the contact named by ContactID (or ContactNumber); otherwise it creates."""
    contact_id = path_id or data.get("ContactID")
    if contact_id:
        contact = org.contacts.get(str(contact_id).lower())
        if contact is None:
            raise ValidationFailed(f"Contact with ContactID {contact_id} could not be found.")
        return contact
    number = data.get("ContactNumber")
    if number:
        return find_by_number(org, str(number))
    return None


def balances(org: Org, contact: Contact, today: date) -> dict:
    """Outstanding and overdue from AUTHORISED invoices (raw amounts, not converted to base currency)."""
    figures = {
        "ACCREC": [Decimal("0.00"), Decimal("0.00")],
        "ACCPAY": [Decimal("0.00"), Decimal("0.00")],
    }
    for invoice in org.invoices.values():
        if invoice.contact_id != contact.contact_id or invoice.status != "AUTHORISED":
            continue
        bucket = figures.get(invoice.type)
        if bucket is None:
            continue
        bucket[0] += invoice.amount_due
        if invoice.due_date is not None and invoice.due_date < today:
            bucket[1] += invoice.amount_due
    return {
        "AccountsReceivable": {"Outstanding": figures["ACCREC"][0], "Overdue": figures["ACCREC"][1]},
        "AccountsPayable": {"Outstanding": figures["ACCPAY"][0], "Overdue": figures["ACCPAY"][1]},
    }

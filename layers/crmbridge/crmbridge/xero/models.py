"""Xero Accounting API bodies, as pydantic models with Xero's PascalCase names.

Only the fields the bridge reads or writes; unknown fields are ignored on the way in. Money is Decimal.
Totals are never sent: Xero computes them.
"""

from __future__ import annotations

import json
import re
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

_MS_DATE = re.compile(r"^/Date\((-?\d+)([+-]\d{4})?\)/$")


def parse_xero_datetime(value: Any) -> Any:
    """Xero sends .NET JSON dates ("/Date(1700000000000+0000)/") as well as ISO strings."""
    if isinstance(value, str) and (match := _MS_DATE.match(value)):
        return datetime.fromtimestamp(int(match.group(1)) / 1000, tz=UTC)
    return value


def xero_json(value: Any) -> bytes:
    """A request body as Xero's spec types it: a Decimal is a JSON number written with exactly its own
    digits ("UnitAmount": 120.5, never the string "120.5" pydantic's JSON mode makes, nor a float's
    rounding); dates are ISO dates."""
    return _encode(value).encode("utf-8")


def _encode(value: Any) -> str:
    if isinstance(value, dict):
        return "{" + ",".join(f"{json.dumps(str(k))}:{_encode(v)}" for k, v in value.items()) + "}"
    if isinstance(value, list | tuple):
        return "[" + ",".join(_encode(v) for v in value) + "]"
    if isinstance(value, Decimal):
        if not value.is_finite():
            raise ValueError(f"{value} is not a number Xero can take")
        return format(value, "f")
    if isinstance(value, datetime | date):
        return json.dumps(value.isoformat())
    return json.dumps(value)


class XeroModel(BaseModel):
    model_config = ConfigDict(extra="ignore", populate_by_name=True)

    def to_xero(self) -> dict[str, Any]:
        """The body as plain JSON values (Decimals as their text): stable to hash, not what is sent."""
        return self.model_dump(by_alias=True, exclude_none=True, mode="json")

    def to_wire(self) -> dict[str, Any]:
        """The body with its Decimals and dates kept, for xero_json (what is sent)."""
        return self.model_dump(by_alias=True, exclude_none=True)


LineAmountTypes = Literal["Exclusive", "Inclusive", "NoTax"]
InvoiceStatus = Literal["DRAFT", "SUBMITTED", "AUTHORISED", "PAID", "VOIDED", "DELETED"]


class TrackingCategoryRef(XeroModel):
    name: str = Field(alias="Name")
    option: str = Field(alias="Option")


class LineItem(XeroModel):
    description: str = Field(alias="Description")
    quantity: Decimal = Field(alias="Quantity")
    unit_amount: Decimal = Field(alias="UnitAmount")
    account_code: str | None = Field(None, alias="AccountCode")
    item_code: str | None = Field(None, alias="ItemCode")
    tax_type: str = Field(alias="TaxType")
    discount_rate: Decimal | None = Field(None, alias="DiscountRate")
    discount_amount: Decimal | None = Field(None, alias="DiscountAmount")
    tracking: list[TrackingCategoryRef] | None = Field(None, alias="Tracking")
    # Read back from Xero only.
    line_amount: Decimal | None = Field(None, alias="LineAmount", exclude=True)
    tax_amount: Decimal | None = Field(None, alias="TaxAmount", exclude=True)


class ContactRef(XeroModel):
    contact_id: str | None = Field(None, alias="ContactID")
    name: str | None = Field(None, alias="Name")
    email_address: str | None = Field(None, alias="EmailAddress")


class Address(XeroModel):
    address_type: Literal["POBOX", "STREET"] = Field("POBOX", alias="AddressType")
    address_line1: str | None = Field(None, alias="AddressLine1")
    city: str | None = Field(None, alias="City")
    postal_code: str | None = Field(None, alias="PostalCode")
    country: str | None = Field(None, alias="Country")


class NewContact(XeroModel):
    """A contact the bridge creates along with its first invoice."""

    # Checked (length as Xero counts it, emptiness) by mapping.invoice, which names the CRM field at fault.
    name: str = Field(alias="Name")
    email_address: str | None = Field(None, alias="EmailAddress")
    addresses: list[Address] | None = Field(None, alias="Addresses")
    is_customer: bool | None = Field(None, alias="IsCustomer", exclude=True)


class NewInvoice(XeroModel):
    type: Literal["ACCREC"] = Field("ACCREC", alias="Type")
    contact: ContactRef | NewContact = Field(alias="Contact")
    invoice_date: date = Field(alias="Date")
    due_date: date = Field(alias="DueDate")
    reference: str = Field(alias="Reference")
    currency_code: str = Field(alias="CurrencyCode", min_length=3, max_length=3)
    status: InvoiceStatus = Field("DRAFT", alias="Status")
    line_amount_types: LineAmountTypes = Field(alias="LineAmountTypes")
    line_items: list[LineItem] = Field(alias="LineItems", min_length=1)
    branding_theme_id: str | None = Field(None, alias="BrandingThemeID")


class Balance(XeroModel):
    outstanding: Decimal = Field(Decimal(0), alias="Outstanding")
    overdue: Decimal = Field(Decimal(0), alias="Overdue")


class Balances(XeroModel):
    accounts_receivable: Balance | None = Field(None, alias="AccountsReceivable")


class Phone(XeroModel):
    phone_type: str | None = Field(None, alias="PhoneType")
    phone_number: str | None = Field(None, alias="PhoneNumber")
    phone_area_code: str | None = Field(None, alias="PhoneAreaCode")
    phone_country_code: str | None = Field(None, alias="PhoneCountryCode")

    @property
    def text(self) -> str | None:
        if not self.phone_number:
            return None
        prefix = " ".join(p for p in (f"+{self.phone_country_code}" if self.phone_country_code else None,
                                      self.phone_area_code) if p)
        return f"{prefix} {self.phone_number}".strip()


class Contact(XeroModel):
    contact_id: str = Field(alias="ContactID")
    name: str = Field(alias="Name")
    email_address: str | None = Field(None, alias="EmailAddress")
    phones: list[Phone] = Field(default_factory=list, alias="Phones")
    addresses: list[Address] = Field(default_factory=list, alias="Addresses")
    contact_status: str | None = Field(None, alias="ContactStatus")
    # The survivor of a merge (Xero returns it on GET Contacts/{id} and on paged listings only).
    merged_to_contact_id: str | None = Field(None, alias="MergedToContactID")
    balances: Balances | None = Field(None, alias="Balances")
    updated_date_utc: datetime | None = Field(None, alias="UpdatedDateUTC")

    _dates = field_validator("updated_date_utc", mode="before")(parse_xero_datetime)


class Invoice(XeroModel):
    invoice_id: str = Field(alias="InvoiceID")
    invoice_number: str | None = Field(None, alias="InvoiceNumber")
    type: str = Field(alias="Type")
    status: InvoiceStatus = Field(alias="Status")
    reference: str | None = Field(None, alias="Reference")
    contact: ContactRef = Field(alias="Contact")
    currency_code: str | None = Field(None, alias="CurrencyCode")
    line_amount_types: str | None = Field(None, alias="LineAmountTypes")
    line_items: list[LineItem] = Field(default_factory=list, alias="LineItems")
    sub_total: Decimal | None = Field(None, alias="SubTotal")
    total_tax: Decimal | None = Field(None, alias="TotalTax")
    total: Decimal | None = Field(None, alias="Total")
    amount_due: Decimal | None = Field(None, alias="AmountDue")
    amount_paid: Decimal | None = Field(None, alias="AmountPaid")
    invoice_date: datetime | None = Field(None, alias="Date")
    due_date: datetime | None = Field(None, alias="DueDate")
    fully_paid_on_date: datetime | None = Field(None, alias="FullyPaidOnDate")
    updated_date_utc: datetime | None = Field(None, alias="UpdatedDateUTC")

    _dates = field_validator(
        "invoice_date", "due_date", "fully_paid_on_date", "updated_date_utc", mode="before"
    )(parse_xero_datetime)


class TaxRate(XeroModel):
    """One of the organisation's tax rates (GET /TaxRates): the truth for a TaxType's percentage."""

    tax_type: str = Field(alias="TaxType")
    name: str | None = Field(None, alias="Name")
    status: str | None = Field(None, alias="Status")
    effective_rate: Decimal = Field(Decimal(0), alias="EffectiveRate")
    display_tax_rate: Decimal | None = Field(None, alias="DisplayTaxRate")


class ValidationMessage(XeroModel):
    message: str = Field(alias="Message")


class ElementResult(XeroModel):
    """One element of a batch answered with summarizeErrors=false."""

    has_errors: bool = Field(False, alias="HasErrors")
    validation_errors: list[ValidationMessage] = Field(default_factory=list, alias="ValidationErrors")

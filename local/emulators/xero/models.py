"""The emulator's internal records (plain dataclasses; Xero's JSON shapes live in render.py)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import Any


@dataclass
class TaxRate:
    name: str
    tax_type: str
    rate: Decimal
    report_tax_type: str
    revenue: bool = True
    expenses: bool = True
    status: str = "ACTIVE"


@dataclass
class Account:
    account_id: str
    code: str
    name: str
    type: str
    tax_type: str
    account_class: str
    system_account: str | None = None
    enable_payments: bool = False
    bank_account_number: str | None = None
    currency_code: str | None = None
    status: str = "ACTIVE"
    reporting_code: str | None = None


@dataclass
class Contact:
    contact_id: str
    # Writable fields as Xero names them (Name, EmailAddress, Addresses...), echoed back on reads.
    fields: dict[str, Any]
    created: datetime
    updated: datetime

    @property
    def name(self) -> str:
        return str(self.fields.get("Name") or "")

    @property
    def status(self) -> str:
        return str(self.fields.get("ContactStatus") or "ACTIVE")


@dataclass
class LineItem:
    line_item_id: str
    description: str | None
    quantity: Decimal
    unit_amount: Decimal
    line_amount: Decimal
    tax_amount: Decimal
    tax_type: str | None
    account_code: str | None
    account_id: str | None
    item_code: str | None
    discount_rate: Decimal | None
    discount_amount: Decimal | None
    tracking: list[dict] = field(default_factory=list)


@dataclass
class Invoice:
    invoice_id: str
    type: str
    contact_id: str
    status: str
    line_amount_types: str
    date: date
    due_date: date | None
    invoice_number: str
    reference: str
    currency_code: str
    currency_rate: Decimal
    line_items: list[LineItem]
    sub_total: Decimal
    total_tax: Decimal
    total: Decimal
    total_discount: Decimal
    is_discounted: bool
    amount_paid: Decimal
    created: datetime
    updated: datetime
    fully_paid_on_date: date | None = None
    payment_ids: list[str] = field(default_factory=list)
    sent_to_contact: bool = False
    expected_payment_date: date | None = None
    branding_theme_id: str | None = None
    url: str | None = None

    @property
    def amount_due(self) -> Decimal:
        if self.status in ("DELETED", "VOIDED"):
            return Decimal("0.00")
        return self.total - self.amount_paid


@dataclass
class Payment:
    payment_id: str
    invoice_id: str
    account_id: str
    date: date
    amount: Decimal
    currency_rate: Decimal
    reference: str
    payment_type: str
    created: datetime
    updated: datetime
    status: str = "AUTHORISED"


@dataclass
class Org:
    tenant_id: str
    name: str
    short_code: str
    base_currency: str
    country_code: str
    # Currencies the organisation has enabled, with the default rate (units per 1 base unit).
    currencies: dict[str, Decimal]
    tax_rates: dict[str, TaxRate]
    accounts: dict[str, Account]
    created: datetime
    contacts: dict[str, Contact] = field(default_factory=dict)
    invoices: dict[str, Invoice] = field(default_factory=dict)
    payments: dict[str, Payment] = field(default_factory=dict)
    next_invoice_number: int = 1

    def account_by_code(self, code: str) -> Account | None:
        for account in self.accounts.values():
            if account.code == code:
                return account
        return None


@dataclass
class Connection:
    id: str
    tenant_id: str
    auth_event_id: str
    created: datetime
    updated: datetime

"""The CRM as the sync sees it: one shape for every CRM, filled in by each CRM's module."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

TaxMethod = Literal["exclusive", "inclusive", "none"]


class _Crm(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore")


class CrmAddress(_Crm):
    line1: str | None = None
    city: str | None = None
    postal_code: str | None = None
    country: str | None = None  # as the CRM holds it (name or ISO code)


class CrmOrganisation(_Crm):
    id: str
    name: str
    email: str | None = None
    address: CrmAddress | None = None
    xero_contact_id: str | None = None
    payment_terms_days: int | None = None


class CrmPerson(_Crm):
    id: str
    name: str | None = None
    email: str | None = None


class CrmLine(_Crm):
    name: str
    product_id: str | None = None
    product_code: str | None = None
    quantity: Decimal
    unit_price: Decimal
    discount: Decimal = Decimal(0)
    discount_type: Literal["amount", "percentage"] = "percentage"
    tax_percent: Decimal | None = None
    tax_method: TaxMethod | None = None
    comments: str | None = None


class CrmDeal(_Crm):
    id: str
    title: str
    status: str
    value: Decimal = Decimal(0)
    currency: str
    owner_id: str | None = None
    won_time: datetime | None = None
    organisation: CrmOrganisation | None = None
    person: CrmPerson | None = None
    lines: list[CrmLine] = Field(default_factory=list)
    tax_method: TaxMethod | None = None  # a deal-level default, when the CRM has one
    url: str | None = None


class InvoiceWriteBack(_Crm):
    """What the bridge writes onto a deal about its Xero invoice."""

    invoice_id: str
    invoice_number: str | None
    status: str
    url: str
    total: Decimal | None = None
    amount_due: Decimal | None = None
    amount_paid: Decimal | None = None
    due_date: date | None = None
    fully_paid_on: date | None = None


class OrganisationBalance(_Crm):
    outstanding: Decimal
    overdue: Decimal
    on_stop: bool


class OrganisationUpdate(_Crm):
    """Fields of a Xero contact copied onto the CRM organisation (only those Xero is master of)."""

    email: str | None = None
    phone: str | None = None
    address: CrmAddress | None = None

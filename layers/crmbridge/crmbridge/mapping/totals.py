"""An invoice's totals as Xero will compute them, before it exists (dry runs, leakage checks).

Xero's arithmetic (developer.xero.com/documentation/api-guides/rounding-in-xero, ../reference/xero.md):
- UnitAmount keeps 4 decimals (the bridge sends unitdp=4), Quantity 4;
- LineAmount = Quantity x UnitAmount less the discount (DiscountRate percent or DiscountAmount),
  rounded to 2 decimals per line;
- tax per line from the TaxType's rate in the organisation's TaxRates, rounded to 2 decimals per line,
  then summed: Exclusive LineAmount x rate; Inclusive LineAmount - LineAmount / (1 + rate); NoTax 0;
- Exclusive: SubTotal = sum of LineAmounts, Total = SubTotal + TotalTax; Inclusive: Total = sum of
  LineAmounts, SubTotal = Total - TotalTax.
Rounding is half-up: Xero documents 2-decimal rounding per line and no Xero source supports half-even.
These figures are a preview: the invoice is always created without totals and Xero computes its own.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

from crmbridge.errors import PermanentError
from crmbridge.xero.models import LineItem, NewInvoice

CENT = Decimal("0.01")
FOUR_DP = Decimal("0.0001")
HUNDRED = Decimal(100)


def money(value: Decimal) -> Decimal:
    return value.quantize(CENT, rounding=ROUND_HALF_UP)


@dataclass(frozen=True)
class LineTotals:
    description: str
    quantity: Decimal
    unit_amount: Decimal
    tax_type: str
    tax_rate: Decimal  # percent
    line_amount: Decimal
    tax_amount: Decimal


@dataclass(frozen=True)
class InvoiceTotals:
    lines: list[LineTotals]
    sub_total: Decimal
    total_tax: Decimal
    total: Decimal


def line_amount(quantity: Decimal, unit_amount: Decimal, *, discount_rate: Decimal | None = None,
                discount_amount: Decimal | None = None) -> Decimal:
    """Quantity x UnitAmount less the discount, rounded to 2 decimals, as Xero computes a LineAmount."""
    gross = quantity * unit_amount
    if discount_rate is not None:
        return money(gross * (HUNDRED - discount_rate) / HUNDRED)
    if discount_amount is not None:
        return money(gross - discount_amount)
    return money(gross)


def line_totals(line: LineItem, line_amount_types: str, rates: Mapping[str, Decimal]) -> LineTotals:
    if line_amount_types == "NoTax":
        rate = Decimal(0)
    elif line.tax_type in rates:
        rate = rates[line.tax_type]
    else:
        raise PermanentError("unknown_tax_type",
                             f"TaxType {line.tax_type} is not one of the organisation's tax rates")
    quantity = line.quantity.quantize(FOUR_DP, rounding=ROUND_HALF_UP)
    unit = line.unit_amount.quantize(FOUR_DP, rounding=ROUND_HALF_UP)
    amount = line_amount(quantity, unit, discount_rate=line.discount_rate, discount_amount=line.discount_amount)
    fraction = rate / HUNDRED
    if line_amount_types == "NoTax" or rate == 0:
        tax = Decimal("0.00")
    elif line_amount_types == "Inclusive":
        tax = money(amount - amount / (1 + fraction))
    else:
        tax = money(amount * fraction)
    return LineTotals(description=line.description, quantity=quantity, unit_amount=unit, tax_type=line.tax_type,
                      tax_rate=rate, line_amount=amount, tax_amount=tax)


def invoice_totals(invoice: NewInvoice, rates: Mapping[str, Decimal]) -> InvoiceTotals:
    """rates: TaxType -> effective rate in percent (the organisation's GET /TaxRates)."""
    lines = [line_totals(line, invoice.line_amount_types, rates) for line in invoice.line_items]
    amounts = sum((line.line_amount for line in lines), Decimal("0.00"))
    tax = sum((line.tax_amount for line in lines), Decimal("0.00"))
    if invoice.line_amount_types == "Inclusive":
        return InvoiceTotals(lines=lines, sub_total=amounts - tax, total_tax=tax, total=amounts)
    return InvoiceTotals(lines=lines, sub_total=amounts, total_tax=tax, total=amounts + tax)

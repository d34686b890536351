"""Invoice arithmetic as Xero does it (developer.xero.com/documentation/api-guides/rounding-in-xero).

- UnitAmount has 2 decimals, 4 with unitdp=4; Quantity 4.
- LineAmount = Quantity x UnitAmount, less the discount (DiscountRate percent, or DiscountAmount), rounded
  to 2 decimals per line.
- Tax is computed per line from the line's TaxType rate and rounded to 2 decimals per line, then summed:
  Exclusive: LineAmount x rate; Inclusive: LineAmount - LineAmount / (1 + rate); NoTax: 0.
- Exclusive: SubTotal = sum of LineAmounts, Total = SubTotal + TotalTax.
  Inclusive: Total = sum of LineAmounts, SubTotal = Total - TotalTax.
- Totals are always computed here, never taken from the request.
Rounding is half-up: Xero documents 2-decimal rounding per line, and no Xero source supports half-even.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

ZERO = Decimal("0.00")
HUNDRED = Decimal(100)
CENT = Decimal("0.01")
QUANTITY_DP = Decimal("0.0001")


def round_money(value: Decimal) -> Decimal:
    return value.quantize(CENT, rounding=ROUND_HALF_UP)


def round_unit(value: Decimal, unitdp: int) -> Decimal:
    return value.quantize(Decimal(1).scaleb(-unitdp), rounding=ROUND_HALF_UP)


def round_quantity(value: Decimal) -> Decimal:
    return value.quantize(QUANTITY_DP, rounding=ROUND_HALF_UP)


@dataclass(frozen=True)
class LineFigures:
    quantity: Decimal
    unit_amount: Decimal
    line_amount: Decimal
    tax_amount: Decimal
    discount: Decimal


def line_figures(
    quantity: Decimal,
    unit_amount: Decimal,
    rate_percent: Decimal,
    line_amount_types: str,
    *,
    unitdp: int = 2,
    discount_rate: Decimal | None = None,
    discount_amount: Decimal | None = None,
) -> LineFigures:
    quantity = round_quantity(quantity)
    unit_amount = round_unit(unit_amount, unitdp)
    gross = quantity * unit_amount
    if discount_rate is not None:
        line_amount = round_money(gross * (HUNDRED - discount_rate) / HUNDRED)
    elif discount_amount is not None:
        line_amount = round_money(gross - discount_amount)
    else:
        line_amount = round_money(gross)
    return LineFigures(
        quantity=quantity,
        unit_amount=unit_amount,
        line_amount=line_amount,
        tax_amount=line_tax(line_amount, rate_percent, line_amount_types),
        discount=round_money(gross) - line_amount,
    )


def line_tax(line_amount: Decimal, rate_percent: Decimal, line_amount_types: str) -> Decimal:
    if line_amount_types == "NoTax" or rate_percent == 0:
        return ZERO
    rate = rate_percent / HUNDRED
    if line_amount_types == "Inclusive":
        return round_money(line_amount - line_amount / (1 + rate))
    return round_money(line_amount * rate)


@dataclass(frozen=True)
class Totals:
    sub_total: Decimal
    total_tax: Decimal
    total: Decimal
    total_discount: Decimal


def invoice_totals(lines: list[LineFigures], line_amount_types: str) -> Totals:
    line_sum = sum((line.line_amount for line in lines), ZERO)
    total_tax = sum((line.tax_amount for line in lines), ZERO)
    discount = sum((line.discount for line in lines), ZERO)
    if line_amount_types == "Inclusive":
        return Totals(sub_total=line_sum - total_tax, total_tax=total_tax, total=line_sum, total_discount=discount)
    return Totals(sub_total=line_sum, total_tax=total_tax, total=line_sum + total_tax, total_discount=discount)

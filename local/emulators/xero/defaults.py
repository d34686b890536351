"""A UK organisation's defaults: tax rates, chart of accounts, currencies.

Tax types and rates follow Xero UK (OUTPUT2 20%, RROUTPUT 5%, ZERORATEDOUTPUT, EXEMPTOUTPUT, NONE and
their INPUT counterparts). The chart is the part of Xero's UK default chart the bridge touches: a sales
account, a bank account that takes payments, and the system accounts (ROUNDING among them).
"""

from __future__ import annotations

import uuid
from datetime import datetime
from decimal import Decimal

from .models import Account, Org, TaxRate

# Fixed namespace so the demo organisation has the same ids on every start (handy in logs and demos).
_NS = uuid.UUID("6f1c3a52-3f43-4b8e-9d0f-6d1a1c2b7e10")

DEMO_TENANT_ID = str(uuid.uuid5(_NS, "demo-company-uk"))
DEMO_ORG_NAME = "Demo Company (UK)"

UK_TAX_RATES = [
    TaxRate("20% (VAT on Income)", "OUTPUT2", Decimal("20"), "OUTPUT", revenue=True, expenses=False),
    TaxRate("20% (VAT on Expenses)", "INPUT2", Decimal("20"), "INPUT", revenue=False, expenses=True),
    TaxRate("5% (VAT on Income)", "RROUTPUT", Decimal("5"), "OUTPUT", revenue=True, expenses=False),
    TaxRate("5% (VAT on Expenses)", "RRINPUT", Decimal("5"), "INPUT", revenue=False, expenses=True),
    TaxRate("Zero Rated Income", "ZERORATEDOUTPUT", Decimal("0"), "OUTPUT", revenue=True, expenses=False),
    TaxRate("Zero Rated Expenses", "ZERORATEDINPUT", Decimal("0"), "INPUT", revenue=False, expenses=True),
    TaxRate("Exempt Income", "EXEMPTOUTPUT", Decimal("0"), "EXEMPTOUTPUT", revenue=True, expenses=False),
    TaxRate("Exempt Expenses", "EXEMPTINPUT", Decimal("0"), "EXEMPTINPUT", revenue=False, expenses=True),
    TaxRate("No VAT", "NONE", Decimal("0"), "NONE", revenue=True, expenses=True),
    TaxRate("20% (VAT on Capital Purchases)", "CAPEXINPUT2", Decimal("20"), "INPUT", revenue=False, expenses=True),
    TaxRate("20% (VAT on Capital Sales)", "CAPEXOUTPUT2", Decimal("20"), "OUTPUT", revenue=True, expenses=False),
    TaxRate("Reverse Charge Expenses (20%)", "REVERSECHARGES", Decimal("20"), "REVERSECHARGES", revenue=False),
    TaxRate("EC Acquisitions (20%)", "ECACQUISITIONS", Decimal("20"), "ECACQUISITIONS", revenue=False),
    TaxRate("Zero Rated EC Services", "ECZROUTPUTSERVICES", Decimal("0"), "ECOUTPUTSERVICES", expenses=False),
    TaxRate("Zero Rated EC Goods Income", "ECZROUTPUT", Decimal("0"), "ECOUTPUT", expenses=False),
]

# (code, name, type, class, tax type, system account, payments enabled)
UK_ACCOUNTS = [
    ("090", "Business Bank Account", "BANK", "ASSET", "NONE", None, True),
    ("091", "Business Savings Account", "BANK", "ASSET", "NONE", None, True),
    ("200", "Sales", "REVENUE", "REVENUE", "OUTPUT2", None, False),
    ("260", "Other Revenue", "REVENUE", "REVENUE", "OUTPUT2", None, False),
    ("270", "Interest Income", "REVENUE", "REVENUE", "NONE", None, False),
    ("310", "Cost of Goods Sold", "DIRECTCOSTS", "EXPENSE", "INPUT2", None, False),
    ("400", "Advertising & Marketing", "OVERHEADS", "EXPENSE", "INPUT2", None, False),
    ("429", "General Expenses", "OVERHEADS", "EXPENSE", "INPUT2", None, False),
    ("610", "Accounts Receivable", "CURRENT", "ASSET", "NONE", "DEBTORS", False),
    ("800", "Accounts Payable", "CURRLIAB", "LIABILITY", "NONE", "CREDITORS", False),
    ("820", "VAT", "CURRLIAB", "LIABILITY", "NONE", "GST", False),
    ("840", "Historical Adjustment", "CURRLIAB", "LIABILITY", "NONE", "HISTORICAL", False),
    ("860", "Rounding", "CURRLIAB", "LIABILITY", "NONE", "ROUNDING", False),
    ("877", "Tracking Transfers", "CURRLIAB", "LIABILITY", "NONE", "TRACKINGTRANSFERS", False),
    ("960", "Retained Earnings", "EQUITY", "EQUITY", "NONE", "RETAINEDEARNINGS", False),
    ("4999", "Unrealised Currency Gains", "CURRLIAB", "LIABILITY", "NONE", "UNREALISEDCURRENCYGAIN", False),
    ("4998", "Realised Currency Gains", "EXPENSE", "EXPENSE", "NONE", "REALISEDCURRENCYGAIN", False),
]

# Default day rates (foreign units per 1 GBP) used when an invoice gives no CurrencyRate.
DEFAULT_CURRENCIES = {"GBP": Decimal("1.000000"), "EUR": Decimal("1.170000"), "USD": Decimal("1.270000")}


def new_org(name: str, now: datetime, tenant_id: str | None = None, base_currency: str = "GBP",
            currencies: dict[str, Decimal] | None = None) -> Org:
    tenant_id = tenant_id or str(uuid.uuid4())
    rates = dict(currencies or DEFAULT_CURRENCIES)
    rates[base_currency] = Decimal("1.000000")
    accounts = {}
    for code, acc_name, acc_type, acc_class, tax_type, system, payments in UK_ACCOUNTS:
        account_id = str(uuid.uuid5(uuid.UUID(tenant_id), f"account-{code}"))
        accounts[account_id] = Account(
            account_id=account_id,
            code=code,
            name=acc_name,
            type=acc_type,
            tax_type=tax_type,
            account_class=acc_class,
            system_account=system,
            enable_payments=payments,
            bank_account_number="20202012345678" if acc_type == "BANK" else None,
            currency_code=base_currency if acc_type == "BANK" else None,
        )
    short = "!" + "".join(ch for ch in tenant_id.replace("-", "")[:5])
    return Org(
        tenant_id=tenant_id,
        name=name,
        short_code=short,
        base_currency=base_currency,
        country_code="GB",
        currencies=rates,
        tax_rates={rate.tax_type: TaxRate(**vars(rate)) for rate in UK_TAX_RATES},
        accounts=accounts,
        created=now,
    )

"""A CRM deal + the mapping document -> the Xero invoice to create. Pure: no I/O, no clock.

LineAmountTypes and every TaxType are explicit; totals are left to Xero.
"""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

from crmbridge.crm.models import CrmDeal, CrmLine
from crmbridge.errors import PermanentError
from crmbridge.mapping.config import MappingConfig, ProductRule, country_code, rate_key
from crmbridge.xero.models import ContactRef, LineItem, NewContact, NewInvoice, TrackingCategoryRef

_LINE_AMOUNT_TYPES = {"exclusive": "Exclusive", "inclusive": "Inclusive", "none": "NoTax"}


def invoice_reference(deal: CrmDeal) -> str:
    """Reference = the CRM deal id: the key of the lookup that guards against duplicates."""
    return deal.id


def _rule_for(line: CrmLine, config: MappingConfig) -> ProductRule | None:
    for attribute, value in (("product_code", line.product_code), ("product_id", line.product_id),
                             ("name", line.name)):
        if value:
            for rule in config.products:
                if getattr(rule, attribute) == value:
                    return rule
    return None


def _tax_method(deal: CrmDeal, config: MappingConfig) -> str:
    methods = {line.tax_method for line in deal.lines if line.tax_method}
    if len(methods) > 1:
        raise PermanentError(
            "mixed_tax_methods",
            f"deal {deal.id} mixes tax methods {sorted(methods)}; Xero takes one per invoice",
        )
    return methods.pop() if methods else (deal.tax_method or config.default_tax_method)


def _tax_type(line: CrmLine | None, rule: ProductRule | None, country: str | None,
              method: str, config: MappingConfig) -> str:
    if method == "none":
        return config.no_tax_type
    if rule and rule.tax_type:
        return rule.tax_type
    for country_rule in config.country_tax:
        if country and country in country_rule.countries:
            return country_rule.tax_type
    if line and line.tax_percent is not None:
        rate = rate_key(line.tax_percent)
        if rate in config.tax_types_by_rate:
            return config.tax_types_by_rate[rate]
        raise PermanentError(
            "unmapped_tax_rate",
            f"line {line.name!r} has tax {line.tax_percent}% and no TaxType is mapped for that rate",
        )
    return config.default_tax_type


def _line_item(line: CrmLine, deal: CrmDeal, country: str | None, method: str,
               config: MappingConfig) -> LineItem:
    rule = _rule_for(line, config)
    account = (rule.account_code if rule else None) or config.default_account_code
    if not account:
        raise PermanentError(
            "unmapped_product",
            f"product {line.product_code or line.product_id or line.name!r} has no mapping and no default account",
        )
    discount_rate = discount_amount = None
    if line.discount:
        if line.discount_type == "percentage":
            discount_rate = line.discount
        else:
            discount_amount = line.discount
    description = (rule.description if rule and rule.description else line.name)
    if line.comments:
        description = f"{description}\n{line.comments}"
    return LineItem(
        Description=description[:4000],
        Quantity=line.quantity,
        UnitAmount=line.unit_price,
        AccountCode=account,
        ItemCode=rule.item_code if rule else None,
        TaxType=_tax_type(line, rule, country, method, config),
        DiscountRate=discount_rate,
        DiscountAmount=discount_amount,
        Tracking=[TrackingCategoryRef(Name=t.name, Option=t.option) for t in config.tracking] or None,
    )


def build_invoice(deal: CrmDeal, *, contact: ContactRef | NewContact, config: MappingConfig,
                  status: str, today: date) -> NewInvoice:
    organisation = deal.organisation
    if organisation is None:
        raise PermanentError("no_organisation", f"deal {deal.id} has no organisation to invoice")
    if deal.currency not in config.currencies:
        raise PermanentError(
            "currency_not_enabled",
            f"deal {deal.id} is in {deal.currency}; the mapping allows {', '.join(config.currencies)}",
        )
    country = country_code(organisation.address.country if organisation.address else None)
    method = _tax_method(deal, config)
    if deal.lines:
        items = [_line_item(line, deal, country, method, config) for line in deal.lines]
    else:
        if deal.value <= 0:
            raise PermanentError("nothing_to_invoice", f"deal {deal.id} has no products and no value")
        fallback = config.deal_without_products
        account = fallback.account_code or config.default_account_code
        if not account:
            raise PermanentError("unmapped_product", f"deal {deal.id} has no products and no default account")
        items = [LineItem(
            Description=fallback.description.format(deal_title=deal.title, deal_id=deal.id),
            Quantity=Decimal(1), UnitAmount=deal.value, AccountCode=account,
            TaxType=fallback.tax_type or _tax_type(None, None, country, method, config),
            Tracking=[TrackingCategoryRef(Name=t.name, Option=t.option) for t in config.tracking] or None,
        )]
    terms = organisation.payment_terms_days if organisation.payment_terms_days is not None else config.payment_terms_days
    return NewInvoice(
        Contact=contact,
        Date=today,
        DueDate=today + timedelta(days=terms),
        Reference=invoice_reference(deal),
        CurrencyCode=deal.currency,
        Status=status,
        LineAmountTypes=_LINE_AMOUNT_TYPES[method],
        LineItems=items,
        BrandingThemeID=config.branding_theme_id,
    )

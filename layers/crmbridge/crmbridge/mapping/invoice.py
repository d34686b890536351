"""A CRM deal + the mapping document -> the Xero invoice to create. Pure: no I/O, no clock.

LineAmountTypes and every TaxType are explicit; totals are left to Xero.

The CRM's data is checked here, before anything reaches Xero, and every problem is a PermanentError
naming the field and the value at fault (a negative price, a discount above its line, a total of
zero, payment terms no calendar holds, a figure beyond Xero's precision, an empty or over-long
contact name). Text Xero would not take whole is shortened visibly (an ellipsis) and each shortening
is a note the caller records in the deal's history; control characters are removed from every text.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal

from crmbridge.crm.models import CrmDeal, CrmLine, CrmOrganisation
from crmbridge.errors import PermanentError
from crmbridge.ids import is_xero_guid
from crmbridge.mapping import limits
from crmbridge.mapping.config import MappingConfig, ProductRule, country_code, rate_key
from crmbridge.mapping.totals import line_amount
from crmbridge.xero.models import Address, ContactRef, LineItem, NewContact, NewInvoice, TrackingCategoryRef

# The same bounds as the mapping document's payment_terms_days.
MAX_PAYMENT_TERMS_DAYS = 365


@dataclass(frozen=True)
class BuiltInvoice:
    """The invoice to create, and what was changed to fit it into Xero (for the deal's history)."""

    invoice: NewInvoice
    notes: list[str] = field(default_factory=list)

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


def _checked_figures(line: CrmLine, position: int) -> CrmLine:
    """The line with its figures as Xero can take and bill them, or a PermanentError naming the value."""
    what = f"line {position} ({limits.clean(line.name)[:60]!r})"
    line = line.model_copy(update={
        "quantity": limits.exact_number(line.quantity, decimals=limits.QUANTITY_DECIMALS, reason="invalid_quantity",
                                        what=f"{what} quantity"),
        "unit_price": limits.exact_number(line.unit_price, decimals=limits.UNIT_AMOUNT_DECIMALS,
                                          reason="invalid_price", what=f"{what} unit price"),
        "discount": limits.exact_number(line.discount, decimals=limits.UNIT_AMOUNT_DECIMALS,
                                        reason="invalid_discount", what=f"{what} discount"),
    })
    if line.quantity < 0:
        raise PermanentError("negative_quantity", f"{what} quantity is {line.quantity}: an invoice bills "
                                                  "positive quantities (a refund is a credit note in Xero)")
    if line.unit_price < 0:
        raise PermanentError("negative_price", f"{what} unit price is {line.unit_price}: an invoice bills "
                                               "positive prices (a refund is a credit note in Xero)")
    if line.discount < 0:
        raise PermanentError("invalid_discount", f"{what} discount is {line.discount}: a discount is not negative")
    if line.discount_type == "percentage" and line.discount > 100:
        raise PermanentError("invalid_discount", f"{what} discount is {line.discount}%: more than 100%")
    gross = line.quantity * line.unit_price
    if line.discount_type == "amount" and line.discount > gross:
        raise PermanentError("discount_exceeds_line", f"{what} discount of {line.discount} is more than the "
                                                      f"line's {gross} ({line.quantity} x {line.unit_price})")
    return line


def _line_item(line: CrmLine, position: int, country: str | None, method: str,
               config: MappingConfig, notes: list[str]) -> LineItem:
    line = _checked_figures(line, position)
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
    description = limits.clean(rule.description if rule and rule.description else line.name).strip()
    if not description:
        raise PermanentError("invalid_description", f"line {position} has no name ({line.name!r}) and no "
                                                    "mapped description: Xero needs a description")
    if comments := limits.clean(line.comments or "", multiline=True).strip():
        description = f"{description}\n{comments}"
    return LineItem(
        Description=limits.fitted(description, limits.DESCRIPTION, what=f"line {position} description",
                                  notes=notes, multiline=True),
        Quantity=line.quantity,
        UnitAmount=line.unit_price,
        AccountCode=account,
        ItemCode=rule.item_code if rule else None,
        TaxType=_tax_type(line, rule, country, method, config),
        DiscountRate=discount_rate,
        DiscountAmount=discount_amount,
        Tracking=[TrackingCategoryRef(Name=t.name, Option=t.option) for t in config.tracking] or None,
    )


def _checked_terms(organisation: CrmOrganisation, config: MappingConfig) -> int:
    terms = organisation.payment_terms_days
    if terms is None:
        return config.payment_terms_days
    if not 0 <= terms <= MAX_PAYMENT_TERMS_DAYS:
        raise PermanentError("invalid_payment_terms", f"organisation {limits.clean(organisation.name)[:60]!r} has "
                                                      f"payment terms of {terms} days; 0 to {MAX_PAYMENT_TERMS_DAYS} "
                                                      "are accepted: correct them in the CRM, then resync")
    return terms


def _checked_total(deal: CrmDeal, items: list[LineItem]) -> None:
    total = sum((line_amount(i.quantity, i.unit_amount, discount_rate=i.discount_rate,
                             discount_amount=i.discount_amount) for i in items), Decimal("0.00"))
    if total <= 0:
        raise PermanentError("nothing_to_invoice", f"deal {deal.id}'s lines come to {total} before tax: "
                                                   "Xero would create an invoice for nothing")


def _checked_contact(contact: ContactRef | NewContact, organisation: CrmOrganisation,
                     notes: list[str]) -> ContactRef | NewContact:
    """A new contact as Xero will hold it: its name whole (it is how the contact is found again), the
    email whole or refused, address fields shortened visibly."""
    if not isinstance(contact, NewContact):
        return contact
    label = f"organisation {organisation.id}"
    name = limits.required_text(contact.name, limits.CONTACT_NAME, reason="invalid_contact_name",
                                what=f"{label} name (the Xero contact's Name)")
    email = limits.clean(contact.email_address or "").strip() or None
    if email and limits.xero_length(email) > limits.EMAIL_ADDRESS:
        raise PermanentError("invalid_email", f"{label} email is {limits.xero_length(email)} characters long, "
                                              f"Xero takes at most {limits.EMAIL_ADDRESS}")

    def part(value: str | None, limit: int, what: str) -> str | None:
        return limits.fitted(value, limit, what=f"{label} {what}", notes=notes) or None if value else None

    addresses = [Address(AddressType=a.address_type,
                         AddressLine1=part(a.address_line1, limits.ADDRESS_LINE, "address line"),
                         City=part(a.city, limits.CITY, "city"),
                         PostalCode=part(a.postal_code, limits.POSTAL_CODE, "postal code"),
                         Country=part(a.country, limits.COUNTRY, "country")) for a in contact.addresses or []]
    return NewContact(Name=name, EmailAddress=email, Addresses=addresses or None, IsCustomer=contact.is_customer)


def build_invoice(deal: CrmDeal, *, contact: ContactRef | NewContact, config: MappingConfig,
                  status: str, today: date) -> NewInvoice:
    """The invoice alone (callers that record no notes: dry runs, leakage checks)."""
    return build_invoice_with_notes(deal, contact=contact, config=config, status=status, today=today).invoice


def build_invoice_with_notes(deal: CrmDeal, *, contact: ContactRef | NewContact, config: MappingConfig,
                             status: str, today: date) -> BuiltInvoice:
    """The invoice and the notes of what was shortened to fit Xero; a PermanentError for data Xero
    cannot take or that would not make a real invoice."""
    notes: list[str] = []
    organisation = deal.organisation
    if organisation is None:
        raise PermanentError("no_organisation", f"deal {deal.id} has no organisation to invoice")
    if deal.currency not in config.currencies:
        raise PermanentError(
            "currency_not_enabled",
            f"deal {deal.id} is in {deal.currency}; the mapping allows {', '.join(config.currencies)}",
        )
    if organisation.xero_contact_id and not is_xero_guid(organisation.xero_contact_id):
        # Typed into the CRM by hand: a wrong value must be corrected there, not sent to Xero as it is.
        raise PermanentError("invalid_xero_contact_id", f"organisation {organisation.id}'s Xero contact ID "
                                                        f"{organisation.xero_contact_id[:80]!r} is not a Xero id (a "
                                                        "GUID): correct or clear it in the CRM, then resync")
    country = country_code(organisation.address.country if organisation.address else None)
    method = _tax_method(deal, config)
    terms = _checked_terms(organisation, config)
    if deal.lines:
        items = [_line_item(line, position, country, method, config, notes)
                 for position, line in enumerate(deal.lines, start=1)]
    else:
        value = limits.exact_number(deal.value, decimals=limits.UNIT_AMOUNT_DECIMALS, reason="invalid_price",
                                    what=f"deal {deal.id} value")
        if value <= 0:
            raise PermanentError("nothing_to_invoice", f"deal {deal.id} has no products and its value is {deal.value}")
        fallback = config.deal_without_products
        account = fallback.account_code or config.default_account_code
        if not account:
            raise PermanentError("unmapped_product", f"deal {deal.id} has no products and no default account")
        description = limits.clean(fallback.description.format(deal_title=deal.title, deal_id=deal.id)).strip()
        if not description:
            raise PermanentError("invalid_description", f"deal {deal.id} has no products and no title "
                                                        f"({deal.title!r}) to describe its line: Xero needs one")
        items = [LineItem(
            Description=limits.fitted(description, limits.DESCRIPTION, what="line 1 description (from the deal title)",
                                      notes=notes, multiline=True),
            Quantity=Decimal(1), UnitAmount=value, AccountCode=account,
            TaxType=fallback.tax_type or _tax_type(None, None, country, method, config),
            Tracking=[TrackingCategoryRef(Name=t.name, Option=t.option) for t in config.tracking] or None,
        )]
    _checked_total(deal, items)
    invoice = NewInvoice(
        Contact=_checked_contact(contact, organisation, notes),
        Date=today,
        DueDate=today + timedelta(days=terms),
        Reference=invoice_reference(deal),
        CurrencyCode=deal.currency,
        Status=status,
        LineAmountTypes=_LINE_AMOUNT_TYPES[method],
        LineItems=items,
        BrandingThemeID=config.branding_theme_id,
    )
    return BuiltInvoice(invoice=invoice, notes=notes)

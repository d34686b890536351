"""CRM data, generated: organisations, persons, products and deal lines as a careless user (or a CRM) could
hold them, through the pure mapping. Each case ends as an invoice whose lines are the deal's, within
Xero's limits and precision, or as a PermanentError with a reason: never any other exception.

FUZZ_EXAMPLES sets the examples (CI default below; `FUZZ_EXAMPLES=10000 make fuzz` is the long run).
"""

from __future__ import annotations

import json
import os
import unicodedata
from datetime import date, timedelta
from decimal import Decimal

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from crmbridge.crm.models import CrmAddress, CrmDeal, CrmLine, CrmOrganisation, CrmPerson
from crmbridge.errors import PermanentError
from crmbridge.mapping.config import MappingConfig
from crmbridge.mapping.invoice import build_invoice_with_notes
from crmbridge.mapping.limits import clean, xero_length
from crmbridge.mapping.totals import line_amount
from crmbridge.xero.models import Address, ContactRef, NewContact, xero_json

EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "300"))
FUZZ = settings(max_examples=EXAMPLES, deadline=None, database=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
TODAY = date(2026, 12, 7)
CONFIG = MappingConfig(default_account_code="200", products=[{"product_code": "LIC", "tax_type": "OUTPUT2",
                                                              "description": "Licence"}])

# Text as CRMs hold it: any character (controls, emoji, combining marks), short or far too long.
texts = st.one_of(
    st.text(max_size=40),
    st.text(alphabet=st.characters(codec="utf-8"), max_size=300),
    st.builds(lambda piece, times: piece * times, st.text(min_size=1, max_size=3), st.integers(0, 3000)),
)
# Mostly plausible figures (so many cases become invoices), with the odd absurd one.
plausible = st.decimals(allow_nan=False, allow_infinity=False, min_value=0, max_value=10_000, places=2)
figures = st.one_of(
    plausible, plausible, plausible,
    st.decimals(allow_nan=False, allow_infinity=False, min_value=-1000, max_value=100_000, places=2),
    st.decimals(allow_nan=False, allow_infinity=False, min_value=-10, max_value=10, places=6),
    st.decimals(allow_nan=False, allow_infinity=False, min_value=Decimal("-1e20"), max_value=Decimal("1e20")),
    st.sampled_from([Decimal(0), Decimal("0.0001"), Decimal("1E+3"), Decimal("-0")]),
)
lines = st.builds(
    CrmLine, name=texts, product_code=st.sampled_from([None, "LIC", "OTHER"]), quantity=figures, unit_price=figures,
    discount=figures, discount_type=st.sampled_from(["amount", "percentage"]),
    tax_percent=st.sampled_from([None, Decimal(20), Decimal(5), Decimal(0), Decimal("17.5")]),
    tax_method=st.sampled_from([None, None, None, None, None, None, "exclusive", "inclusive", "none"]),
    comments=st.one_of(st.none(), texts),
)
addresses = st.one_of(st.none(), st.builds(CrmAddress, line1=st.one_of(st.none(), texts), city=st.one_of(st.none(), texts),
                                           postal_code=st.one_of(st.none(), texts),
                                           country=st.sampled_from([None, "GB", "United Kingdom", "Narnia", ""])))
organisations = st.builds(
    CrmOrganisation, id=st.just("7"), name=texts, email=st.one_of(st.none(), texts), address=addresses,
    payment_terms_days=st.one_of(st.none(), st.none(), st.integers(0, 365), st.integers(-10, 400),
                                 st.integers(-10**9, 10**9)),
)
deals = st.builds(
    CrmDeal, id=st.integers(1, 10**12).map(str), title=texts, status=st.just("won"),
    value=figures, currency=st.sampled_from(["GBP", "GBP", "GBP", "EUR", "EUR", "JPY"]), organisation=organisations,
    person=st.one_of(st.none(), st.builds(CrmPerson, id=st.just("3"), name=texts, email=st.one_of(st.none(), texts))),
    lines=st.lists(lines, max_size=4),
)


def new_contact(deal: CrmDeal) -> NewContact:
    """The contact resolve_contact makes when no Xero contact matches (the riskiest case: all CRM text)."""
    org = deal.organisation
    assert org is not None
    email = (org.email or (deal.person.email if deal.person else None) or "").strip()
    address = org.address
    return NewContact(Name=org.name, EmailAddress=email or None,
                      Addresses=[Address(AddressLine1=address.line1, City=address.city, PostalCode=address.postal_code,
                                         Country=address.country)] if address else None)


def no_controls(text: str, *, kept: str = "") -> bool:
    return all(c in kept or unicodedata.category(c) not in ("Cc", "Cs") for c in text)


@FUZZ
@given(deal=deals, existing_contact=st.booleans())
def test_crm_data_becomes_a_faithful_invoice_or_a_permanent_error_with_a_reason(deal, existing_contact):
    contact = ContactRef(ContactID="9b1d7e35-2c4a-4f6e-8a0b-5c3d2e1f0a9b") if existing_contact else new_contact(deal)
    try:
        built = build_invoice_with_notes(deal, contact=contact, config=CONFIG, status="DRAFT", today=TODAY)
    except PermanentError as error:
        assert error.reason and error.message  # a recorded failure that says why
        return
    invoice = built.invoice
    # Lines are the deal's, figure for figure, within Xero's limits and without control characters
    expected = deal.lines or [CrmLine(name=deal.title, quantity=Decimal(1), unit_price=deal.value)]
    assert len(invoice.line_items) == len(expected)
    for item, line in zip(invoice.line_items, expected, strict=True):
        assert (item.quantity, item.unit_amount) == (line.quantity, line.unit_price)
        assert item.quantity >= 0 and item.unit_amount >= 0
        assert -item.unit_amount.as_tuple().exponent <= 4 and -item.quantity.normalize().as_tuple().exponent <= 4
        assert 0 < xero_length(item.description) <= 4000 and no_controls(item.description, kept="\n\t")
    assert sum(line_amount(i.quantity, i.unit_amount, discount_rate=i.discount_rate,
                           discount_amount=i.discount_amount) for i in invoice.line_items) > 0
    # The due date is the terms away, within the accepted range
    assert timedelta(0) <= invoice.due_date - invoice.invoice_date <= timedelta(days=365)
    # A new contact's name is whole, as the CRM has it once cleaned
    if isinstance(invoice.contact, NewContact):
        assert 0 < xero_length(invoice.contact.name) <= 255 and no_controls(invoice.contact.name)
        for address in invoice.contact.addresses or []:
            assert all(no_controls(part) for part in (address.address_line1, address.city, address.postal_code,
                                                      address.country) if part)
    # Whatever was shortened says so, and the body is valid JSON with numbers as numbers
    assert all("shortened" in note for note in built.notes)
    body = json.loads(xero_json({"Invoices": [invoice.to_wire()]}), parse_float=Decimal)
    assert all(not isinstance(line["UnitAmount"], str) for line in body["Invoices"][0]["LineItems"])


# Plausible data (what a careful user enters, with the odd control character or over-long text) must
# always become an invoice: the checks above refuse only what Xero cannot take or would bill wrongly.
named = st.text(alphabet=st.characters(codec="utf-8"), min_size=1, max_size=5000).filter(
    lambda text: any(unicodedata.category(c)[0] in "LN" for c in text))
plausible_lines = st.builds(
    CrmLine, name=named, quantity=st.integers(1, 1000).map(Decimal),
    unit_price=st.decimals(min_value=Decimal("0.01"), max_value=100_000, places=2), discount=st.just(Decimal(0)),
    tax_percent=st.sampled_from([None, Decimal(20)]), comments=st.one_of(st.none(), texts),
)
plausible_deals = st.builds(
    CrmDeal, id=st.integers(1, 10**12).map(str), title=named, status=st.just("won"), currency=st.just("GBP"),
    organisation=st.builds(CrmOrganisation, id=st.just("7"), name=named.filter(lambda n: xero_length(n.strip()) <= 255),
                           email=st.one_of(st.none(), st.emails()), address=addresses,
                           payment_terms_days=st.one_of(st.none(), st.integers(0, 365))),
    lines=st.lists(plausible_lines, min_size=1, max_size=4),
)


@FUZZ
@given(deal=plausible_deals)
def test_plausible_crm_data_always_becomes_an_invoice_with_the_deals_lines(deal):
    built = build_invoice_with_notes(deal, contact=new_contact(deal), config=CONFIG, status="DRAFT", today=TODAY)
    items = built.invoice.line_items
    assert [(i.quantity, i.unit_amount) for i in items] == [(line.quantity, line.unit_price) for line in deal.lines]
    # A name longer than Xero takes is shortened visibly, and said so
    for position, (item, line) in enumerate(zip(items, deal.lines, strict=True), start=1):
        if xero_length(clean(line.name).strip()) > 4000:
            assert item.description.endswith("…")
            assert any(note.startswith(f"line {position} description shortened") for note in built.notes)

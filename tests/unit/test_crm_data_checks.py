"""CRM data Xero cannot take, or that would not make a real invoice, is refused before anything is sent,
with the field and the value named; text too long for Xero is shortened visibly and reported."""

from datetime import date
from decimal import Decimal

import pytest

from crmbridge.crm.models import CrmDeal, CrmLine, CrmOrganisation
from crmbridge.errors import PermanentError
from crmbridge.mapping.config import MappingConfig
from crmbridge.mapping.invoice import build_invoice, build_invoice_with_notes
from crmbridge.mapping.limits import xero_length
from crmbridge.xero.models import Address, ContactRef, NewContact

TODAY = date(2026, 11, 24)
CONFIG = MappingConfig(default_account_code="200", default_tax_type="OUTPUT2")
CONTACT = ContactRef(ContactID="9b1d7e35-2c4a-4f6e-8a0b-5c3d2e1f0a9b")


def line(**overrides) -> CrmLine:
    values = dict(name="Consulting", quantity=Decimal(5), unit_price=Decimal("120.00"))
    return CrmLine(**(values | overrides))


def deal(*lines: CrmLine, terms: int | None = None, name: str = "Acme Ltd", value: str = "0") -> CrmDeal:
    return CrmDeal(id="101", title="Acme work", status="won", value=Decimal(value), currency="GBP",
                   organisation=CrmOrganisation(id="o1", name=name, payment_terms_days=terms), lines=list(lines))


def refused(d: CrmDeal, contact=CONTACT) -> PermanentError:
    with pytest.raises(PermanentError) as caught:
        build_invoice(d, contact=contact, config=CONFIG, status="DRAFT", today=TODAY)
    return caught.value


def test_a_negative_price_is_refused_naming_the_line_and_the_price():
    # Given a deal whose second line has a price of -120.00 (5 x -120.00 = -600.00)
    error = refused(deal(line(), line(name="Refund", unit_price=Decimal("-120.00"))))
    # Then no invoice: the line and the price are named
    assert error.reason == "negative_price"
    assert "line 2 ('Refund')" in error.message and "-120.00" in error.message


def test_an_amount_discount_above_its_line_is_refused():
    # Given one line of 5 x 120.00 = 600.00 with a discount of 660.00 (it would make -60.00)
    error = refused(deal(line(discount=Decimal("660.00"), discount_type="amount")))
    assert error.reason == "discount_exceeds_line"
    assert "660.00" in error.message and "line 1" in error.message


def test_payment_terms_of_five_million_days_are_refused_not_an_overflow():
    # Given an organisation with payment terms of 5,000,000 days (no calendar holds that due date)
    error = refused(deal(line(), terms=5_000_000))
    assert error.reason == "invalid_payment_terms" and "5000000 days" in error.message


def test_a_deal_whose_lines_come_to_nothing_is_refused():
    # Given a single free line
    error = refused(deal(line(unit_price=Decimal(0))))
    assert error.reason == "nothing_to_invoice" and "0.00" in error.message


def test_a_price_beyond_four_decimals_is_refused():
    error = refused(deal(line(unit_price=Decimal("19.12345"))))
    assert error.reason == "invalid_price" and "19.12345" in error.message and "4 decimal places" in error.message


def test_a_quantity_beyond_four_decimals_is_refused():
    error = refused(deal(line(quantity=Decimal("1.00001"))))
    assert error.reason == "invalid_quantity" and "1.00001" in error.message


def test_a_figure_a_double_cannot_hold_exactly_is_refused():
    error = refused(deal(line(unit_price=Decimal("1234567890123.4567"))))
    assert error.reason == "invalid_price" and "significant digits" in error.message


@pytest.mark.parametrize("name", ["", "   ", "\x00\x01"])
def test_an_empty_company_name_for_a_new_contact_is_refused_naming_the_field(name):
    error = refused(deal(line(), name=name), contact=NewContact(Name=name))
    assert error.reason == "invalid_contact_name" and "organisation o1 name" in error.message and "empty" in error.message


def test_a_company_name_of_256_characters_is_refused_naming_the_field_and_its_length():
    name = "A" * 256
    error = refused(deal(line(), name=name), contact=NewContact(Name=name))
    assert error.reason == "invalid_contact_name"
    assert "organisation o1 name" in error.message and "256 characters" in error.message and "255" in error.message


def test_a_name_of_255_characters_counted_as_xero_counts_them_is_refused_when_it_holds_emoji():
    # Given 254 letters and one emoji: 255 characters, but 256 UTF-16 units in .NET's count
    name = "A" * 254 + "😀"
    error = refused(deal(line(), name=name), contact=NewContact(Name=name))
    assert "256 characters" in error.message


def test_a_5250_character_description_is_shortened_with_an_ellipsis_and_reported():
    # Given a product whose name is 5,250 characters long
    built = build_invoice_with_notes(deal(line(), line(name="x" * 5250)), contact=CONTACT, config=CONFIG,
                                     status="DRAFT", today=TODAY)
    description = built.invoice.line_items[1].description
    # Then the line ends in an ellipsis within Xero's 4,000, and the shortening is a note
    assert description.endswith("…") and xero_length(description) == 4000
    assert built.notes == ["line 2 description shortened from 5250 to 4000 characters (Xero takes at most 4000)"]


def test_an_invoice_that_fits_has_no_notes_and_build_invoice_still_returns_the_invoice():
    built = build_invoice_with_notes(deal(line()), contact=CONTACT, config=CONFIG, status="DRAFT", today=TODAY)
    assert built.notes == []
    assert build_invoice(deal(line()), contact=CONTACT, config=CONFIG, status="DRAFT", today=TODAY) == built.invoice


def test_control_characters_are_stripped_from_every_text_keeping_line_breaks_in_descriptions():
    # Given NUL bytes in a product name, its comments and the company name
    contact = NewContact(Name="Acme\x00 Ltd", EmailAddress="billing@acme.test\x00",
                         Addresses=[Address(AddressLine1="1 High\x07 St", City="Leeds")])
    built = build_invoice_with_notes(deal(line(name="Cons\x00ulting", comments="first\x00\r\nsecond\tpart"),
                                          name="Acme\x00 Ltd"),
                                     contact=contact, config=CONFIG, status="DRAFT", today=TODAY)
    invoice = built.invoice
    assert invoice.line_items[0].description == "Consulting\nfirst\nsecond\tpart"
    assert invoice.contact.name == "Acme Ltd" and invoice.contact.email_address == "billing@acme.test"
    assert invoice.contact.addresses[0].address_line1 == "1 High St"


def test_an_over_long_address_line_is_shortened_and_reported():
    contact = NewContact(Name="Acme Ltd", Addresses=[Address(AddressLine1="Unit " * 120, City="Leeds")])
    built = build_invoice_with_notes(deal(line()), contact=contact, config=CONFIG, status="DRAFT", today=TODAY)
    assert xero_length(built.invoice.contact.addresses[0].address_line1) <= 500
    assert built.notes and built.notes[0].startswith("organisation o1 address line shortened from 600")


def test_a_deal_without_products_and_a_negative_value_is_refused():
    error = refused(deal(value="-10"))
    assert error.reason == "nothing_to_invoice" and "-10" in error.message


def test_a_negative_quantity_is_refused():
    error = refused(deal(line(quantity=Decimal(-1))))
    assert error.reason == "negative_quantity" and "-1" in error.message


def test_a_percentage_discount_over_100_is_refused():
    error = refused(deal(line(discount=Decimal(150), discount_type="percentage")))
    assert error.reason == "invalid_discount" and "150%" in error.message


def test_a_line_without_any_name_is_refused():
    error = refused(deal(line(name="\x00")))
    assert error.reason == "invalid_description" and "line 1" in error.message


def test_a_legitimate_invoice_goes_through_unchanged():
    invoice = build_invoice(deal(line(discount=Decimal(10)), terms=14, name="Acme Ltd"),
                            contact=NewContact(Name="Acme Ltd", Addresses=[Address(City="Leeds", Country="GB")]),
                            config=CONFIG, status="DRAFT", today=TODAY)
    [item] = invoice.line_items
    assert (item.quantity, item.unit_amount, item.discount_rate) == (Decimal(5), Decimal("120.00"), Decimal(10))
    assert invoice.due_date == date(2026, 12, 8) and invoice.contact.name == "Acme Ltd"


def test_an_organisation_address_crm_value_is_untouched_when_it_fits():
    # Given an address that fits, with Xero's own country field
    contact = NewContact(Name="Acme Ltd", Addresses=[Address(AddressLine1="1 High St", City="Leeds",
                                                             PostalCode="LS1 1AA", Country="GB")])
    built = build_invoice_with_notes(deal(line()), contact=contact, config=CONFIG, status="DRAFT", today=TODAY)
    assert built.invoice.contact.addresses == contact.addresses and built.notes == []



def test_a_xero_contact_id_typed_into_the_crm_that_is_not_a_guid_is_refused():
    organisation = CrmOrganisation(id="o1", name="Acme Ltd", xero_contact_id="../Contacts")
    error = refused(CrmDeal(id="101", title="t", status="won", currency="GBP", organisation=organisation,
                            lines=[line()]), contact=ContactRef(ContactID="../Contacts"))
    assert error.reason == "invalid_xero_contact_id" and "'../Contacts'" in error.message

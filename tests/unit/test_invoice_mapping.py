"""Deal + mapping -> the Xero invoice to create: lines, tax, discounts, currency, due date, errors."""

from datetime import date
from decimal import Decimal

import pytest

from crmbridge.crm.models import CrmAddress, CrmDeal, CrmLine, CrmOrganisation
from crmbridge.errors import ConfigError, PermanentError
from crmbridge.mapping.config import MappingConfig, parse_mapping
from crmbridge.mapping.contacts import normalise_company_name
from crmbridge.mapping.invoice import build_invoice
from crmbridge.xero.models import ContactRef

TODAY = date(2026, 11, 24)
CONTACT = ContactRef(ContactID="c-1")
CONFIG = MappingConfig(
    default_account_code="200",
    products=[{"product_code": "LIC", "item_code": "LIC-STD", "account_code": "201", "tax_type": "OUTPUT2"},
              {"product_code": "BOOK", "tax_type": "ZERORATEDOUTPUT"}],
    country_tax=[{"countries": ["US", "Australia"], "tax_type": "NONE"}],
)


def deal(lines=(), *, currency="GBP", value="0", country="GB", terms=None, org=True):
    organisation = CrmOrganisation(id="o1", name="Acme Ltd", address=CrmAddress(country=country),
                                   payment_terms_days=terms) if org else None
    return CrmDeal(id="101", title="Acme licences", status="won", value=Decimal(value), currency=currency,
                   organisation=organisation, lines=list(lines))


def line(**overrides):
    values = dict(name="Licence", product_code="LIC", quantity=Decimal(2), unit_price=Decimal("100.00"),
                  tax_method="exclusive", tax_percent=Decimal(20))
    return CrmLine(**(values | overrides))


def build(d, config=CONFIG, status="DRAFT"):
    return build_invoice(d, contact=CONTACT, config=config, status=status, today=TODAY)


def test_a_product_line_maps_to_its_item_account_and_tax_type():
    invoice = build(deal([line()]))
    [item] = invoice.line_items
    assert (item.item_code, item.account_code, item.tax_type) == ("LIC-STD", "201", "OUTPUT2")
    assert (item.quantity, item.unit_amount) == (Decimal(2), Decimal("100.00"))
    assert invoice.reference == "101" and invoice.type == "ACCREC" and invoice.status == "DRAFT"


@pytest.mark.parametrize("method, expected", [("exclusive", "Exclusive"), ("inclusive", "Inclusive"), ("none", "NoTax")])
def test_line_amount_types_are_explicit_from_the_tax_method(method, expected):
    invoice = build(deal([line(tax_method=method)]))
    assert invoice.line_amount_types == expected
    if method == "none":
        assert invoice.line_items[0].tax_type == "NONE"


@pytest.mark.parametrize("rate, tax_type", [("20", "OUTPUT2"), ("5", "RROUTPUT"), ("0", "ZERORATEDOUTPUT"), ("20.00", "OUTPUT2")])
def test_unmapped_product_takes_its_tax_type_from_its_rate(rate, tax_type):
    invoice = build(deal([line(product_code="OTHER", tax_percent=Decimal(rate))]))
    assert invoice.line_items[0].tax_type == tax_type
    assert invoice.line_items[0].account_code == "200"


def test_exempt_and_zero_rated_products_keep_their_mapped_type():
    invoice = build(deal([line(product_code="BOOK", tax_percent=None)]))
    assert invoice.line_items[0].tax_type == "ZERORATEDOUTPUT"


def test_customer_country_rule_overrides_rates_for_unmapped_products():
    invoice = build(deal([line(product_code="OTHER")], country="United States"))
    assert invoice.line_items[0].tax_type == "NONE"


def test_a_tax_rate_with_no_mapping_is_a_permanent_error():
    with pytest.raises(PermanentError) as err:
        build(deal([line(product_code="OTHER", tax_percent=Decimal("7.5"))]))
    assert err.value.reason == "unmapped_tax_rate"


def test_percentage_and_amount_discounts():
    invoice = build(deal([line(discount=Decimal(10), discount_type="percentage"),
                          line(discount=Decimal("15.50"), discount_type="amount")]))
    first, second = invoice.line_items
    assert (first.discount_rate, first.discount_amount) == (Decimal(10), None)
    assert (second.discount_rate, second.discount_amount) == (None, Decimal("15.50"))


def test_second_currency_is_carried_and_unlisted_currency_refused():
    assert build(deal([line()], currency="EUR")).currency_code == "EUR"
    with pytest.raises(PermanentError) as err:
        build(deal([line()], currency="JPY"))
    assert err.value.reason == "currency_not_enabled"


def test_deal_without_products_becomes_one_line_of_its_value():
    invoice = build(deal(value="1200.00"))
    [item] = invoice.line_items
    assert (item.description, item.quantity, item.unit_amount, item.account_code) == (
        "Acme licences", Decimal(1), Decimal("1200.00"), "200")
    assert invoice.line_amount_types == "Exclusive"


def test_due_date_from_the_organisations_terms_else_the_default():
    assert build(deal([line()], terms=14)).due_date == date(2026, 12, 8)
    assert build(deal([line()])).due_date == date(2026, 12, 24)


def test_a_deal_without_organisation_is_a_permanent_error():
    with pytest.raises(PermanentError) as err:
        build(deal([line()], org=False))
    assert err.value.reason == "no_organisation"


def test_an_unmapped_product_without_default_account_is_a_permanent_error():
    strict = CONFIG.model_copy(update={"default_account_code": None})
    with pytest.raises(PermanentError) as err:
        build(deal([line(product_code="NEW")]), config=strict)
    assert err.value.reason == "unmapped_product"


def test_mixed_tax_methods_on_one_deal_are_refused():
    with pytest.raises(PermanentError) as err:
        build(deal([line(), line(tax_method="inclusive")]))
    assert err.value.reason == "mixed_tax_methods"


def test_invoice_body_sent_to_xero_has_explicit_types_and_no_totals():
    body = build(deal([line()])).to_xero()
    assert body["LineAmountTypes"] == "Exclusive"
    assert body["LineItems"][0]["TaxType"] == "OUTPUT2"
    assert not {"Total", "SubTotal", "TotalTax"} & body.keys()
    assert "LineAmount" not in body["LineItems"][0]


@pytest.mark.parametrize("a, b", [("ACME Ltd", "Acme Limited"), ("The Widget Co.", "widget company"),
                                  ("Smith & Sons PLC", "smith and sons"), ("Café Nero Ltd", "CAFÉ NERO")])
def test_company_names_that_are_the_same_customer_normalise_alike(a, b):
    assert normalise_company_name(a) == normalise_company_name(b)


@pytest.mark.parametrize("a, b", [("Acme Ltd", "Acme Widgets Ltd"), ("Café Nero Ltd", "Cafe Nero")])
def test_different_companies_stay_different(a, b):
    # An accent is a letter of the name: a look-alike is not evidence of one customer.
    assert normalise_company_name(a) != normalise_company_name(b)


def test_mapping_document_errors_name_the_field():
    with pytest.raises(ConfigError) as err:
        parse_mapping('{"version": 1, "currencies": ["pounds"], "products": [{"item_code": "X"}]}')
    text = str(err.value)
    assert "currencies" in text and "products.0" in text


def test_the_shipped_mapping_is_valid():
    from crmbridge.mapping.config import load_mapping

    assert load_mapping().default_account_code == "200"


# ----------------------------------------------------------------------------- totals as Xero computes them

RATES = {"OUTPUT2": Decimal("20.0000"), "RROUTPUT": Decimal("5.0000"), "ZERORATEDOUTPUT": Decimal(0),
         "NONE": Decimal(0)}


def test_totals_round_tax_per_line_then_sum():
    from crmbridge.mapping.totals import invoice_totals

    # Given three lines of 0.025 tax each (12.5p at 20%: half a penny rounds up per line)
    invoice = build(deal([line(quantity=Decimal(1), unit_price=Decimal("0.125"))] * 3))
    # When the totals are computed as Xero does
    totals = invoice_totals(invoice, RATES)
    # Then tax is rounded per line (0.03 x 3), not on the total (0.075 -> 0.08)
    assert [t.tax_amount for t in totals.lines] == [Decimal("0.03")] * 3
    assert (totals.sub_total, totals.total_tax, totals.total) == (Decimal("0.39"), Decimal("0.09"), Decimal("0.48"))


def test_totals_of_inclusive_lines_take_the_tax_out_of_the_amount():
    from crmbridge.mapping.totals import invoice_totals

    # Given a 120.00 line, tax inclusive at 20%
    invoice = build(deal([line(quantity=Decimal(1), unit_price=Decimal("120.00"), tax_method="inclusive")]))
    # When totalled
    totals = invoice_totals(invoice, RATES)
    # Then the total is the line amount and the tax is inside it
    assert (totals.sub_total, totals.total_tax, totals.total) == (Decimal("100.00"), Decimal("20.00"), Decimal("120.00"))


def test_totals_apply_discounts_before_rounding_the_line():
    from crmbridge.mapping.totals import invoice_totals

    # Given 3 x 33.33 with a 10% discount
    invoice = build(deal([line(quantity=Decimal(3), unit_price=Decimal("33.33"), discount=Decimal(10))]))
    # When totalled
    totals = invoice_totals(invoice, RATES)
    # Then the line is 99.99 less 10% = 89.991 -> 89.99, taxed at 20% = 17.998 -> 18.00
    assert totals.lines[0].line_amount == Decimal("89.99")
    assert totals.total == Decimal("107.99")


def test_totals_refuse_a_tax_type_the_organisation_does_not_have():
    from crmbridge.mapping.totals import invoice_totals

    # Given a line whose tax type is not among the organisation's rates
    invoice = build(deal([line()]))
    # When totalled, Then it says so
    with pytest.raises(PermanentError, match="OUTPUT2"):
        invoice_totals(invoice, {"NONE": Decimal(0)})

"""The same deal gives the same Xero invoice lines whichever CRM it comes from.

The deal (three products with codes, quantities, prices, a percentage and an amount discount, 20% and
0% tax) is entered in the Pipedrive emulator and in the HubSpot emulator as each CRM holds it, read by
each CRM client, and built by the mapping whose product rules match on product codes.
"""

from __future__ import annotations

from datetime import date
from typing import Any

import httpx
import pytest

from crmbridge.crm.hubspot import HubSpotCrm
from crmbridge.crm.pipedrive import PipedriveCrm
from crmbridge.mapping.config import MappingConfig
from crmbridge.mapping.invoice import build_invoice
from crmbridge.xero.models import ContactRef
from tests.integration.crm_emulators import hubspot_emulator, pipedrive_emulator, set_up_account

__all__ = ["hubspot_emulator", "pipedrive_emulator"]  # fixtures

MAPPING = MappingConfig(
    default_account_code="200",
    tax_types_by_rate={"20": "OUTPUT2", "0": "ZERORATEDOUTPUT"},
    products=[{"product_code": "LIC-STD", "item_code": "LIC-STD", "account_code": "201", "tax_type": "OUTPUT2"},
              {"product_code": "TRAIN", "account_code": "260"},
              {"product_code": "BOOK", "item_code": "BOOK", "account_code": "205", "tax_type": "ZERORATEDOUTPUT"}],
)
# (name, code, quantity, unit price, discount, discount type, tax %): the deal both CRMs hold.
LINES = [("Licence", "LIC-STD", 3, "400.00", "10", "percentage", 20),
         ("Training day", "TRAIN", 2, "750.00", "100.00", "amount", 20),
         ("Handbook", "BOOK", 5, "12.50", "0", "percentage", 0)]


@pytest.fixture
def pd(pipedrive_emulator):
    return pipedrive_emulator


@pytest.fixture
def hs(hubspot_emulator):
    return hubspot_emulator


def pipedrive_deal(pd) -> str:
    body = {
        "organizations": [{"ref": "o", "name": "Acme Ltd", "address": {"value": "1 High St", "country": "GB"}}],
        "products": [{"ref": code, "name": name, "code": code} for name, code, *_ in LINES],
        "deals": [{"ref": "d", "title": "Acme - licences", "currency": "GBP", "status": "won",
                   "won_time": "2026-03-01T10:00:00Z", "org_ref": "o",
                   "products": [{"product_ref": code, "quantity": qty, "item_price": float(price),
                                 "discount": float(discount),
                                 "discount_type": kind, "tax": tax, "tax_method": "exclusive"}
                                for _, code, qty, price, discount, kind, tax in LINES]}],
    }
    refs = httpx.post(f"{pd.url}/_emulator/seed", json=body, timeout=10).json()["refs"]
    return str(refs["deals"]["d"])


def hubspot_deal(hs) -> str:
    def line(name: str, code: str, qty: int, price: str, discount: str, kind: str, tax: int) -> dict:
        properties = {"name": name, "hs_sku": code, "quantity": str(qty), "price": price, "hs_tax_rate": str(tax)}
        if kind == "percentage":
            properties["hs_discount_percentage"] = discount
        else:  # HubSpot's `discount` is per unit; the deal's discount is for the whole line
            properties["discount"] = str(float(discount) / qty)
        return {"properties": properties}

    body = {"companies": [{"ref": "c", "properties": {"name": "Acme Ltd", "address": "1 High St", "country": "GB"}}],
            "deals": [{"ref": "d", "company": "c", "line_items": [line(*spec) for spec in LINES],
                       "properties": {"dealname": "Acme - licences", "dealstage": "closedwon",
                                      "deal_currency_code": "GBP"}}]}
    return hs.seed(body)["refs"]["deals"]["d"]


def invoice_lines(crm: Any, deal_id: str) -> list[dict]:
    invoice = build_invoice(crm.read_deal(deal_id), contact=ContactRef(ContactID="c-1"), config=MAPPING,
                            status="DRAFT", today=date(2026, 3, 2))
    keys = ("ItemCode", "AccountCode", "TaxType", "Description", "Quantity", "UnitAmount", "DiscountRate",
            "DiscountAmount")
    body = invoice.to_wire()  # the lines as sent to Xero
    assert body["LineAmountTypes"] == "Exclusive"
    return [{key: item.get(key) for key in keys} for item in body["LineItems"]]


def test_the_same_deal_from_pipedrive_and_hubspot_gives_identical_invoice_lines(pd, hs):
    # Given the same deal won in Pipedrive and in HubSpot, both accounts set up for the bridge
    with httpx.Client(timeout=10) as http:
        pipedrive = set_up_account(PipedriveCrm(http, pd.url, pd.token))
        hubspot = set_up_account(HubSpotCrm(http, hs.url, hs.token))
        # When each is read through its CRM client and built into a Xero invoice
        from_pipedrive = invoice_lines(pipedrive, pipedrive_deal(pd))
        from_hubspot = invoice_lines(hubspot, hubspot_deal(hs))
    # Then the lines are identical, each booked by its product code's rule
    assert from_pipedrive == from_hubspot
    assert [(line["ItemCode"], line["AccountCode"], line["TaxType"]) for line in from_pipedrive] == [
        ("LIC-STD", "201", "OUTPUT2"), (None, "260", "OUTPUT2"), ("BOOK", "205", "ZERORATEDOUTPUT")]


def test_pipedrive_reads_product_codes_in_one_bulk_call_and_caches_them(pd):
    # Given a won deal whose lines are three products, read once
    with httpx.Client(timeout=10) as http:
        crm = set_up_account(PipedriveCrm(http, pd.url, pd.token))
        deal_id = pipedrive_deal(pd)
        crm.read_deal(deal_id)
        crm.calls = 0
        # When the deal is read again
        deal = crm.read_deal(deal_id)
    # Then its lines carry their codes, and the products were not read again
    assert [line.product_code for line in deal.lines] == ["LIC-STD", "TRAIN", "BOOK"]
    assert crm.calls == 3  # the deal, its products, its organisation

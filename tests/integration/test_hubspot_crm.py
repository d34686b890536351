"""HubSpotCrm against the HubSpot emulator: what the sync reads from a deal and writes back."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from decimal import Decimal

import httpx
import pytest

from crmbridge.crm.hubspot import HubSpotCrm
from crmbridge.crm.models import InvoiceWriteBack, OrganisationBalance, OrganisationUpdate
from crmbridge.errors import PermanentError, RateLimitedError, RetryableError
from local.emulators.hubspot import SALES_OWNER_ID, HubSpotConfig, start_hubspot_emulator


@pytest.fixture(scope="module")
def emulator() -> Iterator:
    with start_hubspot_emulator(config=HubSpotConfig()) as hs:
        yield hs


def set_up_properties(hs) -> None:
    """What `bridgectl setup` does to the account: the bridge's properties exist before any deal."""
    with httpx.Client(timeout=5) as http:
        crm = HubSpotCrm(http, hs.url, hs.token)
        for object_type in crm.field_entities:
            crm.create_fields(object_type, crm.find_fields(object_type)[1])


@pytest.fixture
def hs(emulator):
    httpx.post(f"{emulator.url}/_emulator/reset", timeout=5)
    set_up_properties(emulator)
    return emulator


@pytest.fixture
def crm(hs) -> Iterator[HubSpotCrm]:
    with httpx.Client(timeout=5) as http:
        yield HubSpotCrm(http, hs.url, hs.token)


def seed_deal(hs, *, stage: str = "closedwon", pipeline: str | None = None, lines: list[dict] | None = None,
              company: dict | None = None, contact: dict | None = None, deal: dict | None = None) -> dict:
    body: dict = {"deals": [{"ref": "d", "properties": {"dealname": "Acme - licences", "dealstage": stage,
                                                         "deal_currency_code": "GBP", **(deal or {})},
                             "line_items": [{"ref": f"l{i}", "properties": p} for i, p in enumerate(lines or [])]}]}
    if pipeline:
        body["deals"][0]["properties"]["pipeline"] = pipeline
    if company is not None:
        body["companies"] = [{"ref": "c", "properties": company}]
        body["deals"][0]["company"] = "c"
    if contact is not None:
        body["contacts"] = [{"ref": "p", "properties": contact}]
        body["deals"][0]["contacts"] = ["p"]
    return hs.seed(body)


def properties_of(hs, object_type: str, object_id: str, *names: str) -> dict:
    response = httpx.get(f"{hs.url}/crm/v3/objects/{object_type}/{object_id}", params={"properties": ",".join(names)},
                         headers={"Authorization": f"Bearer {hs.token}"}, timeout=5)
    return response.json()["properties"]


def test_a_won_deal_reads_as_the_sync_expects(hs, crm):
    seeded = seed_deal(hs, company={"name": "Acme Ltd", "address": "1 High St", "city": "London", "zip": "EC1A 1AA",
                                    "country": "United Kingdom"},
                       contact={"firstname": "Jane", "lastname": "Buyer", "email": "jane@acme.example"},
                       lines=[{"name": "Licence", "quantity": "10", "price": "120", "hs_sku": "LIC-STD",
                               "hs_tax_rate": "20", "hs_position_on_quote": "0"},
                              {"name": "Training", "quantity": "2", "price": "500", "discount": "50",
                               "hs_tax_rate": "20", "hs_position_on_quote": "1"}])
    deal_id = seeded["refs"]["deals"]["d"]

    deal = crm.read_deal(deal_id)

    assert (deal.id, deal.title, deal.status, deal.currency) == (deal_id, "Acme - licences", "won", "GBP")
    assert deal.won_time is not None
    assert deal.organisation.name == "Acme Ltd"
    assert (deal.organisation.address.city, deal.organisation.address.country) == ("London", "United Kingdom")
    assert (deal.person.name, deal.person.email) == ("Jane Buyer", "jane@acme.example")
    assert [(li.name, li.product_code, li.quantity, li.unit_price) for li in deal.lines] == [
        ("Licence", "LIC-STD", Decimal(10), Decimal(120)), ("Training", None, Decimal(2), Decimal(500))]
    # HubSpot's discount is per unit: 50 off each of 2 is 100 off the line.
    assert (deal.lines[1].discount, deal.lines[1].discount_type) == (Decimal(100), "amount")
    assert deal.tax_method == "exclusive" and deal.lines[0].tax_percent == Decimal(20)


def test_a_stage_with_probability_one_in_a_custom_pipeline_is_won(hs, crm):
    renewals = next(p for p in hs.state()["pipelines"] if p["label"] == "Renewals")
    won = next(s["id"] for s in renewals["stages"] if s["metadata"]["probability"] == "1.0")
    deal_id = seed_deal(hs, stage=won, pipeline=renewals["id"])["refs"]["deals"]["d"]

    assert crm.read_deal(deal_id).status == "won"


@pytest.mark.parametrize("stage, status", [("contractsent", "open"), ("closedlost", "lost")])
def test_a_deal_in_another_stage_is_not_won(hs, crm, stage, status):
    deal_id = seed_deal(hs, stage=stage)["refs"]["deals"]["d"]

    deal = crm.read_deal(deal_id)

    assert (deal.status, deal.won_time) == (status, None)


def test_a_deal_without_a_currency_is_in_the_accounts_company_currency(hs, crm):
    deal_id = seed_deal(hs, deal={"deal_currency_code": None})["refs"]["deals"]["d"]

    assert crm.read_deal(deal_id).currency == "GBP"


def test_the_deals_xero_tax_method_property_overrides_the_line_default(hs, crm):
    deal_id = seed_deal(hs, lines=[{"name": "Book", "quantity": "1", "price": "10", "hs_tax_rate": "0"}])["refs"]["deals"]["d"]
    httpx.patch(f"{hs.url}/_emulator/app/deals/{deal_id}", json={"properties": {"xero_tax_method": "none"}}, timeout=5)

    assert crm.read_deal(deal_id).tax_method == "none"


def test_setup_creates_the_bridges_properties_once_in_its_own_group(hs, crm):
    # Given an account set up once (the fixture), and setup run a second time
    set_up_properties(hs)
    deal_id = seed_deal(hs)["refs"]["deals"]["d"]
    # When two workers read a deal
    crm.read_deal(deal_id)
    HubSpotCrm(httpx.Client(timeout=5), hs.url, hs.token).read_deal(deal_id)
    # Then each of the bridge's properties exists once, in its group

    custom = hs.state()["properties"]["deals"]["custom"]
    assert sorted(p["name"] for p in custom if p["groupName"] == "xero_bridge") == sorted(
        n for n in ("xero_invoice_number", "xero_invoice_id", "xero_invoice_status", "xero_invoice_url",
                    "xero_invoice_total", "xero_amount_due", "xero_amount_paid", "xero_due_date", "xero_paid_date",
                    "xero_tax_method"))


def test_invoice_and_contact_are_written_back_as_hubspot_property_values(hs, crm):
    seeded = seed_deal(hs, company={"name": "Acme Ltd"})
    deal_id, company_id = seeded["refs"]["deals"]["d"], seeded["refs"]["companies"]["c"]

    crm.write_invoice(deal_id, InvoiceWriteBack(
        invoice_id="inv-1", invoice_number="INV-0001", status="AUTHORISED", url="https://go.xero.com/x",
        total=Decimal("1980.00"), amount_due=Decimal("1980.00"), amount_paid=Decimal("0.00"),
        due_date=date(2026, 12, 24)))
    crm.set_organisation_contact(company_id, "contact-1")
    crm.write_organisation_balance(company_id, OrganisationBalance(
        outstanding=Decimal("1980.00"), overdue=Decimal("60.50"), on_stop=True))

    deal = properties_of(hs, "deals", deal_id, "xero_invoice_number", "xero_invoice_status", "xero_amount_due",
                         "xero_due_date", "xero_paid_date")
    company = properties_of(hs, "companies", company_id, "xero_contact_id", "xero_overdue_balance", "xero_on_stop")
    assert (deal["xero_invoice_number"], deal["xero_invoice_status"], deal["xero_amount_due"],
            deal["xero_due_date"], deal["xero_paid_date"]) == ("INV-0001", "AUTHORISED", "1980", "2026-12-24", None)
    assert (company["xero_contact_id"], company["xero_overdue_balance"], company["xero_on_stop"]) == (
        "contact-1", "60.5", "true")
    assert crm.read_deal(deal_id).organisation.xero_contact_id == "contact-1"


def test_xero_mastered_contact_fields_update_the_company(hs, crm):
    company_id = seed_deal(hs, company={"name": "Acme Ltd"})["refs"]["companies"]["c"]

    crm.update_organisation(company_id, OrganisationUpdate(email="ap@acme.example", phone="+44 20 7946 0000"))

    company = properties_of(hs, "companies", company_id, "xero_billing_email", "phone")
    assert (company["xero_billing_email"], company["phone"]) == ("ap@acme.example", "+44 20 7946 0000")


def test_a_property_deleted_in_hubspot_since_setup_asks_for_setup_and_is_not_recreated(hs, crm):
    # Given a worker that knows the bridge's properties, then one deleted in HubSpot
    deal_id = seed_deal(hs)["refs"]["deals"]["d"]
    crm.read_deal(deal_id)
    with hs.core.lock:
        del hs.store.properties.defs["deals"]["xero_invoice_status"]
    # When it writes the invoice back
    with pytest.raises(PermanentError) as failure:
        crm.write_invoice(deal_id, InvoiceWriteBack(invoice_id="i", invoice_number="N", status="DRAFT", url="u"))
    # Then the failure says to run setup, and the worker created nothing
    assert failure.value.reason == "crm_fields_missing" and "bridgectl setup" in failure.value.message
    assert "xero_invoice_status" not in {p["name"] for p in hs.state()["properties"]["deals"]["custom"]}


def test_a_note_is_associated_with_the_deal_and_assigned_to_its_owner(hs, crm):
    deal_id = seed_deal(hs, deal={"hubspot_owner_id": SALES_OWNER_ID})["refs"]["deals"]["d"]

    crm.add_deal_note(deal_id, "<p>Paid in full</p>")

    [note] = hs.state()["objects"]["notes"]
    assert note["properties"]["hs_note_body"] == "<p>Paid in full</p>"
    assert note["associations"]["deals"]["results"][0]["id"] == deal_id
    assert properties_of(hs, "notes", note["id"], "hubspot_owner_id")["hubspot_owner_id"] == SALES_OWNER_ID


def test_a_note_on_a_deal_without_an_owner_is_left_unassigned(hs, crm):
    deal_id = seed_deal(hs)["refs"]["deals"]["d"]

    crm.add_deal_note(deal_id, "<p>Paid in full</p>")

    [note] = hs.state()["objects"]["notes"]
    assert properties_of(hs, "notes", note["id"], "hubspot_owner_id")["hubspot_owner_id"] is None


def test_an_unknown_deal_is_a_permanent_not_found(hs, crm):
    with pytest.raises(PermanentError) as raised:
        crm.read_deal("21999999999")
    assert raised.value.reason == "crm_not_found"


def test_a_reference_that_is_not_a_record_id_never_reaches_hubspot(hs, crm):
    with pytest.raises(PermanentError) as raised:
        crm.read_deal("../owners")
    assert raised.value.reason == "crm_not_found"
    assert crm.calls == 0


def test_the_ten_second_limit_is_a_rate_limit_with_hubspots_window_as_the_delay(hs, crm):
    deal_id = seed_deal(hs)["refs"]["deals"]["d"]
    httpx.post(f"{hs.url}/_emulator/ratelimit", json={"max_per_interval": 1, "interval_ms": 7000}, timeout=5)

    with pytest.raises(RateLimitedError) as raised:
        crm.read_deal(deal_id)

    assert raised.value.retry_after_seconds == 7.0
    assert raised.value.problem == "hubspot_ten_secondly_rolling"


def test_the_daily_limit_parks_work_until_midnight(hs, crm):
    deal_id = seed_deal(hs)["refs"]["deals"]["d"]
    httpx.post(f"{hs.url}/_emulator/ratelimit", json={"daily": 5, "daily_used": 5}, timeout=5)

    with pytest.raises(RateLimitedError) as raised:
        crm.read_deal(deal_id)

    assert raised.value.problem == "hubspot_daily"
    assert 0 < raised.value.retry_after_seconds <= 86400


def test_a_server_error_is_worth_retrying(hs, crm):
    deal_id = seed_deal(hs)["refs"]["deals"]["d"]
    httpx.post(f"{hs.url}/_emulator/faults", json={"kind": "error", "status": 503, "count": 1,
                                                   "path_prefix": "/crm/v3/objects/deals"}, timeout=5)

    with pytest.raises(RetryableError) as raised:
        crm.read_deal(deal_id)
    assert not isinstance(raised.value, RateLimitedError)


def test_a_refused_token_is_permanent(hs):
    crm = HubSpotCrm(httpx.Client(timeout=5), hs.url, "not-the-token")

    with pytest.raises(PermanentError) as raised:
        crm.read_deal("21000000001")
    assert raised.value.reason == "crm_auth"

"""HubSpotCrm as the go-live tooling reads it (crm.directory) against the HubSpot emulator: won deals in a
period through the CRM search API, deals read in bulk, and the listings the audit reads."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import httpx
import pytest

from crmbridge.crm import hubspot
from crmbridge.crm.hubspot import HubSpotCrm
from crmbridge.errors import RateLimitedError
from local.emulators.hubspot import HubSpotConfig, start_hubspot_emulator
from local.emulators.hubspot import search as emulator_search
from tests.integration.test_hubspot_crm import set_up_properties


@pytest.fixture(scope="module")
def emulator() -> Iterator:
    with start_hubspot_emulator(config=HubSpotConfig()) as hs:
        yield hs


@pytest.fixture
def hs(emulator):
    httpx.post(f"{emulator.url}/_emulator/reset", timeout=5)
    set_up_properties(emulator)
    return emulator


class SearchCounter:
    """Counts the search requests a client sends, on its own httpx client."""

    def __init__(self) -> None:
        self.searches = 0

    def __call__(self, request: httpx.Request) -> None:
        if request.url.path.endswith("/search"):
            self.searches += 1


@pytest.fixture
def searches() -> SearchCounter:
    return SearchCounter()


@pytest.fixture
def crm(hs, searches) -> Iterator[HubSpotCrm]:
    with httpx.Client(timeout=10, event_hooks={"request": [searches]}) as http:
        yield HubSpotCrm(http, hs.url, hs.token)


def deal_spec(ref: str, *, stage: str = "closedwon", closed: str = "2025-06-15T10:00:00Z", company: str | None = None,
              lines: int = 1) -> dict:
    spec: dict = {"ref": ref, "properties": {"dealname": f"Deal {ref}", "dealstage": stage, "closedate": closed,
                                             "deal_currency_code": "GBP"},
                  "line_items": [{"properties": {"name": f"Line {i}", "quantity": "1", "price": "100",
                                                 "hs_tax_rate": "20", "hs_position_on_quote": str(i)}}
                                 for i in range(lines)]}
    if company:
        spec["company"] = company
    return spec


def test_won_deals_are_those_closed_won_in_the_period_across_several_search_pages(hs, crm, searches):
    # Given 450 deals closed won in June 2025 (three search pages of 200), and around them a deal won in
    # May, one won on 1 July (the period's end, excluded) and one lost in June
    june = [deal_spec(f"w{i}") for i in range(450)]
    others = [deal_spec("may", closed="2025-05-31T23:59:59Z"), deal_spec("july", closed="2025-07-01T00:00:00Z"),
              deal_spec("lost", stage="closedlost")]
    refs = hs.seed({"deals": june + others})["refs"]["deals"]
    # When the won deals of June are listed
    found = list(crm.won_deals(won_from=datetime(2025, 6, 1, tzinfo=UTC), won_to=datetime(2025, 7, 1, tzinfo=UTC)))
    # Then they are exactly June's won deals, lowest id first, each once, found in three searches
    assert [d.id for d in found] == sorted((refs[s["ref"]] for s in june), key=int)
    assert searches.searches == 3
    assert {d.status for d in found} == {"won"} and found[0].won_time == datetime(2025, 6, 15, 10, tzinfo=UTC)


def test_a_won_deal_in_a_custom_pipeline_is_listed_with_its_company_and_invoice(hs, crm):
    # Given a deal in the Renewals pipeline's won stage, with its primary company and an invoice written back
    renewals = next(p for p in hs.state()["pipelines"] if p["label"] == "Renewals")
    won = next(s["id"] for s in renewals["stages"] if s["metadata"]["probability"] == "1.0")
    spec = deal_spec("r", stage=won, company="c")
    spec["properties"].update({"pipeline": renewals["id"], "xero_invoice_id": "inv-1"})
    seeded = hs.seed({"companies": [{"ref": "c", "properties": {"name": "Renew Co"}}], "deals": [spec]})["refs"]
    # When the won deals are listed, Then it is there, with its company and the invoice it shows
    [summary] = crm.won_deals()
    assert (summary.id, summary.organisation_id, summary.invoice_id) == (
        seeded["deals"]["r"], seeded["companies"]["c"], "inv-1")


def test_a_query_past_10000_results_goes_on_past_the_last_id_seen(hs, crm, searches, monkeypatch):
    # Given an account whose search stops at 400 results a query (HubSpot's 10,000, scaled down on both
    # sides: the emulator answers 400 to paging past it), and 500 won deals
    monkeypatch.setattr(hubspot, "SEARCH_RESULTS_CAP", 400)
    monkeypatch.setattr(emulator_search, "MAX_RESULTS", 400)
    refs = hs.seed({"deals": [deal_spec(f"w{i}") for i in range(500)]})["refs"]["deals"]
    # When they are listed, Then every one is found once, the last 100 by a second query
    assert [d.id for d in crm.won_deals()] == sorted(refs.values(), key=int)
    assert searches.searches == 3


def test_searches_keep_under_five_a_second(hs):
    # Given a client on a clock that only moves when it sleeps
    now = [0.0]
    slept: list[float] = []

    def sleep(seconds: float) -> None:
        slept.append(seconds)
        now[0] += seconds

    hs.seed({"deals": [deal_spec(f"w{i}") for i in range(601)]})
    with httpx.Client(timeout=10) as http:
        crm = HubSpotCrm(http, hs.url, hs.token, clock=lambda: now[0], sleep=sleep)
        # When four pages are searched
        assert len(list(crm.won_deals())) == 601
    # Then it waited a fifth of a second before each search after the first
    assert slept == [pytest.approx(0.2)] * 3


def test_a_search_refused_by_the_secondly_limit_waits_a_second(hs):
    # Given another client of the account that used up this second's five searches (frozen clock)
    httpx.post(f"{hs.url}/_emulator/clock", json={"freeze": True}, timeout=5)
    with httpx.Client(timeout=10) as http:
        for _ in range(5):
            http.post(f"{hs.url}/crm/v3/objects/deals/search", json={},
                      headers={"Authorization": f"Bearer {hs.token}"}).raise_for_status()
        # When the bridge searches, Then it is told to retry in a second, not to give up
        with pytest.raises(RateLimitedError) as refused:
            list(HubSpotCrm(http, hs.url, hs.token).won_deals())
    assert refused.value.retry_after_seconds == 1.0


def test_a_bulk_read_equals_reading_each_deal(hs, crm):
    # Given three won deals of two companies, with contacts and several lines, and an id that names nothing
    seeded = hs.seed({
        "companies": [{"ref": "a", "properties": {"name": "Alpha Ltd", "city": "Leeds", "country": "GB"}},
                      {"ref": "b", "properties": {"name": "Beta Ltd"}}],
        "contacts": [{"ref": "p", "properties": {"firstname": "Pat", "lastname": "Buyer", "email": "pat@alpha.test"}}],
        "products": [{"ref": "sub", "properties": {"name": "Subscription", "hs_sku": "SUB"}}],
        "deals": [{**deal_spec("d1", company="a", lines=3), "contacts": ["p"]}, deal_spec("d2", company="b"),
                  deal_spec("d3", lines=0)],
    })["refs"]
    ids = [seeded["deals"][r] for r in ("d1", "d2", "d3")]
    # When they are read in bulk and one by one
    bulk = crm.read_deals([*ids, "29999999999", "not-an-id"])
    single = [crm.read_deal(i) for i in ids]
    # Then both reads give the same deals, and the unknown ids are left out
    assert bulk == single
    assert [len(d.lines) for d in bulk] == [3, 1, 0]
    assert (bulk[0].organisation.name, bulk[0].person.email) == ("Alpha Ltd", "pat@alpha.test")


def test_the_listings_hold_every_company_contact_and_product(hs, crm):
    # Given 120 companies (two pages), a contact of one of them and a product with a SKU
    seeded = hs.seed({
        "companies": [{"ref": f"c{i}", "properties": {"name": f"Company {i}"}} for i in range(120)],
        "contacts": [{"ref": "p", "properties": {"email": "ann@c7.test", "firstname": "Ann"}, "companies": ["c7"]}],
        "products": [{"ref": "sub", "properties": {"name": "Subscription", "hs_sku": "SUB-1"}}],
    })["refs"]
    # When the audit's listings are read, Then each holds what the account holds
    assert len(list(crm.organisations())) == 120
    [person] = crm.persons()
    assert (person.email, person.organisation_id) == ("ann@c7.test", seeded["companies"]["c7"])
    [product] = crm.products()
    assert (product.name, product.code) == ("Subscription", "SUB-1")

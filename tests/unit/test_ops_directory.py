"""The Pipedrive directory (crm.directory): won deals in a period, bulk deal reads, listings.

Against the Pipedrive emulator in this process: every listing pages with next_cursor, and a bulk read
costs a handful of calls whatever the number of deals.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from decimal import Decimal

import httpx
import pytest

from crmbridge.crm.pipedrive import PipedriveCrm
from local.emulators.pipedrive import PipedriveConfig, PipedriveEmulatorHandle, start_pipedrive_emulator


@pytest.fixture(scope="module")
def _emulator() -> Iterator[PipedriveEmulatorHandle]:
    with start_pipedrive_emulator(config=PipedriveConfig(), burst_limit=100000) as handle:
        yield handle


@pytest.fixture
def pd(_emulator: PipedriveEmulatorHandle) -> PipedriveEmulatorHandle:
    httpx.post(f"{_emulator.url}/_emulator/reset", json={}).raise_for_status()
    httpx.post(f"{_emulator.url}/_emulator/ratelimit", json={"burst_limit": 100000}).raise_for_status()
    return _emulator


@pytest.fixture
def crm(pd: PipedriveEmulatorHandle) -> Iterator[PipedriveCrm]:
    with httpx.Client(timeout=10) as http:
        yield PipedriveCrm(http, pd.url, pd.token)


def seed(pd: PipedriveEmulatorHandle, body: dict) -> dict:
    response = httpx.post(f"{pd.url}/_emulator/seed", json=body, timeout=30)
    response.raise_for_status()
    return response.json()["refs"]


def won_deals_body(count: int, *, won_time: str = "2026-03-01T10:00:00Z", lines: int = 2) -> dict:
    return {
        "organizations": [{"ref": "o", "name": "Acme Ltd", "address": {"value": "1 High St", "country": "GB"}}],
        "persons": [{"ref": "p", "name": "Pat", "emails": [{"value": "pat@acme.test", "primary": True}]}],
        "products": [{"ref": "x", "name": "Widget", "code": "W1"}],
        "deals": [{"ref": f"d{i}", "title": f"Deal {i}", "currency": "GBP", "status": "won", "won_time": won_time,
                   "org_ref": "o", "person_ref": "p",
                   "products": [{"product_ref": "x", "item_price": 10 + j, "quantity": 1, "tax": 20,
                                 "tax_method": "exclusive"} for j in range(lines)]}
                  for i in range(count)],
    }


def test_won_deals_lists_only_won_deals_in_the_period(pd, crm):
    # Given deals won in February, in March, and one still open
    refs = seed(pd, won_deals_body(2, won_time="2026-02-10T00:00:00Z"))["deals"]
    march = seed(pd, won_deals_body(3, won_time="2026-03-10T00:00:00Z"))["deals"]
    seed(pd, {"deals": [{"title": "Open", "currency": "GBP", "status": "open"}]})
    # When March's won deals are listed
    found = list(crm.won_deals(won_from=datetime(2026, 3, 1, tzinfo=UTC), won_to=datetime(2026, 4, 1, tzinfo=UTC)))
    # Then exactly March's come back, with their won time
    assert sorted(d.id for d in found) == sorted(str(v) for v in march.values())
    assert not {str(v) for v in refs.values()} & {d.id for d in found}
    assert all(d.won_time and d.won_time.month == 3 for d in found)


def test_won_deals_follows_the_cursor_past_one_page(pd, crm):
    # Given more won deals than one page holds (500)
    seed(pd, won_deals_body(520, lines=0))
    # When all are listed
    found = list(crm.won_deals())
    # Then every one comes back once
    assert len({d.id for d in found}) == 520


def test_read_deals_reads_many_deals_in_a_few_calls(pd, crm):
    # Given 120 won deals with two lines each
    refs = seed(pd, won_deals_body(120))["deals"]
    ids = [str(v) for v in refs.values()]
    crm.calls = 0
    # When they are read in bulk
    deals = crm.read_deals(ids)
    # Then each has its lines, organisation and person, and the calls do not grow with the deals
    assert [d.id for d in deals] == ids
    assert all(len(d.lines) == 2 and d.organisation and d.person for d in deals)
    assert deals[0].lines[0].unit_price == Decimal(10)
    assert deals[0].person.email == "pat@acme.test"
    assert crm.calls <= 12


def test_read_deals_matches_read_deal(pd, crm):
    # Given one won deal, on an account set up for the bridge (its fields exist: `bridgectl setup`)
    [deal_id] = seed(pd, won_deals_body(1))["deals"].values()
    for entity in crm.field_entities:
        crm.create_fields(entity, crm.find_fields(entity)[1])
    # When it is read alone and in bulk
    # Then both readings agree
    assert crm.read_deals([str(deal_id)]) == [crm.read_deal(str(deal_id))]


def test_reads_never_create_the_bridges_fields(pd, crm):
    # Given an account where the bridge never wrote anything
    seed(pd, won_deals_body(1))
    # When deals, organisations and persons are read
    list(crm.won_deals())
    list(crm.organisations())
    list(crm.persons())
    # Then no custom field was created
    fields = httpx.get(f"{pd.url}/api/v2/organizationFields", headers={"x-api-token": pd.token}).json()["data"]
    assert not [f for f in fields if f.get("field_name") == "Xero contact ID"]


def test_products_and_persons_are_listed(pd, crm):
    # Given one product and one person
    seed(pd, won_deals_body(1))
    # When listed
    # Then each is there with its code and email
    assert [(p.name, p.code) for p in crm.products()] == [("Widget", "W1")]
    assert [p.email for p in crm.persons()] == ["pat@acme.test"]

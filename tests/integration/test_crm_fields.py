"""The bridge's CRM fields: `bridgectl setup` creates them once and stores their codes (links table, in
moto); workers find them by those codes and never create one, however many race the first deals.

Against the Pipedrive and HubSpot emulators in this process.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal
from typing import Any

import boto3
import httpx
import pytest

from crmbridge.crm.field_store import FieldStore
from crmbridge.crm.hubspot import HubSpotCrm
from crmbridge.crm.models import InvoiceWriteBack, OrganisationBalance
from crmbridge.crm.pipedrive import BRIDGE_FIELDS, PipedriveCrm
from crmbridge.errors import PermanentError
from crmbridge.ops.setup import field_warnings, set_up_fields
from crmbridge.ops.target import Target
from tests.conftest import AtomicTable
from tests.integration.crm_emulators import hubspot_emulator, pipedrive_emulator

__all__ = ["hubspot_emulator", "pipedrive_emulator"]  # fixtures

WORKERS = 4


@pytest.fixture
def pd(pipedrive_emulator):
    httpx.post(f"{pipedrive_emulator.url}/_emulator/reset", json={}, timeout=5).raise_for_status()
    httpx.post(f"{pipedrive_emulator.url}/_emulator/ratelimit", json={"burst_limit": 100000}, timeout=5)
    return pipedrive_emulator


@pytest.fixture
def hs(hubspot_emulator):
    httpx.post(f"{hubspot_emulator.url}/_emulator/reset", timeout=5).raise_for_status()
    httpx.post(f"{hubspot_emulator.url}/_emulator/ratelimit", json={"max_per_interval": 100000}, timeout=5)
    return hubspot_emulator


@pytest.fixture
def store(aws_stack) -> FieldStore:
    return FieldStore(AtomicTable(boto3.resource("dynamodb").Table(aws_stack.table_names["LinksTable"])))


class Requests:
    """Every request the workers' clients send (method, path), to show none of them creates a field."""

    def __init__(self) -> None:
        self.sent: list[tuple[str, str]] = []
        self._lock = threading.Lock()

    def client(self) -> httpx.Client:
        def note(request: httpx.Request) -> None:
            with self._lock:
                self.sent.append((request.method, request.url.path))
        return httpx.Client(timeout=10, event_hooks={"request": [note]})

    def creations(self) -> list[tuple[str, str]]:
        return [(m, p) for m, p in self.sent if m == "POST" and ("Fields" in p or "/properties/" in p)]


def pipedrive(pd, store: FieldStore | None, http: httpx.Client | None = None) -> PipedriveCrm:
    return PipedriveCrm(http or httpx.Client(timeout=10), pd.url, pd.token, fields=store)


def hubspot(hs, store: FieldStore | None, http: httpx.Client | None = None) -> HubSpotCrm:
    return HubSpotCrm(http or httpx.Client(timeout=10), hs.url, hs.token, fields=store)


def pipedrive_deals(pd, count: int) -> list[tuple[str, str]]:
    body = {"organizations": [{"ref": f"o{i}", "name": f"Customer {i} Ltd"} for i in range(count)],
            "deals": [{"ref": f"d{i}", "title": f"Deal {i}", "currency": "GBP", "status": "won",
                       "won_time": "2026-03-01T10:00:00Z", "org_ref": f"o{i}"} for i in range(count)]}
    refs = httpx.post(f"{pd.url}/_emulator/seed", json=body, timeout=10).json()["refs"]
    return [(str(refs["deals"][f"d{i}"]), str(refs["organizations"][f"o{i}"])) for i in range(count)]


def hubspot_deals(hs, count: int) -> list[tuple[str, str]]:
    body = {"companies": [{"ref": f"c{i}", "properties": {"name": f"Customer {i} Ltd"}} for i in range(count)],
            "deals": [{"ref": f"d{i}", "company": f"c{i}",
                       "properties": {"dealname": f"Deal {i}", "dealstage": "closedwon", "deal_currency_code": "GBP"}}
                      for i in range(count)]}
    refs = hs.seed(body)["refs"]
    return [(refs["deals"][f"d{i}"], refs["companies"][f"c{i}"]) for i in range(count)]


def first_deal_of_a_worker(crm: Any, deal_id: str, org_id: str) -> None:
    """What a worker does with its first deal: read it, write the contact, the invoice and the balance."""
    crm.read_deal(deal_id)
    crm.set_organisation_contact(org_id, f"contact-{org_id}")
    crm.write_invoice(deal_id, InvoiceWriteBack(invoice_id=f"inv-{deal_id}", invoice_number=f"INV-{deal_id}",
                                                status="AUTHORISED", url="https://go.xero.com/x", total=Decimal(100)))
    crm.write_organisation_balance(org_id, OrganisationBalance(outstanding=Decimal(100), overdue=Decimal(0),
                                                               on_stop=False))


def race(crm_of: Callable[[httpx.Client], Any], deals: list[tuple[str, str]], requests: Requests) -> None:
    barrier = threading.Barrier(len(deals))

    def worker(deal: tuple[str, str]) -> None:
        with requests.client() as http:
            crm = crm_of(http)  # each worker cold, as a fresh Lambda container
            barrier.wait()
            first_deal_of_a_worker(crm, *deal)

    with ThreadPoolExecutor(len(deals)) as pool:
        list(pool.map(worker, deals))


def pipedrive_fields(pd, entity: str) -> list[dict]:
    return httpx.get(f"{pd.url}/api/v2/{entity}Fields", headers={"x-api-token": pd.token}, timeout=5).json()["data"]


def create_by_hand(pd, entity: str, name: str, field_type: str = "varchar") -> str:
    response = httpx.post(f"{pd.url}/api/v2/{entity}Fields", headers={"x-api-token": pd.token},
                          json={"field_name": name, "field_type": field_type}, timeout=5)
    return response.json()["data"]["field_code"]


def local_target(crm: str) -> Target:
    return Target(kind="local", name="local", session=boto3.session.Session(), environ={"CRM_PROVIDER": crm})


def test_four_pipedrive_workers_racing_the_first_deals_create_no_field(pd, store):
    # Given a fresh Pipedrive account set up once
    set_up_fields(pipedrive(pd, store), store)
    deals = pipedrive_deals(pd, WORKERS)
    requests = Requests()
    # When four cold workers take its first four deals at the same moment
    race(lambda http: pipedrive(pd, store, http), deals, requests)
    # Then each of the bridge's fields exists once, no worker created one, and every write landed in it
    for entity, wanted in BRIDGE_FIELDS.items():
        names = [f["field_name"] for f in pipedrive_fields(pd, entity)]
        assert all(names.count(label) == 1 for label, _ in wanted.values())
    assert requests.creations() == []
    code = store.load("pipedrive", "organization").codes["xero_contact_id"]
    org = httpx.get(f"{pd.url}/api/v2/organizations/{deals[0][1]}", headers={"x-api-token": pd.token}).json()["data"]
    assert org["custom_fields"][code] == f"contact-{deals[0][1]}"


def test_four_hubspot_workers_racing_the_first_deals_create_no_property(hs, store):
    # Given a fresh HubSpot account set up once
    set_up_fields(hubspot(hs, store), store)
    deals = hubspot_deals(hs, WORKERS)
    requests = Requests()
    # When four cold workers take its first four deals at the same moment
    race(lambda http: hubspot(hs, store, http), deals, requests)
    # Then no worker created a property, and every write landed
    assert requests.creations() == []
    company = httpx.get(f"{hs.url}/crm/v3/objects/companies/{deals[0][1]}", params={"properties": "xero_contact_id"},
                        headers={"Authorization": f"Bearer {hs.token}"}, timeout=5).json()
    assert company["properties"]["xero_contact_id"] == f"contact-{deals[0][1]}"


def test_hubspot_setup_sends_options_as_the_api_requires_and_creates_each_property_once(hs, store):
    # Given a fresh HubSpot account (the emulator refuses options without label, value and hidden)
    # When setup runs twice
    first = set_up_fields(hubspot(hs, store), store)
    second = set_up_fields(hubspot(hs, store), store)
    # Then the first run created every property, the second none, and the enumeration has its options
    assert {e.entity: len(e.created) for e in first.entities} == {"deals": 10, "companies": 6}
    assert all(not e.created for e in second.entities)
    custom = {p["name"]: p for p in hs.state()["properties"]["deals"]["custom"]}
    assert [o["value"] for o in custom["xero_tax_method"]["options"]] == ["exclusive", "inclusive", "none"]


@pytest.mark.parametrize("crm_name", ["pipedrive", "hubspot"])
def test_a_worker_on_an_account_never_set_up_says_to_run_setup(pd, hs, store, crm_name):
    # Given a fresh account where setup never ran
    if crm_name == "pipedrive":
        deal_id, _ = pipedrive_deals(pd, 1)[0]
        crm: Any = pipedrive(pd, store)
    else:
        deal_id, _ = hubspot_deals(hs, 1)[0]
        crm = hubspot(hs, store)
    # When a worker reads its first won deal
    with pytest.raises(PermanentError) as failure:
        crm.read_deal(deal_id)
    # Then it fails before any invoice with a reason an operator can act on, having created nothing
    assert failure.value.reason == "crm_fields_missing"
    assert "bridgectl setup" in failure.value.message
    assert not [f for f in pipedrive_fields(pd, "organization") if f["field_name"] == "Xero contact ID"]
    assert not [p for p in hs.state()["properties"]["companies"]["custom"] if p["name"] == "xero_contact_id"]


def test_a_deployment_from_before_setup_keeps_working_with_the_fields_it_has(pd, store):
    # Given an account whose fields an older version created, and no codes stored
    codes = {key: create_by_hand(pd, entity, label, field_type)
             for entity, wanted in BRIDGE_FIELDS.items() for key, (label, field_type) in wanted.items()}
    deal_id, org_id = pipedrive_deals(pd, 1)[0]
    # When the new version's worker takes a deal
    first_deal_of_a_worker(pipedrive(pd, store), deal_id, org_id)
    # Then it wrote to those fields and stored their codes for every other worker
    assert store.load("pipedrive", "organization").codes["xero_contact_id"] == codes["xero_contact_id"]
    assert store.load("pipedrive", "deal").codes["invoice_id"] == codes["invoice_id"]


def test_duplicated_fields_are_resolved_the_same_way_everywhere_and_status_warns(aws_stack, pd, store):
    # Given "Xero invoice status" created twice by hand before setup
    twins = {create_by_hand(pd, "deal", "Xero invoice status"), create_by_hand(pd, "deal", "Xero invoice status")}
    # When setup runs, and a worker on a deployment without stored codes looks too
    set_up_fields(pipedrive(pd, store), store)
    chosen = store.load("pipedrive", "deal").codes["invoice_status"]
    found_without_store = pipedrive(pd, None).field_codes("deal")["invoice_status"]
    # Then both choose the same one of the two, setup created no third, and status names the other
    assert chosen in twins and found_without_store == chosen
    assert [f["field_name"] for f in pipedrive_fields(pd, "deal")].count("Xero invoice status") == 2
    [other] = twins - {chosen}
    warnings = field_warnings(local_target("pipedrive"))
    assert any("exists 2 times" in w and chosen in w and other in w for w in warnings)


def test_status_says_when_the_fields_were_never_set_up(aws_stack):
    # Given a deployment where setup never ran
    # When status looks at its fields
    warnings = field_warnings(local_target("hubspot"))
    # Then it says to run setup, once per entity
    assert len([w for w in warnings if "run `bridgectl setup`" in w]) == 2

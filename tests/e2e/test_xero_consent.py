"""Connecting Xero through the OAuth callback function, against the Xero emulator's identity service:
a consent's organisations share one token set, a connect link works once, and a callback stores only
the organisations of its own consent. Xero's refusals are 400s in plain words, never 502s.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qs, urlencode, urlparse

import boto3
import httpx
import pytest

from crmbridge.config import get_settings
from crmbridge.tokens.connect import authorize_url, make_state, state_key
from crmbridge.tokens.manager import TokenManager
from crmbridge.tokens.store import TokenStore
from crmbridge.tokens.tenants import resolve_tenant
from crmbridge.xero.identity import XeroIdentity
from local.credentials import credential
from local.emulators.xero import start_xero_emulator
from local.lambdas import invoke
from local.template import functions, load_template
from tests.conftest import AtomicTable

pytestmark = pytest.mark.e2e

CALLBACK = "https://127.0.0.1/oauth/xero/callback"
SCOPES = "offline_access accounting.transactions accounting.contacts"


@pytest.fixture
def xero(aws_stack, monkeypatch) -> Iterator[Any]:
    with start_xero_emulator(port=0) as emulator:
        monkeypatch.setenv("XERO_IDENTITY_URL", emulator.identity_url)
        monkeypatch.setenv("XERO_CONNECTIONS_URL", emulator.connections_url)
        get_settings.cache_clear()
        yield emulator
        get_settings.cache_clear()


@pytest.fixture
def store(aws_stack) -> TokenStore:
    return TokenStore(AtomicTable(boto3.resource("dynamodb").Table(aws_stack.table_names["TokensTable"])))


def add_org(xero, name: str, *, connected_before: bool = False) -> str:
    """Another organisation the operator can tick; connected_before: an earlier consent connected it."""
    answer = httpx.post(f"{xero.url}/_emulator/orgs", json={"name": name, "connect": connected_before})
    return answer.json()["tenantId"]


def new_state() -> str:
    return make_state(state_key(credential("XERO_CLIENT_SECRET")), now=int(time.time()))


def consent(xero, state: str, **ticks: str) -> dict[str, str]:
    """The operator opens the connect link and answers Xero's consent screen: the redirect's query."""
    url = authorize_url(f"{xero.url}/identity/connect/authorize", client_id=credential("XERO_CLIENT_ID"),
                        redirect_uri=CALLBACK, scopes=SCOPES, state=state)
    answer = httpx.get(url + ("&" + urlencode(ticks) if ticks else ""))
    assert answer.status_code == 302
    return {k: v[0] for k, v in parse_qs(urlparse(answer.headers["location"]).query).items()}


def callback(query: dict[str, str]) -> dict[str, Any]:
    """Xero's redirect arriving at the stack's OAuth callback function."""
    spec = functions(load_template())["OAuthCallbackFunction"]
    event = {"version": "2.0", "rawPath": "/oauth/xero/callback", "rawQueryString": urlencode(query),
             "queryStringParameters": query, "headers": {"host": "127.0.0.1"},
             "requestContext": {"http": {"method": "GET", "path": "/oauth/xero/callback"}}}
    return invoke(spec, event)


def identity(xero) -> XeroIdentity:
    return XeroIdentity(httpx.Client(timeout=10), xero.identity_url, xero.connections_url,
                        credential("XERO_CLIENT_ID"), credential("XERO_CLIENT_SECRET"))


def test_two_organisations_of_one_consent_stay_connected_through_twenty_refreshes(xero, store):
    # Given one consent ticking the demo organisation and Globex
    globex = add_org(xero, "Globex Ltd")
    page = callback(consent(xero, new_state(), emulator_tenants=f"{xero.tenant_id},{globex}"))
    assert page["statusCode"] == 200
    tokens = TokenManager(store, identity(xero))

    # When twenty refreshes alternate between the two organisations
    for n in range(20):
        tenant = (xero.tenant_id, globex)[n % 2]
        tokens.refresh(tenant, stale_version=store.get(tenant).version)

    # Then Xero rotated the one token set twenty times without an invalid_grant, and both organisations
    # answer the API with their current access token
    state = httpx.get(f"{xero.url}/_emulator/state").json()["xero"]["identity"]
    assert state["token_calls"]["refresh_token"] == 20
    assert [e["outcome"] for e in state["token_log"] if e["grant_type"] == "refresh_token"] == ["ok"] * 20
    for tenant in (xero.tenant_id, globex):
        assert store.get(tenant).status == "CONNECTED"
        invoices = httpx.get(f"{xero.api_url}/Invoices", headers={
            "Authorization": f"Bearer {tokens.access_token(tenant)}", "xero-tenant-id": tenant})
        assert invoices.status_code == 200


def test_a_callback_stores_only_the_organisations_of_its_own_consent(xero, store):
    # Given Globex connected to the app by an earlier consent (Xero's /connections lists it too)
    globex = add_org(xero, "Globex Ltd", connected_before=True)

    # When the operator's consent ticks only the demo organisation
    page = callback(consent(xero, new_state(), emulator_tenants=xero.tenant_id))

    # Then only the demo organisation gets this consent's tokens
    assert page["statusCode"] == 200 and "Globex" not in page["body"]
    assert [s.tenant_id for s in store.states()] == [xero.tenant_id]
    assert store.get(globex) is None


def test_a_replayed_connect_link_is_refused_and_stores_nothing(xero, store):
    # Given a connect link used once, for the demo organisation
    state = new_state()
    assert callback(consent(xero, state, emulator_tenants=xero.tenant_id))["statusCode"] == 200
    globex = add_org(xero, "Globex Ltd")

    # When the same link is opened again and Globex is ticked
    page = callback(consent(xero, state, emulator_tenants=globex))

    # Then the callback refuses it and Globex is not connected
    assert page["statusCode"] == 400 and "used already" in page["body"] and "bridgectl connect" in page["body"]
    assert store.get(globex) is None


def test_connecting_a_second_organisation_keeps_invoicing_on_the_first(xero, store):
    # Given the demo organisation connected first
    assert callback(consent(xero, new_state(), emulator_tenants=xero.tenant_id))["statusCode"] == 200
    globex = add_org(xero, "Globex Ltd")

    # When the operator connects Globex as well
    page = callback(consent(xero, new_state(), emulator_tenants=globex))

    # Then both are connected, and deals still go to the demo organisation (the page says so)
    assert page["statusCode"] == 200 and "Deals are invoiced to" in page["body"]
    assert {s.tenant_id for s in store.states()} == {xero.tenant_id, globex}
    assert resolve_tenant(None, store, None, None) == xero.tenant_id


def test_a_declined_consent_is_shown_in_plain_words(xero, store):
    # Given the operator declines on Xero's consent screen
    query = consent(xero, new_state(), emulator_consent="deny")
    assert query["error"] == "access_denied"

    # When Xero's redirect reaches the callback
    page = callback(query)

    # Then it says the consent was declined (not "no authorization code"), and nothing is stored
    assert page["statusCode"] == 400
    assert "consent was declined" in page["body"] and "access_denied" in page["body"]
    assert store.states() == []


def test_a_reused_authorisation_code_is_a_400_saying_to_connect_again(xero, store):
    # Given a code already exchanged by a first callback
    query = consent(xero, new_state(), emulator_tenants=xero.tenant_id)
    assert callback(query)["statusCode"] == 200

    # When the same code arrives again (a browser's back button), with a fresh state
    page = callback({**query, "state": new_state()})

    # Then the page says the code was used or expired and what to run, never a 502
    assert page["statusCode"] == 400
    assert "used already or has expired" in page["body"] and "bridgectl connect" in page["body"]

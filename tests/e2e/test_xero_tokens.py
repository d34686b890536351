"""The Xero connection never dies quietly: refresh under a lease, against the Xero emulator's identity.

The emulator rotates refresh tokens on every use, honours the 30-minute grace for a token whose
answer was lost, and answers invalid_grant otherwise, as Xero does.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from urllib.parse import parse_qs, urlparse

import boto3
import httpx
import pytest

from crmbridge.errors import RetryableError
from crmbridge.http import http_client
from crmbridge.tokens.manager import TenantNotConnectedError, TokenManager
from crmbridge.tokens.refresher import refresh_due
from crmbridge.tokens.store import StoredConnection, TokenStore
from crmbridge.xero.client import XeroClient
from crmbridge.xero.identity import XeroIdentity
from local.credentials import credential
from local.emulators.xero import start_xero_emulator
from tests.conftest import AtomicTable

pytestmark = pytest.mark.e2e


@pytest.fixture
def xero() -> Iterator:
    with start_xero_emulator(port=0) as emulator:
        yield emulator


@pytest.fixture
def identity(xero) -> XeroIdentity:
    return XeroIdentity(httpx.Client(timeout=10), xero.identity_url, xero.connections_url,
                        credential("XERO_CLIENT_ID"), credential("XERO_CLIENT_SECRET"))


@pytest.fixture
def store(aws_stack) -> TokenStore:
    return TokenStore(AtomicTable(boto3.resource("dynamodb").Table(aws_stack.table_names["TokensTable"])))


def connect(xero, identity: XeroIdentity, store: TokenStore, *, refreshed_at: float | None = None,
            access_expires_at: float = 0) -> str:
    """Consent in the emulator, exchange the code, store the set (its access token already expired)."""
    redirect = "http://127.0.0.1/callback"
    consent = httpx.get(f"{xero.url}/identity/connect/authorize", params={
        "response_type": "code", "client_id": credential("XERO_CLIENT_ID"), "redirect_uri": redirect,
        "scope": "offline_access accounting.transactions accounting.contacts", "state": "s"})
    code = parse_qs(urlparse(consent.headers["location"]).query)["code"][0]
    tokens = identity.exchange_code(code, redirect)
    tenant = identity.connections(tokens.access_token)[0].tenant_id
    store.connect(StoredConnection(tenant_id=tenant, access_token=tokens.access_token,
                                   refresh_token=tokens.refresh_token, access_expires_at=int(access_expires_at),
                                   refreshed_at=int(refreshed_at or time.time())))
    return tenant


def token_calls(xero, grant: str = "refresh_token") -> int:
    return httpx.get(f"{xero.url}/_emulator/state").json()["xero"]["identity"]["token_calls"].get(grant, 0)


def manager(store, identity, **kw) -> TokenManager:
    return TokenManager(store, identity, sleep=lambda s: time.sleep(0.02), **kw)


def test_twenty_concurrent_refreshes_make_one_token_call_and_no_invalid_grant(xero, identity, store):
    tenant = connect(xero, identity, store)
    results, errors = [], []

    def use_the_connection() -> None:
        try:
            results.append(manager(store, identity).access_token(tenant))
        except Exception as exc:  # collected and asserted below
            errors.append(exc)

    threads = [threading.Thread(target=use_the_connection) for _ in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert errors == []
    assert token_calls(xero) == 1
    assert len(set(results)) == 1
    assert store.get(tenant).status == "CONNECTED"


def test_crash_after_the_token_endpoint_answered_recovers_inside_the_grace_period(xero, identity, store):
    tenant = connect(xero, identity, store)
    # A worker refreshed and Xero rotated the token, but the worker died before storing the answer.
    identity.refresh(store.get(tenant).refresh_token)

    token = manager(store, identity).access_token(tenant)

    connection = store.get(tenant)
    assert connection.status == "CONNECTED" and connection.access_token == token
    response = httpx.get(f"{xero.api_url}/Invoices", headers={"Authorization": f"Bearer {token}",
                                                                  "xero-tenant-id": tenant})
    assert response.status_code == 200


def test_invalid_grant_marks_disconnected_raises_the_metric_and_parks(xero, identity, store):
    tenant = connect(xero, identity, store)
    identity.refresh(store.get(tenant).refresh_token)  # rotated, answer lost...
    httpx.post(f"{xero.url}/_emulator/clock", json={"advance": 31 * 60})  # ...and the grace is over
    metrics: list[str] = []

    with pytest.raises(TenantNotConnectedError) as parked:
        manager(store, identity, on_metric=lambda name, value: metrics.append(name)).access_token(tenant)

    assert isinstance(parked.value, RetryableError) and parked.value.retry_after_seconds >= 600
    assert "TokenRefreshFailures" in metrics
    assert store.get(tenant).status == "DISCONNECTED"


def test_expired_access_token_in_the_worker_is_refreshed_once_and_the_call_succeeds(xero, identity, store):
    tenant = connect(xero, identity, store, access_expires_at=time.time() + 3600)
    # Xero's clock says the token died (the store still thinks it is good for an hour).
    httpx.post(f"{xero.url}/_emulator/clock", json={"advance": 31 * 60})
    client = XeroClient(http_client(), xero.api_url, manager(store, identity))

    invoices = client.invoices_by_reference(tenant, "nothing")

    assert invoices == []
    assert token_calls(xero) == 1


def test_a_connection_idle_for_59_days_is_refreshed_by_the_schedule(xero, identity, store):
    tenant = connect(xero, identity, store, refreshed_at=time.time() - 59 * 86400,
                     access_expires_at=time.time() + 3600)
    httpx.post(f"{xero.url}/_emulator/clock", json={"advance": 59 * 86400})

    report = refresh_due(manager(store, identity))

    assert report.refreshed == [tenant]
    assert store.get(tenant).refreshed_at >= int(time.time()) - 5

"""Token refresh under a lease, against the template's tokens table in moto."""

import threading
import time

import boto3
import pytest

from crmbridge.tokens.connect import StateError, check_state, make_state
from crmbridge.tokens.manager import TenantNotConnectedError, TokenManager
from crmbridge.tokens.refresher import refresh_due
from crmbridge.tokens.store import StoredConnection, TokenStore
from crmbridge.xero.identity import InvalidGrantError, TokenSet
from tests.conftest import AtomicTable

TENANT = "tenant-1"


class RotatingIdentity:
    """Xero's refresh semantics: each refresh token works once (the previous one within the grace)."""

    def __init__(self, first_refresh_token: str, *, delay: float = 0.05) -> None:
        self.valid = {first_refresh_token}
        self.calls = 0
        self.delay = delay
        self.lock = threading.Lock()

    def refresh(self, refresh_token: str) -> TokenSet:
        with self.lock:
            self.calls += 1
            if refresh_token not in self.valid:
                raise InvalidGrantError()
            self.valid.discard(refresh_token)
            new = f"rt-{self.calls}"
            self.valid.add(new)
        time.sleep(self.delay)  # the token endpoint takes a moment: concurrent callers overlap
        return TokenSet(access_token=f"at-{self.calls}", refresh_token=new, expires_in=1800)


@pytest.fixture
def store(aws_stack):
    table = AtomicTable(boto3.resource("dynamodb").Table(aws_stack.table_names["TokensTable"]))
    token_store = TokenStore(table)
    token_store.connect(StoredConnection(tenant_id=TENANT, access_token="at-0", refresh_token="rt-0",
                                         access_expires_at=0, refreshed_at=0))
    return token_store


def manager(store, identity, **kwargs):
    return TokenManager(store, identity, sleep=lambda s: time.sleep(0.01), **kwargs)


def test_expired_access_token_is_refreshed_once_and_returned(store):
    identity = RotatingIdentity("rt-0")

    token = manager(store, identity).access_token(TENANT)

    assert token == "at-1" and identity.calls == 1
    assert store.get(TENANT).refresh_token == "rt-1"


def test_twenty_concurrent_refreshes_call_the_token_endpoint_once(store):
    identity = RotatingIdentity("rt-0", delay=0.3)
    results, errors = [], []

    def worker():
        try:
            results.append(manager(store, identity).access_token(TENANT))
        except Exception as exc:  # collected and asserted below
            errors.append(exc)

    threads = [threading.Thread(target=worker) for _ in range(20)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()

    assert errors == []
    assert identity.calls == 1
    assert set(results) == {"at-1"}


def test_invalid_grant_marks_the_connection_disconnected_and_parks(store):
    identity = RotatingIdentity("someone-elses-token")
    metrics = []

    with pytest.raises(TenantNotConnectedError) as err:
        manager(store, identity, on_metric=lambda n, v: metrics.append(n)).access_token(TENANT)

    assert err.value.retry_after_seconds >= 600  # parked, not failed
    assert store.get(TENANT).status == "DISCONNECTED"
    assert "TokenRefreshFailures" in metrics


def test_a_lost_refresh_response_leaves_the_stored_token_usable(store):
    class LostResponse(RotatingIdentity):
        def refresh(self, refresh_token):
            super().refresh(refresh_token)  # Xero rotated it...
            raise TimeoutError("...but the answer never arrived")

    with pytest.raises(TimeoutError):
        manager(store, LostResponse("rt-0")).access_token(TENANT)

    stored = store.get(TENANT)
    assert stored.refresh_token == "rt-0" and stored.lease_owner is None


def test_schedule_refreshes_a_connection_idle_for_59_days(store):
    identity = RotatingIdentity("rt-0")
    now = time.time()
    store.connect(StoredConnection(tenant_id=TENANT, access_token="at-0", refresh_token="rt-0",
                                   access_expires_at=int(now + 3600), refreshed_at=int(now - 59 * 86400)))

    report = refresh_due(manager(store, identity))

    assert report.refreshed == [TENANT] and identity.calls == 1


def test_schedule_leaves_fresh_connections_alone(store):
    identity = RotatingIdentity("rt-0")
    now = time.time()
    store.connect(StoredConnection(tenant_id=TENANT, access_token="at-0", refresh_token="rt-0",
                                   access_expires_at=int(now + 1700), refreshed_at=int(now)))

    report = refresh_due(manager(store, identity))

    assert report.fresh == [TENANT] and identity.calls == 0


def test_oauth_state_forged_or_expired_is_refused():
    key, other = b"k" * 32, b"x" * 32
    state = make_state(key, now=1000)
    check_state(key, state, now=1100)
    for bad, now in ((make_state(other, now=1000), 1100), (state, 1000 + 601), (None, 1000), ("abc", 1000)):
        with pytest.raises(StateError):
            check_state(key, bad, now=now)

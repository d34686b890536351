"""Xero organisations are chosen, never inferred; one token set per consent, refreshed under one lease.

Against the template's tokens table in moto, with Xero's rotation semantics in a fake token endpoint.
"""

import time

import boto3
import pytest

from crmbridge.crm.models import CrmDeal
from crmbridge.errors import PermanentError
from crmbridge.mapping.config import MappingConfig
from crmbridge.tokens.manager import TenantNotConnectedError, TokenManager
from crmbridge.tokens.refresher import refresh_due
from crmbridge.tokens.store import StoredConnection, TokenStore
from crmbridge.tokens.tenants import NO_ORGANISATION, TenantChoiceError, resolve_tenant, use_tenant
from tests.conftest import AtomicTable
from tests.integration.test_tokens import RotatingIdentity

ACME, GLOBEX, INITECH = "acme-tenant", "globex-tenant", "initech-tenant"


@pytest.fixture
def store(aws_stack) -> TokenStore:
    return TokenStore(AtomicTable(boto3.resource("dynamodb").Table(aws_stack.table_names["TokensTable"])))


def consent(store: TokenStore, event: str, *tenants: str, refresh_token: str = "rt-0") -> None:
    """What the OAuth callback stores for one consent covering these organisations."""
    store.connect_authorisation(event, [(t, t.split("-")[0].title()) for t in tenants], access_token="at-0",
                                refresh_token=refresh_token, access_expires_at=0, now=int(time.time()))


def deal(currency: str = "GBP") -> CrmDeal:
    return CrmDeal(id="42", title="Deal", status="won", currency=currency)


def manager(store, identity, **kwargs) -> TokenManager:
    return TokenManager(store, identity, sleep=lambda s: time.sleep(0.01), **kwargs)


def test_two_organisations_of_one_consent_stay_connected_through_twenty_alternating_refreshes(store):
    # Given one consent covering two organisations (one refresh token, as Xero issues)
    consent(store, "event-1", ACME, GLOBEX)
    identity = RotatingIdentity("rt-0", delay=0)
    tokens = manager(store, identity)

    # When each tenant in turn finds its access token stale and refreshes, twenty times
    for n in range(20):
        tenant = (ACME, GLOBEX)[n % 2]
        tokens.refresh(tenant, stale_version=store.get(tenant).version)

    # Then every refresh rotated the one shared set once, and neither organisation was disconnected
    assert identity.calls == 20
    acme, globex = store.get(ACME), store.get(GLOBEX)
    assert acme.status == globex.status == "CONNECTED"
    assert acme.refresh_token == globex.refresh_token == "rt-20"
    assert [a.tenant_ids for a in store.authorisations()] == [(ACME, GLOBEX)]


def test_both_organisations_of_one_consent_get_the_same_fresh_access_token_from_one_refresh(store):
    # Given one consent for two organisations, its access token expired
    consent(store, "event-1", ACME, GLOBEX)
    identity = RotatingIdentity("rt-0", delay=0)
    tokens = manager(store, identity)

    # When a worker uses each organisation
    first, second = tokens.access_token(ACME), tokens.access_token(GLOBEX)

    # Then one token call served both
    assert first == second == "at-1" and identity.calls == 1


def test_the_schedule_refreshes_a_consent_once_for_all_its_organisations(store):
    # Given one consent for two organisations and an old-layout tenant with its own set
    consent(store, "event-1", ACME, GLOBEX)
    store.connect(StoredConnection(tenant_id=INITECH, access_token="old-at", refresh_token="old-rt",
                                   access_expires_at=0, refreshed_at=0))

    class TwoChains(RotatingIdentity):
        def __init__(self):
            super().__init__("rt-0", delay=0)
            self.valid.add("old-rt")

    identity = TwoChains()

    # When the token refresher runs
    report = refresh_due(manager(store, identity))

    # Then each token set was refreshed once: two calls for three organisations, all connected
    assert identity.calls == 2
    assert sorted(report.refreshed) == sorted([ACME, GLOBEX, INITECH]) and report.disconnected == []
    assert {c.tenant_id: c.status for c in store.all()} == {ACME: "CONNECTED", GLOBEX: "CONNECTED",
                                                             INITECH: "CONNECTED"}


def test_invalid_grant_disconnects_every_organisation_of_the_consent(store):
    # Given a consent whose refresh token Xero no longer accepts
    consent(store, "event-1", ACME, GLOBEX)

    # When one tenant's refresh is refused
    with pytest.raises(TenantNotConnectedError):
        manager(store, RotatingIdentity("someone-elses-token")).access_token(ACME)

    # Then both are shown disconnected (they share the dead token set)
    assert [s.status for s in store.states()] == ["DISCONNECTED", "DISCONNECTED"]


def test_a_new_consent_for_an_organisation_moves_it_and_drops_the_unused_token_set(store):
    # Given Acme connected by one consent
    consent(store, "event-1", ACME)

    # When Acme is connected again by a new consent
    consent(store, "event-2", ACME, refresh_token="rt-new")

    # Then only the new consent's token set is kept and refreshed
    assert [(a.key, a.tenant_ids) for a in store.authorisations()] == [("auth#event-2", (ACME,))]
    assert store.get(ACME).refresh_token == "rt-new"


def test_connecting_a_second_organisation_leaves_invoicing_on_the_first(store):
    # Given Acme connected first, then Globex by a second consent that ticked both
    consent(store, "event-1", ACME)
    consent(store, "event-2", ACME, GLOBEX)

    # When a deal is resolved to its organisation
    tenant = resolve_tenant(None, store, MappingConfig(), deal())

    # Then it is still Acme
    assert tenant == ACME


def test_an_older_deployments_one_tenant_stays_invoiced_when_another_is_connected(store):
    # Given a tenant stored by an older version (its own token set, no stored choice)
    store._table.put_item(Item={"tenant_id": INITECH, "access_token": "a", "refresh_token": "r",
                                "access_expires_at": 0, "refreshed_at": 0, "status": "CONNECTED", "version": 1})

    # When a second organisation is connected
    consent(store, "event-1", GLOBEX)

    # Then deals still go to the one invoiced so far
    assert resolve_tenant(None, store, None, None) == INITECH


def test_tenants_use_switches_the_organisation_invoiced(store):
    # Given Acme (first) and Globex connected
    consent(store, "event-1", ACME)
    consent(store, "event-2", GLOBEX)

    # When the operator picks Globex
    use_tenant(store, GLOBEX, now=int(time.time()))

    # Then deals go to Globex
    assert resolve_tenant(None, store, None, deal()) == GLOBEX
    assert store.selection().selected_by == "operator"


def test_tenants_use_refuses_an_unknown_or_disconnected_organisation(store):
    # Given Acme connected and Globex connected but disconnected since
    consent(store, "event-1", ACME)
    consent(store, "event-2", GLOBEX)
    store.mark_disconnected("auth#event-2", "invalid_grant: authorise the connection again")

    # When the operator picks either an id never connected or Globex
    # Then both are refused, and Acme stays chosen
    with pytest.raises(TenantChoiceError, match="not a connected Xero organisation"):
        use_tenant(store, "nobody", now=0)
    with pytest.raises(TenantChoiceError, match="disconnected"):
        use_tenant(store, GLOBEX, now=0)
    assert resolve_tenant(None, store, None, None) == ACME


def test_a_pinned_tenant_wins_over_the_choice_and_the_routes(store):
    # Given Acme chosen, a route sending USD deals to Acme, and Globex pinned at deploy time
    consent(store, "event-1", ACME)
    consent(store, "event-2", GLOBEX)
    mapping = MappingConfig(tenant_routes=[{"currency": "USD", "tenant_id": ACME}])

    # When a USD deal is resolved
    # Then the pin decides
    assert resolve_tenant(GLOBEX, store, mapping, deal("USD")) == GLOBEX


def test_a_currency_route_sends_deals_to_another_organisation(store):
    # Given Acme chosen and USD deals routed to Globex
    consent(store, "event-1", ACME)
    consent(store, "event-2", GLOBEX)
    mapping = MappingConfig(tenant_routes=[{"currency": "USD", "tenant_id": GLOBEX}])

    # When a USD and a GBP deal are resolved
    # Then USD goes to Globex, GBP to the chosen Acme
    assert resolve_tenant(None, store, mapping, deal("USD")) == GLOBEX
    assert resolve_tenant(None, store, mapping, deal("GBP")) == ACME


@pytest.mark.parametrize(("pin", "routes", "connected", "message"), [
    (None, [], [], "no Xero organisation is connected: run `bridgectl connect`"),
    (None, [], [ACME, GLOBEX], "none is chosen for invoicing: run `bridgectl tenants`"),
    ("unknown-tenant", [], [ACME], "XERO_TENANT_ID"),
    (None, [{"currency": "GBP", "tenant_id": "unknown-tenant"}], [ACME], "routes GBP deals"),
])
def test_no_organisation_that_applies_is_a_recorded_failure_and_counted(store, pin, routes, connected, message):
    # Given these organisations connected (two at once: none chosen), this pin and these routes
    if connected:
        consent(store, "event-1", *connected)
    metrics: list[str] = []

    # When a deal is resolved
    with pytest.raises(PermanentError) as failure:
        resolve_tenant(pin, store, MappingConfig(tenant_routes=routes), deal(),
                       on_metric=lambda name, value: metrics.append(name))

    # Then it fails with a reason ops can filter, says what to run, and the alarm's metric counts it
    assert failure.value.reason == NO_ORGANISATION and message in failure.value.message
    assert metrics == ["NoXeroOrganisation"]

"""`bridgectl tenants` lists the connected Xero organisations and which one is invoiced; `tenants use`
picks another (refused for an unknown or disconnected one)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest

from crmbridge.ops import cli, status
from crmbridge.tokens.store import TokenStore
from tests.unit.test_ops_cli import run
from tests.unit.test_ops_fakes import FakeSqs, fake_target, standard_tables

ACME = "6f1c3a52-3f43-4b8e-9d0f-6d1a1c2b7e10"
GLOBEX = "0b8e2d1c-7a6f-4e3d-9c2b-1a0f9e8d7c6b"


@pytest.fixture
def tokens(monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    """Acme connected first, then Globex by one more consent; the CLI's target is the fakes."""
    tables = standard_tables()
    store = TokenStore(tables["TokensTable"])
    store.connect_authorisation("event-1", [(ACME, "Acme Ltd")], access_token="secret-access-1",
                                refresh_token="secret-refresh-1", access_expires_at=2_000_000_000, now=1_000)
    store.connect_authorisation("event-2", [(GLOBEX, "Globex Ltd")], access_token="secret-access-2",
                                refresh_token="secret-refresh-2", access_expires_at=2_000_000_000, now=2_000)
    target: dict[str, Any] = {"environ": {}}
    monkeypatch.setattr(cli, "resolve_target", lambda **kw: fake_target(tables=tables, **target))
    monkeypatch.setenv("COLUMNS", "200")
    return {"store": store, "target": target}


def test_tenants_lists_each_organisation_and_marks_the_one_invoiced(tokens):
    # When the operator lists the organisations
    code, out, _ = run("tenants", "--json")

    # Then both are listed with their consent, Acme (connected first) invoiced, and no token shown
    listed = json.loads(out)
    assert code == 0 and listed["invoiced"] == ACME
    assert {(t["tenant_id"], t["invoiced"], t["auth_event_id"]) for t in listed["tenants"]} == {
        (ACME, True, "event-1"), (GLOBEX, False, "event-2")}
    assert "secret-" not in out


def test_tenants_use_switches_the_organisation_invoiced(tokens):
    # When the operator picks Globex
    code, out, _ = run("tenants", "use", GLOBEX)

    # Then it says so, and the listing now marks Globex
    assert code == 0 and "Deals are now invoiced to Globex Ltd" in out
    assert json.loads(run("tenants", "--json")[1])["invoiced"] == GLOBEX


def test_tenants_use_refuses_an_organisation_that_is_not_connected(tokens):
    # When the operator mistypes the id
    code, _, err = run("tenants", "use", "0b8e2d1c-0000-0000-0000-000000000000")

    # Then it is refused, naming the connected ones, and Acme stays invoiced
    assert code == 1 and "not a connected Xero organisation" in err and ACME in err
    assert json.loads(run("tenants", "--json")[1])["invoiced"] == ACME


def test_a_pinned_tenant_is_shown_as_the_one_invoiced(tokens):
    # Given a deployment pinning Globex with XERO_TENANT_ID
    tokens["target"]["environ"] = {"XERO_TENANT_ID": GLOBEX}

    # When the operator lists the organisations
    code, out, _ = run("tenants")

    # Then the table says the pin decides
    assert code == 0 and f"Pinned by XERO_TENANT_ID (the XeroTenantId parameter): {GLOBEX}" in out


def test_status_says_when_several_organisations_are_connected_and_none_is_chosen():
    # Given one first consent that ticked two organisations (so neither was chosen without asking)
    tables = standard_tables()
    TokenStore(tables["TokensTable"]).connect_authorisation(
        "event-1", [(ACME, "Acme Ltd"), (GLOBEX, "Globex Ltd")], access_token="a", refresh_token="r",
        access_expires_at=2_000_000_000, now=1_000)

    # When the operator asks for the status
    report = status.collect_status(fake_target(FakeSqs("sync", "dlq"), tables), now=datetime.now(UTC))

    # Then both organisations are listed once each and a note says what to run
    assert sorted(c.tenant_id for c in report.connections) == sorted([ACME, GLOBEX])
    assert any("none is chosen" in note and "bridgectl tenants use" in note for note in report.notes)

"""Going live on a HubSpot stack: the go-live commands and the scheduled leakage check read HubSpot
through its directory (CRM search for won deals, batch reads), as they read Pipedrive.

Deals are seeded in HubSpot silently (history from before the bridge: no webhooks), each test in a
period of its own so the tests of this module do not see each other's deals.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from tests.e2e.flow import running_flow
from tests.e2e.golive_flow import (
    bridgectl,
    bridgectl_json,
    hubspot_deal,
    hubspot_seed,
    quiet_xero_fixture,
    seed_won_hubspot_deals,
    xero_invoices,
)

pytestmark = pytest.mark.e2e
quiet_xero = quiet_xero_fixture


@pytest.fixture(scope="module")
def flow() -> Iterator[dict[str, Any]]:
    """The local stack running with HubSpot (its CrmProvider)."""
    with running_flow("hubspot") as running:
        yield running


def invoiced(flow: dict[str, Any], deal_ids: list[str]) -> list[str]:
    """The References of Xero's invoices naming these deals, one per invoice."""
    wanted = set(deal_ids)
    return sorted(i["Reference"] for i in xero_invoices(flow) if i["Reference"] in wanted)


def test_a_dry_run_and_a_test_batch_invoice_the_chosen_hubspot_deals_once(flow, quiet_xero):
    # Given two deals closed won in HubSpot that never reached the bridge
    deals = seed_won_hubspot_deals(flow, 2, won_time="2025-01-13T09:00:00Z", companies=1, price=50.0)
    # When one is dry-run, then both are run as a test batch, twice
    [preview] = bridgectl_json(flow, "dry-run", deals[0])["previews"]
    first = bridgectl_json(flow, "test-batch", *deals)
    second = bridgectl_json(flow, "test-batch", *deals)
    # Then the dry run showed the invoice, each deal got one invoice, and the second run created none
    assert (preview["outcome"], preview["total"]) == ("would_create", 60.0)
    assert [r["outcome"] for r in first["results"]] == ["invoiced", "invoiced"]
    assert [r["outcome"] for r in second["results"]] == ["already_invoiced", "already_invoiced"]
    assert invoiced(flow, deals) == sorted(deals)
    # And each deal shows its invoice number in HubSpot
    numbers = {r["deal_id"]: r["invoice_number"] for r in first["results"]}
    assert all(hubspot_deal(flow, d, "xero_invoice_number")["xero_invoice_number"] == numbers[d] for d in deals)


def test_a_backfill_invoices_every_won_deal_of_the_period_exactly_once(flow, quiet_xero):
    # Given 450 deals closed won in June 2025 (three pages of HubSpot's search), and one won in July
    deals = seed_won_hubspot_deals(flow, 450, won_time="2025-06-15T10:00:00Z", companies=20)
    [july] = seed_won_hubspot_deals(flow, 1, won_time="2025-07-01T00:00:00Z", companies=1)
    period = ("--from", "2025-06-01", "--to", "2025-07-01")
    # When June is backfilled, and backfilled again
    first = bridgectl_json(flow, "backfill", *period)
    again = bridgectl_json(flow, "backfill", *period)
    # Then each June deal has exactly one invoice, the second run created none, and July's deal none
    assert (first["deals_won"], first["created"], first["already_invoiced"]) == (450, 450, 0)
    assert (again["created"], again["already_invoiced"]) == (0, 450)
    assert invoiced(flow, [*deals, july]) == sorted(deals)
    # And the deals show their invoices in HubSpot
    assert hubspot_deal(flow, deals[321], "xero_invoice_number")["xero_invoice_number"]


def test_leakage_finds_the_won_hubspot_deal_without_an_invoice_and_nothing_else(flow, quiet_xero):
    # Given a month of three backfilled deals, then one more deal closed won in it that never synced
    seed_won_hubspot_deals(flow, 3, won_time="2025-11-07T10:00:00Z", companies=2)
    bridgectl_json(flow, "backfill", "--from", "2025-11-01", "--to", "2025-12-01")
    [unbilled] = seed_won_hubspot_deals(flow, 1, won_time="2025-11-20T10:00:00Z", companies=1)
    # When the leakage report runs on that month
    report = bridgectl_json(flow, "leakage", "--from", "2025-11-01", "--to", "2025-12-01", code=1)
    # Then it checked the four deals and reports exactly the unbilled one
    assert report["deals_checked"] == 4
    assert [(f["kind"], f["deal_id"]) for f in report["findings"]] == [("won_without_invoice", unbilled)]


def test_the_audit_finds_what_a_hubspot_company_and_contact_lack(flow):
    # Given a company with no address or country, its contact without an email, and an unmapped product
    refs = hubspot_seed(flow, {
        "companies": [{"ref": "bare", "properties": {"name": "Bare Company Ltd"}}],
        "contacts": [{"ref": "p", "properties": {"firstname": "Nomail"}, "companies": ["bare"]}],
        "products": [{"ref": "odd", "properties": {"name": "Odd Gadget", "hs_sku": "ODD-1"}}]})
    # When the operator audits
    report = bridgectl_json(flow, "audit")
    # Then the company, the contact and the product are each reported by id
    flagged = {(f["check"], crm_id) for f in report["findings"] for crm_id in f["crm_ids"]}
    assert ("missing_invoice_data", refs["companies"]["bare"]) in flagged
    assert ("missing_invoice_data", refs["contacts"]["p"]) in flagged
    assert ("unmapped_products", refs["products"]["odd"]) in flagged


def test_the_scheduled_leakage_check_runs_on_a_hubspot_stack_and_reports_the_deal(flow):
    # Given a deal closed won two days ago in HubSpot that never reached the bridge
    won = (datetime.now(UTC) - timedelta(days=2)).strftime("%Y-%m-%dT%H:%M:%SZ")
    [deal_id] = seed_won_hubspot_deals(flow, 1, won_time=won, companies=1)
    # When the scheduled leakage check runs
    result = flow["stack"].run_now("LeakageCheckFunction")
    # Then it succeeded and counted the deal, which the operator's report names
    assert result["won_without_invoice"] >= 1 and result["findings"] >= 1
    report = bridgectl_json(flow, "leakage", "--days", "3", code=1)
    assert ("won_without_invoice", deal_id) in {(f["kind"], f["deal_id"]) for f in report["findings"]}
    assert "won_without_invoice" in bridgectl(flow, "leakage", "--days", "3", code=1).stdout

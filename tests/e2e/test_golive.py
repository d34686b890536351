"""Going live on the local stack: dry run, test batch, backfill and the leakage report, through
bridgectl, against the same moto, emulators and worker the bridge runs on.

Deals are seeded in Pipedrive silently (history from before the bridge existed: no webhooks), each
test in a period of its own so the tests of this module do not see each other's deals.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import httpx
import pytest

from crmbridge.ops.backfill import Backfill
from crmbridge.ops.golive import golive
from crmbridge.ops.target import local_target
from crmbridge.ops.throttle import Throttle
from tests.conftest import load_event
from tests.e2e.flow import running_flow
from tests.e2e.golive_flow import (
    bridgectl,
    bridgectl_json,
    change_line_price,
    pipedrive_state,
    quiet_xero_fixture,
    seed,
    seed_won_deals,
    win_with_webhook_dropped,
    xero_control,
    xero_invoices,
    xero_state,
)

pytestmark = pytest.mark.e2e
quiet_xero = quiet_xero_fixture


@pytest.fixture(scope="module")
def flow() -> Iterator[dict[str, Any]]:
    """The local stack running with Pipedrive (the go-live commands read the CRM through crm.directory,
    which Pipedrive implements)."""
    with running_flow("pipedrive") as running:
        yield running


def won_deal(flow: dict[str, Any], *, lines: list[dict], org: dict | None = None, won_time: str) -> str:
    body: dict[str, Any] = {
        "organizations": [{"ref": "o", **(org or {"name": "Dry Run Customer Ltd",
                                                "address": {"value": "2 Quay St, Bristol", "country": "GB"}})}],
        "products": [{"ref": f"p{i}", "name": line.pop("name"), "code": line.pop("code", None)}
                     for i, line in enumerate(lines)],
        "deals": [{"ref": "d", "title": "Dry run deal", "currency": "GBP", "status": "won", "won_time": won_time,
                   "org_ref": "o", "products": [{"product_ref": f"p{i}", **line} for i, line in enumerate(lines)]}],
    }
    return str(seed(flow, body)["deals"]["d"])


def emulator_data(flow: dict[str, Any]) -> tuple[Any, Any, Any]:
    state = xero_state(flow)
    return state["xero"]["orgs"], state["xero"]["idempotency"], pipedrive_state(flow)


# ----------------------------------------------------------------------------- dry run


def test_dry_run_shows_the_invoice_with_xeros_totals_and_changes_nothing(flow):
    # Given a won deal with three lines whose tax rounds per line, and the state of both emulators
    lines = [{"name": "Setup", "item_price": 0.125, "quantity": 1, "tax": 20, "tax_method": "exclusive"}
             for _ in range(3)] + [{"name": "Licence", "item_price": 99.99, "quantity": 3, "discount": 10,
                                    "discount_type": "percentage", "tax": 20, "tax_method": "exclusive"}]
    deal_id = won_deal(flow, lines=lines, won_time="2025-01-10T09:00:00Z")
    before = emulator_data(flow)
    # When the operator dry-runs it
    [preview] = bridgectl_json(flow, "dry-run", deal_id)["previews"]
    # Then it shows the invoice the sync would create: new contact, lines, tax per line, totals
    assert preview["outcome"] == "would_create"
    assert preview["contact"].startswith("new contact Dry Run Customer Ltd")
    assert [line["tax_type"] for line in preview["lines"]] == ["OUTPUT2"] * 4
    assert [line["tax_amount"] for line in preview["lines"]] == [0.03, 0.03, 0.03, 53.99]
    assert (preview["sub_total"], preview["total_tax"], preview["total"]) == (270.36, 54.08, 324.44)
    # And both emulators hold exactly what they held before
    assert emulator_data(flow) == before


def test_dry_run_totals_are_the_totals_xero_computes(flow, quiet_xero):
    # Given a won deal, dry-run first
    lines = [{"name": "Hours", "item_price": 33.335, "quantity": 7, "tax": 5, "tax_method": "inclusive"},
             {"name": "Kit", "item_price": 12.5, "quantity": 2, "discount": 3, "discount_type": "amount",
              "tax": 5, "tax_method": "inclusive"}]
    deal_id = won_deal(flow, lines=lines, won_time="2025-01-11T09:00:00Z")
    [preview] = bridgectl_json(flow, "dry-run", deal_id)["previews"]
    # When it is invoiced for real (a test batch of one)
    bridgectl(flow, "test-batch", deal_id)
    # Then Xero's totals are the dry run's, to the penny
    [invoice] = [i for i in xero_invoices(flow) if i["Reference"] == deal_id]
    assert (Decimal(str(invoice["SubTotal"])), Decimal(str(invoice["TotalTax"])), Decimal(str(invoice["Total"]))) == \
        (Decimal(str(preview["sub_total"])), Decimal(str(preview["total_tax"])), Decimal(str(preview["total"])))


def test_dry_run_says_why_a_deal_would_fail(flow):
    # Given a won deal with a tax rate the mapping does not know
    deal_id = won_deal(flow, lines=[{"name": "Odd", "item_price": 10, "quantity": 1, "tax": 17,
                                     "tax_method": "exclusive"}], won_time="2025-01-12T09:00:00Z")
    # When dry-run, Then it would fail with the sync's reason, and the exit code says all is read
    [preview] = bridgectl_json(flow, "dry-run", deal_id)["previews"]
    assert (preview["outcome"], preview["reason"]) == ("would_fail", "unmapped_tax_rate")


# ----------------------------------------------------------------------------- test batch


def test_test_batch_invoices_the_chosen_deals_once_and_lists_what_to_check(flow, quiet_xero):
    # Given two won deals
    deals = [won_deal(flow, lines=[{"name": "Plan", "item_price": 50, "quantity": 2, "tax": 20,
                                    "tax_method": "exclusive"}], won_time="2025-01-13T09:00:00Z") for _ in range(2)]
    # When they are run as a test batch, twice
    first = bridgectl_json(flow, "test-batch", *deals)
    second = bridgectl_json(flow, "test-batch", *deals)
    # Then each got one invoice, the second run created none, and the checklist names each invoice
    assert [r["outcome"] for r in first["results"]] == ["invoiced", "invoiced"]
    assert [r["outcome"] for r in second["results"]] == ["already_invoiced", "already_invoiced"]
    assert sorted(i["Reference"] for i in xero_invoices(flow) if i["Reference"] in deals) == sorted(deals)
    numbers = [r["invoice_number"] for r in first["results"]]
    assert all(any(n in item for item in first["checklist"]) for n in numbers)


# ----------------------------------------------------------------------------- backfill


def test_a_backfill_of_1000_deals_interrupted_halfway_resumes_and_creates_each_invoice_once(flow, quiet_xero):
    # Given 1,000 deals won in June 2025, before the bridge existed
    deal_ids = seed_won_deals(flow, 1000, won_time="2025-06-15T10:00:00Z")
    period = ("--from", "2025-06-01", "--to", "2025-07-01")
    target = local_target({**os.environ, "AWS_ENDPOINT_URL": flow["stack"].urls["moto"]})
    throttle = Throttle()
    bridge = golive(target, on_response=throttle.observe, before_request=throttle.before_call)
    keys_before = len(xero_state(flow)["xero"]["idempotency"])

    def lose_the_network_halfway(done: int, total: int | None) -> None:
        if done == 500:  # the next batch is created in Xero, but its answer (and both retries') never arrives
            xero_control(flow, "faults", {"kind": "drop", "count": 3, "method": "PUT",
                                          "path_prefix": "/api.xro/2.0/Invoices"})

    # When a backfill stops halfway, and the operator runs the same backfill again
    first = Backfill(bridge, throttle).run(won_from=datetime(2025, 6, 1, tzinfo=UTC),
                                           won_to=datetime(2025, 7, 1, tzinfo=UTC), progress=lose_the_network_halfway)
    resumed = bridgectl_json(flow, "backfill", *period)
    # Then the first run stopped after creating 550 in Xero, and the second found the lost batch's 50 by
    # Reference and created the rest: exactly one invoice per deal
    assert first.stopped and first.created == 500
    assert (resumed["adopted"], resumed["created"], resumed["already_invoiced"]) == (50, 450, 500)
    references = [i["Reference"] for i in xero_invoices(flow) if i["Reference"] in set(deal_ids)]
    assert len(references) == 1000 and set(references) == set(deal_ids)
    # And with at most 25 invoice-creating requests (each distinct request leaves one idempotency key)
    assert len(xero_state(flow)["xero"]["idempotency"]) - keys_before <= 25
    assert first.create_requests + resumed["create_requests"] <= 25
    # And every deal shows its invoice number in Pipedrive
    sample = flow["pipedrive"].deal(int(deal_ids[777]))
    assert flow["pipedrive"].custom(sample, "deal", "Xero invoice number")


def test_xeros_webhooks_about_backfilled_drafts_cost_the_worker_one_read_each(flow):
    # Given Xero's webhooks on, When two deals are backfilled as DRAFT and the worker has run
    deal_ids = seed_won_deals(flow, 2, won_time="2025-07-05T10:00:00Z", organisations=1)
    bridgectl_json(flow, "backfill", "--from", "2025-07-01", "--to", "2025-08-01")
    httpx.post(f"{flow['urls'].xero}/_emulator/webhooks/wait", json={"timeout": 10}, timeout=15)
    flow["stack"].drain(timeout=20)
    # Then each invoice's event found its state already written (stale: no second write-back)
    for invoice in [i for i in xero_invoices(flow) if i["Reference"] in deal_ids]:
        history = bridgectl_json(flow, "history", "invoice", invoice["InvoiceID"])
        assert [e["summary"].get("outcome") for e in history["entries"]] == ["stale"]


def test_a_backfill_skips_deals_the_live_sync_invoiced(flow, quiet_xero):
    # Given a period with three won deals, one of which the live sync already invoiced
    deal_ids = seed_won_deals(flow, 3, won_time="2025-08-05T10:00:00Z", organisations=1)
    bridgectl(flow, "test-batch", deal_ids[1])
    # When the period is backfilled
    report = bridgectl_json(flow, "backfill", "--from", "2025-08-01", "--to", "2025-09-01")
    # Then only the other two are created
    assert (report["created"], report["already_invoiced"]) == (2, 1)
    assert sorted(i["Reference"] for i in xero_invoices(flow) if i["Reference"] in deal_ids) == sorted(deal_ids)


def test_a_backfill_creates_invoices_in_the_status_asked_for(flow, quiet_xero):
    # Given a won deal, When backfilled with --status AUTHORISED
    [deal_id] = seed_won_deals(flow, 1, won_time="2025-09-05T10:00:00Z", organisations=1)
    bridgectl_json(flow, "backfill", "--from", "2025-09-01", "--to", "2025-10-01", "--status", "AUTHORISED")
    # Then its invoice is AUTHORISED
    [invoice] = [i for i in xero_invoices(flow) if i["Reference"] == deal_id]
    assert invoice["Status"] == "AUTHORISED"


# ----------------------------------------------------------------------------- leakage


def test_leakage_finds_nothing_when_every_won_deal_has_its_invoice(flow, quiet_xero):
    # Given a month whose won deals were all backfilled
    seed_won_deals(flow, 5, won_time="2025-10-07T10:00:00Z", organisations=2)
    bridgectl_json(flow, "backfill", "--from", "2025-10-01", "--to", "2025-11-01")
    # When the leakage report runs on that month
    report = bridgectl_json(flow, "leakage", "--from", "2025-10-01", "--to", "2025-11-01")
    # Then it checked them and found nothing
    assert report["deals_checked"] == 5
    assert report["findings"] == []


def test_leakage_finds_each_planted_problem_and_nothing_else(flow, quiet_xero):
    # Given a month of five invoiced deals, then: one deal lost after it was invoiced, one whose line was
    # repriced after it was invoiced, and one won deal never synced (seeded won: no webhook)
    deals = seed_won_deals(flow, 5, won_time="2025-11-07T10:00:00Z", organisations=2)
    bridgectl_json(flow, "backfill", "--from", "2025-11-01", "--to", "2025-12-01")
    lost, repriced = deals[0], deals[1]
    flow["pipedrive"].app_update_deal(int(lost), {"status": "lost"})
    change_line_price(flow, repriced, 150.0)
    [unbilled] = seed_won_deals(flow, 1, won_time="2025-11-20T10:00:00Z", organisations=1)
    # When the leakage report runs on that month
    report = bridgectl_json(flow, "leakage", "--from", "2025-11-01", "--to", "2025-12-01", code=1)
    # Then it reports exactly those three
    found = sorted((f["kind"], f["deal_id"]) for f in report["findings"])
    assert found == sorted([("invoice_without_deal", lost), ("amount_mismatch", repriced),
                            ("won_without_invoice", unbilled)])
    [mismatch] = [f for f in report["findings"] if f["kind"] == "amount_mismatch"]
    assert (mismatch["deal_amount"], mismatch["invoice_amount"]) == (180, 120)


def test_leakage_finds_a_won_deal_whose_webhook_was_dropped(flow, quiet_xero):
    # Given an open deal, won by a salesperson while the bridge's webhook delivery was dropped
    [deal_id] = seed_won_deals(flow, 1, organisations=1)
    flow["pipedrive"].app_update_deal(int(deal_id), {"status": "open"})
    today = datetime.now(UTC).date().isoformat()
    win_with_webhook_dropped(flow, deal_id)
    flow["stack"].drain(timeout=10)
    assert not [i for i in xero_invoices(flow) if i["Reference"] == deal_id]
    # When the leakage report runs (no grace: the deal was won a moment ago)
    report = bridgectl_json(flow, "leakage", "--from", today, "--grace-minutes", "0", code=1)
    # Then the deal is reported as won without an invoice
    assert ("won_without_invoice", deal_id) in {(f["kind"], f["deal_id"]) for f in report["findings"]}


def test_the_scheduled_leakage_check_counts_what_it_finds(flow):
    # Given a deal won two days ago that never reached the bridge
    won = (datetime.now(UTC) - timedelta(days=2)).strftime("%Y-%m-%dT%H:%M:%SZ")
    [deal_id] = seed_won_deals(flow, 1, won_time=won, organisations=1)
    # When the scheduled leakage check runs, and again with the sample event of events/
    result = flow["stack"].run_now("LeakageCheckFunction")
    spec = flow["stack"].scheduler.find("LeakageCheckFunction").function
    again = flow["stack"].runtime.invoke(spec, load_event("leakage_check_scheduled"))
    # Then it reports the deal (its findings are the LeakageFound metric the alarm watches)
    assert result["won_without_invoice"] >= 1 and result["findings"] >= 1
    assert again["won_without_invoice"] == result["won_without_invoice"]
    report = bridgectl_json(flow, "leakage", "--days", "3", code=1)
    assert ("won_without_invoice", deal_id) in {(f["kind"], f["deal_id"]) for f in report["findings"]}



# ----------------------------------------------------------------------------- what the operator reads


def test_the_operator_reads_each_step_as_tables(flow, quiet_xero):
    # Given two won deals of a month nobody has invoiced
    deal_ids = seed_won_deals(flow, 2, won_time="2025-12-03T10:00:00Z", organisations=1)
    period = ("--from", "2025-12-01", "--to", "2026-01-01")
    # When the operator dry-runs one, test-batches it, backfills the month and checks leakage, without --json
    preview = bridgectl(flow, "dry-run", deal_ids[0]).stdout
    batch = bridgectl(flow, "test-batch", deal_ids[0]).stdout
    backfill = bridgectl(flow, "backfill", *period).stdout
    leakage = bridgectl(flow, "leakage", *period, code=None).stdout  # other tests' lost deal may show
    # Then each says what it did in words
    assert "Subtotal" in preview and "Total" in preview and "nothing was created" in preview
    assert "invoiced" in batch and "Check in Xero" in batch and "[ ]" in batch
    assert "Invoices created" in backfill and "Complete." in backfill
    assert "Checked 2 deals won 2025-12-01" in leakage and "Findings (" in leakage
    assert "won_without_invoice" not in leakage and "amount_mismatch" not in leakage

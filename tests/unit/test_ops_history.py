"""bridgectl history and resync: what happened to a subject, why it failed, and re-running it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from crmbridge.commands import DealWon, QueueMessage, XeroResourceChanged
from crmbridge.errors import PermanentError
from crmbridge.ops import history, resync
from crmbridge.ops.common import OpsError
from crmbridge.sync.history import SyncHistory
from crmbridge.sync.links import Created, Links
from crmbridge.sync.records import SyncRecords
from tests.unit.test_ops_fakes import FakeSqs, fake_target, standard_tables

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
TENANT = "6f1c3a52-3f43-4b8e-9d0f-6d1a1c2b7e10"
INVOICE = "4f2c9a63-54c1-4a4e-9a65-2a1f4f2b3c01"
WON = DealWon(crm="pipedrive", deal_id="42", won_time="2026-03-01T09:00:00Z", source_event_id="e1")


@pytest.fixture
def tables():
    return standard_tables()


def test_deal_history_is_oldest_first_with_its_record_and_invoice(tables):
    log = SyncHistory(tables["SyncHistoryTable"])
    log.add(WON, at=NOW - timedelta(minutes=3), outcome="failed", error="deal 42 has no organisation",
            reason="no_organisation")
    log.add(WON, at=NOW - timedelta(minutes=2), outcome="parked", error="Xero answered 503")
    log.add(WON, at=NOW - timedelta(minutes=1), outcome="done", summary={"invoice_number": "INV-1"})
    SyncRecords(tables["LinksTable"]).succeeded(WON, at=NOW, summary={"invoice_id": INVOICE})
    Links(tables["LinksTable"]).record_created("pipedrive", TENANT, Created(
        deal_id="42", invoice_id=INVOICE, invoice_number="INV-1", contact_id="c1", organisation_id="o1",
        won_time=WON.won_time), at=NOW.isoformat())

    result = history.deal_history(fake_target(tables=tables), "42", crm="pipedrive")

    assert result.label == "deal 42 (pipedrive)"
    assert [(e.outcome, e.reason, e.error) for e in result.entries] == [
        ("failed", "no_organisation", "deal 42 has no organisation"), ("parked", None, "Xero answered 503"),
        ("done", None, None)]
    assert result.entries[-1].summary == {"invoice_number": "INV-1"}
    assert result.record.status == "OK" and result.record.details == {"invoice_id": INVOICE}
    assert (result.links["state"], result.links["invoice_number"]) == ("CREATED", "INV-1")


def test_invoice_history_names_its_deal(tables):
    Links(tables["LinksTable"]).link_invoice(TENANT, INVOICE, crm="pipedrive", deal_id="42", organisation_id="o1",
                                             at=NOW.isoformat())
    change = XeroResourceChanged(tenant_id=TENANT, category="INVOICE", resource_id=INVOICE, event_type="UPDATE",
                                 event_date=NOW)
    SyncHistory(tables["SyncHistoryTable"]).add(change, at=NOW, outcome="done", summary={"status": "PAID"})

    result = history.invoice_history(fake_target(tables=tables), INVOICE, tenant_id=TENANT)

    assert result.subject == f"xero#{TENANT}#invoice#{INVOICE}"
    assert result.links == {"crm": "pipedrive", "deal_id": "42", "organisation_id": "o1"}
    assert [(e.direction, e.outcome) for e in result.entries] == [("xero_to_crm", "done")]


def test_the_failure_reason_is_the_newest_recorded_one(tables):
    target = fake_target(tables=tables)
    assert history.failure_reason(target, WON).reason == history.UNKNOWN_REASON

    SyncRecords(tables["LinksTable"]).failed(WON, PermanentError("no_organisation", "no org"), at=NOW)
    SyncHistory(tables["SyncHistoryTable"]).add(WON, at=NOW - timedelta(minutes=1), outcome="parked", error="503")
    found = history.failure_reason(target, WON)
    assert (found.reason, found.detail, found.source) == ("no_organisation", "no org", "sync record")

    SyncHistory(tables["SyncHistoryTable"]).add(WON, at=NOW + timedelta(minutes=1), outcome="parked", error="429")
    assert (history.failure_reason(target, WON).reason, history.failure_reason(target, WON).detail) == ("parked", "429")


def test_a_later_success_leaves_the_reason_unknown(tables):
    SyncRecords(tables["LinksTable"]).succeeded(WON, at=NOW, summary={})
    SyncHistory(tables["SyncHistoryTable"]).add(WON, at=NOW, outcome="done")

    assert history.failure_reason(fake_target(tables=tables), WON).reason == history.UNKNOWN_REASON


def test_resync_deal_reuses_the_failed_commands_won_time(tables):
    sqs = FakeSqs("sync", "dlq")
    SyncRecords(tables["LinksTable"]).failed(WON, PermanentError("no_organisation", "no org"), at=NOW)

    enqueued = resync.resync_deal(fake_target(sqs, tables), "42", crm="pipedrive")

    [sent] = sqs.bodies("sync")
    command = QueueMessage.model_validate_json(sent).command
    assert command == DealWon(crm="pipedrive", deal_id="42", won_time=WON.won_time, resync=True)
    assert enqueued.command == command and enqueued.previous.reason == "no_organisation"
    assert enqueued.note is None


def test_resync_of_a_deal_without_record_or_already_synced_says_so(tables):
    sqs = FakeSqs("sync", "dlq")
    target = fake_target(sqs, tables)

    first = resync.resync_deal(target, "7", crm="hubspot")
    SyncRecords(tables["LinksTable"]).succeeded(DealWon(crm="hubspot", deal_id="7"), at=NOW, summary={})
    again = resync.resync_deal(target, "7", crm="hubspot")

    assert first.command.won_time is None and "first attempt" in first.note
    assert "creates no other" in again.note
    assert len(sqs.bodies("sync")) == 2
    with pytest.raises(OpsError, match="unknown CRM"):
        resync.resync_deal(target, "7", crm="salesforce")


def test_resync_invoice_enqueues_an_update_dated_now(tables):
    sqs = FakeSqs("sync", "dlq")

    resync.resync_invoice(fake_target(sqs, tables), INVOICE, tenant_id=TENANT, now=NOW)

    command = QueueMessage.model_validate_json(sqs.bodies("sync")[0]).command
    assert command == XeroResourceChanged(tenant_id=TENANT, category="INVOICE", resource_id=INVOICE,
                                          event_type="UPDATE", event_date=NOW)


def test_the_default_tenant_is_the_only_connected_one(tables):
    target = fake_target(tables=tables)
    with pytest.raises(OpsError, match="no Xero organisation is connected"):
        history.default_tenant(target)
    tables["TokensTable"].put_item(Item={"tenant_id": TENANT, "status": "CONNECTED", "access_token": "x"})
    tables["TokensTable"].put_item(Item={"tenant_id": "t0", "status": "DISCONNECTED"})
    assert history.default_tenant(target) == TENANT
    tables["TokensTable"].put_item(Item={"tenant_id": "t2", "status": "CONNECTED", "tenant_name": "Two"})
    with pytest.raises(OpsError, match="2 Xero organisations are connected; choose one with --tenant"):
        history.default_tenant(target)

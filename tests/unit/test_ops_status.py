"""bridgectl status: queue depths, connections without their tokens, activity, permanent failures."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

from crmbridge.commands import DealWon, XeroResourceChanged
from crmbridge.errors import PermanentError
from crmbridge.ops import status
from crmbridge.ops.common import to_json
from crmbridge.sync.history import SyncHistory
from crmbridge.sync.records import SyncRecords
from tests.unit.test_ops_fakes import FakeSqs, fake_target, standard_tables

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def connection(tenant: str, *, status_: str = "CONNECTED", expires_in: int = 1200, reason: str | None = None) -> dict:
    item = {"tenant_id": tenant, "tenant_name": f"Org {tenant}", "access_token": f"secret-access-{tenant}",
            "refresh_token": f"secret-refresh-{tenant}", "access_expires_at": int(NOW.timestamp()) + expires_in,
            "refreshed_at": int(NOW.timestamp()) - 600, "status": status_, "version": 3}
    if reason:
        item["status_reason"] = reason
    return item


def test_status_reports_depths_connections_activity_and_newest_failures_first():
    sqs = FakeSqs("sync", "dlq")
    sqs.put("sync", "{}")
    sqs.put("dlq", "{}")
    sqs.receive_message(QueueUrl="sync", MaxNumberOfMessages=1, VisibilityTimeout=30)
    tables = standard_tables()
    tables["TokensTable"].put_item(Item=connection("t1"))
    tables["TokensTable"].put_item(Item=connection("t2", status_="DISCONNECTED", expires_in=-60, reason="invalid_grant"))
    tables["TokensTable"].put_item(Item=connection("t3", expires_in=-60))
    records = SyncRecords(tables["LinksTable"])
    for n in range(5):
        records.failed(DealWon(crm="pipedrive", deal_id=str(n + 1)), PermanentError("no_organisation", f"deal {n}"),
                       at=NOW - timedelta(minutes=10 - n))
    records.succeeded(DealWon(crm="pipedrive", deal_id="100"), at=NOW, summary={"invoice_id": "i"})
    records.failed(XeroResourceChanged(tenant_id="6f1c3a52-3f43-4b8e-9d0f-6d1a1c2b7e10", category="INVOICE", resource_id="4f2c9a63-54c1-4a4e-9a65-2a1f4f2b3c01", event_type="UPDATE",
                                       event_date=NOW), PermanentError("no_deal", "unlinked"), at=NOW)
    history = SyncHistory(tables["SyncHistoryTable"])
    history.add(DealWon(crm="pipedrive", deal_id="1"), at=NOW - timedelta(hours=1), outcome="done")
    history.add(DealWon(crm="pipedrive", deal_id="2"), at=NOW - timedelta(minutes=5), outcome="failed")

    report = status.collect_status(fake_target(sqs, tables), now=NOW, failures_limit=3, activity=True)

    assert [(q.queue, q.visible, q.in_flight) for q in report.queues] == [
        ("SyncQueue", 0, 1), ("SyncDeadLetterQueue", 1, 0)]
    assert [(c.tenant_id, c.status, c.reason, c.access_token_valid) for c in report.connections] == [
        ("t1", "CONNECTED", None, True), ("t3", "CONNECTED", None, False), ("t2", "DISCONNECTED", "invalid_grant", False)]
    assert [(f.label, f.reason) for f in report.failures] == [
        (f"invoice 4f2c9a63-54c1-4a4e-9a65-2a1f4f2b3c01 (tenant 6f1c3a52-3f43-4b8e-9d0f-6d1a1c2b7e10)", "no_deal"), ("deal 5 (pipedrive)", "no_organisation"),
        ("deal 4 (pipedrive)", "no_organisation")]
    assert report.failures_total == 6
    activity = {a.direction: a for a in report.activity}
    assert activity["crm_to_xero"].last_at == NOW - timedelta(minutes=5) and activity["crm_to_xero"].entries == 2
    assert activity["xero_to_crm"].last_at is None
    assert not report.webhooks_recorded
    assert [(w.source, w.received_at) for w in report.webhooks] == [("pipedrive", None), ("xero", None)]
    notes = " ".join(report.notes)
    assert "No webhook has been recorded" in notes and "dead-letter queue" in notes
    assert "disconnected (invalid_grant)" in notes and "Org t3's access token has expired" in notes and "6 permanent failures" in notes


def test_tokens_are_never_read_nor_shown():
    tables = standard_tables()
    tables["TokensTable"].put_item(Item=connection("t1"))

    report = status.collect_status(fake_target(FakeSqs("sync", "dlq"), tables), now=NOW)

    [scan] = tables["TokensTable"].scans
    assert "access_token" not in json.dumps(scan) and "refresh_token" not in json.dumps(scan)
    assert "secret-" not in to_json(report)


def test_when_each_source_was_last_heard_as_the_webhook_functions_note_it():
    tables = standard_tables()
    tables["LinksTable"].put_item(Item={"pk": "webhook#xero", "sk": "last_received", "at": NOW.isoformat()})
    tables["LinksTable"].put_item(Item={"pk": "webhook#hubspot", "sk": "last_received",
                                        "at": (NOW - timedelta(days=2)).isoformat()})

    report = status.collect_status(fake_target(FakeSqs("sync", "dlq"), tables), now=NOW)

    # The deployment's CRM (pipedrive here) and Xero always; hubspot because it was heard from.
    assert [(w.source, w.received_at) for w in report.webhooks] == [
        ("pipedrive", None), ("hubspot", NOW - timedelta(days=2)), ("xero", NOW)]
    assert report.webhooks_recorded
    assert not any("webhook" in n for n in report.notes)
    assert report.activity == [] and tables["SyncHistoryTable"].scans == []  # only with activity=True

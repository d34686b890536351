"""`bridgectl history`: what the bridge did with one deal or invoice, and why it failed if it did.

Reads the sync history (every outcome per subject, oldest first), the subject's sync record (its last
outcome: OK, or FAILED with a reason) and its links (the invoice a deal became, the deal of an invoice).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from crmbridge.commands import Command
from crmbridge.ops.common import OpsError, deal_subject, describe_subject, parse_time, xero_subject
from crmbridge.ops.target import Target
from crmbridge.sync.history import SyncHistory
from crmbridge.sync.records import SyncRecords, subject_key
from crmbridge.tokens.store import TokenStore

UNKNOWN_REASON = "unknown: see logs"


@dataclass
class Entry:
    at: datetime | None
    direction: str
    outcome: str
    reason: str | None
    error: str | None
    summary: dict[str, str]
    command: str | None


@dataclass
class Record:
    """A subject's sync record: its last outcome."""

    status: str
    reason: str | None
    message: str | None
    updated_at: datetime | None
    command: str | None
    details: dict[str, str] = field(default_factory=dict)


@dataclass
class SubjectHistory:
    subject: str
    label: str
    record: Record | None
    links: dict[str, Any]
    entries: list[Entry]
    limit: int


@dataclass
class FailureReason:
    reason: str
    detail: str | None = None
    at: datetime | None = None
    source: str | None = None  # "sync record" | "sync history" | None (unknown)


_RECORD_FIELDS = {"pk", "sk", "status", "reason", "message", "updated_at", "command"}


def sync_record(target: Target, subject: str) -> Record | None:
    item = target.table("LinksTable").get_item(Key={"pk": subject, "sk": SyncRecords.SORT_KEY}).get("Item")
    if not item:
        return None
    return Record(status=str(item.get("status", "?")), reason=item.get("reason"), message=item.get("message"),
                  updated_at=parse_time(item.get("updated_at")), command=item.get("command"),
                  details={k: str(v) for k, v in item.items() if k not in _RECORD_FIELDS})


def entries(target: Target, subject: str, *, limit: int = 50) -> list[Entry]:
    """The newest `limit` history entries of a subject, oldest first."""
    history = SyncHistory(target.table("SyncHistoryTable"))
    return [Entry(at=parse_time(i.get("at")), direction=str(i.get("direction", "?")), outcome=str(i.get("outcome", "?")),
                  reason=i.get("reason"), error=i.get("error"),
                  summary={str(k): str(v) for k, v in (i.get("summary") or {}).items()}, command=i.get("command"))
            for i in history.entries(subject, limit=limit)]


def failure_reason(target: Target, command: Command) -> FailureReason:
    """Why a command failed, as far as the bridge recorded it: the subject's FAILED sync record or its
    latest failed/parked history entry, whichever is newer; else unknown (the logs say)."""
    subject = subject_key(command)
    candidates: list[FailureReason] = []
    record = sync_record(target, subject)
    if record is not None and record.status == "FAILED":
        candidates.append(FailureReason(reason=record.reason or "failed", detail=record.message,
                                        at=record.updated_at, source="sync record"))
    latest = entries(target, subject, limit=1)
    if latest and latest[-1].outcome != "done" and (latest[-1].error or latest[-1].reason):
        entry = latest[-1]
        candidates.append(FailureReason(reason=entry.reason or entry.outcome, detail=entry.error, at=entry.at,
                                        source="sync history"))
    if not candidates:
        return FailureReason(reason=UNKNOWN_REASON)
    return max(candidates, key=lambda c: c.at.timestamp() if c.at else 0.0)


def deal_history(target: Target, deal_id: str, *, crm: str, limit: int = 50) -> SubjectHistory:
    subject = deal_subject(crm, deal_id)
    links: dict[str, Any] = {}
    item = target.table("LinksTable").get_item(Key={"pk": subject, "sk": "invoice"}).get("Item")
    if item:
        links = {k: item.get(k) for k in ("state", "tenant_id", "invoice_id", "invoice_number", "contact_id",
                                                 "won_time", "created_at", "written_back") if item.get(k) is not None}
    return _history(target, subject, links=links, limit=limit)


def invoice_history(target: Target, invoice_id: str, *, tenant_id: str, limit: int = 50) -> SubjectHistory:
    subject = xero_subject(tenant_id, "INVOICE", invoice_id)
    table = target.table("LinksTable")
    links: dict[str, Any] = {}
    deal = table.get_item(Key={"pk": f"invoice#{tenant_id}#{invoice_id}", "sk": "deal"}).get("Item")
    if deal:
        links.update({"crm": deal.get("crm"), "deal_id": deal.get("deal_id"),
                      "organisation_id": deal.get("organisation_id")})
    state = table.get_item(Key={"pk": f"invoice#{tenant_id}#{invoice_id}", "sk": "state"}).get("Item")
    if state:
        links.update({"status_written_to_crm": state.get("status"), "state_updated": state.get("updated")})
    return _history(target, subject, links={k: v for k, v in links.items() if v is not None}, limit=limit)


def _history(target: Target, subject: str, *, links: dict[str, Any], limit: int) -> SubjectHistory:
    return SubjectHistory(subject=subject, label=describe_subject(subject), record=sync_record(target, subject),
                          links=links, entries=entries(target, subject, limit=limit), limit=limit)


def default_tenant(target: Target) -> str:
    """The organisation deals are invoiced to (`bridgectl tenants`), else the only connected one."""
    store = TokenStore(target.table("TokensTable"))
    connected = [s for s in store.states() if s.status == "CONNECTED"]
    selection = store.selection()
    if selection and any(s.tenant_id == selection.tenant_id for s in connected):
        return selection.tenant_id
    if len(connected) == 1:
        return connected[0].tenant_id
    if not connected:
        raise OpsError("no Xero organisation is connected: give --tenant TENANT_ID")
    listed = ", ".join(f"{s.tenant_id} ({s.tenant_name or '?'})" for s in connected)
    raise OpsError(f"{len(connected)} Xero organisations are connected; choose one with --tenant: {listed}")


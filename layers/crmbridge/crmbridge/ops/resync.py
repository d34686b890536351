"""`bridgectl resync`: run one deal or invoice through the bridge again, after fixing its data.

- a deal: DealWon(resync=True) on the sync queue, with the won time of its failed record's command
  when there is one, so the worker runs it even though an earlier attempt ended in a recorded
  failure; a deal that already has its invoice gets no second one (the links table says CREATED);
- an invoice: XeroResourceChanged(INVOICE, UPDATE, now), as if Xero had sent a webhook: the worker
  re-reads the invoice and writes its state to the CRM.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from pydantic import ValidationError

from crmbridge.commands import Command, DealWon, QueueMessage, XeroResourceChanged
from crmbridge.ops.common import OpsError, deal_subject, describe_command
from crmbridge.ops.history import Record, sync_record
from crmbridge.ops.target import Target
from crmbridge.sync.records import subject_key

CRMS = ("pipedrive", "hubspot")


@dataclass
class Enqueued:
    message_id: str
    queue_url: str
    label: str
    command: Command
    previous: Record | None
    note: str | None = None


def _send(target: Target, command: Command, previous: Record | None, note: str | None = None) -> Enqueued:
    url = target.queue_url("SyncQueue")
    sent = target.client("sqs").send_message(QueueUrl=url, MessageBody=QueueMessage(command=command).model_dump_json())
    return Enqueued(message_id=sent["MessageId"], queue_url=url, label=describe_command(command), command=command,
                    previous=previous, note=note)


def won_time_of(record: Record | None) -> str | None:
    """The won time of the command a deal's sync record holds (None when there is none)."""
    if record is None or not record.command:
        return None
    try:
        message = DealWon.model_validate_json(record.command)
    except ValidationError:
        return None
    return message.won_time


def resync_deal(target: Target, deal_id: str, *, crm: str) -> Enqueued:
    if crm not in CRMS:
        raise OpsError(f"unknown CRM {crm!r}: use one of {', '.join(CRMS)}")
    previous = sync_record(target, deal_subject(crm, deal_id))
    try:
        command = DealWon(crm=crm, deal_id=deal_id, won_time=won_time_of(previous), resync=True)  # type: ignore[arg-type]
    except ValidationError as exc:
        raise OpsError(f"not a deal id: {deal_id!r}") from exc
    note = None
    if previous is None:
        note = "no sync record for this deal: the worker runs it as a first attempt"
    elif previous.status == "OK":
        note = "this deal synced OK before: the worker finds its invoice and creates no other"
    return _send(target, command, previous, note)


def resync_invoice(target: Target, invoice_id: str, *, tenant_id: str, now: datetime) -> Enqueued:
    try:
        command = XeroResourceChanged(tenant_id=tenant_id, category="INVOICE", resource_id=invoice_id,
                                      event_type="UPDATE", event_date=now)
    except ValidationError as exc:
        raise OpsError(f"not an invoice id or tenant id: {invoice_id!r}, {tenant_id!r}") from exc
    return _send(target, command, sync_record(target, subject_key(command)))

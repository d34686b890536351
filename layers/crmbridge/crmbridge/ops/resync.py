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
from crmbridge.ids import is_xero_guid
from crmbridge.ops.common import OpsError, deal_subject, describe_command
from crmbridge.ops.history import Record, sync_record
from crmbridge.ops.target import Target
from crmbridge.sync.invoicing import LIVE_STATUSES
from crmbridge.sync.links import Links
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


def resync_deal(target: Target, deal_id: str, *, crm: str, reinvoice: bool = False) -> Enqueued:
    if crm not in CRMS:
        raise OpsError(f"unknown CRM {crm!r}: use one of {', '.join(CRMS)}")
    previous = sync_record(target, deal_subject(crm, deal_id))
    try:
        command = DealWon(crm=crm, deal_id=deal_id, won_time=won_time_of(previous), resync=True,  # type: ignore[arg-type]
                          reinvoice=reinvoice)
    except ValidationError as exc:
        raise OpsError(f"not a {crm} deal id: {deal_id!r} (a deal id is a positive whole number, as in the "
                       "deal's URL)") from exc
    if reinvoice:
        return _send(target, command, previous, _reinvoice_note(target, crm, deal_id))
    note = None
    if previous is None:
        note = "no sync record for this deal: the worker runs it as a first attempt"
    elif previous.status == "OK":
        note = "this deal synced OK before: the worker finds its invoice and creates no other"
    return _send(target, command, previous, note)


def _reinvoice_note(target: Target, crm: str, deal_id: str) -> str:
    """Refuse at once what the worker would refuse: a deal without an invoice, or whose invoice is live as
    far as the bridge last heard (the worker asks Xero again before raising the new one)."""
    links = Links(target.table("LinksTable"))
    link = links.invoice_for(crm, deal_id)
    if link is None or not link.invoice_id:
        raise OpsError(f"deal {deal_id} has no invoice to replace: `bridgectl resync deal {deal_id}` invoices it")
    if link.state == "CREATED":
        state = links.invoice_state(link.tenant_id, link.invoice_id)
        if state and state[1] in LIVE_STATUSES:
            raise OpsError(f"deal {deal_id} has invoice {link.invoice_number or link.invoice_id} ({state[1]}): void or "
                           "delete it in Xero first; a deal has one live invoice at most")
    return (f"the worker raises a new invoice once Xero confirms {link.invoice_number or link.invoice_id} is voided or "
            "deleted")


def resync_invoice(target: Target, invoice_id: str, *, tenant_id: str, now: datetime) -> Enqueued:
    # Checked before anything is sent: a mistyped id would otherwise sit on the queue as a message
    # that can never be processed.
    for what, value in (("invoice id", invoice_id), ("tenant id (--tenant)", tenant_id)):
        if not is_xero_guid(value):
            raise OpsError(f"not a Xero {what}: {value!r} (Xero ids are GUIDs such as "
                           "4f2c9a63-54c1-4a4e-9a65-2a1f4f2b3c01; `bridgectl status` lists the tenant ids)")
    command = XeroResourceChanged(tenant_id=tenant_id, category="INVOICE", resource_id=invoice_id,
                                  event_type="UPDATE", event_date=now)
    return _send(target, command, sync_record(target, subject_key(command)))

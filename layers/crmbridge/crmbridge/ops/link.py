"""`bridgectl link invoice INVOICE_ID --deal DEAL_ID`: a person says an invoice the bridge did not create
(raised by hand before the bridge, or by another tool) is a deal's.

A Reference proves nothing, so the bridge never links an invoice by itself; an operator may, with
one check the bridge can make: the invoice is billed to the deal's organisation (its stored Xero
ContactID, or the contact the evidence rules find for it). The deal must be won and have no live
invoice of its own. The invoice is then recorded as the deal's, and its state is written to the deal
and its organisation as if Xero had sent a webhook.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from crmbridge.crm.base import Crm
from crmbridge.errors import PermanentError
from crmbridge.ops.common import OpsError
from crmbridge.ops.resync import Enqueued, resync_invoice
from crmbridge.ops.target import Target
from crmbridge.sync.contacts import resolve_contact
from crmbridge.sync.invoicing import LIVE_STATUSES
from crmbridge.sync.links import Created, Links
from crmbridge.xero.client import XeroClient
from crmbridge.xero.models import ContactRef


@dataclass
class Linked:
    deal_id: str
    invoice_id: str
    invoice_number: str | None
    contact: str
    enqueued: Enqueued


def link_invoice(target: Target, crm: Crm, xero: XeroClient, links: Links, tenant_id: str, invoice_id: str, *,
                 deal_id: str, now: datetime) -> Linked:
    invoice = xero.get_invoice(tenant_id, invoice_id)
    if invoice.type != "ACCREC" or invoice.status not in LIVE_STATUSES:
        raise OpsError(f"invoice {invoice.invoice_number or invoice_id} is a {invoice.status} {invoice.type}: only a "
                       "live sales invoice can be a deal's")
    if (owner := links.deal_for_invoice(tenant_id, invoice.invoice_id)) is not None:
        raise OpsError(f"invoice {invoice.invoice_number} already belongs to deal {owner.deal_id} ({owner.crm})")
    existing = links.invoice_for(crm.name, deal_id)
    if existing is not None and existing.state in ("CREATED", "PENDING"):
        raise OpsError(f"deal {deal_id} has its own invoice {existing.invoice_number or existing.invoice_id or '(being raised)'}:"
                       " a deal has one live invoice at most")
    deal = crm.read_deal(deal_id)
    if deal.status != "won" or deal.organisation is None:
        raise OpsError(f"deal {deal_id} is {deal.status}{'' if deal.organisation else ' and has no organisation'}: "
                       "only a won deal's organisation can be billed")
    org = deal.organisation
    try:
        expected = resolve_contact(xero, tenant_id, deal)
    except PermanentError as exc:
        raise OpsError(f"cannot tell which Xero contact {org.name!r} is ({exc.message})") from exc
    if not (isinstance(expected, ContactRef) and expected.contact_id == invoice.contact.contact_id):
        raise OpsError(f"invoice {invoice.invoice_number} is billed to {invoice.contact.name or invoice.contact.contact_id}"
                       f", not to {org.name!r}'s Xero contact: set the organisation's Xero contact ID first if that "
                       "is who it is")
    links.record_created(crm.name, tenant_id, Created(
        deal_id=deal_id, invoice_id=invoice.invoice_id, invoice_number=invoice.invoice_number,
        contact_id=invoice.contact.contact_id, organisation_id=org.id,
        won_time=deal.won_time.isoformat() if deal.won_time else None,
        deal_won_time=deal.won_time.isoformat() if deal.won_time else None, generation=existing.generation if existing else 0), at=now.isoformat())
    links.link_contact(tenant_id, invoice.contact.contact_id or "", crm=crm.name, organisation_id=org.id,
                       at=now.isoformat())
    if org.xero_contact_id != invoice.contact.contact_id and invoice.contact.contact_id:
        crm.set_organisation_contact(org.id, invoice.contact.contact_id)
    return Linked(deal_id=deal_id, invoice_id=invoice.invoice_id, invoice_number=invoice.invoice_number,
                  contact=invoice.contact.name or org.name,
                  enqueued=resync_invoice(target, invoice.invoice_id, tenant_id=tenant_id, now=now))

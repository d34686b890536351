"""`bridgectl contact use DEAL_ID XERO_CONTACT_ID`: a person settles which Xero contact a deal is
invoiced to, where the evidence named several (`contact_decision_needed` in `bridgectl status`) or
the organisation's stored contact is archived.

The chosen contact must exist in Xero and be live: a merged contact stands for the one it was merged
into, an archived one is refused. Its ContactID is set on the deal's CRM organisation (the strongest
evidence the sync knows, so the organisation's later deals go to it too), the decision is written to
the deal's sync history, and the deal goes back on the sync queue, as `bridgectl resync deal` sends
it, to be invoiced.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

from crmbridge.commands import DealWon
from crmbridge.crm.base import Crm
from crmbridge.ops.common import OpsError
from crmbridge.ops.golive import GoLive
from crmbridge.ops.resync import Enqueued, resync_deal
from crmbridge.ops.target import Target
from crmbridge.sync.contacts import ContactFinder, XeroContactFinder, survivor
from crmbridge.sync.history import SyncHistory


@dataclass
class ContactDecision:
    deal_id: str
    organisation_id: str
    organisation_name: str
    chosen_contact_id: str  # as the operator gave it
    contact_id: str  # set on the organisation: the chosen one, or the one it was merged into
    contact_name: str
    previous_contact_id: str | None
    enqueued: Enqueued

    @property
    def summary(self) -> str:
        merged = (f" (the contact {self.chosen_contact_id} was merged into it)"
                  if self.contact_id != self.chosen_contact_id else "")
        return (f"organisation {self.organisation_name} ({self.organisation_id}) is invoiced to Xero contact "
                f"{self.contact_id} {self.contact_name!r}{merged}")


def use_contact(target: Target, crm: Crm, finder: ContactFinder, deal_id: str, contact_id: str, *,
                now: datetime) -> ContactDecision:
    try:
        command = DealWon(crm=crm.name, deal_id=deal_id, resync=True)  # type: ignore[arg-type]
        chosen_id = str(uuid.UUID(contact_id.strip()))
    except ValueError as exc:  # pydantic's ValidationError is one
        raise OpsError(f"not a deal id and a Xero ContactID: {deal_id!r}, {contact_id!r}") from exc
    deal = crm.read_deal(deal_id)
    org = deal.organisation
    if org is None:
        raise OpsError(f"deal {deal_id} has no organisation: give it one in the CRM, then `bridgectl resync deal`")
    chosen = finder.by_id(chosen_id)
    if chosen is None:
        raise OpsError(f"Xero has no contact {contact_id} in this organisation")
    live = survivor(finder, chosen)
    if live is None:
        raise OpsError(f"the Xero contact {chosen.contact_id} {chosen.name!r} is archived (or merged into one that "
                       "is): restore it in Xero, or choose another")
    crm.set_organisation_contact(org.id, live.contact_id)
    SyncHistory(target.table("SyncHistoryTable")).add(
        command, at=now, outcome="decided",
        summary={"decision": "contact", "xero_contact_id": live.contact_id, "contact_name": live.name,
                 "chosen_contact_id": chosen.contact_id, "organisation_id": org.id,
                 "previous_contact_id": org.xero_contact_id or "-"})
    return ContactDecision(deal_id=deal_id, organisation_id=org.id, organisation_name=org.name,
                           chosen_contact_id=chosen.contact_id, contact_id=live.contact_id, contact_name=live.name,
                           previous_contact_id=org.xero_contact_id,
                           enqueued=resync_deal(target, deal_id, crm=crm.name))


def use_contact_in(bridge: GoLive, deal_id: str, contact_id: str, *, now: datetime) -> ContactDecision:
    """The same, with the deployment's CRM and Xero organisation (the go-live commands' wiring)."""
    assert bridge.target is not None
    return use_contact(bridge.target, bridge.crm, XeroContactFinder(bridge.xero, bridge.tenant_id), deal_id,
                       contact_id, now=now)

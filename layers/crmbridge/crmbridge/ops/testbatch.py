"""`bridgectl test-batch`: invoice a few chosen deals for real, through the sync itself, and say what
to check in Xero before turning on the full sync or a backfill.

Each deal runs through DealWonSync exactly as the worker runs a won deal (links-table claim,
Idempotency-Key, lookup by Reference when uncertain), so a deal that already has its invoice gets
no second one, whether the sync, a backfill or an earlier test batch created it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

from crmbridge.commands import DealWon
from crmbridge.errors import PermanentError, RetryableError
from crmbridge.ops.common import OpsError, ProgressFn, no_progress
from crmbridge.ops.golive import GoLive
from crmbridge.sync.deal_won import DealWonSync, invoice_url
from crmbridge.xero.models import Invoice


@dataclass
class Synced:
    deal_id: str
    outcome: str  # invoiced | already_invoiced | not_won | failed | busy
    invoice_id: str | None = None
    invoice_number: str | None = None
    reason: str | None = None
    message: str | None = None
    url: str | None = None
    contact: str | None = None
    status: str | None = None
    total: str | None = None


@dataclass
class TestBatch:
    tenant_id: str
    results: list[Synced]
    checklist: list[str] = field(default_factory=list)


def pick_deals(golive: GoLive, count: int, *, won_from: datetime | None, won_to: datetime | None) -> list[str]:
    """The first `count` won deals of the period that have no invoice yet."""
    deals = [d.id for d in golive.crm.won_deals(won_from=won_from, won_to=won_to)]
    links = golive.links.invoices_for(golive.crm.name, deals)
    free = [d for d in deals if not (links.get(d) and links[d].state in ("CREATED", "RELEASED"))]
    if not free:
        raise OpsError("no won deal without an invoice in that period")
    return free[:count]


def checklist_for(synced: list[Synced], invoices: dict[str, Invoice], status: str) -> list[str]:
    items = []
    for s in synced:
        invoice = invoices.get(s.deal_id)
        if invoice is None:
            continue
        items.append(
            f"Invoice {invoice.invoice_number} ({invoice_url(invoice.invoice_id)}) for deal {s.deal_id}: contact "
            f"{invoice.contact.name or invoice.contact.contact_id} is the customer you bill (not a duplicate of an "
            f"existing contact); Reference {invoice.reference}; status {invoice.status} (asked {status}); currency "
            f"{invoice.currency_code}; total {invoice.total} with tax {invoice.total_tax} matches the deal; each line's "
            f"account and tax type is what finance expects; due date {invoice.due_date.date() if invoice.due_date else '-'}")
    if items:
        items.append("In the CRM, each deal shows its Xero invoice number, status and link, and its organisation "
                     "the Xero contact ID")
        items.append("Xero sends no email for DRAFT invoices: approve or delete these test invoices in Xero as you "
                     "would any other; the bridge writes the new status back to the deal")
    return items


def test_batch(golive: GoLive, deal_ids: list[str], *, status: str | None = None,
               clock: Callable[[], datetime] = lambda: datetime.now(UTC),
               progress: ProgressFn = no_progress) -> TestBatch:
    chosen = status or golive.settings.invoice_status
    sync = DealWonSync(crm=golive.crm, xero=golive.xero, links=golive.links, mapping=golive.mapping,
                       invoice_status=chosen, tenant_for=lambda command, deal: golive.tenant_id, clock=clock)
    results: list[Synced] = []
    invoices: dict[str, Invoice] = {}
    for done, deal_id in enumerate(deal_ids, start=1):
        try:
            outcome = sync(DealWon(crm=golive.crm.name, deal_id=deal_id))  # type: ignore[arg-type]
        except PermanentError as exc:
            results.append(Synced(deal_id, "failed", reason=exc.reason, message=exc.message))
        except RetryableError as exc:
            results.append(Synced(deal_id, "busy", message=exc.message))
        else:
            result = Synced(deal_id, outcome["outcome"], invoice_id=outcome.get("invoice_id") or None,
                            invoice_number=outcome.get("invoice_number") or None)
            if result.outcome == "invoiced" and result.invoice_id:
                invoice = golive.xero.get_invoice(golive.tenant_id, result.invoice_id)
                invoices[deal_id] = invoice
                result.url, result.status = invoice_url(invoice.invoice_id), invoice.status
                result.contact = invoice.contact.name or invoice.contact.contact_id
                result.total = f"{invoice.currency_code} {invoice.total}"
            elif outcome["outcome"] == "not_won":
                result.message = f"the deal is {outcome.get('deal_status')}"
            results.append(result)
        progress(done, len(deal_ids))
    return TestBatch(tenant_id=golive.tenant_id, results=results, checklist=checklist_for(results, invoices, chosen))

"""`bridgectl dry-run`: the exact invoices the sync would create for some deals, creating nothing.

Each deal goes through the sync's own steps (read the deal, resolve the Xero contact, build the
invoice with the mapping document) with reads only; the totals are computed as Xero computes them
(mapping.totals) from the organisation's tax rates. Nothing is written to Xero, the CRM or the links
table: a deal that already has its invoice is reported as such.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal

from crmbridge.crm.models import CrmDeal
from crmbridge.errors import PermanentError
from crmbridge.mapping.invoice import build_invoice
from crmbridge.mapping.totals import InvoiceTotals, invoice_totals
from crmbridge.ops.common import ProgressFn, no_progress
from crmbridge.ops.golive import GoLive
from crmbridge.sync.contacts import ContactFinder, XeroContactFinder, resolve_contact_with
from crmbridge.xero.models import ContactRef, NewContact, NewInvoice


@dataclass
class PreviewLine:
    description: str
    quantity: Decimal
    unit_amount: Decimal
    account_code: str | None
    item_code: str | None
    tax_type: str
    tax_rate: Decimal
    discount: str | None
    line_amount: Decimal
    tax_amount: Decimal


@dataclass
class Preview:
    """What the sync would do with one deal: an invoice (outcome "would_create"), or why not."""

    deal_id: str
    title: str | None
    outcome: str  # would_create | already_invoiced | not_won | would_fail | not_found
    reason: str | None = None
    message: str | None = None
    contact: str | None = None  # "existing <name> (<ContactID>)" or "new contact <name>"
    reference: str | None = None
    currency: str | None = None
    status: str | None = None
    invoice_date: date | None = None
    due_date: date | None = None
    line_amount_types: str | None = None
    lines: list[PreviewLine] = field(default_factory=list)
    sub_total: Decimal | None = None
    total_tax: Decimal | None = None
    total: Decimal | None = None
    invoice_id: str | None = None  # the existing invoice, when already invoiced


@dataclass
class DryRun:
    tenant_id: str
    previews: list[Preview]

    @property
    def would_create(self) -> int:
        return sum(1 for p in self.previews if p.outcome == "would_create")


def tax_rate_table(golive: GoLive) -> dict[str, Decimal]:
    return {rate.tax_type: rate.effective_rate for rate in golive.xero.tax_rates(golive.tenant_id)}


def describe_contact(contact: ContactRef | NewContact, names: dict[str, str]) -> str:
    if isinstance(contact, NewContact):
        return f"new contact {contact.name}" + (f" <{contact.email_address}>" if contact.email_address else "")
    name = names.get(contact.contact_id or "")
    return f"existing {name} ({contact.contact_id})" if name else f"existing contact {contact.contact_id}"


def preview_invoice(deal: CrmDeal, invoice: NewInvoice, totals: InvoiceTotals, contact: str) -> Preview:
    lines = []
    for item, figures in zip(invoice.line_items, totals.lines, strict=True):
        discount = (f"{item.discount_rate}%" if item.discount_rate is not None
                    else str(item.discount_amount) if item.discount_amount is not None else None)
        lines.append(PreviewLine(
            description=item.description, quantity=figures.quantity, unit_amount=figures.unit_amount,
            account_code=item.account_code, item_code=item.item_code, tax_type=item.tax_type,
            tax_rate=figures.tax_rate, discount=discount, line_amount=figures.line_amount,
            tax_amount=figures.tax_amount,
        ))
    return Preview(
        deal_id=deal.id, title=deal.title, outcome="would_create", contact=contact, reference=invoice.reference,
        currency=invoice.currency_code, status=invoice.status, invoice_date=invoice.invoice_date,
        due_date=invoice.due_date, line_amount_types=invoice.line_amount_types, lines=lines,
        sub_total=totals.sub_total, total_tax=totals.total_tax, total=totals.total,
    )


def preview_deal(deal: CrmDeal, *, finder: ContactFinder, golive: GoLive, rates: dict[str, Decimal],
                 names: dict[str, str], status: str, today: date) -> Preview:
    """The invoice the sync would build for this deal (reads only)."""
    if deal.status != "won":
        return Preview(deal_id=deal.id, title=deal.title, outcome="not_won",
                       message=f"the deal is {deal.status}: the sync invoices won deals only")
    try:
        contact = resolve_contact_with(finder, deal) if deal.organisation else ContactRef()
        invoice = build_invoice(deal, contact=contact, config=golive.mapping, status=status, today=today)
        totals = invoice_totals(invoice, rates)
    except PermanentError as exc:
        return Preview(deal_id=deal.id, title=deal.title, outcome="would_fail", reason=exc.reason, message=exc.message)
    if isinstance(contact, ContactRef) and contact.contact_id and contact.contact_id not in names:
        names[contact.contact_id] = golive.xero.get_contact(golive.tenant_id, contact.contact_id).name
    return preview_invoice(deal, invoice, totals, describe_contact(contact, names))


def dry_run(golive: GoLive, deal_ids: list[str], *, today: date, status: str | None = None,
            progress: ProgressFn = no_progress) -> DryRun:
    crm_name = golive.crm.name
    links = golive.links.invoices_for(crm_name, deal_ids)
    deals = {d.id: d for d in golive.crm.read_deals(deal_ids)}
    finder = XeroContactFinder(golive.xero, golive.tenant_id)
    rates = tax_rate_table(golive)
    names: dict[str, str] = {}
    previews = []
    for done, deal_id in enumerate(deal_ids, start=1):
        link = links.get(deal_id)
        deal = deals.get(deal_id)
        if link and link.state == "CREATED":
            previews.append(Preview(deal_id=deal_id, title=deal.title if deal else None, outcome="already_invoiced",
                                    invoice_id=link.invoice_id,
                                    message=f"invoice {link.invoice_number or link.invoice_id} exists: nothing to create"))
        elif deal is None:
            previews.append(Preview(deal_id=deal_id, title=None, outcome="not_found",
                                    message="the CRM has no such deal"))
        else:
            previews.append(preview_deal(deal, finder=finder, golive=golive, rates=rates, names=names,
                                         status=status or golive.settings.invoice_status, today=today))
        progress(done, len(deal_ids))
    return DryRun(tenant_id=golive.tenant_id, previews=previews)

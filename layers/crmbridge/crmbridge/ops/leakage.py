"""Revenue leakage: won deals nobody billed, invoices whose deal is gone, and amounts that disagree.

Compares three sources: the CRM's won deals of a period (crm.directory), the links table (what the
bridge created) and Xero's sales invoices. Findings:
- won_without_invoice: a deal won before the grace period began that has no live invoice of the bridge's
  (none recorded, or its invoice was voided or deleted): a dropped webhook, a failed sync nobody
  re-ran, a deal won while the bridge was off;
- invoice_without_deal: a live invoice the bridge links to a deal that is no longer won or no longer
  exists, among all the organisation's sales invoices (a lost deal has no won date to put it in a period);
- invoice_naming_deal: a live invoice the bridge did not create whose Reference names a won deal (a
  customer's PO number, or an invoice raised by hand): reported, never linked, since a Reference proves
  nothing; `bridgectl link invoice` links it when a person says it is the deal's;
- amount_mismatch: a won deal's invoice whose total or currency differs from what the sync would invoice
  for the deal today (its lines through the mapping, totalled as Xero does; the deal's value when its
  lines cannot be mapped), beyond a tolerance.
Run on demand (`bridgectl leakage`) and on a schedule (functions/leakage_check: metric LeakageFound).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

from crmbridge.crm.directory import DealSummary
from crmbridge.crm.models import CrmDeal
from crmbridge.errors import PermanentError
from crmbridge.mapping.invoice import build_invoice
from crmbridge.mapping.totals import invoice_totals
from crmbridge.ops.common import ProgressFn, no_progress
from crmbridge.ops.golive import GoLive
from crmbridge.sync.invoicing import LIVE_STATUSES as LIVE
from crmbridge.xero.models import ContactRef, Invoice

KINDS = ("won_without_invoice", "invoice_without_deal", "invoice_naming_deal", "amount_mismatch")


@dataclass
class Finding:
    kind: str
    deal_id: str | None
    invoice_id: str | None = None
    invoice_number: str | None = None
    detail: str = ""
    deal_amount: Decimal | None = None
    invoice_amount: Decimal | None = None


@dataclass
class LeakageReport:
    tenant_id: str
    won_from: datetime | None
    won_to: datetime
    deals_checked: int = 0
    invoices_checked: int = 0
    findings: list[Finding] = field(default_factory=list)

    def count(self, kind: str) -> int:
        return sum(1 for f in self.findings if f.kind == kind)

    @property
    def counts(self) -> dict[str, int]:
        return {kind: self.count(kind) for kind in KINDS}


def expected_total(deal: CrmDeal, golive: GoLive, rates: dict[str, Decimal], today: date) -> tuple[Decimal, str]:
    """What the sync would invoice for this deal now (total, how it was worked out)."""
    try:
        invoice = build_invoice(deal, contact=ContactRef(ContactID="-"), config=golive.mapping,
                                status="DRAFT", today=today)
        return invoice_totals(invoice, rates).total, "the deal's lines through the mapping"
    except PermanentError:
        return deal.value, "the deal's value"


@dataclass
class Leakage:
    golive: GoLive
    tolerance: Decimal = Decimal("0.01")
    grace: timedelta = timedelta(hours=1)  # the live sync may still be invoicing deals won this recently
    clock: Callable[[], datetime] = lambda: datetime.now(UTC)

    def run(self, *, won_from: datetime | None = None, won_to: datetime | None = None,
            progress: ProgressFn = no_progress) -> LeakageReport:
        golive = self.golive
        now = self.clock()
        until = min(won_to, now - self.grace) if won_to else now - self.grace
        report = LeakageReport(tenant_id=golive.tenant_id, won_from=won_from, won_to=until)
        won = {d.id: d for d in golive.crm.won_deals(won_from=won_from, won_to=until)}
        report.deals_checked = len(won)
        progress(1, 4)
        links = golive.links.invoices_for(golive.crm.name, list(won))
        invoices = golive.xero.sales_invoices(golive.tenant_id)
        report.invoices_checked = len(invoices)
        by_id = {i.invoice_id: i for i in invoices}
        progress(2, 4)

        invoiced: dict[str, Invoice] = {}
        for deal_id, deal in won.items():
            link = links.get(deal_id)
            linked = by_id.get(link.invoice_id or "") if link and link.state in ("CREATED", "RELEASED") else None
            if linked is not None and linked.status in LIVE:
                invoiced[deal_id] = linked
                continue
            detail = (f"its invoice {linked.invoice_number or linked.invoice_id} is {linked.status}" if linked
                      else "no Xero invoice the bridge created")
            report.findings.append(Finding("won_without_invoice", deal_id, detail=f"{_deal_label(deal)}: {detail}",
                                           deal_amount=deal.value))

        self._invoices_without_deal(invoices, won, report)
        self._invoices_naming_deals(invoices, won, report)
        progress(3, 4)
        self._amounts(invoiced, report, today=now.date())
        progress(4, 4)
        return report

    def _invoices_without_deal(self, invoices: list[Invoice], won: dict[str, DealSummary],
                               report: LeakageReport) -> None:
        golive = self.golive
        live = [i for i in invoices if i.status in LIVE]
        linked = golive.links.deals_for_invoices(golive.tenant_id, [i.invoice_id for i in live])
        claims: dict[str, str] = {}  # invoice id -> the deal it is for
        for invoice in live:
            ref = linked.get(invoice.invoice_id)
            if ref is not None and ref.crm == golive.crm.name:
                claims[invoice.invoice_id] = ref.deal_id
        unknown = sorted({d for d in claims.values() if d not in won})
        if not unknown:
            return
        found = {d.id: d for d in golive.crm.read_deals(unknown)}
        for invoice in live:
            deal_id = claims.get(invoice.invoice_id)
            if deal_id is None or deal_id in won:
                continue
            deal = found.get(deal_id)
            if deal is not None and deal.status == "won":
                continue  # won outside the period checked
            why = f"deal {deal_id} is {deal.status}" if deal else f"deal {deal_id} no longer exists in the CRM"
            report.findings.append(Finding("invoice_without_deal", deal_id, invoice.invoice_id, invoice.invoice_number,
                                           detail=f"{invoice.status} invoice {invoice.invoice_number}: {why}",
                                           invoice_amount=invoice.total))

    def _invoices_naming_deals(self, invoices: list[Invoice], won: dict[str, DealSummary],
                               report: LeakageReport) -> None:
        golive = self.golive
        naming = [i for i in invoices if i.status in LIVE and (i.reference or "").strip() in won]
        linked = golive.links.deals_for_invoices(golive.tenant_id, [i.invoice_id for i in naming])
        for invoice in naming:
            if invoice.invoice_id in linked:
                continue
            deal_id = (invoice.reference or "").strip()
            report.findings.append(Finding(
                "invoice_naming_deal", deal_id, invoice.invoice_id, invoice.invoice_number,
                detail=(f"an invoice naming deal {deal_id} that the bridge did not create: {invoice.status} invoice "
                        f"{invoice.invoice_number} to {invoice.contact.name or invoice.contact.contact_id}; nothing "
                        f"was changed (`bridgectl link invoice {invoice.invoice_id} --deal {deal_id}` if it is "
                        "that deal's)"),
                invoice_amount=invoice.total))

    def _amounts(self, invoiced: dict[str, Invoice], report: LeakageReport, *, today: date) -> None:
        if not invoiced:
            return
        golive = self.golive
        rates = {rate.tax_type: rate.effective_rate for rate in golive.xero.tax_rates(golive.tenant_id)}
        for deal in golive.crm.read_deals(sorted(invoiced)):
            invoice = invoiced[deal.id]
            if invoice.currency_code and invoice.currency_code != deal.currency:
                report.findings.append(Finding(
                    "amount_mismatch", deal.id, invoice.invoice_id, invoice.invoice_number,
                    detail=f"deal in {deal.currency}, invoice {invoice.invoice_number} in {invoice.currency_code}",
                    deal_amount=deal.value, invoice_amount=invoice.total))
                continue
            expected, basis = expected_total(deal, golive, rates, today)
            if invoice.total is None or abs(expected - invoice.total) > self.tolerance:
                report.findings.append(Finding(
                    "amount_mismatch", deal.id, invoice.invoice_id, invoice.invoice_number,
                    detail=f"{_deal_label(deal)}: {deal.currency} {expected} by {basis}, invoice "
                           f"{invoice.invoice_number} totals {invoice.total}",
                    deal_amount=expected, invoice_amount=invoice.total))


def _deal_label(deal: DealSummary | CrmDeal) -> str:
    won = deal.won_time.date().isoformat() if deal.won_time else "?"
    return f"{deal.title} (won {won}, {deal.currency} {deal.value})"

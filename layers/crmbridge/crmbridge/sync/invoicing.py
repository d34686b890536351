"""What every path that raises a deal's invoice agrees on (the worker, test-batch, backfill).

- one list of live statuses, one claim lease;
- the Idempotency-Key of a deal's invoice, with a generation that grows when a voided invoice
  releases the deal, so the new request is not answered with the old invoice;
- proof: an invoice found by Reference belongs to a deal only when its contact and lines are the
  ones the bridge built for that deal. A Reference alone (a customer's PO number can equal a deal
  id) proves nothing.
"""

from __future__ import annotations

import hashlib
from collections import Counter
from collections.abc import Callable, Sequence
from decimal import Decimal
from typing import Protocol

from crmbridge.mapping.contacts import normalise_company_name
from crmbridge.xero.models import ContactRef, Invoice, LineItem, NewContact, NewInvoice

LIVE_STATUSES = frozenset({"DRAFT", "SUBMITTED", "AUTHORISED", "PAID"})
# A voided or deleted invoice no longer bills anyone: its deal may be invoiced again, on request.
RELEASED_STATUSES = frozenset({"VOIDED", "DELETED"})
# How long a claim protects a creation in progress. Longer than the worker's timeout and than a
# backfill batch's wait for Xero's minute limit; a failed attempt gives its claim up at once.
CLAIM_LEASE_SECONDS = 300


def invoice_idempotency_key(tenant_id: str, crm: str, deal_id: str, generation: int = 0) -> str:
    """Stable across retries and workers: the same deal in the same organisation, always the same key.
    Generation 0 keeps the key earlier versions sent, so their unsettled attempts still replay."""
    suffix = f":{generation}" if generation else ""
    return hashlib.sha256(f"invoice:{tenant_id}:{crm}:{deal_id}{suffix}".encode()).hexdigest()


def _amount(value: Decimal | None) -> Decimal | None:
    return None if value is None else value.normalize()


def _line_print(line: LineItem) -> tuple[object, ...]:
    return (line.description.strip(), _amount(line.quantity), _amount(line.unit_amount), line.account_code or None,
            line.item_code or None, line.tax_type, _amount(line.discount_rate) or None,
            _amount(line.discount_amount) or None)


def same_contact(found: ContactRef, built: ContactRef | NewContact) -> bool:
    if isinstance(built, ContactRef) and built.contact_id:
        return found.contact_id == built.contact_id
    # Created along with the invoice: Xero gave it a new id, but it carries the name we sent.
    wanted = normalise_company_name(built.name or "")
    return bool(wanted) and normalise_company_name(found.name or "") == wanted


def proves(found: Invoice, built: NewInvoice) -> bool:
    """Is `found` the invoice the bridge built (`built`), rather than one that merely shares its Reference?"""
    return (found.type == "ACCREC" and found.status in LIVE_STATUSES
            and (found.reference or "").strip() == built.reference.strip()
            and (found.currency_code or built.currency_code) == built.currency_code
            and same_contact(found.contact, built.contact)
            and Counter(map(_line_print, found.line_items)) == Counter(map(_line_print, built.line_items)))


class InvoiceReader(Protocol):
    def invoices_by_references(self, tenant_id: str, references: Sequence[str]) -> list[Invoice]: ...
    def get_invoice(self, tenant_id: str, invoice_id: str) -> Invoice: ...


def find_proven(xero: InvoiceReader, tenant_id: str, requests: Sequence[NewInvoice], *,
                call: Callable[[Callable[[], object]], object] = lambda thunk: thunk()) -> dict[str, Invoice]:
    """The invoices earlier attempts created from these very requests, by Reference: one lookup for all of
    them, and a read of each candidate whose listing left its lines out. `call` wraps each Xero call
    (the backfill paces them)."""
    wanted = {request.reference: request for request in requests}
    found: dict[str, Invoice] = {}
    candidates: list[Invoice] = call(lambda: xero.invoices_by_references(tenant_id, list(wanted)))  # type: ignore[assignment]
    for candidate in candidates:
        request = wanted.get(candidate.reference or "")
        if request is None or candidate.reference in found or candidate.status not in LIVE_STATUSES:
            continue
        if not candidate.line_items:
            candidate = call(lambda c=candidate: xero.get_invoice(tenant_id, c.invoice_id))  # type: ignore[assignment]
        if proves(candidate, request):
            found[request.reference] = candidate
    return found

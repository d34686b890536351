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
from decimal import Decimal

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

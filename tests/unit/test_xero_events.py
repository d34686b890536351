"""What a Xero event costs the worker: the CREATE of an invoice the bridge made costs no Xero call (the
worker shares the organisation's 60 calls a minute with backfills); changes are read."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from crmbridge.commands import XeroResourceChanged
from crmbridge.mapping.config import load_mapping
from crmbridge.sync.links import DealRef
from crmbridge.sync.xero_changes import XeroChangeSync

BY_HAND = "2c8f3a4b-5d6e-4f7a-9b0c-1d2e3f4a5b6c"
LINKED = {"1b7e2f3a-4c5d-4e6f-8a9b-0c1d2e3f4a5b": DealRef(crm="pipedrive", deal_id="7", organisation_id="3")}


class RecordedStates:
    def __init__(self, states: dict[str, tuple[str, str]]) -> None:
        self.states = states

    def invoice_state(self, tenant_id: str, invoice_id: str) -> tuple[str, str] | None:
        return self.states.get(invoice_id)

    def deal_for_invoice(self, tenant_id: str, invoice_id: str) -> DealRef | None:
        return LINKED.get(invoice_id)


class OneWriterAtATime:
    """The lease of sync.serial, uncontended."""

    def run(self, key, work) -> str:
        work()
        return "done"


class XeroCallsCounted:
    def __init__(self) -> None:
        self.calls: list[str] = []

    def get_invoice(self, tenant_id: str, invoice_id: str):
        self.calls.append(invoice_id)
        raise LookupError("the test only counts the call")


def event(event_type: str, invoice_id: str = "1b7e2f3a-4c5d-4e6f-8a9b-0c1d2e3f4a5b") -> XeroResourceChanged:
    return XeroResourceChanged(tenant_id="8f2c1e9a-0b6d-4c1e-9a4b-3f5e6d7c8b9a", category="INVOICE", resource_id=invoice_id, event_type=event_type,
                               event_date=datetime(2026, 11, 24, 10, tzinfo=UTC))


DRAFT_WRITTEN_BACK = {"1b7e2f3a-4c5d-4e6f-8a9b-0c1d2e3f4a5b": ("2026-11-24T10:00:00+00:00", "DRAFT")}


def sync(xero: XeroCallsCounted, states: dict[str, tuple[str, str]]) -> XeroChangeSync:
    return XeroChangeSync(crm=None, xero=xero, links=RecordedStates(states), mapping=load_mapping(None),  # type: ignore[arg-type]
                          serial=OneWriterAtATime())  # type: ignore[arg-type]


def test_create_event_of_a_draft_the_bridge_created_and_wrote_back_costs_no_xero_call():
    xero = XeroCallsCounted()

    result = sync(xero, DRAFT_WRITTEN_BACK)(event("CREATE"))

    assert result == {"outcome": "stale", "invoice_id": "1b7e2f3a-4c5d-4e6f-8a9b-0c1d2e3f4a5b"}
    assert xero.calls == []


@pytest.mark.parametrize(("event_type", "states"), [
    ("UPDATE", DRAFT_WRITTEN_BACK),  # a change after the bridge created it
    ("CREATE", {}),  # created by the bridge but not yet written back (e.g. AUTHORISED): balances move
])
def test_other_invoice_events_read_the_invoice(event_type, states):
    xero = XeroCallsCounted()

    with pytest.raises(LookupError):
        sync(xero, states)(event(event_type))

    assert xero.calls == ["1b7e2f3a-4c5d-4e6f-8a9b-0c1d2e3f4a5b"]


def test_contact_creation_costs_no_xero_call():
    xero = XeroCallsCounted()
    created = XeroResourceChanged(tenant_id="8f2c1e9a-0b6d-4c1e-9a4b-3f5e6d7c8b9a", category="CONTACT", resource_id="3d9a4b5c-6e7f-4a8b-8c1d-2e3f4a5b6c7d", event_type="CREATE",
                                  event_date=datetime(2026, 11, 24, 10, tzinfo=UTC))

    result = sync(xero, {})(created)

    assert result["outcome"] == "ignored"
    assert xero.calls == []


def test_an_invoice_the_bridge_did_not_create_is_read_for_its_contact_only():
    # Given an invoice raised by hand in Xero (its Reference may be a PO number equal to a deal id)
    xero = XeroCallsCounted()

    # When Xero says it was created, the invoice is read (its contact's balance may have moved) ...
    with pytest.raises(LookupError):
        sync(xero, {})(event("CREATE", invoice_id=BY_HAND))

    # ... and that read is all: no deal is looked up by its Reference (the CRM is never called: crm=None)
    assert xero.calls == [BY_HAND]

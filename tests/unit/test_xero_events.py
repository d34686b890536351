"""What a Xero event costs the worker: the CREATE of an invoice the bridge made costs no Xero call (the
worker shares the organisation's 60 calls a minute with backfills); changes are read."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from crmbridge.commands import XeroResourceChanged
from crmbridge.mapping.config import load_mapping
from crmbridge.sync.xero_changes import XeroChangeSync


class RecordedStates:
    def __init__(self, states: dict[str, tuple[str, str]]) -> None:
        self.states = states

    def invoice_state(self, tenant_id: str, invoice_id: str) -> tuple[str, str] | None:
        return self.states.get(invoice_id)


class XeroCallsCounted:
    def __init__(self) -> None:
        self.calls: list[str] = []

    def get_invoice(self, tenant_id: str, invoice_id: str):
        self.calls.append(invoice_id)
        raise LookupError("the test only counts the call")


def event(event_type: str, invoice_id: str = "inv-1") -> XeroResourceChanged:
    return XeroResourceChanged(tenant_id="t-1", category="INVOICE", resource_id=invoice_id, event_type=event_type,
                               event_date=datetime(2026, 11, 24, 10, tzinfo=UTC))


DRAFT_WRITTEN_BACK = {"inv-1": ("2026-11-24T10:00:00+00:00", "DRAFT")}


def sync(xero: XeroCallsCounted, states: dict[str, tuple[str, str]]) -> XeroChangeSync:
    return XeroChangeSync(crm=None, xero=xero, links=RecordedStates(states), mapping=load_mapping(None))  # type: ignore[arg-type]


def test_create_event_of_a_draft_the_bridge_created_and_wrote_back_costs_no_xero_call():
    xero = XeroCallsCounted()

    result = sync(xero, DRAFT_WRITTEN_BACK)(event("CREATE"))

    assert result == {"outcome": "stale", "invoice_id": "inv-1"}
    assert xero.calls == []


@pytest.mark.parametrize(("event_type", "states"), [
    ("UPDATE", DRAFT_WRITTEN_BACK),  # a change after the bridge created it
    ("CREATE", {}),  # raised in Xero (it may name a deal in its Reference), or created AUTHORISED: balances move
])
def test_other_invoice_events_read_the_invoice(event_type, states):
    xero = XeroCallsCounted()

    with pytest.raises(LookupError):
        sync(xero, states)(event(event_type))

    assert xero.calls == ["inv-1"]


def test_contact_creation_costs_no_xero_call():
    xero = XeroCallsCounted()
    created = XeroResourceChanged(tenant_id="t-1", category="CONTACT", resource_id="c-1", event_type="CREATE",
                                  event_date=datetime(2026, 11, 24, 10, tzinfo=UTC))

    result = sync(xero, {})(created)

    assert result["outcome"] == "ignored"
    assert xero.calls == []

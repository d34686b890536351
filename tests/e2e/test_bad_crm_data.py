"""Bad CRM data through the whole stack: a recorded failure naming the field and value on the first
attempt, never an invoice Xero should not have; text too long for Xero is shortened visibly and said so."""

from __future__ import annotations

import uuid

import pytest

from local.demo import wait_for
from tests.e2e.flow import invoice_number, line, only, seed_deal, sync_record, the_invoice, win

pytestmark = pytest.mark.e2e


def org() -> dict:
    return {"name": f"Careless {uuid.uuid4().hex[:6]} Ltd"}


def test_a_negative_price_is_a_recorded_failure_naming_the_line_and_no_invoice_is_made(flow):
    # Given a deal whose second line has a negative price
    deal_id, _ = seed_deal(flow["crm"], org=org(), lines=[line("100.00"), line("-120.00", 5, name="Refund")])
    # When it is won
    win(flow, deal_id)
    record = wait_for("the failure record", lambda: sync_record(flow, deal_id), timeout=30)
    # Then the failure says which line and which price, and Xero has no invoice for the deal
    assert (record["status"], record["reason"]) == ("FAILED", "negative_price")
    assert "line 2 ('Refund')" in record["message"] and "-120" in record["message"]
    assert flow["xero"].invoices(str(deal_id)) == []


def test_a_5250_character_comment_is_shortened_with_an_ellipsis_and_the_shortening_recorded(flow):
    only(flow, "pipedrive")  # the HubSpot driver seeds no line comments
    # Given a deal line whose comments make a description of more than 4,000 characters
    deal_id, _ = seed_deal(flow["crm"], org=org(), lines=[line("100.00", comments="c" * 5250)])
    # When it is won
    win(flow, deal_id)
    invoice_number(flow, deal_id)
    # Then the invoice's description ends in an ellipsis within Xero's limit, and the deal's record says so
    [item] = the_invoice(flow, deal_id)["LineItems"]
    assert item["Description"].endswith("…") and len(item["Description"]) == 4000
    record = wait_for("the OK record", lambda: (r := sync_record(flow, deal_id)) and r["status"] == "OK" and r,
                      timeout=30)
    assert "line 1 description shortened from 5258 to 4000 characters" in record["notes"]

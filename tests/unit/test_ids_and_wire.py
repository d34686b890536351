"""Identifiers are checked where they enter, before any URL is built; requests to Xero carry its wire
format (JSON numbers, If-Modified-Since with its offset, `where` only for values its syntax can carry)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from datetime import UTC, date, datetime
from decimal import Decimal

import httpx
import pytest
from pydantic import ValidationError

from crmbridge.commands import DealWon, XeroResourceChanged
from crmbridge.errors import PermanentError
from crmbridge.ops.common import OpsError
from crmbridge.ops.resync import resync_invoice
from crmbridge.secrets import XeroWebhookKey
from crmbridge.webhooks.http import WebhookRequest
from crmbridge.webhooks.hubspot import HUBSPOT_EVENTS, deal_won_candidates
from crmbridge.webhooks.pipedrive import PipedriveWebhook, deal_won_command
from crmbridge.webhooks.service import receive_xero
from crmbridge.xero.client import XeroClient
from crmbridge.xero.models import ContactRef, LineItem, NewInvoice
from tests.unit.test_ops_fakes import FakeQueue, FakeSqs, fake_target

TENANT = "6f1c3a52-3f43-4b8e-9d0f-6d1a1c2b7e10"
INVOICE = "4f2c9a63-54c1-4a4e-9a65-2a1f4f2b3c01"
NOW = datetime(2026, 12, 7, 9, 30, tzinfo=UTC)


class Tokens:
    def access_token(self, tenant_id: str) -> str:
        return "token"

    def expired(self, tenant_id: str, token: str) -> None:
        raise AssertionError("no token expires here")


class Recorder:
    """Xero as a list of the requests it received, answering each with `answer(request)`."""

    def __init__(self, answer=lambda request: {"Invoices": []}) -> None:
        self.requests: list[httpx.Request] = []
        self._answer = answer

    def client(self) -> XeroClient:
        def handle(request: httpx.Request) -> httpx.Response:
            self.requests.append(request)
            return httpx.Response(200, json=self._answer(request))
        return XeroClient(httpx.Client(transport=httpx.MockTransport(handle)), "https://xero.test/api.xro/2.0", Tokens())


def invoice_answer(reference: str, invoice_id: str = INVOICE) -> dict:
    return {"InvoiceID": invoice_id, "Type": "ACCREC", "Status": "DRAFT", "Reference": reference,
            "Contact": {"ContactID": TENANT}}


# Ids at the client --------------------------------------------------------------------------------

@pytest.mark.parametrize("call", [lambda x: x.get_contact(TENANT, "../Contacts"),
                                  lambda x: x.get_invoice(TENANT, "../Invoices?page=1")])
def test_the_client_refuses_a_path_id_that_is_not_a_guid_without_calling_xero(call):
    xero = Recorder()
    with pytest.raises(PermanentError) as caught:
        call(xero.client())
    assert caught.value.reason == "invalid_xero_id" and "not a Xero id" in caught.value.message
    assert xero.requests == []


# Ids in commands, webhooks and the CLI ------------------------------------------------------------

@pytest.mark.parametrize("deal_id", ["0", "007", "-1", "1.5", "../deals", "12 ", ""])
def test_a_deal_id_that_is_not_a_positive_whole_number_makes_no_command(deal_id):
    with pytest.raises(ValidationError, match="not a CRM deal id"):
        DealWon(crm="pipedrive", deal_id=deal_id)


def test_a_xero_resource_id_that_is_not_a_guid_makes_no_command():
    with pytest.raises(ValidationError, match="not a Xero id"):
        XeroResourceChanged(tenant_id=TENANT, category="CONTACT", resource_id="../Contacts", event_type="UPDATE",
                            event_date=NOW)


def signed_xero_request(body: dict) -> WebhookRequest:
    raw = json.dumps(body).encode()
    signature = base64.b64encode(hmac.new(b"key", raw, hashlib.sha256).digest()).decode()
    return WebhookRequest(method="POST", url="https://bridge.test/webhooks/xero", path="/webhooks/xero",
                          headers={"x-xero-signature": signature}, body=raw)


def xero_event(resource_id: str, tenant_id: str = TENANT) -> dict:
    return {"resourceUrl": f"https://api.xero.com/api.xro/2.0/Contacts/{resource_id}", "resourceId": resource_id,
            "eventDateUtc": "2026-12-07T09:30:00.000", "eventType": "UPDATE", "eventCategory": "CONTACT",
            "tenantId": tenant_id, "tenantType": "ORGANISATION"}


def test_a_signed_xero_payload_with_one_bad_event_still_enqueues_the_good_ones():
    # Given a signed payload: one event for ../Contacts, one with a bad tenant, one genuine
    queue = FakeQueue()
    request = signed_xero_request({"events": [xero_event("../Contacts"), xero_event(INVOICE, tenant_id="t1"),
                                              xero_event(INVOICE)],
                                   "firstEventSequence": 1, "lastEventSequence": 3, "entropy": "x"})
    # When received
    response = receive_xero(request, XeroWebhookKey(webhook_key="key"), queue)  # type: ignore[arg-type]
    # Then only the genuine one is enqueued; the others are counted as dropped
    assert (response.status, response.outcome, response.enqueued, response.dropped) == (200, "accepted", 1, 2)
    assert [c.resource_id for c in queue.sent] == [INVOICE]


def test_a_signed_xero_payload_whose_only_event_is_bad_enqueues_nothing_and_is_no_handshake():
    queue = FakeQueue()
    response = receive_xero(signed_xero_request({"events": [xero_event("../Contacts")]}),
                            XeroWebhookKey(webhook_key="key"), queue)  # type: ignore[arg-type]
    assert (response.outcome, response.dropped, queue.sent) == ("ignored", 1, [])


def test_a_pipedrive_webhook_whose_deal_id_is_not_a_number_is_dropped():
    hook = PipedriveWebhook.model_validate({"meta": {"action": "create", "entity": "deal", "entity_id": "../1"},
                                            "data": {"id": "../1", "status": "won"}})
    assert deal_won_command(hook) is None


def test_a_hubspot_event_whose_object_id_is_not_digits_is_dropped_and_the_others_kept():
    events = HUBSPOT_EVENTS.validate_python([
        {"occurredAt": 1, "subscriptionType": "deal.propertyChange", "objectId": "12/../34",
         "propertyName": "dealstage", "propertyValue": "closedwon"},
        {"occurredAt": 2, "subscriptionType": "deal.propertyChange", "objectId": 55,
         "propertyName": "dealstage", "propertyValue": "closedwon"}])
    assert [c.deal_id for c in deal_won_candidates(events)] == ["55"]


def test_resync_invoice_with_a_mistyped_tenant_is_refused_before_anything_is_enqueued():
    sqs = FakeSqs("sync", "dlq")
    with pytest.raises(OpsError, match=r"not a Xero tenant id \(--tenant\): 'demo-company'"):
        resync_invoice(fake_target(sqs), INVOICE, tenant_id="demo-company", now=NOW)
    assert sqs.bodies("sync") == []


# Wire format ----------------------------------------------------------------------------------------

def new_invoice(**line) -> NewInvoice:
    item = LineItem(Description="Consulting", AccountCode="200", TaxType="OUTPUT2", **line)
    return NewInvoice(Contact=ContactRef(ContactID=TENANT), Date=date(2026, 12, 7), DueDate=date(2027, 1, 6),
                      Reference="101", CurrencyCode="GBP", LineAmountTypes="Exclusive", LineItems=[item])


def test_numbers_go_to_xero_as_json_numbers_with_their_exact_digits():
    # Given a line of 0.1 x 1234567.8901 with a 12.5% discount
    xero = Recorder(lambda request: {"Invoices": [invoice_answer("101")]})
    invoice = new_invoice(Quantity=Decimal("0.1"), UnitAmount=Decimal("1234567.8901"), DiscountRate=Decimal("12.5"))
    # When created
    xero.client().create_invoice(TENANT, invoice, idempotency_key="k")
    # Then the body's numbers are JSON numbers, digit for digit
    [request] = xero.requests
    assert request.headers["content-type"] == "application/json"
    raw = request.content.decode()
    assert '"Quantity":0.1' in raw and '"UnitAmount":1234567.8901' in raw and '"DiscountRate":12.5' in raw
    line = json.loads(raw, parse_float=Decimal)["Invoices"][0]["LineItems"][0]
    assert line["UnitAmount"] == Decimal("1234567.8901") and not isinstance(line["UnitAmount"], str)
    assert json.loads(raw)["Invoices"][0]["Date"] == "2026-12-07"


def test_if_modified_since_carries_its_utc_offset():
    xero = Recorder()
    xero.client().invoices_page(TENANT, page=1, modified_since=datetime(2026, 12, 7, 9, 30, 15, 250000, tzinfo=UTC))
    assert xero.requests[0].headers["if-modified-since"] == "2026-12-07T09:30:15+00:00"


def test_a_reference_with_a_double_quote_is_never_put_in_a_where_but_found_by_search_and_filtered():
    # Given Xero holding invoices whose references are 'PO "7"' and 'PO "7" bis'
    def answer(request: httpx.Request) -> dict:
        if "searchTerm" in request.url.params:
            return {"Invoices": [invoice_answer('PO "7"'),
                                 invoice_answer('PO "7" bis', "1b2c3d4e-0000-4000-8000-000000000001")]}
        return {"Invoices": [invoice_answer("101", "1b2c3d4e-0000-4000-8000-000000000002")]}
    xero = Recorder(answer)
    # When invoices are looked up by the references '101' and 'PO "7"'
    found = xero.client().invoices_by_references(TENANT, ["101", 'PO "7"'])
    # Then the quoted one went by searchTerm, never in a where, and only exact matches come back
    wheres = [r.url.params.get("where") for r in xero.requests if "where" in r.url.params]
    assert wheres == ['Type=="ACCREC" AND (Reference=="101")']
    assert [r.url.params.get("searchTerm") for r in xero.requests if "searchTerm" in r.url.params] == ['PO "7"']
    assert sorted(i.reference for i in found) == ["101", 'PO "7"']


@pytest.mark.parametrize("reference", ["a\\b", 'say "hi"', "line\nbreak"])
def test_no_where_is_sent_for_a_value_its_syntax_cannot_carry(reference):
    xero = Recorder()
    xero.client().invoices_by_reference(TENANT, reference)
    assert all("where" not in r.url.params for r in xero.requests)

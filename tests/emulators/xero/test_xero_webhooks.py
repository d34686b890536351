"""Webhooks: signed batches on contact/invoice changes, retries on the emulator clock, Intent-to-Receive."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time


def _wait(predicate, timeout: float = 5.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.01)
    return False


def _events(receiver) -> list[dict]:
    return [event for request in receiver.requests for event in json.loads(request["body"])["events"]]


def test_invoice_creation_sends_a_verifiable_signed_webhook(api, receiver, emulator_control, xero):
    # Given the emulator delivers webhooks to a receiver
    emulator_control("webhooks", {"url": receiver.url})
    contact = api.contact()
    # When an invoice is created
    invoice = api.invoice(contact["ContactID"])
    assert _wait(lambda: any(e["eventCategory"] == "INVOICE" for e in _events(receiver)))
    # Then the body is signed base64(HMAC-SHA256(key, raw body)) and carries Xero's event fields
    request = next(r for r in receiver.requests if b'"INVOICE"' in r["body"])
    expected = base64.b64encode(hmac.new(b"local-xero-webhook-key", request["body"], hashlib.sha256).digest()).decode()
    assert request["signature"] == expected
    payload = json.loads(request["body"])
    event = next(e for e in payload["events"] if e["eventCategory"] == "INVOICE")
    assert event == {
        "resourceUrl": f"{xero.api_url}/Invoices/{invoice['InvoiceID']}",
        "resourceId": invoice["InvoiceID"],
        "eventDateUtc": event["eventDateUtc"],
        "eventType": "CREATE",
        "eventCategory": "INVOICE",
        "tenantId": xero.tenant_id,
        "tenantType": "ORGANISATION",
    }
    assert 1 <= payload["firstEventSequence"] <= payload["lastEventSequence"]
    assert len(payload["entropy"]) == 20


def test_contact_changes_send_contact_create_and_update(api, receiver, emulator_control):
    # Given webhooks on
    emulator_control("webhooks", {"url": receiver.url})
    # When a contact is created then updated
    contact = api.contact()
    api.post("/Contacts", {"Contacts": [{"ContactID": contact["ContactID"], "EmailAddress": "x@y.test"}]})
    assert _wait(lambda: len(_events(receiver)) >= 2)
    # Then CONTACT CREATE then CONTACT UPDATE arrive for it
    assert [(e["eventCategory"], e["eventType"], e["resourceId"]) for e in _events(receiver)] == [
        ("CONTACT", "CREATE", contact["ContactID"]), ("CONTACT", "UPDATE", contact["ContactID"])]


def test_a_payment_shows_as_an_invoice_update(api, receiver, emulator_control):
    # Given an AUTHORISED invoice and webhooks on
    invoice = api.invoice(api.contact()["ContactID"], Status="AUTHORISED")
    emulator_control("webhooks", {"url": receiver.url})
    # When a payment is applied
    api.put("/Payments", {"Payments": [{"Invoice": {"InvoiceID": invoice["InvoiceID"]}, "Account": {"Code": "090"},
                                        "Amount": "1.00"}]})
    assert _wait(lambda: len(_events(receiver)) >= 1)
    # Then the receiver gets an INVOICE UPDATE for the invoice (there is no payment category)
    assert [(e["eventCategory"], e["eventType"], e["resourceId"]) for e in _events(receiver)] == [
        ("INVOICE", "UPDATE", invoice["InvoiceID"])]


def test_webhook_arrives_within_tens_of_milliseconds(api, receiver, emulator_control):
    # Given webhooks on
    emulator_control("webhooks", {"url": receiver.url})
    # When a contact is created
    started = time.monotonic()
    api.contact()
    # Then the receiver has it quickly
    assert receiver.event.wait(2)
    assert time.monotonic() - started < 0.5


def test_sequence_numbers_increase_across_batches(api, receiver, emulator_control):
    # Given webhooks on
    emulator_control("webhooks", {"url": receiver.url})
    # When two changes happen apart
    api.contact("One")
    assert _wait(lambda: len(receiver.requests) == 1)
    api.contact("Two")
    assert _wait(lambda: len(receiver.requests) == 2)
    # Then the second batch continues the sequence
    first, second = (json.loads(r["body"]) for r in receiver.requests)
    assert second["firstEventSequence"] == first["lastEventSequence"] + 1


def test_failed_delivery_is_retried_when_its_time_comes_on_the_emulator_clock(api, receiver, emulator_control):
    # Given a receiver that fails once, and a retry 60 s after a failure
    receiver.fail_next = 1
    emulator_control("webhooks", {"url": receiver.url, "retry_schedule": [60]})
    # When a change is delivered, fails, and the clock moves 61 s
    api.contact()
    assert _wait(lambda: len(receiver.requests) == 1)
    time.sleep(0.05)
    assert len(receiver.requests) == 1  # not retried before its time
    emulator_control("clock", {"advance": 61})
    # Then the same signed body is delivered again, and the attempts are recorded
    assert _wait(lambda: len(receiver.requests) == 2)
    assert receiver.requests[0]["body"] == receiver.requests[1]["body"]
    assert _wait(lambda: emulator_control("webhooks", method="GET")["deliveries"][0]["state"] == "delivered")
    delivery = emulator_control("webhooks", method="GET")["deliveries"][0]
    assert [a["status"] for a in delivery["attempts"]] == [500, 200]


def test_exhausted_retries_disable_the_webhook(api, receiver, emulator_control):
    # Given a receiver that always fails and a single retry
    receiver.fail_next = 100
    emulator_control("webhooks", {"url": receiver.url, "retry_schedule": [1]})
    api.contact()
    assert _wait(lambda: len(receiver.requests) == 1)
    # When the retry is due and fails too
    emulator_control("clock", {"advance": 2})
    assert _wait(lambda: emulator_control("webhooks", method="GET")["deliveries"][0]["state"] == "failed")
    # Then the subscription is disabled, as Xero does after its retries run out
    settings = emulator_control("webhooks", method="GET")
    assert settings["enabled"] is False and settings["disabled_reason"]


def test_no_webhooks_without_a_url(api, emulator_control):
    # Given no webhook URL (the test default)
    # When something changes
    api.contact()
    # Then nothing is published
    assert emulator_control("webhooks", method="GET")["events_published"] == 0


def test_intent_to_receive_passes_against_a_correct_receiver(receiver, emulator_control):
    # Given a receiver that answers 200/empty to a valid signature and 401 otherwise
    # When the emulator runs the Intent-to-Receive handshake against it
    result = emulator_control("webhooks/intent-to-receive", {"url": receiver.url})
    # Then it passes, having sent one correctly and one incorrectly signed empty batch
    assert result["passed"] is True
    assert sorted(c["signature"] for c in result["checks"]) == ["invalid", "valid"]
    bodies = [json.loads(r["body"]) for r in receiver.requests]
    assert all(b["events"] == [] and b["firstEventSequence"] == 0 and b["lastEventSequence"] == 0 for b in bodies)
    assert sorted(r["valid"] for r in receiver.requests) == [False, True]


def test_intent_to_receive_fails_against_a_receiver_that_accepts_bad_signatures(receiver, emulator_control):
    # Given a receiver that answers 200 to everything
    receiver.always_200 = True
    # When the handshake runs
    result = emulator_control("webhooks/intent-to-receive", {"url": receiver.url})
    # Then it fails on the invalid signature check
    assert result["passed"] is False
    failed = [c for c in result["checks"] if not c["passed"]]
    assert [c["signature"] for c in failed] == ["invalid"]

"""Webhooks: JSON arrays of events, signed with v3 (checked with our verifier and with the official
SDK's Signature as an independent oracle), changeSource by who made the change, subscriptions, batches."""

from __future__ import annotations

import httpx
from hubspot.utils.signature import Signature

from crmbridge.webhooks.signatures import verify_hubspot_v3
from local.emulators.hubspot import APP_ID, DEFAULT_OTHER_APP_TOKEN, OTHER_APP_ID, SALES_USER_ID

SECRET = "local-hubspot-secret"
EVENT_KEYS = {"eventId", "subscriptionId", "portalId", "appId", "occurredAt", "subscriptionType", "attemptNumber",
              "objectId", "propertyName", "propertyValue", "changeSource", "sourceId"}


def _stage_change_in_app(control, deal_id: str, stage: str = "closedwon") -> None:
    response = control.patch(f"/app/deals/{deal_id}", json={"properties": {"dealstage": stage}})
    assert response.status_code == 200, response.text


def test_stage_change_is_posted_as_an_array_of_hubspot_events(hs, control, hooked, seed_deal):
    # Given a deal, and webhooks going to the receiver
    refs = seed_deal()
    # When the salesperson moves it to closedwon in HubSpot
    _stage_change_in_app(control, refs["deals"]["deal"])
    (request,) = hooked.wait_for(1)
    # Then one POST carries a JSON array with one deal.propertyChange event for dealstage
    (event,) = request.events
    assert set(event) == EVENT_KEYS
    assert event["subscriptionType"] == "deal.propertyChange"
    assert (event["objectId"], event["propertyName"], event["propertyValue"]) == (
        int(refs["deals"]["deal"]), "dealstage", "closedwon")
    assert (event["portalId"], event["appId"], event["attemptNumber"]) == (hs.config.portal_id, APP_ID, 0)
    assert (event["changeSource"], event["sourceId"]) == ("CRM_UI", f"userId:{SALES_USER_ID}")
    assert request.header("Content-Type") == "application/json"


def test_signature_verifies_with_our_verifier(control, hooked, seed_deal):
    # Given a signed webhook from the emulator
    _stage_change_in_app(control, seed_deal()["deals"]["deal"])
    (request,) = hooked.wait_for(1)
    # When the bridge's verifier checks it against the URL it was sent to
    # Then it passes (verify_hubspot_v3 raises otherwise)
    verify_hubspot_v3(method="POST", uri=hooked.url, raw_body=request.raw,
                      timestamp_ms=request.header("X-HubSpot-Request-Timestamp"),
                      signature=request.header("X-HubSpot-Signature-v3"), client_secret=SECRET)


def test_signature_verifies_with_the_official_sdk(control, hooked, seed_deal):
    # Given a signed webhook from the emulator
    _stage_change_in_app(control, seed_deal()["deals"]["deal"])
    (request,) = hooked.wait_for(1)
    # When HubSpot's own Python SDK checks the v3 signature
    valid = Signature.is_valid(
        signature=request.header("X-HubSpot-Signature-v3"), client_secret=SECRET,
        request_body=request.raw.decode("utf-8"), http_uri=hooked.url, http_method="POST",
        signature_version="v3", timestamp=request.header("X-HubSpot-Request-Timestamp"),
    )
    # Then it agrees, and so does the v1 header
    assert valid is True
    assert request.header("X-HubSpot-Signature-Version") == "v1"
    assert request.header("X-HubSpot-Signature") == Signature.get_signature(
        SECRET, request.raw.decode("utf-8"), "v1")


def test_signature_covers_non_ascii_bodies_as_utf8(control, hooked, seed_deal):
    # Given a subscription to deal names, and a name with accents
    control.post("/webhooks", json={"subscriptions": [{"subscriptionType": "deal.propertyChange",
                                                       "propertyName": "dealname"}]})
    refs = seed_deal()
    control.patch(f"/app/deals/{refs['deals']['deal']}", json={"properties": {"dealname": "Café Zoë"}})
    (request,) = hooked.wait_for(1)
    # When the body is checked by both verifiers
    # Then the raw UTF-8 bytes were signed
    assert "Café Zoë".encode() in request.raw
    verify_hubspot_v3(method="POST", uri=hooked.url, raw_body=request.raw,
                      timestamp_ms=request.header("X-HubSpot-Request-Timestamp"),
                      signature=request.header("X-HubSpot-Signature-v3"), client_secret=SECRET)
    assert Signature.is_valid(request.header("X-HubSpot-Signature-v3"), SECRET, request.raw.decode("utf-8"),
                              hooked.url, "POST", "v3", request.header("X-HubSpot-Request-Timestamp"))


def test_timestamp_header_is_the_emulator_clock_in_milliseconds(control, hooked, seed_deal):
    # Given the emulator clock frozen at a known instant
    control.post("/clock", json={"set": "2025-06-01T12:00:00.250Z", "freeze": True})
    # When a webhook goes out
    _stage_change_in_app(control, seed_deal()["deals"]["deal"])
    (request,) = hooked.wait_for(1)
    # Then its timestamp and occurredAt are that instant, in ms
    assert request.header("X-HubSpot-Request-Timestamp") == "1748779200250"
    assert request.events[0]["occurredAt"] == 1748779200250


def test_change_through_the_api_is_an_integration_change_of_this_app(api, hooked, seed_deal):
    # Given a deal
    refs = seed_deal()
    # When the bridge's own token moves the stage
    api.patch(f"/crm/v3/objects/deals/{refs['deals']['deal']}", json={"properties": {"dealstage": "closedlost"}})
    (request,) = hooked.wait_for(1)
    # Then the event says INTEGRATION, from this app
    event = request.events[0]
    assert (event["changeSource"], event["sourceId"], event["appId"]) == ("INTEGRATION", str(APP_ID), APP_ID)


def test_change_by_another_integration_carries_that_apps_id(hs, hooked, seed_deal):
    # Given a deal
    refs = seed_deal()
    # When another app installed in the account moves it to closedwon
    httpx.patch(f"{hs.url}/crm/v3/objects/deals/{refs['deals']['deal']}",
                headers={"Authorization": f"Bearer {DEFAULT_OTHER_APP_TOKEN}"},
                json={"properties": {"dealstage": "closedwon"}})
    (request,) = hooked.wait_for(1)
    # Then the event is INTEGRATION but its sourceId is the other app, while appId stays the subscriber's
    event = request.events[0]
    assert (event["changeSource"], event["sourceId"], event["appId"]) == ("INTEGRATION", str(OTHER_APP_ID), APP_ID)


def test_deal_creation_sends_a_creation_and_the_initial_stage_together(api, control, hooked, settle):
    # Given webhooks to the receiver
    # When a deal is created already in closedwon
    deal = api.post("/crm/v3/objects/deals", json={"properties": {"dealname": "Won at once",
                                                                  "dealstage": "closedwon"}}).json()["id"]
    settle()
    # Then a deal.creation event (changeFlag CREATED) and a dealstage propertyChange share the occurredAt
    events = {e["subscriptionType"]: e for e in hooked.events()}
    assert set(events) == {"deal.creation", "deal.propertyChange"}
    assert events["deal.creation"]["changeFlag"] == "CREATED"
    assert "propertyName" not in events["deal.creation"]
    assert events["deal.propertyChange"]["propertyValue"] == "closedwon"
    assert {e["objectId"] for e in events.values()} == {int(deal)}
    assert events["deal.creation"]["occurredAt"] == events["deal.propertyChange"]["occurredAt"]


def test_changes_to_unsubscribed_properties_send_nothing(api, hooked, settle, seed_deal):
    # Given the default subscriptions (deal creation, dealstage changes)
    refs = seed_deal()
    # When the bridge writes other deal properties
    api.patch(f"/crm/v3/objects/deals/{refs['deals']['deal']}", json={"properties": {"dealname": "Renamed"}})
    settle()
    # Then no webhook is sent
    assert hooked.requests == []


def test_paused_subscription_sends_nothing(control, hooked, settle, seed_deal):
    # Given the dealstage subscription paused
    control.post("/webhooks", json={"subscriptions": [{"subscriptionType": "deal.propertyChange",
                                                       "propertyName": "dealstage", "active": False}]})
    refs = seed_deal()
    # When a deal changes stage
    _stage_change_in_app(control, refs["deals"]["deal"])
    settle()
    # Then nothing is sent
    assert hooked.requests == []


def test_events_go_out_in_requests_of_at_most_100(hs, control, hooked, settle):
    # Given 60 deals created in one go (each a creation plus a dealstage event: 120 events)
    hs.seed({"notify": True, "deals": [{"properties": {"dealname": f"Deal {i}"}} for i in range(60)]})
    settle()
    # When the receiver counts what came
    sizes = sorted(len(r.events) for r in hooked.requests)
    # Then 120 events arrived, no request with more than 100
    assert sum(sizes) == 120
    assert max(sizes) == 100


def test_no_target_url_means_no_webhooks(control, receiver, settle, seed_deal):
    # Given no webhook target configured
    refs = seed_deal()
    # When a deal changes stage
    _stage_change_in_app(control, refs["deals"]["deal"])
    settle()
    # Then nothing is sent and nothing is queued
    assert receiver.requests == []
    assert control.get("/webhooks").json()["deliveries"] == []

"""Webhooks v2: shape, Basic auth, change_source and who made the change, delivery latency."""

from __future__ import annotations

import base64
import re
import time

import httpx

from local.emulators.pipedrive import (
    INTEGRATION_USER_ID,
    SALESPERSON_USER_ID,
    PipedriveConfig,
    field_code,
    start_pipedrive_emulator,
)

from .conftest import register_webhook


def _seed_open_deal(control) -> int:
    seeded = control.post("/seed", json={
        "deal_fields": [{"field_name": "Xero invoice number", "field_type": "varchar"}],
        "organizations": [{"ref": "acme", "name": "Acme Ltd"}],
        "persons": [{"ref": "jane", "name": "Jane Doe", "org_ref": "acme"}],
        "deals": [{"ref": "d1", "title": "Widgets", "value": 1200, "org_ref": "acme", "person_ref": "jane"}],
    }).json()
    return seeded["refs"]["deals"]["d1"]


def test_deal_won_in_the_app_sends_a_v2_webhook_with_basic_auth(api, control, receiver):
    # Given an open deal and a webhook for deal events with Basic auth
    deal_id = _seed_open_deal(control)
    hook = register_webhook(api, receiver.url)
    # When the salesperson marks the deal won in the app
    control.patch(f"/app/deals/{deal_id}", json={"status": "won"})
    # Then one webhook arrives with Pipedrive's v2 shape
    (request,) = receiver.wait_for(1)
    expected_auth = "Basic " + base64.b64encode(b"bridge:s3cret-webhook").decode()
    assert request.headers["Authorization"] == expected_auth
    assert request.headers["Content-Type"] == "application/json"
    meta, data, previous = request.body["meta"], request.body["data"], request.body["previous"]
    assert {k: meta[k] for k in ("action", "entity", "entity_id", "type", "version", "change_source",
                                 "user_id", "attempt", "is_bulk_edit", "webhook_id", "webhook_owner_id")} == {
        "action": "change", "entity": "deal", "entity_id": str(deal_id), "type": "general", "version": "2.0",
        "change_source": "app", "user_id": str(SALESPERSON_USER_ID), "attempt": 1, "is_bulk_edit": False,
        "webhook_id": str(hook["id"]), "webhook_owner_id": str(INTEGRATION_USER_ID),
    }
    assert re.fullmatch(r"[0-9a-f-]{36}", meta["id"])
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", meta["timestamp"])
    assert meta["host"] == "local-bridge.pipedrive.com"
    assert isinstance(meta["company_id"], str) and meta["correlation_id"]
    assert all(isinstance(u, str) for u in meta["permitted_user_ids"])
    assert (data["id"], data["status"], data["value"]) == (deal_id, "won", 1200)
    assert isinstance(data["org_id"], int) and isinstance(data["person_id"], int)
    assert data["won_time"] is not None
    assert previous["status"] == "open"
    assert previous["won_time"] is None
    assert "title" not in previous and "value" not in previous


def test_api_patch_sends_change_source_api_with_the_integration_user(api, control, receiver):
    # Given a won deal and a webhook
    deal_id = _seed_open_deal(control)
    register_webhook(api, receiver.url)
    code = field_code("deal", "Xero invoice number")
    # When the bridge writes the invoice number back through the API
    api.patch(f"/api/v2/deals/{deal_id}", json={"custom_fields": {code: "INV-0007"}})
    # Then the webhook says the API did it, as the integration user, with typed custom fields
    (request,) = receiver.wait_for(1)
    meta = request.body["meta"]
    assert (meta["change_source"], meta["user_id"]) == ("api", str(INTEGRATION_USER_ID))
    assert request.body["data"]["custom_fields"][code] == {"type": "varchar", "value": "INV-0007"}
    assert request.body["previous"] == {"custom_fields": {code: None}}


def test_create_has_no_previous_and_delete_has_no_data(api, receiver):
    # Given a webhook for every action on deals
    register_webhook(api, receiver.url)
    # When a deal is created then deleted
    deal_id = api.post("/api/v2/deals", json={"title": "Short-lived"}).json()["data"]["id"]
    api.delete(f"/api/v2/deals/{deal_id}")
    # Then the create carries data and previous null, the delete data null
    created, deleted = receiver.wait_for(2)
    assert (created.body["meta"]["action"], created.body["previous"]) == ("create", None)
    assert created.body["data"]["title"] == "Short-lived"
    assert (deleted.body["meta"]["action"], deleted.body["data"]) == ("delete", None)
    assert deleted.body["previous"]["id"] == deal_id


def test_webhook_only_gets_the_objects_it_subscribed_to(api, control, receiver):
    # Given a webhook for organization changes only
    register_webhook(api, receiver.url, event_object="organization", event_action="change")
    org_id = api.post("/api/v2/organizations", json={"name": "Acme"}).json()["data"]["id"]
    api.post("/api/v2/deals", json={"title": "Ignored"})
    # When the organization is renamed in the app
    control.patch(f"/app/organizations/{org_id}", json={"name": "Acme Group"})
    # Then only that change is delivered
    time.sleep(0.2)
    (request,) = receiver.wait_for(1)
    assert (request.body["meta"]["entity"], request.body["previous"]) == ("organization", {"name": "Acme"})
    assert len(receiver.requests) == 1


def test_a_change_that_changes_nothing_sends_nothing(api, control, receiver):
    # Given a deal and a webhook
    deal_id = _seed_open_deal(control)
    register_webhook(api, receiver.url)
    # When the title is patched to what it already is, then a real change follows
    api.patch(f"/api/v2/deals/{deal_id}", json={"title": "Widgets"})
    api.patch(f"/api/v2/deals/{deal_id}", json={"title": "Gadgets"})
    # Then only the real change is delivered
    time.sleep(0.2)
    assert [r.body["previous"] for r in receiver.wait_for(1)] == [{"title": "Widgets"}]


def test_webhook_is_delivered_within_milliseconds(api, control, receiver):
    # Given a deal and a webhook
    deal_id = _seed_open_deal(control)
    register_webhook(api, receiver.url)
    # When the deal is won
    started = time.monotonic()
    control.patch(f"/app/deals/{deal_id}", json={"status": "won"})
    # Then the webhook is at the receiver almost at once
    (request,) = receiver.wait_for(1)
    assert request.at - started < 0.5


def test_webhooks_can_be_listed_and_deleted(api, receiver):
    # Given a registered webhook
    hook = register_webhook(api, receiver.url)
    # When it is listed then deleted
    listed = api.get("/v1/webhooks").json()
    deleted = api.delete(f"/v1/webhooks/{hook['id']}").json()
    api.post("/api/v2/deals", json={"title": "Nobody listens"})
    # Then it was there, is gone, and gets nothing
    assert [w["subscription_url"] for w in listed["data"]] == [receiver.url]
    assert deleted == {"status": "ok", "success": True}
    assert api.get("/v1/webhooks").json()["data"] == []
    time.sleep(0.1)
    assert receiver.requests == []


def test_webhook_without_a_name_is_refused(api, receiver):
    # Given a webhook body without the name the current spec requires
    body = {"subscription_url": receiver.url, "event_action": "*", "event_object": "deal"}
    # When it is registered
    response = api.post("/v1/webhooks", json=body)
    # Then it is refused
    assert response.status_code == 400


def test_default_webhook_from_the_environment_is_registered_at_start_and_after_reset(receiver):
    # Given the local stack's webhook settings
    config = PipedriveConfig.from_env({"PIPEDRIVE_WEBHOOK_URL": receiver.url})
    # When the emulator starts, and again after a reset
    with start_pipedrive_emulator(config=config) as handle:
        httpx.post(f"{handle.url}/_emulator/reset", json={})
        httpx.post(f"{handle.url}/_emulator/app/deals", json={"title": "Hello"})
        (request,) = receiver.wait_for(1)
        subscriptions = handle.state()["webhooks"]["subscriptions"]
    # Then the gateway's webhook exists with the local basic auth and receives deal events
    assert [(s["subscription_url"], s["http_auth_user"]) for s in subscriptions] == [(receiver.url, "bridge")]
    assert request.headers["Authorization"] == "Basic " + base64.b64encode(b"bridge:local-webhook-password").decode()
